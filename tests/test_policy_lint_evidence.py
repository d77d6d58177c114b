"""Evidence: a finding about what a policy allows carries a request that shows it, and that request is decided as
the finding says by iamkb's evaluator (`iamkb simulate`) and by the oracle, iam-simulate."""

from __future__ import annotations

import copy
import json

import pytest
from test_policy_lint import CASES, findings

from iamkb.cli import main
from iamkb.policy.lint.evidence import BUILDERS, verified

WITH_EVIDENCE = [c for c in CASES if c[0] in BUILDERS]


def _evidence(case: tuple) -> dict:
    code, policy_type, bad, path, _ = case
    [finding] = [f for f in findings(bad, policy_type) if (f.code, f.path) == (code, path)]
    assert finding.evidence is not None, code
    return finding.evidence


def test_every_evidence_builder_has_a_case() -> None:
    assert {c[0] for c in WITH_EVIDENCE} == set(BUILDERS)


@pytest.mark.parametrize("case", WITH_EVIDENCE, ids=[c[0] for c in WITH_EVIDENCE])
def test_the_evidence_is_decided_by_iamkb_simulate_as_it_says(kb_build, tmp_path, capsys, case) -> None:
    evidence = _evidence(case)
    assert set(evidence) == {"scenario", "decision", "shows"} and evidence["shows"]
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(evidence["scenario"]))
    assert main(["simulate", "--json", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["decision"] == evidence["decision"]


# Findings whose documented fix changes how the policy is written rather than what this request gets: the tag
# checks move the actions that never carry the tag into a statement of their own (the request is decided as before,
# now by a statement that says so), and the IAM guide's aws:PrincipalArn condition denies whom NotPrincipal did.
SAME_DECISION_AFTER_FIX = {"DENY_WITH_UNSUPPORTED_TAG_CONDITION_KEY", "ALLOW_WITH_UNSUPPORTED_TAG_CONDITION_KEY",
                           "DENY_NOTACTION_WITH_UNSUPPORTED_TAG_CONDITION_KEY",
                           "ALLOW_NOTACTION_WITH_UNSUPPORTED_TAG_CONDITION_KEY", "DENY_WITH_NOT_PRINCIPAL"}
CHANGED_BY_FIX = [c for c in WITH_EVIDENCE if c[0] not in SAME_DECISION_AFTER_FIX]


@pytest.mark.parametrize("case", CHANGED_BY_FIX, ids=[c[0] for c in CHANGED_BY_FIX])
def test_the_fixed_policy_decides_the_same_request_otherwise(kb_build, case) -> None:
    """The evidence is about the problem: with the documented fix in place of the policy, its request no longer
    gets the decision the finding warned about."""
    from iamkb.policy.evaluate import evaluate

    code, policy_type, bad, _, fixed = case
    evidence = _evidence(case)
    scenario = json.loads(json.dumps(evidence["scenario"]).replace(json.dumps(bad), json.dumps(fixed)))
    assert json.dumps(fixed) in json.dumps(scenario), code
    assert evaluate(scenario).decision != evidence["decision"], code


def test_a_proposal_the_evaluator_does_not_back_is_dropped() -> None:
    scenario = {"request": {"principal": "arn:aws:iam::111122223333:user/alice", "action": "autoscaling:DeletePolicy",
                            "resource": "*"}, "identityPolicies": []}
    assert verified((scenario, "ImplicitlyDenied", "nothing allows it")) is not None
    assert verified((scenario, "Allowed", "a claim the engine does not back")) is None


def test_no_evidence_flag(kb_build, tmp_path, capsys) -> None:
    code, _, bad, _, _ = next(c for c in WITH_EVIDENCE if c[0] == "PASS_ROLE_WITH_STAR_IN_RESOURCE")
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(bad))
    main(["check", "--json", str(path)])
    assert any("evidence" in f for f in json.loads(capsys.readouterr().out)["findings"] if f["code"] == code)
    main(["check", "--json", "--no-evidence", str(path)])
    assert not any("evidence" in f for f in json.loads(capsys.readouterr().out)["findings"])


# iam-simulate drops the GitHub OIDC provider's aud and sub claims as keys that do not apply to
# sts:AssumeRoleWithWebIdentity (its data lists other token.actions.githubusercontent.com keys only), so it cannot
# evaluate these trust policies' conditions; the IAM guide documents both keys (checked: it still drops them, so a
# fix upstream shows up here as a stale entry).
ORACLE_DROPS_GITHUB_KEYS = {"MISSING_GITHUB_REPO_CONDITION_KEY", "SPECIFIC_GITHUB_REPO_AND_BRANCH_RECOMMENDED"}


@pytest.mark.node
def test_iam_simulate_reaches_the_same_decisions(kb_build, require_node) -> None:
    from oracle.oracle import run_oracle

    results = run_oracle([copy.deepcopy(_evidence(c)["scenario"]) for c in WITH_EVIDENCE])
    agree, drops = {}, set()
    for case, r in zip(WITH_EVIDENCE, results, strict=True):
        assert r["error"] is None, (case[0], r["error"])
        if r["ignoredContextKeys"]:
            drops.add(case[0])
        else:
            agree[case[0]] = r["decision"] == _evidence(case)["decision"]
    assert drops == ORACLE_DROPS_GITHUB_KEYS
    assert [code for code, same in agree.items() if not same] == []
