"""Hand-written scenarios: every condition operator family and every policy type, each with the decision the
IAM User Guide gives (cited), checked against iamkb and, in one batch, against iam-simulate (the oracle)."""

from __future__ import annotations

import pytest
from oracle.oracle import run_oracle

from iamkb.policy.evaluate import evaluate, evaluate_many

A, B = "111122223333", "444455556666"
USER = f"arn:aws:iam::{A}:user/alice"
ROLE = f"arn:aws:iam::{A}:role/admin"
SESSION = f"arn:aws:sts::{A}:assumed-role/admin/s1"
ASG = f"arn:aws:autoscaling:us-east-1:{A}:autoScalingGroup:1f0e:autoScalingGroupName/web"
ASG_B = f"arn:aws:autoscaling:us-east-1:{B}:autoScalingGroup:1f0e:autoScalingGroupName/web"
KEY = f"arn:aws:kms:us-east-1:{A}:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def doc(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: str = "autoscaling:DeletePolicy", resource: str | list = "*", **extra) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: str = "autoscaling:DeletePolicy", resource: str | list = "*", **extra) -> dict:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def when(op: str, key: str, values) -> dict:
    return {"Condition": {op: {key: values}}}


def sc(identity=(), context=None, action="autoscaling:DeletePolicy", resource=ASG, principal=USER, **more) -> dict:
    request = {"principal": principal, "action": action, "resource": resource, "context": context or {}}
    return {"request": request, "identityPolicies": list(identity), **more}


def cond(op: str, key: str, values, context, action: str = "autoscaling:DeletePolicy") -> dict:
    """An Allow gated by one condition, asked with `context`."""
    return sc([doc(allow(action, **when(op, key, values)))], context, action=action)


CREATE = "autoscaling:CreateAutoScalingGroup"  # an action the size keys apply to


TAG = "autoscaling:ResourceTag/environment"
CASES: list[tuple[str, dict, str]] = [
    # iam/reference_policies_evaluation-logic#policy-eval-denyallow: implicit deny, allow, explicit deny wins
    ("no policy", sc(), "ImplicitlyDenied"),
    ("identity allow", sc([doc(allow())]), "Allowed"),
    ("deny wins", sc([doc(allow("autoscaling:*"), deny())]), "ExplicitlyDenied"),
    ("action case-insensitive", sc([doc(allow("AutoScaling:deletepolicy"))]), "Allowed"),
    ("action wildcard ?", sc([doc(allow("autoscaling:Delete?olicy"))]), "Allowed"),
    ("NotAction", sc([doc({"Effect": "Allow", "NotAction": "autoscaling:Describe*", "Resource": "*"})]), "Allowed"),
    ("NotAction excludes", sc([doc({"Effect": "Allow", "NotAction": "autoscaling:Delete*", "Resource": "*"})]),
     "ImplicitlyDenied"),
    ("resource segment wildcard", sc([doc(allow(resource="arn:aws:autoscaling:*:*:autoScalingGroup:*"))]), "Allowed"),
    ("resource id case-sensitive",
     sc([doc(allow(resource="arn:aws:autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/Web"))]),
     "ImplicitlyDenied"),
    ("NotResource", sc([doc({"Effect": "Allow", "Action": "*", "NotResource": ASG_B})]), "Allowed"),
    ("resource variable", sc([doc(allow(resource="arn:aws:autoscaling:*:*:autoScalingGroup:*:"
                                        "autoScalingGroupName/${aws:username}"))], {"aws:username": "web"}),
     "Allowed"),
    ("resource variable missing", sc([doc(allow(resource="arn:aws:autoscaling:*:*:autoScalingGroup:*:"
                                                "autoScalingGroupName/${aws:username}"))]), "ImplicitlyDenied"),
    # String (#Conditions_String)
    ("StringEquals", cond("StringEquals", TAG, "production", {TAG: "production"}), "Allowed"),
    ("StringEquals case-sensitive value", cond("StringEquals", TAG, "Production", {TAG: "production"}),
     "ImplicitlyDenied"),
    ("condition key case-insensitive", cond("StringEquals", TAG.upper(), "production", {TAG: "production"}),
     "Allowed"),
    ("StringNotEquals missing key", cond("StringNotEquals", TAG, "production", {}), "Allowed"),
    ("StringEqualsIgnoreCase", cond("StringEqualsIgnoreCase", TAG, "PRODUCTION", {TAG: "production"}), "Allowed"),
    ("StringLike", cond("StringLike", TAG, "prod*", {TAG: "production"}), "Allowed"),
    ("StringNotLike", cond("StringNotLike", TAG, ["prod*", "dev"], {TAG: "test"}), "Allowed"),
    ("StringEquals literal *", cond("StringEquals", TAG, "prod*", {TAG: "production"}), "ImplicitlyDenied"),
    ("${*} escape", cond("StringEquals", TAG, "a${*}", {TAG: "a*"}), "Allowed"),
    ("variable default", cond("StringEquals", TAG, "${aws:PrincipalTag/team, 'dev'}", {TAG: "dev"}), "Allowed"),
    ("variable in value", cond("StringEquals", TAG, "${aws:PrincipalTag/team}",
                               {TAG: "web", "aws:PrincipalTag/team": "web"}), "Allowed"),
    # iam/reference_policies_variables#policy-vars-no-value: a variable with no value is "effectively null";
    # StringEquals and StringLike do not match it, the inverted operators do
    ("variable with no value: StringEquals", cond("StringEquals", TAG, "${aws:PrincipalTag/team}", {TAG: "web"}),
     "ImplicitlyDenied"),
    ("variable with no value: StringLike", cond("StringLike", TAG, "${aws:PrincipalTag/team}*", {TAG: "web"}),
     "ImplicitlyDenied"),
    ("variable with no value: StringNotEquals", cond("StringNotEquals", TAG, "${aws:PrincipalTag/team}",
                                                     {TAG: "web"}), "Allowed"),
    ("variable with no value: StringNotLike", cond("StringNotLike", TAG, ["dev", "${aws:PrincipalTag/team}*"],
                                                   {TAG: "web"}), "Allowed"),
    ("variable with no value: StringNotLike, another value matches",
     cond("StringNotLike", TAG, ["we*", "${aws:PrincipalTag/team}*"], {TAG: "web"}), "ImplicitlyDenied"),
    ("variable with no value: ArnLike", cond("ArnLike", "aws:PrincipalArn", f"arn:aws:iam::{A}:user/${{aws:username}}",
                                             {"aws:PrincipalArn": USER}), "ImplicitlyDenied"),
    ("variable with no value: ArnNotLike", cond("ArnNotLike", "aws:PrincipalArn",
                                                f"arn:aws:iam::{A}:user/${{aws:username}}",
                                                {"aws:PrincipalArn": USER}), "Allowed"),
    ("IfExists missing", cond("StringEqualsIfExists", TAG, "production", {}), "Allowed"),
    ("IfExists present", cond("StringEqualsIfExists", TAG, "production", {TAG: "dev"}), "ImplicitlyDenied"),
    # Numeric, Date, Bool, Binary, IP, ARN, Null
    ("NumericLessThan", cond("NumericLessThan", "autoscaling:MaxSize", "10", {"autoscaling:MaxSize": "5"}, CREATE),
     "Allowed"),
    ("NumericGreaterThanEquals", cond("NumericGreaterThanEquals", "autoscaling:MaxSize", 10,
                                      {"autoscaling:MaxSize": "5"}, CREATE), "ImplicitlyDenied"),
    ("NumericNotEquals", cond("NumericNotEquals", "autoscaling:MinSize", ["1", "2"], {"autoscaling:MinSize": "3"}, CREATE),
     "Allowed"),
    ("DateLessThan", cond("DateLessThan", "aws:CurrentTime", "2026-01-01T00:00:00Z",
                          {"aws:CurrentTime": "2025-06-30T12:00:00Z"}), "Allowed"),
    ("DateGreaterThan epoch", cond("DateGreaterThan", "aws:EpochTime", "1700000000",
                                   {"aws:EpochTime": "1800000000"}), "Allowed"),
    ("Bool", cond("Bool", "aws:SecureTransport", "true", {"aws:SecureTransport": "true"}), "Allowed"),
    ("Bool JSON boolean", cond("Bool", "aws:MultiFactorAuthPresent", True,
                               {"aws:MultiFactorAuthPresent": "false"}), "ImplicitlyDenied"),
    ("IpAddress v4", cond("IpAddress", "aws:SourceIp", "192.0.2.0/24", {"aws:SourceIp": "192.0.2.10"}), "Allowed"),
    ("IpAddress v6", cond("IpAddress", "aws:SourceIp", "2001:db8::/32", {"aws:SourceIp": "2001:db8::1"}),
     "Allowed"),
    ("NotIpAddress other family", cond("NotIpAddress", "aws:SourceIp", "192.0.2.0/24",
                                       {"aws:SourceIp": "2001:db8::1"}), "Allowed"),
    ("ArnLike", cond("ArnLike", "aws:PrincipalArn", f"arn:aws:iam::{A}:user/*", {"aws:PrincipalArn": USER}),
     "Allowed"),
    ("ArnNotEquals", cond("ArnNotEquals", "aws:PrincipalArn", ROLE, {"aws:PrincipalArn": USER}), "Allowed"),
    ("Null true", cond("Null", TAG, "true", {}), "Allowed"),
    ("Null false", cond("Null", TAG, "false", {}), "ImplicitlyDenied"),
    # iam/reference_policies_multi-value-conditions
    ("ForAllValues subset", cond("ForAllValues:StringEquals", "aws:TagKeys", ["a", "b"], {"aws:TagKeys": ["a"]}),
     "Allowed"),
    ("ForAllValues missing key", cond("ForAllValues:StringEquals", "aws:TagKeys", ["a"], {}), "Allowed"),
    ("ForAllValues empty set", cond("ForAllValues:StringEquals", "aws:TagKeys", ["a"], {"aws:TagKeys": []}),
     "Allowed"),
    ("ForAllValues extra", cond("ForAllValues:StringEquals", "aws:TagKeys", ["a"], {"aws:TagKeys": ["a", "c"]}),
     "ImplicitlyDenied"),
    ("ForAnyValue", cond("ForAnyValue:StringLike", "aws:TagKeys", ["c*"], {"aws:TagKeys": ["a", "cost"]}),
     "Allowed"),
    ("ForAnyValue missing", cond("ForAnyValue:StringEquals", "aws:TagKeys", ["a"], {}), "ImplicitlyDenied"),
    ("single operator on multivalued key", cond("StringEquals", "aws:TagKeys", "a", {"aws:TagKeys": ["a"]}),
     "ImplicitlyDenied"),
    ("ForAnyValue:BinaryEquals", cond("BinaryEquals", "aws:Bin", "QmluYXJ5", {"aws:Bin": "QmluYXJ5"}), "Allowed"),
    # policy types: boundaries, SCP levels, sessions, resource policies, cross-account, KMS key policies
    ("boundary allows", sc([doc(allow())], permissionBoundaries=[doc(allow("autoscaling:*"))]), "Allowed"),
    ("boundary lacks allow", sc([doc(allow())], permissionBoundaries=[doc(allow("ec2:*"))]), "ImplicitlyDenied"),
    ("boundary deny", sc([doc(allow())], permissionBoundaries=[doc(allow("*"), deny())]), "ExplicitlyDenied"),
    ("SCP levels all allow", sc([doc(allow())], serviceControlPolicies=[[doc(allow("*"))], [doc(allow("autoscaling:*"))]]),
     "Allowed"),
    ("SCP one level lacks allow", sc([doc(allow())], serviceControlPolicies=[[doc(allow("*"))], [doc(allow("ec2:*"))]]),
     "ImplicitlyDenied"),
    ("SCP deny", sc([doc(allow())], serviceControlPolicies=[[doc(allow("*"), deny("autoscaling:Delete*"))]]),
     "ExplicitlyDenied"),
    ("session policy allows", sc([doc(allow())], principal=SESSION, sessionPolicy=doc(allow("autoscaling:*"))),
     "Allowed"),
    ("session policy lacks allow", sc([doc(allow())], principal=SESSION, sessionPolicy=doc(allow("ec2:*"))),
     "ImplicitlyDenied"),
    ("resource policy alone (same account)",
     sc(resourcePolicy=doc(allow(Principal={"AWS": USER}))), "Allowed"),
    ("resource policy deny", sc([doc(allow())], resourcePolicy=doc(deny(Principal="*"))), "ExplicitlyDenied"),
    ("resource policy other principal", sc(resourcePolicy=doc(allow(Principal={"AWS": ROLE}))), "ImplicitlyDenied"),
    ("role ARN covers session", sc(principal=SESSION, resourcePolicy=doc(allow(Principal={"AWS": ROLE}))),
     "Allowed"),
    ("session policy does not limit a resource policy naming the session",
     sc(principal=SESSION, sessionPolicy=doc(allow("ec2:*")), resourcePolicy=doc(allow(Principal={"AWS": SESSION}))),
     "Allowed"),
    ("session policy limits a resource policy naming the role",
     sc(principal=SESSION, sessionPolicy=doc(allow("ec2:*")), resourcePolicy=doc(allow(Principal={"AWS": ROLE}))),
     "ImplicitlyDenied"),
    ("NotPrincipal deny", sc([doc(allow())], resourcePolicy=doc(deny(NotPrincipal={"AWS": ROLE}))),
     "ExplicitlyDenied"),
    ("cross-account needs both: identity only", sc([doc(allow())], resource=ASG_B), "ImplicitlyDenied"),
    ("cross-account needs both: resource only",
     sc(resource=ASG_B, resourcePolicy=doc(allow(Principal={"AWS": A}))), "ImplicitlyDenied"),
    ("cross-account both", sc([doc(allow())], resource=ASG_B, resourcePolicy=doc(allow(Principal={"AWS": A}))),
     "Allowed"),
    ("boundary does not limit user named in resource policy",
     sc(permissionBoundaries=[doc(allow("ec2:*"))], resourcePolicy=doc(allow(Principal={"AWS": USER}))), "Allowed"),
    ("KMS key policy delegates to account",
     sc([doc(allow("kms:Decrypt"))], action="kms:Decrypt", resource=KEY,
        resourcePolicy=doc(allow("kms:*", Principal={"AWS": f"arn:aws:iam::{A}:root"}))), "Allowed"),
    ("KMS key policy without account: IAM policy not enough",
     sc([doc(allow("kms:Decrypt"))], action="kms:Decrypt", resource=KEY,
        resourcePolicy=doc(allow("kms:*", Principal={"AWS": ROLE}))), "ImplicitlyDenied"),
    ("KMS key policy names the user", sc(action="kms:Decrypt", resource=KEY,
                                         resourcePolicy=doc(allow("kms:Decrypt", Principal={"AWS": USER}))),
     "Allowed"),
    ("wildcard-only action", sc([doc(allow("autoscaling:Describe*"))], action="autoscaling:DescribePolicies",
                                resource="*"), "Allowed"),
]
# Cases left out of the oracle comparison, each with the reason:
NOT_FOR_ORACLE = {
    # a made-up key (aws:Bin), which iam-simulate's context filter drops before evaluating;
    "ForAnyValue:BinaryEquals",
    # Documented disagreement: iam-simulate keeps `${*}` literally in StringEquals values, but
    # iam/reference_policies_variables#policy-vars-specialchars says `${*}` stands for the character `*`.
    "${*} escape",
    # Documented disagreement: iam-simulate lets the session policy limit a resource policy that names the session
    # itself, but iam/reference_policies_evaluation-logic#policy-eval-denyallow ("IAM role session") says
    # "Permissions granted directly to a session are not limited by an implicit deny in ... session policy".
    "session policy does not limit a resource policy naming the session",
    # Documented disagreement: iam-simulate never matches a value whose variable has no value, but
    # iam/reference_policies_variables#policy-vars-no-value says "Inverted condition operators like StringNotEquals
    # or StringNotLike do match against a null value".
    "variable with no value: StringNotEquals",
    "variable with no value: StringNotLike",
    "variable with no value: ArnNotLike",
}


@pytest.mark.parametrize(("name", "scenario", "expected"), CASES, ids=[c[0] for c in CASES])
def test_documented_decision(name: str, scenario: dict, expected: str) -> None:
    assert evaluate(scenario).decision == expected


def test_oracle_agrees_on_every_handwritten_case(require_node) -> None:
    batch = [(name, s, e) for name, s, e in CASES if name not in NOT_FOR_ORACLE]
    ours = [d.decision for d in evaluate_many([s for _, s, _ in batch])]
    theirs = run_oracle([s for _, s, _ in batch])
    errors = [(name, t["error"]) for (name, _, _), t in zip(batch, theirs, strict=True) if t["error"]]
    assert errors == []
    ignored = [(name, t["ignoredContextKeys"]) for (name, _, _), t in zip(batch, theirs, strict=True)
               if t["ignoredContextKeys"]]
    assert ignored == []
    disagree = [(name, o, t["decision"]) for (name, _, _), o, t in zip(batch, ours, theirs, strict=True)
                if o != t["decision"]]
    assert disagree == []
    assert len(ours) == len(CASES) - len(NOT_FOR_ORACLE)


def test_explain_names_deciding_statement() -> None:
    d = evaluate(sc([doc(allow("autoscaling:*"), {**deny(), "Sid": "NoDeletes"})])).to_json()
    assert d["decision"] == "ExplicitlyDenied"
    decisive = [e for e in d["explain"] if e["decisive"]]
    assert [(e["policy"], e["statement"]) for e in decisive] == [("identityPolicies[0]", "NoDeletes")]
    allow_entry = d["explain"][0]
    assert allow_entry["applies"] and not allow_entry["decisive"]


def test_explain_reports_condition_values() -> None:
    d = evaluate(cond("StringEquals", TAG, "production", {TAG: "dev"})).to_json()
    (c,) = d["explain"][0]["conditions"]
    assert (c["operator"], c["key"], c["values"], c["requestValue"], c["matches"]) == (
        "StringEquals", TAG, ["production"], "dev", False)
