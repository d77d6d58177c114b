"""The lint catalog held against IAM Access Analyzer's policy check reference as the KB parsed it
(kb/build/analyzer_checks.json, kb/build/lint_catalog.json): the page read completely, every check accounted for,
the snippets the page shows run through `iamkb check`, and the catalog's severities and policy types agreeing with
the page's."""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from pathlib import Path

import jsonschema
import pytest

from iamkb import sources
from iamkb.analyzer_checks import PAGE
from iamkb.paths import cache_dir, kb_dir
from iamkb.policy.lint import BY_CODE, CATALOG, lint_document
from iamkb.policy.lint.catalog import ANALYZER_SEVERITY, NOT_OFFLINE, SEVERITIES
from iamkb.refdata import load_reference
from iamkb.store import load

ORDER = {s: i for i, s in enumerate(SEVERITIES)}


@pytest.fixture(scope="module")
def checks(kb_build: Path) -> list[dict]:
    return load("analyzer_checks", kb_build)


@pytest.fixture(scope="module")
def coverage(kb_build: Path) -> dict:
    return load("lint_catalog", kb_build)


@pytest.fixture(scope="module")
def source() -> str:
    page = next(p for p in sources.load_manifest().profile("default") if p.page_id == PAGE)
    return sources.read_verified(page, cache_dir())


def _level2(source: str) -> list[str]:
    """The page's level-2 sections as published, by a line scanner (not the parser under test)."""
    return re.split(r"^## ", source, flags=re.M)[1:]


# --------------------------------------------------------------------------------------- the parsed page


def test_every_check_of_the_page_is_parsed_with_its_severity(checks, source) -> None:
    published = [s.split("\n", 1)[0] for s in _level2(source)]
    assert len(checks) == len(published) == 138
    heads = Counter(h.split(" – ", 1)[0].lower() for h in published)
    ours = Counter(c["severity"] for c in checks)
    assert ours == {"Error": heads["error"], "Security warning": heads["security warning"],
                    "Warning": heads["general warning"], "Suggestion": heads["suggestion"]}
    assert [c["title"] for c in checks] == [re.sub(r"<a name.*", "", h).split(" – ", 1)[1].strip() for h in published]
    assert len({c["id"] for c in checks}) == len(checks)


def test_messages_resolutions_and_snippets_come_from_every_section(checks, source) -> None:
    api = [m for s in _level2(source) for m in re.findall(r'^"findingDetails": "(.*)"\s*$', s, flags=re.M)]
    assert [c["finding_details"] for c in checks] == [m.replace("\\", "") for m in api]
    assert all(c["resolution"] and c["related"] for c in checks)
    for check, section in zip(checks, _level2(source), strict=True):
        resolution = section.split("**Resolving", 1)[1].split("**Related terms**")[0].split("\n### ")[0]
        assert len(check["snippets"]) == resolution.count("```") // 2, check["id"]


def test_the_policy_types_the_page_states(checks) -> None:
    by_id = {c["id"]: c["policy_types"] for c in checks}
    assert by_id["error-scp-syntax-error-principal"] == ["scp"]
    assert by_id["error-role-trust-policy-syntax-error-resource"] == ["trust"]
    assert by_id["error-missing-principal"] == ["resource"]
    assert by_id["error-unsupported-principal"] == ["identity"]  # "You cannot use the Principal element in ..."
    assert by_id["error-federated-principal-not-supported"] == ["identity", "resource"]
    assert by_id["error-unique-sids-required"] == []  # "For some policy types": the page does not say which


def test_managed_policies_named_by_the_page(checks, source) -> None:
    by_id = {c["id"]: c for c in checks}
    assert by_id["error-invalid-action"]["managed_policies"] == ["AmazonEMRFullAccessPolicy_v2",
                                                                 "CloudWatchSyntheticsFullAccess"]
    for check, section in zip(checks, _level2(source), strict=True):
        listed = section.split("\n### ", 1)[1] if "\n### " in section else ""
        names = [n.replace("\\", "") for n in re.findall(r"^\+ \[?([^\]\(\s]+)\]?(?:\(|\s*$)", listed, flags=re.M)]
        assert check["managed_policies"] == list(dict.fromkeys(names)), check["id"]


def test_kb_files_validate_against_their_schemas(checks, coverage) -> None:
    for name, data in (("analyzer_checks", checks), ("lint_catalog", coverage)):
        jsonschema.validate(data, json.loads((kb_dir() / "schema" / f"{name}.schema.json").read_text()))


# ------------------------------------------------------------------------------------------ the coverage


def test_every_check_is_implemented_or_has_the_reason_it_cannot_be(checks, coverage) -> None:
    rows = {r["check"]: r for r in coverage["checks"]}
    assert list(rows) == [c["id"] for c in checks]
    for row in rows.values():
        if row["status"] == "implemented":
            assert row["codes"] or row["how"], row["check"]
            assert all(code in BY_CODE for code in row["codes"])
        else:
            assert row["status"] == "not_offline" and row["how"] == NOT_OFFLINE[row["check"]] and not row["codes"]
    counts = coverage["counts"]
    assert counts["checks"] == len(checks)
    assert counts["not_offline"] == sum(r["status"] == "not_offline" for r in rows.values()) == len(NOT_OFFLINE)
    assert counts["implemented"] == sum(r["status"] == "implemented" for r in rows.values())
    assert counts["implemented"] / counts["applicable"] >= 0.9


def test_the_catalog_joins_only_checks_the_page_has(checks) -> None:
    known = {c["id"] for c in checks}
    assert {a for c in CATALOG for a in c.analyzer} <= known


def test_a_code_takes_the_severity_of_the_checks_it_implements(checks) -> None:
    """The strongest of them, in Access Analyzer's words, so a reviewer comparing the tools reads the same."""
    severity = {c["id"]: ANALYZER_SEVERITY[c["severity"]] for c in checks}
    for code in CATALOG:
        if code.analyzer:
            assert code.severity == min((severity[a] for a in code.analyzer), key=ORDER.get), code.code


def test_a_code_runs_for_every_policy_type_the_page_names(checks) -> None:
    types = {c["id"]: set(c["policy_types"]) for c in checks}
    for code in CATALOG:
        for check in code.analyzer:
            assert types[check] <= set(code.policy_types), (code.code, check)


def test_every_code_cites_a_section_of_the_kb(kb_build) -> None:
    sections = {s["id"] for s in load("sections", kb_build)}
    assert [c.code for c in CATALOG if c.doc_section not in sections] == []


# --------------------------------------------------------------------------------------- the page's snippets

ACCT = "111122223333"
BASE = {  # the statement a snippet element is set into, by policy type
    "identity": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::amzn-s3-demo-bucket/*"},
    "resource": {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCT}:role/app"}, "Action": "s3:GetObject",
                 "Resource": "arn:aws:s3:::amzn-s3-demo-bucket/*"},
    "trust": {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCT}:role/app"}, "Action": "sts:AssumeRole"},
}


def _untagged(actions: list[str]) -> str:
    """An action of the same service as the snippet's first that the reference says never carries
    aws:ResourceTag (the page's own example, Lambda, supports it by now)."""
    from iamkb.policy.lint.checks_names import applicable_keys

    ref = load_reference()
    service = actions[0].split(":")[0]
    return next(r["id"].removeprefix("action:") for r in sorted(ref.actions.values(), key=lambda r: r["id"])
                if r["service"] == service and "aws:resourcetag/${tagkey}" not in applicable_keys(ref, r))


def _tag_statement_gets(doc: dict) -> dict:
    """The page's fixed policy broken again: an action without tag support added to the tag-conditioned statement."""
    broken = copy.deepcopy(doc)
    tagged = next(s for s in broken["Statement"] if "Condition" in s)
    tagged["Action"] = [*tagged["Action"], _untagged(tagged["Action"])]
    return broken


def _replace(old: str, new: str):
    return lambda element: json.loads(json.dumps(element).replace(old, new))


# check id -> (what the snippet shows: "problem" or "fix", code, policy type, the other version of it from the
# snippet). The set of checks comes from the data: test_every_snippet_is_used fails when the page gains one.
SNIPPETS = {
    "error-invalid-principal-format": ("fix", "INVALID_PRINCIPAL_FORMAT", "resource",
                                       lambda e: {"Principal": e["Principal"]["AWS"]}),
    "error-invalid-version": ("fix", "INVALID_VERSION", "identity", _replace("2012-10-17", "2012-10-18")),
    "error-missing-principal": ("fix", "MISSING_PRINCIPAL", "resource", lambda e: {"Principal": None}),
    "error-missing-quote-in-variable": ("fix", "MISSING_QUOTE_IN_VARIABLE", "identity",
                                        _replace("'company-wide'", "company-wide")),
    "error-missing-tag-key-in-condition": ("fix", "MISSING_TAG_KEY_IN_CONDITION", "identity",
                                           _replace("aws:ResourceTag/owner", "aws:ResourceTag")),
    "general-warning-wildcard-without-like-operator": ("fix", "WILDCARD_WITHOUT_LIKE_OPERATOR", "identity",
                                                       _replace("StringLike", "StringEquals")),
    "security-warning-pass-role-with-star-in-resource": ("fix", "PASS_ROLE_WITH_STAR_IN_RESOURCE", "identity",
                                                         lambda e: {**e, "Resource": "*"}),
    "security-warning-deny-with-unsupported-tag-condition-key-for-service": (
        "fix", "DENY_WITH_UNSUPPORTED_TAG_CONDITION_KEY", "identity", _tag_statement_gets),
    "suggestion-allow-with-unsupported-tag-condition-key-for-service": (
        "fix", "ALLOW_WITH_UNSUPPORTED_TAG_CONDITION_KEY", "identity", _tag_statement_gets),
    "suggestion-redundant-action": ("problem", "REDUNDANT_ACTION", "identity",
                                    lambda e: {"Action": e["Action"][:-1]}),
    "suggestion-redundant-condition-value-num": (
        "problem", "REDUNDANT_CONDITION_VALUE_NUM", "identity",
        lambda e: {"Condition": {"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}}}),
    "suggestion-redundant-resource": ("problem", "REDUNDANT_RESOURCE", "identity",
                                      lambda e: {"Resource": e["Resource"][-1:]}),
    "suggestion-wildcard-in-service-name": ("problem", "WILDCARD_IN_SERVICE_NAME", "identity",
                                            _replace("*code*", "codecommit")),
    "suggestion-redundant-principal-in-role-trust-policy": (
        "problem", "REDUNDANT_PRINCIPAL_IN_TRUST_POLICY", "trust",
        lambda e: {"Principal": {"AWS": e["Principal"]["AWS"][:1]}}),
}


def policy_of(element: dict, policy_type: str) -> dict:
    """The smallest policy holding a snippet: a whole document as it is, an element set into the base statement of
    the policy type (a Version into the document; None drops the element)."""
    if "Statement" in element:
        return element
    statement = {**BASE[policy_type], **{k: v for k, v in element.items() if k != "Version"}}
    return {"Version": element.get("Version", "2012-10-17"),
            "Statement": [{k: v for k, v in statement.items() if v is not None}]}


def snippet_element(check: dict) -> dict:
    """The snippet as data; a bare ARN (the page's iam:PassRole convention) as the Resource of iam:PassRole."""
    [snippet] = check["snippets"]
    if snippet["json"] is not None:
        return snippet["json"]
    return {"Action": "iam:PassRole", "Resource": snippet["code"].strip()}


def test_every_snippet_is_used(checks) -> None:
    with_snippets = {c["id"] for c in checks if c["snippets"]}
    assert set(SNIPPETS) == with_snippets
    assert all(len(c["snippets"]) == 1 for c in checks if c["id"] in with_snippets)


@pytest.mark.parametrize("check_id", sorted(SNIPPETS))
def test_the_page_s_snippet_and_its_other_version(kb_build, checks, check_id) -> None:
    """A snippet that shows the problem gets the finding and its fixed version does not; a snippet that shows the
    fix gets no finding and the version with the problem does."""
    role, code, policy_type, other = SNIPPETS[check_id]
    element = snippet_element(next(c for c in checks if c["id"] == check_id))
    shown, variant = policy_of(element, policy_type), policy_of(other(copy.deepcopy(element)), policy_type)
    problem, fixed = (shown, variant) if role == "problem" else (variant, shown)
    assert code in {f.code for f in lint_document(problem, policy_type=policy_type)}
    assert code not in {f.code for f in lint_document(fixed, policy_type=policy_type)}
