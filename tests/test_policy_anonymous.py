"""Anonymous (unauthenticated) requests: `"anonymous": true` in the request, no principal.

Each case is a request against an S3 bucket policy, with the IAM User Guide's sentence it checks (quoted) or what
it checks; the engine must decide as stated, and iam-simulate (its own anonymous principal) must decide the same. The generated
differential batch (tests/test_policy_generated.py) adds anonymous requests around every Auto Scaling action.
"""

from __future__ import annotations

import json

import pytest
from oracle.oracle import run_oracle

from iamkb.cli import main
from iamkb.policy.evaluate import evaluate

OBJECT = "arn:aws:s3:::amzn-s3-demo-bucket/report.csv"
OWNER = "111122223333"


def bucket_policy(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def stmt(effect: str, principal: object, key: str = "Principal", **condition: dict) -> dict:
    out = {"Effect": effect, key: principal, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::amzn-s3-demo-bucket/*"}
    if condition:
        out["Condition"] = condition
    return out


def anonymous(resource_policy: dict | None, context: dict | None = None) -> dict:
    scenario: dict = {"request": {"anonymous": True, "action": "s3:GetObject", "resource": OBJECT,
                                  "resourceAccount": OWNER, "context": context or {}},
                      "identityPolicies": []}
    if resource_policy is not None:
        scenario["resourcePolicy"] = resource_policy
    return scenario


# (the docs' sentence it checks, in quotes, or what it checks; scenario; expected decision)
CASES = [
    ('"For resource-based policies, using a wildcard (*) with an Allow effect grants access to all users, including '
     'anonymous users (public access)."',
     anonymous(bucket_policy(stmt("Allow", "*"))), "Allowed"),
    ('"For anonymous users, the following elements are equivalent: "Principal": "*" "Principal" : { "AWS" : "*" }"',
     anonymous(bucket_policy(stmt("Allow", {"AWS": "*"}))), "Allowed"),
    ("an account principal names the account's authenticated principals, not anonymous callers",
     anonymous(bucket_policy(stmt("Allow", {"AWS": f"arn:aws:iam::{OWNER}:root"}))), "ImplicitlyDenied"),
    ("the same, with the account given by its ID",
     anonymous(bucket_policy(stmt("Allow", {"AWS": OWNER}))), "ImplicitlyDenied"),
    ("a service principal is not an anonymous caller",
     anonymous(bucket_policy(stmt("Allow", {"Service": "cloudtrail.amazonaws.com"}))), "ImplicitlyDenied"),
    ('"By default, access to resources is denied." (no bucket policy)', anonymous(None), "ImplicitlyDenied"),
    ("an explicit deny overrides the public allow",
     anonymous(bucket_policy(stmt("Allow", "*"), stmt("Deny", {"AWS": "*"}))), "ExplicitlyDenied"),
    ('NotPrincipal with Allow: "By doing this, you might grant access to anonymous (unauthenticated) users."',
     anonymous(bucket_policy(stmt("Allow", {"AWS": f"arn:aws:iam::{OWNER}:user/bob"}, key="NotPrincipal"))),
     "Allowed"),
    ('"When you use NotPrincipal in the same policy statement as "Effect": "Deny", the actions specified in the '
     'policy statement are explicitly denied to all principals except for the ones specified."',
     anonymous(bucket_policy(stmt("Allow", "*"),
                             stmt("Deny", {"AWS": f"arn:aws:iam::{OWNER}:user/bob"}, key="NotPrincipal"))),
     "ExplicitlyDenied"),
    ('aws:PrincipalOrgID: "Anonymous requests do not include this key."',
     anonymous(bucket_policy(stmt("Allow", "*", StringEquals={"aws:PrincipalOrgID": "o-xxxxxxxxxxx"}))),
     "ImplicitlyDenied"),
    ('aws:PrincipalArn: "Anonymous requests do not include this key." (so a Deny of every principal but the one '
     "named in the condition denies anonymous callers)",
     anonymous(bucket_policy(stmt("Allow", "*"), stmt("Deny", "*", ArnNotEquals={
         "aws:PrincipalArn": "arn:aws:iam::444455556666:user/user-name"}))), "ExplicitlyDenied"),
    ("a public grant limited by a condition the anonymous request meets",
     anonymous(bucket_policy(stmt("Allow", "*", IpAddress={"aws:SourceIp": "203.0.113.0/24"})),
               {"aws:SourceIp": "203.0.113.7"}), "Allowed"),
]


@pytest.mark.parametrize(("doc", "scenario", "expected"), CASES, ids=[f"case{i}" for i in range(len(CASES))])
def test_anonymous_requests_decide_as_the_docs_say(doc: str, scenario: dict, expected: str) -> None:
    result = evaluate(scenario).to_json()
    assert result["decision"] == expected, doc
    if expected == "Allowed":
        decisive = [e for e in result["explain"] if e["decisive"]]
        assert decisive and all(e["policyType"] == "resource" and e["principal"] == "Match" for e in decisive)


def test_iam_simulate_decides_every_anonymous_case_the_same(require_node) -> None:
    theirs = run_oracle([scenario for _, scenario, _ in CASES])
    assert [(t["error"], t["decision"]) for t in theirs] == [(None, expected) for _, _, expected in CASES]


def test_an_authenticated_caller_of_another_account_is_not_anonymous() -> None:
    """The same public policy lets anonymous callers in; a principal of another account still needs its own
    identity-based allow (cross-account), so anonymous handling does not leak into signed requests."""
    public = bucket_policy(stmt("Allow", "*"))
    signed = {"request": {"principal": "arn:aws:iam::444455556666:user/eve", "action": "s3:GetObject",
                          "resource": OBJECT, "resourceAccount": OWNER}, "identityPolicies": [],
              "resourcePolicy": public}
    assert evaluate(signed).decision == "ImplicitlyDenied"
    assert evaluate(anonymous(public)).decision == "Allowed"


# --- bad input: one line naming the JSON path, exit 2 -----------------------------------------------------------
ALLOW_ALL = bucket_policy({"Effect": "Allow", "Action": "*", "Resource": "*"})


@pytest.mark.parametrize(("change", "message"), [
    ({"request": {"anonymous": True, "principal": "arn:aws:iam::111122223333:user/alice", "action": "s3:GetObject",
                  "resource": OBJECT}},
     "request.principal: an anonymous request has no principal"),
    ({"identityPolicies": [ALLOW_ALL]}, "identityPolicies: an anonymous request has no identity"),
    ({"permissionBoundaries": [ALLOW_ALL]}, "permissionBoundaries: an anonymous request has no identity"),
    ({"serviceControlPolicies": [[ALLOW_ALL]]}, "serviceControlPolicies: an anonymous request has no identity"),
    ({"sessionPolicy": ALLOW_ALL}, "sessionPolicy: an anonymous request has no identity"),
    ({"request": {"anonymous": "yes", "action": "s3:GetObject", "resource": OBJECT}},
     "request.anonymous: must be true or false, got string"),
    ({"request": {"action": "s3:GetObject", "resource": OBJECT}},
     'request.principal: required non-empty string (or "anonymous": true for an unauthenticated request)'),
])
def test_bad_anonymous_input(tmp_path, capsys, change: dict, message: str) -> None:
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps([anonymous(bucket_policy(stmt("Allow", "*"))), {**anonymous(None), **change}]),
                    encoding="utf-8")
    code = main(["simulate", "--json", str(path)])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and f"[1].{message}" in err and str(path) in err


def test_an_anonymous_scenario_may_leave_out_identity_policies(tmp_path, capsys) -> None:
    scenario = anonymous(bucket_policy(stmt("Allow", "*")))
    del scenario["identityPolicies"]
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(scenario), encoding="utf-8")
    assert main(["simulate", "--json", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["decision"] == "Allowed"
