"""`iamkb check` configuration and options: ignore a code everywhere or at a JSON path, change a severity, pick the
checks with --policy-type; bad configuration or input is one line on stderr naming where, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from iamkb.cli import main
from iamkb.policy.lint import CATALOG

ROLE = "arn:aws:iam::111122223333:role/app"
POLICY = {"Version": "2012-10-17", "Statement": [
    {"Sid": "Pass", "Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"},
    {"Effect": "Allow", "Action": ["autoscaling:Delete*", "autoscaling:DeletePolicy"], "Resource": "*"},
]}


def check(capsys, tmp_path: Path, *args: str, policy: dict = POLICY) -> tuple[int, dict, str]:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(policy))
    code = main(["check", "--json", *args, str(path)])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out else {}), err


def codes(result: dict) -> list[tuple[str, str, str]]:
    return [(f["code"], f["severity"], f["path"]) for f in result["findings"]]


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_without_configuration(kb_build, tmp_path, capsys) -> None:
    code, out, _ = check(capsys, tmp_path)
    assert code == 0 and out["policy_type"] == "identity"
    assert codes(out) == [("PASS_ROLE_WITH_STAR_IN_RESOURCE", "security_warning", "Statement[0].Action"),
                          ("REDUNDANT_ACTION", "suggestion", "Statement[1].Action[1]")]


def test_a_toml_file_ignores_and_raises_severities(kb_build, tmp_path, capsys) -> None:
    config = write(tmp_path, "check.toml", """
[codes.REDUNDANT_ACTION]
ignore = true

[codes.PASS_ROLE_WITH_STAR_IN_RESOURCE]
severity = "error"
""")
    code, out, _ = check(capsys, tmp_path, "--config", config)
    assert code == 1 and codes(out) == [("PASS_ROLE_WITH_STAR_IN_RESOURCE", "error", "Statement[0].Action")]


def test_ignore_paths_cover_the_path_and_below(kb_build, tmp_path, capsys) -> None:
    config = write(tmp_path, "check.json", json.dumps({"codes": {
        "REDUNDANT_ACTION": {"ignore_paths": ["Statement[1]"]},
        "PASS_ROLE_WITH_STAR_IN_RESOURCE": {"ignore_paths": ["Statement[*].Resource"]}}}))
    _, out, _ = check(capsys, tmp_path, "--config", config)
    assert [c[0] for c in codes(out)] == ["PASS_ROLE_WITH_STAR_IN_RESOURCE"]  # reported at .Action, not .Resource
    _, out, _ = check(capsys, tmp_path, "--ignore", "PASS_ROLE_WITH_STAR_IN_RESOURCE@Statement[*].Action",
                      "--ignore", "REDUNDANT_ACTION@Statement[1].Action[0]")
    assert [c[0] for c in codes(out)] == ["REDUNDANT_ACTION"]  # [0] is not [1]
    _, out, _ = check(capsys, tmp_path, "--ignore", "REDUNDANT_ACTION@Statement[1].Action[1]",
                      "--ignore", "PASS_ROLE_WITH_STAR_IN_RESOURCE")
    assert codes(out) == []


def test_flags_win_over_the_file(kb_build, tmp_path, capsys) -> None:
    config = write(tmp_path, "check.toml", 'policy_type = "scp"\n[codes.REDUNDANT_ACTION]\nseverity = "error"\n')
    code, out, _ = check(capsys, tmp_path, "--config", config)
    assert out["policy_type"] == "scp" and code == 1
    code, out, _ = check(capsys, tmp_path, "--config", config, "--policy-type", "identity", "--severity",
                         "REDUNDANT_ACTION=warning")
    assert out["policy_type"] == "identity" and code == 0
    assert ("REDUNDANT_ACTION", "warning", "Statement[1].Action[1]") in codes(out)


def test_policy_type_picks_the_checks(kb_build, tmp_path, capsys) -> None:
    scp = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:*Role", "Resource": ROLE}]}
    by_type = {}
    for policy_type in ("identity", "scp", "resource"):
        _, out, _ = check(capsys, tmp_path, "--policy-type", policy_type, policy=scp)
        by_type[policy_type] = {c[0] for c in codes(out)}
    assert {"SCP_SYNTAX_ERROR_ACTION_WILDCARD", "SCP_SYNTAX_ERROR_ALLOW_RESOURCE"} <= by_type["scp"]
    assert "PASS_ROLE_WITH_STAR_IN_ACTION_AND_RESOURCE" not in by_type["scp"]  # an SCP grants nothing itself
    assert not {c for c in by_type["identity"] if c.startswith("SCP_")}
    assert "MISSING_PRINCIPAL" in by_type["resource"] and "MISSING_PRINCIPAL" not in by_type["identity"]


def test_resource_type_turns_on_the_attached_resource_checks(kb_build, tmp_path, capsys) -> None:
    bucket = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": ROLE},
                                                      "Action": ["s3:GetObject", "kms:Decrypt"],
                                                      "Resource": "arn:aws:s3:::amzn-s3-demo-bucket/*"}]}
    _, out, _ = check(capsys, tmp_path, policy=bucket)
    assert out["policy_type"] == "resource" and "UNSUPPORTED_ACTION_IN_POLICY" not in {c[0] for c in codes(out)}
    _, out, _ = check(capsys, tmp_path, "--resource-type", "s3:bucket", policy=bucket)
    assert ("UNSUPPORTED_ACTION_IN_POLICY", "error", "Statement[0].Action[1]") in codes(out)


def test_list_codes(capsys) -> None:
    assert main(["check", "--list-codes", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["code"] for r in rows] == [c.code for c in CATALOG]


def test_text_output_shows_the_evidence(kb_build, tmp_path, capsys) -> None:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(POLICY))
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "security_warning: PASS_ROLE_WITH_STAR_IN_RESOURCE at Statement[0].Action: allows iam:PassRole " \
                     "on any role"
    assert out[1].startswith("  evidence (Allowed): iam:PassRole on arn:aws:iam::111122223333:role/iamkb-any-role")
    assert out[-1] == "2 finding(s) (policy type: identity)"


@pytest.mark.parametrize(("args", "files", "message"), [
    (["--config", "{dir}/c.toml"], {"c.toml": "[codes.NOPE]\nignore = true\n"},
     "{dir}/c.toml: codes.NOPE: unknown finding code \"NOPE\""),
    (["--config", "{dir}/c.toml"], {"c.toml": "[codes.MISSING_VERSION]\nseverity = \"fatal\"\n"},
     "{dir}/c.toml: codes.MISSING_VERSION.severity: severity must be one of error, security_warning, warning, "
     "suggestion, got \"fatal\""),
    (["--config", "{dir}/c.toml"], {"c.toml": "[codes.MISSING_VERSION]\nignore = maybe\n"},
     "{dir}/c.toml: not valid TOML: Invalid value (at line 2, column 10)"),
    (["--config", "{dir}/c.toml"], {"c.toml": "policy_typ = \"scp\"\n"},
     "{dir}/c.toml: unknown key 'policy_typ' (expected policy_type, resource_type, codes)"),
    (["--config", "{dir}/c.json"], {"c.json": "{\"codes\": {\"MISSING_VERSION\": {\"ignore_paths\": \"Version\"}}}"},
     "{dir}/c.json: codes.MISSING_VERSION.ignore_paths: ignore_paths must be a list of JSON paths"),
    (["--config", "{dir}/c.json"], {"c.json": "{\"codes\": "}, "{dir}/c.json: malformed JSON at line 1, column 11"),
    (["--config", "{dir}/absent.toml"], {}, "{dir}/absent.toml: cannot read: No such file or directory"),
    (["--severity", "MISSING_VERSION"], {}, "--severity MISSING_VERSION: expected CODE=LEVEL"),
    (["--ignore", "MISSING_VERSIONS"], {}, "--ignore MISSING_VERSIONS: unknown finding code \"MISSING_VERSIONS\""),
    (["--ignore", "MISSING_VERSION@"], {}, "--ignore MISSING_VERSION@: a path follows @"),
    (["--policy-type", "role"], {}, "argument --policy-type: invalid choice: 'role'"),
    (["--resource-type", "bucket"], {}, "--resource-type: resource type is service:type"),
])
def test_bad_configuration_is_one_line_naming_where_and_exit_2(tmp_path, capsys, args, files, message) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    code, out, err = check(capsys, tmp_path, *[a.format(dir=tmp_path) for a in args])
    assert code == 2 and out == {}
    assert err.count("\n") == 1 and message.format(dir=tmp_path) in err, err


@pytest.mark.parametrize(("text", "message"), [
    ('{"Statement": [', "malformed JSON at line 1, column 16"),
    ("[1, 2]", "a policy must be a JSON object, got list"),
])
def test_bad_policy_input_is_exit_2(tmp_path, capsys, text, message) -> None:
    path = tmp_path / "policy.json"
    path.write_text(text)
    assert main(["check", "--json", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and message in err and str(path) in err


def test_the_policy_file_is_required(capsys) -> None:
    assert main(["check", "--json"]) == 2
    assert "the POLICY file is required" in capsys.readouterr().err
