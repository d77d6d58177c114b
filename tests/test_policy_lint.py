"""Lint: each finding code fires on a policy that has the problem (and the catalog documents every code)."""

from __future__ import annotations

import pytest

from iamkb.policy.lint import BY_CODE, CATALOG, CHECKS, lint_document


def stmt(**extra) -> dict:
    return {"Effect": "Allow", "Action": "autoscaling:DeletePolicy", "Resource": "*", **extra}


CASES = [
    ("MALFORMED", {"Statement": [{"Effect": "Allow", "Action": 3}]}, "Statement[0].Action"),
    ("UNKNOWN_SERVICE", {"Statement": [stmt(Action="autoscalin:DeletePolicy")]}, "Statement[0].Action"),
    ("UNKNOWN_ACTION", {"Statement": [stmt(Action="autoscaling:Frobnicate")]}, "Statement[0].Action"),
    ("WILDCARD_MATCHES_NOTHING", {"Statement": [stmt(Action="autoscaling:Zz*")]}, "Statement[0].Action"),
    ("CONDITION_KEY_NOT_APPLICABLE", {"Statement": [stmt(Condition={"NumericLessThan": {"autoscaling:MaxSize": 5}})]},
     "Statement[0].Condition.NumericLessThan.autoscaling:MaxSize"),
    ("OPERATOR_TYPE_MISMATCH", {"Statement": [stmt(Action="autoscaling:CreateAutoScalingGroup",
                                                   Condition={"StringEquals": {"autoscaling:MaxSize": "5"}})]},
     "Statement[0].Condition.StringEquals.autoscaling:MaxSize"),
    ("RESOURCE_MATCHES_NO_TYPE", {"Statement": [stmt(Resource="arn:aws:autoscaling:*:*:launchConfiguration:*")]},
     "Statement[0].Resource"),
    ("NO_RESOURCE_LEVEL_PERMISSIONS", {"Statement": [stmt(Action="autoscaling:DescribePolicies",
                                                          Resource="arn:aws:autoscaling:*:*:autoScalingGroup:*")]},
     "Statement[0].Resource"),
    ("NULL_NOT_BOOLEAN", {"Statement": [stmt(Condition={"Null": {"aws:TagKeys": "yes"}})]},
     "Statement[0].Condition.Null.aws:TagKeys"),
    ("FORALLVALUES_WITH_ALLOW", {"Statement": [stmt(Condition={"ForAllValues:StringEquals": {"aws:TagKeys": "a"}})]},
     "Statement[0].Condition.ForAllValues:StringEquals.aws:TagKeys"),
    ("PASSROLE_ANY_ROLE", {"Statement": [stmt(Action="iam:PassRole")]}, "Statement[0].Action"),
    ("AUTOSCALING_FULL_ACCESS", {"Statement": [stmt(Action="autoscaling:*")]}, "Statement[0].Action"),
    ("DUPLICATE_SID", {"Statement": [stmt(Sid="A"), stmt(Sid="A", Action="autoscaling:DeleteTags")]},
     "Statement[1].Sid"),
    ("REDUNDANT_STATEMENT", {"Statement": [stmt(), stmt(Action="autoscaling:Delete*")]}, "Statement[0]"),
]


@pytest.mark.parametrize(("code", "policy", "path"), CASES, ids=[c[0] for c in CASES])
def test_code_fires(kb_build, code: str, policy: dict, path: str) -> None:
    findings = lint_document(policy)
    assert (code, path) in {(f.code, f.path) for f in findings}


def test_clean_policy_has_no_findings(kb_build) -> None:
    policy = {"Version": "2012-10-17", "Statement": [stmt(
        Resource="arn:aws:autoscaling:*:*:autoScalingGroup:*",
        Condition={"StringEquals": {"autoscaling:ResourceTag/environment": "dev"}})]}
    assert lint_document(policy) == []


def test_catalog_is_complete() -> None:
    tested = {c[0] for c in CASES}
    assert tested | {"REFERENCE_UNAVAILABLE"} == set(BY_CODE)
    assert all(c.section.startswith(("iam/", "autoscaling/")) and "#" in c.section for c in CATALOG)
    assert len(CHECKS) == 8


def test_unknown_action_suggests_the_closest_real_names(kb_build) -> None:
    findings = lint_document({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ec2:RunInstance", "Resource": "*"}]})
    unknown = [f for f in findings if f.code == "UNKNOWN_ACTION"]
    assert len(unknown) == 1 and "did you mean ec2:RunInstances" in unknown[0].message
