"""refdata on its own: wildcard, template and ARN matching; and the built files against their JSON Schemas."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from iamkb.errors import InputError
from iamkb.refdata import arn_could_match, from_records, glob_regex, load_reference, nearest, template_regex

ROOT = Path(__file__).resolve().parent.parent
ASG = "arn:${Partition}:autoscaling:${Region}:${Account}:autoScalingGroup:${GroupId}:autoScalingGroupName/${Name}"


@pytest.mark.parametrize("pattern, name, hit", [
    ("autoscaling:Describe*", "AUTOSCALING:describetags", True),
    ("autoscaling:Describe*", "autoscaling:DeleteTags", False),
    ("autoscaling:?etDesiredCapacity", "autoscaling:SetDesiredCapacity", True),
    ("autoscaling:?etDesiredCapacity", "autoscaling:SetDesiredCapacit", False),
    ("a.b:*", "aXb:c", False),  # regex metacharacters are literal
])
def test_glob_regex(pattern, name, hit):
    assert bool(glob_regex(pattern).fullmatch(name)) is hit


def test_template_regex():
    assert template_regex("aws:ResourceTag/${TagKey}").fullmatch("AWS:resourcetag/team")
    assert not template_regex("aws:ResourceTag/${TagKey}").fullmatch("aws:ResourceTag/")
    assert template_regex("s3:ExistingObjectTag/<key>").fullmatch("s3:ExistingObjectTag/Team")


@pytest.mark.parametrize("arn, hit", [
    ("arn:aws:autoscaling:us-east-1:111122223333:autoScalingGroup:abc:autoScalingGroupName/web", True),
    ("arn:aws:autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/dev-*", True),
    ("arn:aws:autoscaling:*:*:*", True),
    ("arn:aws:autoscaling:*:*:launchConfiguration:*", False),
    ("arn:aws:ec2:*:*:autoScalingGroup:*", False),  # the service part never matches across a colon
    ("arn:aws:autoscaling:us-east-1:111122223333:autoScalingGroup", False),
    ("not-an-arn", False),
])
def test_arn_could_match(arn, hit):
    assert arn_could_match(ASG, arn) is hit


def test_nearest_is_case_insensitive_and_ranked():
    assert nearest("ec2:runinstance", ["ec2:RunInstances", "ec2:StartInstances", "s3:GetObject"])[0] == \
        "ec2:RunInstances"
    assert nearest("zzz", ["ec2:RunInstances"]) == []


def test_reference_from_records():
    ref = from_records(
        actions=[{"id": "action:x:DoThing", "service": "x", "name": "DoThing", "resource_types": []}],
        condition_keys=[{"id": "condition_key:x:Tag/${K}", "key": "x:Tag/${K}", "service": "x"},
                        {"id": "condition_key:x:Size", "key": "x:Size", "service": "x"}],
        resource_types=[{"id": "resource_type:x:thing", "service": "x", "name": "thing",
                         "arn": "arn:${Partition}:x:${Region}:${Account}:thing/${Id}"}],
        services=[{"prefix": "x", "name": "X", "covered": True}, {"prefix": "y", "name": "Y", "covered": False}],
    )
    assert ref.action("X:dothing")["name"] == "DoThing" and ref.action("x:Other") is None
    assert ref.actions_matching("x:do*") == ["x:DoThing"] and ref.actions_matching("y:*") == []
    assert ref.condition_key("x:tag/abc")["key"] == "x:Tag/${K}" and ref.condition_key("x:SIZE")["key"] == "x:Size"
    assert ref.condition_key_family("x:Tag")["key"] == "x:Tag/${K}"
    assert ref.service_known("Y") and not ref.service_covered("y") and not ref.service_known("z")
    assert [r["name"] for r in ref.resource_types_for_arn("x", "arn:aws:x:eu-west-1:1:thing/7")] == ["thing"]
    assert ref.suggest_actions("x:DoThin") == ["x:DoThing"]


def test_load_reference_errors(tmp_path):
    with pytest.raises(InputError, match=r"actions.json: not built yet \(run `iamkb build-kb`"):
        load_reference(tmp_path)
    (tmp_path / "actions.json").write_text("[\n{", encoding="utf-8")
    with pytest.raises(InputError, match=r"actions.json: malformed JSON at line 2"):
        load_reference(tmp_path)


@pytest.mark.parametrize("name", ["actions", "condition_keys", "resource_types", "managed_policies", "drift",
                                  "doc_tables"])
def test_built_files_match_their_schemas(kb_build, name):
    schema = json.loads((ROOT / "kb" / "schema" / f"{name}.schema.json").read_text(encoding="utf-8"))
    data = json.loads((kb_build / f"{name}.json").read_text(encoding="utf-8"))
    jsonschema.validate(data, schema)
    with pytest.raises(jsonschema.ValidationError):  # the schema can fail: a record without its id
        broken = data[0] if isinstance(data, list) else data
        jsonschema.validate([{k: v for k, v in broken.items() if k != "id"}] if isinstance(data, list)
                            else {**data, next(iter(schema["required"])): None}, schema)
