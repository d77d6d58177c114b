"""Generated scenarios around the Auto Scaling actions and condition keys (tests/oracle/strategies.py):
a differential run against iam-simulate (>= 5,000 scenarios, one node process) and two property tests."""

from __future__ import annotations

import copy
from collections import Counter

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from oracle.oracle import run_oracle
from oracle.strategies import autoscaling_actions, scenarios

from iamkb.policy.evaluate import evaluate, evaluate_many

DIFFERENTIAL_EXAMPLES = 5000
# Known, documented disagreements would be listed here as (predicate, doc section); none are needed for the
# generated space (the one found by hand, `${*}` in StringEquals, is in test_policy_scenarios.py).
SKIP: list[tuple[str, str]] = []


def collect(n: int) -> list[dict]:
    """n distinct scenarios from hypothesis, deterministic (derandomize) so a failure is reproducible."""
    got: list[dict] = []

    @settings(max_examples=n, derandomize=True, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(scenarios())
    def draw(s: dict) -> None:
        got.append(s)

    draw()
    return got


def test_generated_scenarios_agree_with_iam_simulate(require_node) -> None:
    batch = collect(DIFFERENTIAL_EXAMPLES)
    assert len(batch) >= DIFFERENTIAL_EXAMPLES
    ours = [d.decision for d in evaluate_many(batch)]
    theirs = run_oracle(batch)
    errors = Counter(t["error"] for t in theirs if t["error"])
    assert errors == Counter(), "iam-simulate rejected generated scenarios"
    ignored = Counter(k for t in theirs for k in t["ignoredContextKeys"])
    assert ignored == Counter(), "iam-simulate dropped context keys, so both sides did not see the same request"
    disagree = [(i, o, t["decision"]) for i, (o, t) in enumerate(zip(ours, theirs, strict=True))
                if o != t["decision"]]
    assert disagree == [], f"first disagreement: {batch[disagree[0][0]] if disagree else None}"
    # the space is exercised: every decision occurs, and most actions are drawn
    decisions = Counter(ours)
    assert set(decisions) == {"Allowed", "ExplicitlyDenied", "ImplicitlyDenied"}
    drawn = {s["request"]["action"] for s in batch}
    assert len(drawn) > len(autoscaling_actions()) // 2


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(scenarios())
def test_evaluation_never_raises_on_valid_input(scenario: dict) -> None:
    result = evaluate(scenario).to_json()
    assert result["decision"] in ("Allowed", "ExplicitlyDenied", "ImplicitlyDenied")
    assert len(result["explain"]) == sum(
        len(p["Statement"]) for p in _all_policies(scenario))


def _all_policies(scenario: dict) -> list[dict]:
    out = list(scenario["identityPolicies"]) + list(scenario.get("permissionBoundaries", []))
    out += [p for level in scenario.get("serviceControlPolicies", []) for p in level]
    out += [scenario[k] for k in ("resourcePolicy", "sessionPolicy") if k in scenario]
    return out


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(scenarios(), st.data())
def test_adding_a_deny_never_increases_access(scenario: dict, data: st.DataObject) -> None:
    """iam/reference_policies_evaluation-logic#policy-eval-denyallow: an explicit deny in any policy overrides
    any allow, so adding a Deny statement anywhere can only keep or remove access."""
    before = evaluate(scenario).decision
    policies = _all_policies(scenario)
    if not policies:
        return
    target = data.draw(st.integers(0, len(policies) - 1))
    source = data.draw(st.integers(0, len(policies) - 1))
    donor = copy.deepcopy(policies[source]["Statement"][data.draw(
        st.integers(0, len(policies[source]["Statement"]) - 1))])
    donor["Effect"] = "Deny"
    policies[target]["Statement"].append(donor)
    after = evaluate(scenario).decision
    if after == "Allowed":
        assert before == "Allowed"
    if before == "ExplicitlyDenied":
        assert after == "ExplicitlyDenied"
