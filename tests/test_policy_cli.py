"""The policy CLI commands and bad input: one-line errors naming the path (or line/column), exit 2."""

from __future__ import annotations

import json

import pytest

from iamkb.cli import main
from iamkb.policy.grammar import MAX_DEPTH, MAX_TEXT_BYTES, validate

ASG = "arn:aws:autoscaling:us-east-1:111122223333:autoScalingGroup:1f0e:autoScalingGroupName/web"
POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "autoscaling:*", "Resource": "*"}]}
SCENARIO = {"request": {"principal": "arn:aws:iam::111122223333:user/alice", "action": "autoscaling:DeletePolicy",
                        "resource": ASG}, "identityPolicies": [POLICY]}


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path, text: str, name: str = "in.json"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_simulate_json_one_and_batch(tmp_path, capsys) -> None:
    code, out, _ = run(capsys, "simulate", "--json", write(tmp_path, json.dumps(SCENARIO)))
    assert code == 0 and json.loads(out)["decision"] == "Allowed"
    batch = [SCENARIO, {**SCENARIO, "identityPolicies": []}]
    code, out, _ = run(capsys, "simulate", "--json", write(tmp_path, json.dumps(batch)))
    assert [r["decision"] for r in json.loads(out)] == ["Allowed", "ImplicitlyDenied"]


def test_simulate_text(tmp_path, capsys) -> None:
    code, out, _ = run(capsys, "simulate", write(tmp_path, json.dumps(SCENARIO)))
    assert code == 0
    assert out.splitlines()[0].startswith("Allowed: allowed by identityPolicies[0] Statement[0]")
    assert "Action autoscaling:*: matches yes" in out


@pytest.mark.parametrize(("text", "message"), [
    ('{"request": {', "malformed JSON at line 1, column 14"),
    ('{\n "request": 1,\n "identityPolicies": []}', "request: required object"),
    (json.dumps({**SCENARIO, "identityPolicies": [{"Statement": [{"Effect": "Allow", "Action": 3}]}]}),
     "identityPolicies[0].Statement[0].Action: action must be a string or a list of strings, got number"),
    (json.dumps({**SCENARIO, "identityPolicies": [{"Statement": [{"Effect": "Allow", "Action": "a:b",
                                                                  "Condition": {"StringEqualz": {"k": "v"}}}]}]}),
     "identityPolicies[0].Statement[0].Condition.StringEqualz: unknown condition operator 'StringEqualz'"),
    (json.dumps({**SCENARIO, "serviceControlPolicies": [POLICY]}),
     "serviceControlPolicies[0]: an SCP level must be a list of policies"),
    (json.dumps({**SCENARIO, "request": {**SCENARIO["request"], "resource": "arn:aws:autoscaling:x"}}),
     "request.resource: 'arn:aws:autoscaling:x' is neither * nor an ARN"),
    # nesting json cannot decode (deeper than the interpreter's recursion limit): where it first goes too deep
    ('{"request": ' + "[" * 5000 + "]" * 5000 + "}", f"JSON nested deeper than {MAX_DEPTH * 2} levels at line 1, "
                                                     f"column {12 + MAX_DEPTH * 2}"),
    ("[" * (MAX_DEPTH * 2 + 1) + "]" * (MAX_DEPTH * 2 + 1), "[0]: a scenario must be an object, got list"),
])
def test_simulate_bad_input(tmp_path, capsys, text: str, message: str) -> None:
    path = write(tmp_path, text)
    code, out, err = run(capsys, "simulate", "--json", path)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err and path in err


def test_huge_document_is_rejected(tmp_path, capsys) -> None:
    statement = {"Effect": "Allow", "Action": "autoscaling:DescribePolicies", "Resource": "*"}
    huge = {"Version": "2012-10-17", "Statement": [statement] * (MAX_TEXT_BYTES // 60)}
    code, _, err = run(capsys, "check", write(tmp_path, json.dumps(huge)))
    assert code == 2 and f"larger than {MAX_TEXT_BYTES} bytes" in err


def test_deep_nesting_inside_policy_names_the_path() -> None:
    deep: object = "x"
    for _ in range(200):
        deep = [deep]
    _, errors = validate({"Statement": {"Effect": "Allow", "Action": "a:b", "Condition": {"Null": {"k": deep}}}})
    assert [str(e) for e in errors] == [
        "Statement.Condition.Null.k[0]: condition value must be a string, number or boolean, got list"]


def test_grammar_reports_every_error_at_once() -> None:
    _, errors = validate({"Version": "2013", "Statement": [
        {"Effect": "Allw", "Action": "autoscaling:*"},
        {"Effect": "Deny", "Action": ["ok:Action", 5], "Resource": "bucket", "Principal": {"Aws": "x"}},
    ]})
    assert [e.path for e in errors] == ["Version", "Statement[0].Effect", "Statement[1].Action[1]",
                                        "Statement[1].Resource", "Statement[1].Principal.Aws"]


def test_check_exit_codes(tmp_path, capsys) -> None:
    code, out, _ = run(capsys, "check", "--json", write(tmp_path, json.dumps(POLICY)))
    findings = json.loads(out)["findings"]
    assert code == 0 and [f["code"] for f in findings] == ["AUTOSCALING_FULL_ACCESS"]
    warned = {**POLICY, "Statement": [{**POLICY["Statement"][0], "Condition": {"Null": {"aws:TagKeys": "maybe"}}}]}
    code, out, _ = run(capsys, "check", "--json", write(tmp_path, json.dumps(warned)))
    assert code == 0 and [(f["code"], f["severity"]) for f in json.loads(out)["findings"]] == [
        ("NULL_NOT_BOOLEAN", "warning")]  # a warning alone: exit 0
    bad = {**POLICY, "Statement": [{**POLICY["Statement"][0], "Action": "autoscaling:DeleteScalingPolicy"}]}
    code, out, _ = run(capsys, "check", "--json", write(tmp_path, json.dumps(bad)))
    assert code == 1 and [f["code"] for f in json.loads(out)["findings"]] == ["UNKNOWN_ACTION"]
    code, _, err = run(capsys, "check", write(tmp_path, "[1, 2]"))
    assert code == 2 and "a policy must be a JSON object" in err
