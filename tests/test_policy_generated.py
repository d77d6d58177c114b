"""Generated scenarios around the Auto Scaling actions and condition keys (tests/oracle/strategies.py): a
differential run against iam-simulate (5,000 distinct scenarios from the seeded source plus hypothesis's own
draws, one node process) and two properties, checked on hypothesis's draws (with shrinking) and on the whole
seeded batch."""

from __future__ import annotations

import copy
import json
import random
import re
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracle.oracle import run_oracle
from oracle.strategies import (
    OPERATORS_BY_KIND,
    autoscaling_actions,
    canonical,
    generate,
    hypothesis_batch,
    scenarios,
)

from iamkb.policy.evaluate import Decision, evaluate, evaluate_many

DIFFERENTIAL_EXAMPLES = 5000  # distinct scenarios from the seeded source
HYPOTHESIS_EXAMPLES = 300  # drawn by hypothesis (derandomized) and compared too
PROPERTY_EXAMPLES = 200


def _all_policies(scenario: dict) -> list[dict]:
    out = list(scenario["identityPolicies"]) + list(scenario.get("permissionBoundaries", []))
    out += [p for level in scenario.get("serviceControlPolicies", []) for p in level]
    out += [scenario[k] for k in ("resourcePolicy", "sessionPolicy") if k in scenario]
    return out


def _statements(policy: dict) -> list[dict]:
    body = policy["Statement"]
    return body if isinstance(body, list) else [body]


def session_named_directly(scenario: dict, ours: Decision, theirs: str) -> bool:
    """The documented disagreement: iamkb allows a role or federated session through a same-account resource
    policy that names the session's own ARN, although the session policy does not allow the action; iam-simulate
    denies it. iam/reference_policies_evaluation-logic#policy-eval-denyallow (resource-based policies, "IAM role
    session"): "Permissions granted directly to a session are not limited by an implicit deny in an identity-based
    policy, a permissions boundary, or session policy" (also access_policies#policies_session)."""
    if (ours.decision, theirs) != ("Allowed", "ImplicitlyDenied") or "sessionPolicy" not in scenario:
        return False
    principal = scenario["request"]["principal"]
    explain = ours.to_json()["explain"]
    session_allows = [e for e in explain if e["policyType"] == "session" and e["applies"] and e["effect"] == "Allow"]
    decisive = [e for e in explain if e["decisive"]]
    named = [e for e in decisive if e["policyType"] == "resource" and e["principal"] == "Match"
             and principal in _principals_named(scenario["resourcePolicy"], e["path"])]
    return not session_allows and bool(decisive) and named == decisive


def _principals_named(policy: dict, path: str) -> list[str]:
    index = int(path.rsplit("[", 1)[1].rstrip("]")) if path.endswith("]") else 0
    principal = _statements(policy)[index].get("Principal", {})
    values = principal.get("AWS", []) if isinstance(principal, dict) else []
    return [values] if isinstance(values, str) else list(values)


# Operators that "do match against a null value" (iam/reference_policies_variables#policy-vars-no-value).
INVERTED = ("StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "ArnNotEquals", "ArnNotLike")
VARIABLE = re.compile(r"\$\{([^}]*)\}")


def _has_null_variable(value: object, context_keys: set[str]) -> bool:
    """A policy value naming a variable the request does not carry and that has no default."""
    for match in VARIABLE.finditer(value if isinstance(value, str) else ""):
        name, comma, _ = match.group(1).partition(",")
        if name.strip() not in ("*", "?", "$") and not comma and name.strip().lower() not in context_keys:
            return True
    return False


def null_variable_in_inverted_condition(scenario: dict, ours: Decision, theirs: str) -> bool:
    """The second documented disagreement: iam/reference_policies_variables#policy-vars-no-value says a variable
    with no value is "effectively null" and "Inverted condition operators like StringNotEquals or StringNotLike do
    match against a null value"; iam-simulate never matches a value whose variable is unresolved. Recognised by
    reading each such condition (its key present, a value with a null variable) as iam-simulate does, false,
    and checking that iamkb then reaches iam-simulate's decision."""
    changed = copy.deepcopy(scenario)
    context = {k.lower() for k in changed["request"].get("context", {})}
    touched = False
    for policy in _all_policies(changed):
        for stmt in _statements(policy):
            condition = stmt.get("Condition", {})
            for operator, block in condition.items():
                if operator.split(":")[-1].removesuffix("IfExists") not in INVERTED:
                    continue
                for key, values in block.items():
                    values = values if isinstance(values, list) else [values]
                    if key.lower() in context and any(_has_null_variable(v, context) for v in values):
                        touched = True
                        stmt["Condition"] = {"Null": {"iamkb:NeverPresent": "false"}}  # never true
    return touched and ours.decision != theirs and evaluate(changed).decision == theirs


def test_the_documented_disagreement_is_recognised_and_nothing_else() -> None:
    session = "arn:aws:sts::111122223333:assumed-role/admin/s1"
    allow = {"Effect": "Allow", "Action": "autoscaling:*", "Resource": "*"}
    scenario = {"request": {"principal": session, "action": "autoscaling:DeletePolicy", "resource": "*"},
                "identityPolicies": [],
                "sessionPolicy": {"Statement": [{**allow, "Action": "ec2:*"}]},
                "resourcePolicy": {"Statement": [{**allow, "Principal": {"AWS": session}}]}}
    assert session_named_directly(scenario, evaluate(scenario), "ImplicitlyDenied")
    assert not session_named_directly(scenario, evaluate(scenario), "Allowed")
    role = {**scenario, "resourcePolicy": {"Statement": [{**allow, "Principal": {"AWS": "*"}}]}}
    assert not session_named_directly(role, evaluate(role), "ImplicitlyDenied")
    identity = {**scenario, "identityPolicies": [{"Statement": [allow]}], "sessionPolicy": {"Statement": [allow]}}
    assert not session_named_directly(identity, evaluate(identity), "ImplicitlyDenied")


def test_the_null_variable_disagreement_is_recognised_and_nothing_else() -> None:
    user = "arn:aws:iam::111122223333:user/alice"
    deny_other_teams = {"Effect": "Deny", "Action": "autoscaling:*", "Resource": "*", "Condition": {
        "StringNotEquals": {"autoscaling:ResourceTag/team": "${aws:PrincipalTag/team}"}}}
    allow = {"Effect": "Allow", "Action": "autoscaling:*", "Resource": "*"}
    scenario = {"request": {"principal": user, "action": "autoscaling:DeletePolicy", "resource": "*",
                            "context": {"autoscaling:ResourceTag/team": "web"}},
                "identityPolicies": [{"Statement": [allow, deny_other_teams]}]}
    ours = evaluate(scenario)
    assert ours.decision == "ExplicitlyDenied"  # the untagged principal is denied, as the docs say
    assert null_variable_in_inverted_condition(scenario, ours, "Allowed")
    assert not null_variable_in_inverted_condition(scenario, ours, "ExplicitlyDenied")
    tagged = copy.deepcopy(scenario)
    tagged["request"]["context"]["aws:PrincipalTag/team"] = "db"
    assert not null_variable_in_inverted_condition(tagged, evaluate(tagged), "Allowed")
    absent_key = copy.deepcopy(scenario)
    del absent_key["request"]["context"]["autoscaling:ResourceTag/team"]
    assert not null_variable_in_inverted_condition(absent_key, evaluate(absent_key), "Allowed")


@pytest.fixture(scope="module")
def batch() -> list[dict]:
    return generate(DIFFERENTIAL_EXAMPLES)


def test_generated_scenarios_agree_with_iam_simulate(require_node, batch: list[dict]) -> None:
    drawn_by_hypothesis = hypothesis_batch(HYPOTHESIS_EXAMPLES)
    everything = batch + drawn_by_hypothesis
    assert len({canonical(s) for s in batch}) == DIFFERENTIAL_EXAMPLES
    ours = evaluate_many(everything)
    theirs = run_oracle(everything)
    errors = Counter(t["error"] for t in theirs if t["error"])
    assert errors == Counter(), "iam-simulate rejected generated scenarios"
    ignored = Counter(k for t in theirs for k in t["ignoredContextKeys"])
    assert ignored == Counter(), "iam-simulate dropped context keys, so both sides did not see the same request"
    disagree = [i for i, (o, t) in enumerate(zip(ours, theirs, strict=True)) if o.decision != t["decision"]]
    documented = [i for i in disagree if session_named_directly(everything[i], ours[i], theirs[i]["decision"])
                  or null_variable_in_inverted_condition(everything[i], ours[i], theirs[i]["decision"])]
    unexplained = [i for i in disagree if i not in documented]
    assert unexplained == [], f"first disagreement: {everything[unexplained[0]] if unexplained else None}"
    agree = len(everything) - len(disagree)
    anonymous = sum(1 for s in everything if s["request"].get("anonymous"))
    print(f"\ngenerated: {len(everything)} scenarios ({anonymous} anonymous), {agree} agree, "
          f"{len(documented)} documented disagreements")


def _operators(scenarios_: list[dict]) -> Counter:
    return Counter(op for s in scenarios_ for p in _all_policies(s) for stmt in _statements(p)
                   for op in stmt.get("Condition", {}))


def test_generated_batch_covers_the_space(batch: list[dict]) -> None:
    """Every action, decision, policy type, operator (with each prefix and suffix) and negated element occurs."""
    actions = {a for a, _, _ in autoscaling_actions()}
    assert {s["request"]["action"] for s in batch} == actions
    assert set(Counter(d.decision for d in evaluate_many(batch))) == {"Allowed", "ExplicitlyDenied",
                                                                       "ImplicitlyDenied"}
    kinds = {k for s in batch for k in s if k != "request"}
    assert kinds == {"identityPolicies", "resourcePolicy", "permissionBoundaries", "serviceControlPolicies",
                     "sessionPolicy"}
    used = _operators(batch)
    bases = {op.split(":")[-1].removesuffix("IfExists") for op in used}
    assert bases == {op for ops in OPERATORS_BY_KIND.values() for op in ops} | {"Null"}
    assert any(op.startswith("ForAllValues:") for op in used) and any(op.startswith("ForAnyValue:") for op in used)
    assert any(op.endswith("IfExists") for op in used)
    elements = Counter(e for s in batch for p in _all_policies(s) for stmt in _statements(p) for e in stmt)
    assert {"NotAction", "NotResource", "NotPrincipal", "Principal", "Sid", "Condition"} <= set(elements)
    cross = [s for s in batch if s["request"]["resourceAccount"] != "111122223333"]
    assert cross


def test_generated_batch_holds_anonymous_requests_of_every_outcome(batch: list[dict]) -> None:
    """Anonymous requests (no principal, no identity-side policy) reach all three decisions, and their resource
    policies name everyone both ways the docs give (iam/reference_policies_elements_principal#principal-anonymous)."""
    anonymous = [s for s in batch if s["request"].get("anonymous")]
    assert all("principal" not in s["request"] and s["identityPolicies"] == [] for s in anonymous)
    assert not any(k in s for s in anonymous for k in ("permissionBoundaries", "serviceControlPolicies",
                                                        "sessionPolicy"))
    assert set(Counter(d.decision for d in evaluate_many(anonymous))) == {"Allowed", "ExplicitlyDenied",
                                                                           "ImplicitlyDenied"}
    named = {json.dumps(stmt.get("Principal", stmt.get("NotPrincipal"))) for s in anonymous
             if "resourcePolicy" in s for stmt in _statements(s["resourcePolicy"])}
    assert {'"*"', '{"AWS": "*"}'} <= named
    assert len(named) > 2  # and principals that do not name anonymous callers


def test_evaluation_never_raises_on_the_batch(batch: list[dict]) -> None:
    """Every scenario gets a decision and one explanation entry per statement of every policy."""
    results = [d.to_json() for d in evaluate_many(batch)]
    assert [len(r["explain"]) for r in results] == [
        sum(len(_statements(p)) for p in _all_policies(s)) for s in batch]


def _add_deny(scenario: dict, target: int, source: int, index: int) -> dict:
    changed = copy.deepcopy(scenario)
    policies = _all_policies(changed)
    donor = copy.deepcopy(_statements(policies[source])[index % len(_statements(policies[source]))])
    donor["Effect"] = "Deny"
    policies[target]["Statement"].append(donor)
    return changed


def _deny_never_widens(before: str, after: str) -> None:
    if after == "Allowed":
        assert before == "Allowed"
    if before == "ExplicitlyDenied":
        assert after == "ExplicitlyDenied"


def test_adding_a_deny_never_increases_access_on_the_batch(batch: list[dict]) -> None:
    """iam/reference_policies_evaluation-logic#policy-eval-denyallow: an explicit deny in any policy overrides
    any allow, so adding a Deny statement anywhere can only keep or remove access (seeded choice of where)."""
    rng = random.Random(7)
    pairs = []
    for s in batch:
        n = len(_all_policies(s))
        if n:
            pairs.append((s, _add_deny(s, rng.randrange(n), rng.randrange(n), rng.randrange(3))))
    befores = evaluate_many([s for s, _ in pairs])
    afters = evaluate_many([t for _, t in pairs])
    for before, after in zip(befores, afters, strict=True):
        _deny_never_widens(before.decision, after.decision)
    assert len(pairs) == sum(1 for s in batch if _all_policies(s))


@settings(max_examples=PROPERTY_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(scenarios())
def test_evaluation_never_raises_on_valid_input(scenario: dict) -> None:
    result = evaluate(scenario).to_json()
    assert result["decision"] in ("Allowed", "ExplicitlyDenied", "ImplicitlyDenied")
    assert len(result["explain"]) == sum(len(_statements(p)) for p in _all_policies(scenario))


@settings(max_examples=PROPERTY_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(scenarios(), st.data())
def test_adding_a_deny_never_increases_access(scenario: dict, data: st.DataObject) -> None:
    """The same property with hypothesis choosing where the Deny goes (and shrinking a counterexample)."""
    policies = _all_policies(scenario)
    if not policies:
        return
    target = data.draw(st.integers(0, len(policies) - 1))
    source = data.draw(st.integers(0, len(policies) - 1))
    index = data.draw(st.integers(0, len(_statements(policies[source])) - 1))
    _deny_never_widens(evaluate(scenario).decision, evaluate(_add_deny(scenario, target, source, index)).decision)
