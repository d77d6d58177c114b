"""The engine's speed-ups must not change an answer: each fast path is checked against the slow one it stands in
for (wildcards against the regex they mean, the quick statement reader against the full check), and the batch
machinery (content cache, lazy explanations, paused cycle collector, remembered matches) against plain runs."""

from __future__ import annotations

import copy
import gc
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracle.strategies import generate, hypothesis_batch

from iamkb.errors import InputError
from iamkb.policy import grammar
from iamkb.policy.evaluate import Compiler, evaluate, evaluate_many
from iamkb.policy.matching import MEMO_LIMIT, ActionMatcher, RequestResource, ResourcePattern
from iamkb.policy.wildcards import glob

# Characters that make the string fast path and the regex differ if handled carelessly: case pairs, a newline
# (`.` does not match it), letters whose IGNORECASE folding str.lower does not do (long s, Kelvin sign,
# dotted capital I), regex metacharacters that must stay literal.
ALPHABET = "aAbB*?.\nſKİ:/$^\\"


@settings(max_examples=1500, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(st.text(ALPHABET, max_size=6), st.text(ALPHABET, max_size=8), st.booleans())
def test_glob_means_its_regex(pattern: str, text: str, fold: bool) -> None:
    compiled = glob(pattern, fold=fold)
    regex = re.compile(compiled.source, re.IGNORECASE if fold else 0)
    assert compiled.matches(text) == (regex.fullmatch(text) is not None)


@pytest.mark.parametrize(("pattern", "text", "fold", "expected"), [
    ("autoscaling:Describe*", "AutoScaling:describetags", True, True),
    ("autoscaling:Describe*", "autoscaling:Delete", True, False),
    ("a*b*c", "aXXbYYc", False, True),
    ("a*b*c", "aXXcYYb", False, False),
    ("ab?d", "abcd", False, True),
    ("ab?d", "abd", False, False),
    ("*", "multi\nline", False, False),  # `.*?` does not cross a newline
    ("s", "ſ", True, True),  # IGNORECASE folds long s to s; the fast path hands this to the regex
])
def test_glob_examples(pattern: str, text: str, fold: bool, expected: bool) -> None:
    assert glob(pattern, fold=fold).matches(text) is expected


def _statements_of(scenarios: list[dict]) -> list[dict]:
    out = []
    for s in scenarios:
        policies = list(s["identityPolicies"]) + list(s.get("permissionBoundaries", []))
        policies += [p for level in s.get("serviceControlPolicies", []) for p in level]
        policies += [s[k] for k in ("resourcePolicy", "sessionPolicy") if k in s]
        out += [x for p in policies for x in (p["Statement"] if isinstance(p["Statement"], list) else [p["Statement"]])]
    return out


ODD_STATEMENTS = [
    {"Effect": "Allow", "Action": None, "Resource": "*"},
    {"Effect": "Allow", "Action": [], "Resource": "*"},
    {"Effect": "Allow", "Action": ["s3:Get*", 3], "Resource": "*"},
    {"Effect": "Allow", "Action": "s3", "Resource": "*"},
    {"Effect": "Allow", "Action": "s3:GetObject", "NotAction": "s3:Put*", "Resource": "*"},
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "bucket"},
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "NotResource": "*"},
    {"Effect": "Allow", "Action": "s3:GetObject"},
    {"Effect": "allow", "Action": "s3:GetObject", "Resource": "*"},
    {"Effect": "Allow", "Sid": 1, "Action": "s3:GetObject", "Resource": "*"},
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Extra": 1},
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"NumericLessThan": {"k": 5}}},
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"Bool": {"k": [True, "x"]}}},
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"StringEqualz": {"k": "v"}}},
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"StringEquals": {}}},
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"StringEquals": {"k": []}}},
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"StringEquals": {"k": [None]}}},
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": []},
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Principal": "*", "NotPrincipal": "*"},
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Principal": {"AWS": []}},
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Principal": {"Group": "x"}},
    {"Effect": "Deny", "NotAction": ["s3:*"], "NotResource": ["arn:aws:s3:::b/*"],
     "NotPrincipal": {"AWS": ["arn:aws:iam::111122223333:root", "444455556666"]}},
    {"Effect": "Allow", "Action": ("s3:GetObject",), "Resource": "*"},  # a tuple is not a JSON list
    "not a statement",
]


class Text(str):
    """A str subclass: valid, but not what the quick reader takes."""


def test_quick_statement_agrees_with_the_full_check() -> None:
    statements = _statements_of(generate(1000) + hypothesis_batch(100)) + ODD_STATEMENTS + [
        {"Effect": "Allow", "Action": Text("s3:GetObject"), "Resource": "*"}]
    taken = []
    for i, raw in enumerate(statements):
        out = grammar._Collector()
        full = grammar._statement(raw, i, f"Statement[{i}]", out)
        quick = grammar._quick_statement(raw, i, f"Statement[{i}]")
        if quick is not None:
            taken.append(i)
            assert (quick, out.errors) == (full, []), raw
    # the quick reader takes every plain generated statement, and of the odd ones only the two valid plain ones
    generated = len(statements) - len(ODD_STATEMENTS) - 1
    assert [i for i in taken if i < generated] == [i for i in range(generated) if _plain(statements[i])]
    assert [statements[i] for i in taken if i >= generated] == [ODD_STATEMENTS[7], ODD_STATEMENTS[21]]


def _plain(raw: dict) -> bool:
    """What the quick reader is meant to take: exact strings and lists of them, string condition values."""
    def strings(v: object) -> bool:
        return type(v) is str or (type(v) is list and bool(v) and all(type(x) is str for x in v))
    conditions = raw.get("Condition", {})
    values_ok = all(strings(v) for block in conditions.values() for v in block.values())
    return values_ok


def test_equal_documents_share_one_compiled_policy() -> None:
    doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "autoscaling:*", "Resource": "*"}]}
    compiler = Compiler()
    first = compiler.policy(doc, "identityPolicies[0]", "identity")
    again = compiler.policy(copy.deepcopy(doc), "[3].identityPolicies[1]", "identity")
    assert again.code is first.code and again.name == "[3].identityPolicies[1]"
    assert compiler.policy(copy.deepcopy(doc), "resourcePolicy", "resource").code is not first.code
    # equal-looking but different documents are not shared: a tuple is not a list, 1 is not True
    as_tuple = {**doc, "Statement": tuple(doc["Statement"])}
    with pytest.raises(InputError, match=r"^\[9\]\.identityPolicies\[0\]\.Statement: Statement must be"):
        compiler.policy(as_tuple, "[9].identityPolicies[0]", "identity")
    number = {"Statement": {"Effect": "Allow", "Action": "a:b", "Resource": "*", "Condition": {"Bool": {"k": 1}}}}
    boolean = {"Statement": {"Effect": "Allow", "Action": "a:b", "Resource": "*", "Condition": {"Bool": {"k": True}}}}
    values = [compiler.policy(d, "p", "identity").statements[0].st.conditions[0].values for d in (number, boolean)]
    assert values == [("1",), ("true",)]


def test_batch_explanations_equal_single_ones_at_their_place() -> None:
    batch = generate(300)
    shared = next(s["identityPolicies"] for s in batch if s["identityPolicies"])
    signed = [s for s in batch[1:60] if not s["request"].get("anonymous")]  # anonymous callers have no identity
    batch += [{**s, "identityPolicies": shared} for s in signed]  # one policy object in many scenarios
    many = [d.to_json() for d in evaluate_many(batch)]
    for i, (scenario, got) in enumerate(zip(batch, many, strict=True)):
        assert got == evaluate(scenario, f"[{i}]").to_json()


def test_explanation_comes_from_the_compiled_scenario_when_kept() -> None:
    scenario = generate(1)[0]
    decision = evaluate(scenario)
    before = decision.to_json()
    scenario["identityPolicies"] = []  # evaluate() keeps its compiled form, so the explanation does not move
    assert decision.to_json() == before


@pytest.mark.parametrize("enabled", [True, False])
def test_batch_restores_the_cycle_collector(enabled: bool) -> None:
    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        evaluate_many(generate(20))
        assert gc.isenabled() is enabled and gc.get_freeze_count() == 0
        with pytest.raises(InputError):
            evaluate_many([{"request": {}}])
        assert gc.isenabled() is enabled and gc.get_freeze_count() == 0
    finally:
        gc.enable() if was else gc.disable()


def test_batch_leaves_the_hosts_frozen_objects_frozen() -> None:
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        assert frozen > 0
        decisions = evaluate_many(generate(20))
        assert gc.get_freeze_count() == frozen
        assert len(decisions) == 20
    finally:
        gc.unfreeze()


def test_action_matcher_memory_is_bounded_and_right() -> None:
    matcher = ActionMatcher(("autoscaling:Describe*", "ec2:Run?nstances"))
    actions = [f"autoscaling:Describe{i}" for i in range(MEMO_LIMIT + 50)] + ["ec2:RunInstances", "ec2:Stop"]
    assert [matcher.matches(a) for a in actions] == [True] * (MEMO_LIMIT + 51) + [False]
    assert len(matcher._memo) == MEMO_LIMIT
    assert [matcher.matches(a) for a in actions] == [True] * (MEMO_LIMIT + 51) + [False]


def test_resource_pattern_memory_never_fixes_a_context_answer() -> None:
    pattern = ResourcePattern("arn:aws:s3:::bucket/${aws:username}/*")
    request = RequestResource.parse("arn:aws:s3:::bucket/alice/file")
    answers = [pattern.match(request, ctx) for ctx in ({"aws:username": "alice"}, {"aws:username": "bob"}, {})]
    assert answers == [True, False, None]
