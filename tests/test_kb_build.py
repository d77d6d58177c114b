"""The knowledge base built from the real pinned pages: counts from the data, hand-checked samples."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import jsonschema
import pytest
from conftest import count_headings

from iamkb import sources
from iamkb.paths import cache_dir, kb_dir
from iamkb.store import load

AS = "autoscaling"


def _source_text(page_id: str) -> str:
    manifest = sources.load_manifest()
    page = next(p for p in manifest.pages if p.page_id == page_id)
    return sources.read_verified(page, cache_dir())


@pytest.fixture(scope="module")
def kb(kb_build: Path) -> dict:
    return {name: load(name, kb_build) for name in ("pages", "sections", "examples", "report", "manifest")}


def test_default_profile_has_every_page_of_the_manifest(kb):
    expected = {p.page_id for p in sources.load_manifest().profile("default")}
    assert {p["id"] for p in kb["pages"]} == expected
    assert kb["report"]["pages"] == len(expected) == 61


def test_sections_per_page_match_the_headings_of_each_source(kb):
    per_page = kb["report"]["sections_per_page"]
    for page_id, n in per_page.items():
        assert n == count_headings(_source_text(page_id)), page_id


def test_section_ids_are_unique_and_parents_exist(kb):
    ids = [s["id"] for s in kb["sections"]]
    assert len(ids) == len(set(ids))
    known = set(ids)
    for s in kb["sections"]:
        assert s["parent"] is None or s["parent"] in known
        assert s["id"] == f"{s['page']}#{s['anchor']}"


def test_the_33_policy_blocks_of_the_auto_scaling_pages_by_format_and_kind(kb):
    ex = [e for e in kb["examples"] if e["page"].startswith(f"{AS}/")]
    # Independent count: code blocks holding "Effect" in the Auto Scaling pages of the profile.
    blocks = 0
    for page in (p for p in kb["pages"] if p["guide"] == AS):
        blocks += sum(1 for b in re.findall(r"```.*?```", _source_text(page["id"]), re.S) if "Effect" in b)
    assert len(ex) == blocks == 33
    assert Counter(e["format"] for e in ex) == {"document": 27, "statement": 4, "cli_output": 1, "json_string": 1}
    statements = [e for e in ex if e["format"] == "statement"]
    assert {e["kind"] for e in statements} == {"key_policy"}
    assert {e["page"] for e in statements} == {f"{AS}/key-policy-requirements-EBS-encryption"}
    cli = next(e for e in ex if e["format"] == "cli_output")
    assert cli["kind"] == "trust_policy"
    assert cli["policy"]["Statement"][0]["Principal"] == {"Service": ["autoscaling.amazonaws.com"]}


def test_the_one_unparseable_auto_scaling_block_is_kept_with_its_error_and_corrected(kb):
    ex = [e for e in kb["examples"] if e["page"].startswith(f"{AS}/") and e["error"]]
    assert len(ex) == 1
    lam = ex[0]
    assert lam["id"] == "example:autoscaling/prepare-for-lifecycle-notifications#cloudwatch-events-notification:1"
    assert lam["error"] == {"message": "Invalid control character at", "line": 2, "column": 43}
    with pytest.raises(json.JSONDecodeError):
        json.loads(lam["code"])  # as published
    assert lam["corrected"] and "line breaks" in lam["correction"]
    assert lam["policy"]["Action"] == "lambda:InvokeFunction"
    assert lam["policy"]["Condition"]["ArnLike"]["AWS:SourceArn"].endswith(":rule/my-rule")
    assert lam["kind"] == "resource_policy"
    report = kb["report"]
    assert [c["id"] for c in report["examples_corrected"] if c["id"].startswith(f"example:{AS}/")] == [lam["id"]]


def test_every_unparsed_block_is_listed_in_the_report_with_a_position(kb):
    unparsed = [e for e in kb["examples"] if e["error"] and not e["corrected"] and not e["wrapped"]]
    listed = {u["id"]: u for u in kb["report"]["examples_unparsed"]}
    assert set(listed) == {e["id"] for e in unparsed}
    for e in unparsed:
        assert e["policy"] is None and e["error"]["line"] >= 1 and e["error"]["column"] >= 1
    warned = [w for w in kb["report"]["warnings"] if w["code"] == "example-unparsed"]
    assert len(warned) == len(unparsed)


def test_every_wrapped_fragment_is_listed_and_keeps_its_published_error(kb):
    """A fragment runs wrapped, but the KB still says it is not JSON as published (error, position) and what the
    wrapping added; the report lists each one and warns once for it."""
    wrapped = [e for e in kb["examples"] if e["wrapped"]]
    assert {w["id"] for w in kb["report"]["examples_wrapped"]} == {e["id"] for e in wrapped}
    assert len([w for w in kb["report"]["warnings"] if w["code"] == "example-wrapped"]) == len(wrapped)
    for e in wrapped:
        assert e["error"]["line"] >= 1 and e["format"] == "fragment" and e["wrapping"]
        with pytest.raises(json.JSONDecodeError):
            json.loads(e["code"])


def test_hand_checked_sections(kb):
    by_id = {s["id"]: s for s in kb["sections"]}
    s = by_id["autoscaling/control-access-using-iam#policy-auto-scaling-condition-keys"]
    assert s["title"] == "Policy condition keys for Amazon EC2 Auto Scaling"
    assert s["level"] == 2 and s["parent"] == "autoscaling/control-access-using-iam#control-access-using-iam"
    assert s["path"] == ["How Amazon EC2 Auto Scaling works with IAM", s["title"]]
    top = by_id["autoscaling/security-iam#security-iam"]
    assert top["title"] == "Identity and Access Management for Amazon EC2 Auto Scaling"
    assert "AWS Identity and Access Management (IAM) is an AWS service" in top["text"]  # \( \) \. undone
    assert "\\" not in top["text"]


def test_inline_anchor_is_kept_as_a_section_level_target(kb):
    by_id = {s["id"]: s for s in kb["sections"]}
    assert "create-iam-role-console" in by_id["autoscaling/us-iam-role#us-iam-role-prereq"]["aliases"]


def test_links_resolve_to_sections_or_stay_external(kb):
    by_id = {s["id"]: s for s in kb["sections"]}
    links = {link["href"]: link for link in by_id["autoscaling/security-iam#access-control"]["links"]}
    assert links["control-access-using-iam.md"]["target"] == \
        "autoscaling/control-access-using-iam#control-access-using-iam"
    assert links["#access-control"]["target"] == "autoscaling/security-iam#access-control"
    ec2 = links["https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/security-iam.html"]
    assert ec2["external"] and ec2["target"] is None
    cond = by_id["autoscaling/control-access-using-iam#policy-auto-scaling-condition-keys"]["links"]
    absolute = [link for link in cond if "reference_policies_variables.html" in link["href"]]
    assert absolute and all(link["target"] == "iam/reference_policies_variables#reference_policies_variables"
                            for link in absolute)


def test_mentions_in_text_and_code(kb):
    by_id = {s["id"]: s for s in kb["sections"]}
    req = by_id["autoscaling/ec2-auto-scaling-api-permissions#required-API-permissions"]["mentions"]
    assert "ec2:RunInstance" in req["actions"]  # the docs' typo is a mention too (the drift report flags it)
    assert {"iam:PassRole", "iam:CreateServiceLinkedRole", "autoscaling:CreateAutoScalingGroup"} <= set(req["actions"])
    tags = by_id["autoscaling/security_iam_id-based-policy-examples#policy-example-tags"]["mentions"]
    assert {"aws:RequestTag/environment", "aws:TagKeys"} <= set(tags["condition_keys"])
    delete = by_id["autoscaling/security_iam_id-based-policy-examples#policy-example-delete-policy"]["mentions"]
    assert delete["condition_keys"] == ["autoscaling:ResourceTag/environment"]
    assert delete["actions"] == ["autoscaling:DeletePolicy"]
    prose = by_id["autoscaling/security_iam_id-based-policy-examples#policy-example-control-access-with-tags"]
    assert prose["mentions"]["condition_keys"] == ["autoscaling:ResourceTag"]  # named in prose, no tag key
    assert prose["mentions"]["actions"] == []
    slr = by_id["autoscaling/autoscaling-service-linked-role#create-service-linked-role-manual"]["mentions"]
    assert "autoscaling.amazonaws.com" in slr["service_principals"]
    awsman = [s for s in kb["sections"] if s["page"] == "autoscaling/security-iam-awsmanpol"]
    assert "AutoScalingFullAccess" in {m for s in awsman for m in s["mentions"]["managed_policies"]}


def test_missing_content_placeholders_are_recorded(kb):
    recorded = sum(len(s["missing_content"]) for s in kb["sections"])
    in_sources = sum(_source_text(p["id"]).count("See the AWS documentation website for more details")
                     for p in kb["pages"])
    assert recorded == in_sources == kb["report"]["missing_content"]
    assert recorded > 0


def test_callouts_match_the_bold_labels_of_the_source(kb):
    page = "autoscaling/security_iam_id-based-policy-examples"
    text = _source_text(page)
    labels = len(re.findall(r"^\s*\*\*(Note|Important|Tip|Warning)\*\*\s*$", text, re.M))

    def count(blocks):
        n = 0
        for b in blocks:
            n += b["type"] == "callout"
            for key in ("blocks",):
                n += count(b.get(key, []))
            for group in b.get("items", []) + b.get("steps", []):
                n += count(group)
        return n

    assert sum(count(s["blocks"]) for s in kb["sections"] if s["page"] == page) == labels > 0


def test_every_warning_code_is_explained(kb):
    for code, info in kb["report"]["warnings_by_code"].items():
        assert info["meaning"], code


def test_kb_files_validate_against_their_schemas(kb):
    schema_dir = kb_dir() / "schema"
    for name in ("pages", "sections", "examples", "report"):
        schema = json.loads((schema_dir / f"{name}.schema.json").read_text())
        jsonschema.validate(kb[name], schema)


def _image_spans(node) -> list[dict]:
    """Every image span anywhere in a section's blocks."""
    if isinstance(node, dict):
        found = [node] if node.get("t") == "image" else []
        return found + [s for v in node.values() for s in _image_spans(v)]
    if isinstance(node, list):
        return [s for v in node for s in _image_spans(v)]
    return []


def test_the_placeholder_alt_text_of_lost_images_stays_out_of_the_text(kb):
    """The awsdocs conversion gave every image it lost the alt text "[Image NOT FOUND]" (the Yes / No icons
    of the service tables, diagrams): the images are kept (with their source), their placeholder is not
    prose, so no section's text, and so no search passage or answer, says it."""
    placeholder = re.compile(r"!\[\\\[Image NOT FOUND\\\]\]\(")
    in_sources = sum(len(placeholder.findall(_source_text(p["id"]))) for p in kb["pages"])
    kept = [s for sec in kb["sections"] for s in _image_spans(sec["blocks"]) if "Image NOT FOUND" in s["alt"]]
    assert len(kept) == in_sources > 0
    assert not [s["id"] for s in kb["sections"] if "Image NOT FOUND" in s["text"]]
