"""The evaluator's parts that follow the evaluation-logic page: the kinds of caller it tells apart, and which
statements an explanation marks as deciding (by their place in the scenario)."""

from __future__ import annotations

import re

import pytest

from iamkb.policy.evaluate import (
    FEDERATED_SESSION,
    OTHER,
    ROLE,
    ROLE_SESSION,
    SERVICE,
    USER,
    evaluate,
    principal_type,
)
from iamkb.store import load

DENYALLOW = "iam/reference_policies_evaluation-logic#policy-eval-denyallow"
# The page's names for the kinds of principal whose resource-based grants it treats differently.
PAGE_NAMES = {"role": ROLE, "role session": ROLE_SESSION, "IAM user": USER, "IAM federated user session":
              FEDERATED_SESSION}
A = "111122223333"


def page_examples(kb_build) -> dict[str, str]:
    """{"role": "arn:aws:iam::...:role/examplerole", ...}: the "Example ... ARN" lines of the page."""
    text = next(s["text"] for s in load("sections", kb_build) if s["id"] == DENYALLOW)
    return dict(re.findall(r"^Example (.+?) ARN\n(arn:\S+)$", text, re.M))


def test_each_example_arn_of_the_page_is_the_kind_it_illustrates(kb_build) -> None:
    examples = page_examples(kb_build)
    assert set(examples) == set(PAGE_NAMES), examples
    for name, arn in examples.items():
        assert principal_type(arn) == PAGE_NAMES[name], (name, arn)


@pytest.mark.parametrize(("principal", "kind"), [
    ("autoscaling.amazonaws.com", SERVICE),
    (f"arn:aws:iam::{A}:root", OTHER),
    (A, OTHER),
    (f"arn:aws:iam::{A}:group/admins", OTHER),
    (f"arn:aws-us-gov:iam::{A}:role/path/to/r", ROLE),
    (f"arn:aws:iam::{A}:role/a\nb", OTHER),  # a line break is never part of an ARN
])
def test_other_principals(principal: str, kind: str) -> None:
    assert principal_type(principal) == kind


def _doc(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


ALLOW = {"Effect": "Allow", "Action": "autoscaling:*", "Resource": "*"}
DENY = {"Effect": "Deny", "Action": "autoscaling:DeletePolicy", "Resource": "*"}
OTHER_ACTION = {"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}


def _decisive(scenario: dict) -> list[str]:
    return [e["path"] for e in evaluate(scenario).to_json()["explain"] if e["decisive"]]


def test_the_same_policy_at_two_places_is_decisive_at_both() -> None:
    policy = _doc(OTHER_ACTION, ALLOW)  # one document object, compiled once, at two places
    scenario = {"request": {"principal": f"arn:aws:iam::{A}:user/alice", "action": "autoscaling:DeletePolicy",
                            "resource": "*"},
                "identityPolicies": [policy, policy],
                "serviceControlPolicies": [[_doc(ALLOW)], [_doc(OTHER_ACTION), _doc(ALLOW)]]}
    assert _decisive(scenario) == ["identityPolicies[0].Statement[1]", "identityPolicies[1].Statement[1]",
                                   "serviceControlPolicies[0][0].Statement[0]",
                                   "serviceControlPolicies[1][1].Statement[0]"]
    scenario["serviceControlPolicies"][1].append(_doc(OTHER_ACTION, DENY))
    assert evaluate(scenario).reason == "explicit Deny in serviceControlPolicies[1][2] Statement[1]"
    assert _decisive(scenario) == ["serviceControlPolicies[1][2].Statement[1]"]
