"""Policy fragments: blocks that show a piece of a policy (a statement's elements, statements without their list)
run wrapped in the smallest complete policy; the KB keeps the code as published and says what was added
(iamkb/extract.py). The snippets below are written here, in the shapes the docs use."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from iamkb import examples as ex
from iamkb import extract
from iamkb.policy.grammar import validate

# --- reading fragments (unit) -----------------------------------------------------------------------------------


def test_a_statements_elements_run_as_the_only_statement_with_action_and_resource_added() -> None:
    code = '#####   WARNING: NOT RECOMMENDED   #####\n"Effect" : "Deny",\n"Condition" : { "Bool" : { "k:x" : "false" } }'
    got = extract.interpret(code)
    assert got["format"] == "fragment" and got["wrapped"] and not got["corrected"]
    assert got["policy"] == {"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"Bool": {"k:x": "false"}}}]}
    assert got["error"]["line"] == 1  # the published block's own error is kept
    assert '"Action": "*" and "Resource": "*" added' in got["wrapping"]
    assert "'#####   WARNING: NOT RECOMMENDED   #####'" in got["wrapping"]


def test_only_missing_elements_are_added_and_a_trust_statement_gets_no_resource() -> None:
    identity = extract.interpret('"Effect": "Allow",\n"NotAction": "iam:*",\n"Resource": "arn:aws:s3:::*",')
    assert identity["policy"]["Statement"] == [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "arn:aws:s3:::*"}]
    assert "added" not in identity["wrapping"] and "the trailing comma" in identity["wrapping"]
    trust = extract.interpret('"Effect": "Allow",\n"Principal": {"AWS": "111122223333"},\n"Action": "sts:AssumeRole"')
    assert trust["policy"]["Statement"] == [
        {"Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "sts:AssumeRole"}]


def test_statements_without_their_list_run_as_a_statement_list() -> None:
    code = '{\n  "Effect": "Allow", "Action": "a:B", "Resource": "*"\n},\n{\n  "Effect": "Deny", "Action": "a:C"\n}'
    got = extract.interpret(code)
    assert got["wrapped"] and got["format"] == "fragment"
    assert got["policy"]["Statement"] == [{"Effect": "Allow", "Action": "a:B", "Resource": "*"},
                                          {"Effect": "Deny", "Action": "a:C", "Resource": "*"}]
    assert got["wrapping"].startswith("the docs show 2 statements")


def test_a_missing_comma_is_corrected_and_named_by_its_line() -> None:
    code = '"Effect": "Allow",\n"Action": "sts:AssumeRole",\n"Resource": "arn:aws:iam::1:role/r"\n"Condition": {}'
    got = extract.interpret(code)
    assert got["wrapped"] and got["corrected"]
    assert got["correction"] == "a comma is missing at the end of line 3 as published"
    assert got["policy"]["Statement"][0]["Condition"] == {}


def test_a_missing_condition_line_in_a_document_is_corrected() -> None:
    code = ('{\n "Version": "2012-10-17",\n "Statement": [\n  {\n   "Effect": "Deny",\n   "Action": "s3:GetObject",\n'
            '   "Resource": "*",\n     "StringNotEquals": {\n       "s3:x": "y"\n     }\n   }\n  }\n ]\n}')
    got = extract.interpret(code)
    assert (got["format"], got["corrected"], got["wrapped"]) == ("document", True, False)
    assert got["policy"]["Statement"][0]["Condition"] == {"StringNotEquals": {"s3:x": "y"}}
    assert got["correction"].startswith('the "Condition": { line before line 8 is missing')


@pytest.mark.parametrize("code", [
    '"Effect": "Allow" "Action": "a:b"',  # two elements on one line without a comma: no unambiguous reading
    '"Effect": "Allow", "Action": ["a:b"',  # cut short
    '{"Effect": "Allow", "Condition": {"StringEquals": {"k": "v"}}}}',  # a brace too many, with a Condition key
])
def test_a_block_without_a_reading_stays_unparsed(code: str) -> None:
    got = extract.interpret(code)
    assert (got["format"], got["policy"], got.get("wrapped", False)) == ("fragment", None, False)
    assert got["error"] is not None


def test_as_published_leaves_out_what_the_wrapping_added() -> None:
    code = '"Effect": "Deny",\n"Condition": {"Bool": {"k:x": "false"}}'
    got = extract.interpret(code)
    assert extract.as_published(got["policy"], code, True) == {
        "Statement": [{"Effect": "Deny", "Condition": {"Bool": {"k:x": "false"}}}]}
    assert extract.as_published(got["policy"], code, False) is got["policy"]


# --- the default corpus ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kb(kb_build: Path) -> dict:
    return {name: json.loads((kb_build / f"{name}.json").read_text(encoding="utf-8"))
            for name in ("examples", "sections", "example_catalog", "crosslinks")}


def _wrapped(kb: dict) -> list[dict]:
    return [e for e in kb["examples"] if e["wrapped"]]


def test_every_wrapped_policy_is_valid_and_holds_the_published_statements_unchanged(kb: dict) -> None:
    wrapped = _wrapped(kb)
    assert wrapped == [e for e in kb["examples"] if e["format"] == ex.FRAGMENT]
    for e in wrapped:
        policy, errors = validate(e["policy"])
        assert errors == [] and policy is not None, e["id"]
        published = extract.as_published(e["policy"], e["code"], True)["Statement"]
        assert len(published) == len(e["policy"]["Statement"])
        for shown, runs in zip(published, e["policy"]["Statement"], strict=True):
            added = {k: v for k, v in runs.items() if k not in shown}
            assert {k: runs[k] for k in shown} == shown, e["id"]
            assert set(added) <= {"Action", "Resource"} and set(added.values()) <= {"*"}, e["id"]
            assert all(f'"{k}": "*"' in e["wrapping"] for k in added), e["id"]


def test_mentions_catalog_and_cross_links_name_only_what_the_docs_show(kb: dict) -> None:
    """A wrapped fragment's added "*" is no use of every action: the section's mentions, the catalog's action
    list and the actions' cross-links come from the fragment as published."""
    linked: dict[str, list[str]] = {}
    for action_id, entry in kb["crosslinks"]["actions"].items():
        for example_id in entry["examples"]:
            linked.setdefault(example_id, []).append(action_id)
    sections = {s["id"]: s for s in kb["sections"]}
    catalog = {c["id"]: c for c in kb["example_catalog"]}
    added_action = [e for e in _wrapped(kb) if '"Action": "*"' in e["wrapping"]]
    assert added_action
    for e in added_action:
        others = [x for x in kb["examples"] if x["section"] == e["section"] and not x["wrapped"]]
        named_elsewhere = any("*" in ex.policy_actions(x["policy"]) for x in others)
        assert named_elsewhere or "*" not in sections[e["section"]]["mentions"].get("action_patterns", []), e["id"]
        entry = catalog[e["id"]]
        assert "*" not in entry["actions"] and entry["wrapped"] and entry["wrapping"] == e["wrapping"]
        assert entry["condition_keys"] == ex.policy_condition_keys(e["policy"])
        if not ex.policy_actions(extract.published_policy(e)):
            assert linked.get(e["id"], []) == [], e["id"]  # names no action, so it is linked from none


def test_the_site_shows_the_fragment_as_published_and_the_policy_that_runs(kb: dict) -> None:
    from iamkb.site.data import load_site_data
    from iamkb.site.examples import example_page
    from iamkb.site.pages import Site

    site = Site(load_site_data())
    for e in _wrapped(kb):
        _, text = example_page(site, e)
        assert e["code"].splitlines()[-1] in text  # the block as the docs show it
        assert '!!! info "A fragment of a policy, run inside the smallest complete policy"' in text
        running = json.dumps(e["policy"], indent=2).splitlines()
        assert all(line in text for line in running), e["id"]
