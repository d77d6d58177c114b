"""`iamkb simulate` on batches of any size: a JSON list (no whole-file limit; each policy document limited), and
JSON Lines (one scenario a line, one result a line, streamed). Speed and memory: bench/README.md ("Batches")."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from iamkb.cli import main
from iamkb.policy.evaluate import Compiler, evaluate
from iamkb.policy.simulate import MAX_POLICY_BYTES, results_of_lines, simulate_text

A = "111122223333"
POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "autoscaling:*", "Resource": "*"},
    {"Effect": "Deny", "Action": "autoscaling:DeletePolicy", "Resource": "*",
     "Condition": {"StringEquals": {"autoscaling:ResourceTag/environment": "production"}}}]}


def scenario(i: int, policy: dict = POLICY) -> dict:
    """Requests that differ by group name, action and tag, all against one policy."""
    environment = ("production", "test", "dev")[i % 3]
    action = ("autoscaling:DeletePolicy", "autoscaling:UpdateAutoScalingGroup")[i % 2]
    return {"request": {"principal": f"arn:aws:iam::{A}:user/alice", "action": action,
                        "resource": f"arn:aws:autoscaling:us-east-1:{A}:autoScalingGroup:1f0e-{i:05d}:"
                                    f"autoScalingGroupName/group-{i:05d}",
                        "context": {"autoscaling:ResourceTag/environment": environment}},
            "identityPolicies": [policy]}


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def big_policy() -> dict:
    """A valid policy over the per-document limit: one statement listing many made-up action names."""
    names = [f"autoscaling:Describe{n:07d}" for n in range(MAX_POLICY_BYTES // 30)]
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": names, "Resource": "*"}]}


# --- JSON lists -------------------------------------------------------------------------------------------------
def test_a_list_over_a_megabyte_is_accepted_and_each_result_is_the_single_one(tmp_path: Path, capsys) -> None:
    """The issue's case: 3,080 scenarios, 1.3 MB as a file, refused by the old whole-file limit."""
    batch = [scenario(i) for i in range(3080)]
    path = tmp_path / "batch.json"
    path.write_text(json.dumps(batch, indent=1), encoding="utf-8")
    assert path.stat().st_size > 1_300_000
    code, out, err = run(capsys, "simulate", "--json", str(path))
    assert (code, err) == (0, "")
    results = json.loads(out)
    assert len(results) == 3080
    expected = [evaluate(s, f"[{i}]").to_json() for i, s in enumerate(batch[:12])]  # places name the element
    assert results[:12] == expected
    assert {r["decision"] for r in results} == {"Allowed", "ExplicitlyDenied"}


def test_list_output_is_the_whole_list_dumped_at_once(tmp_path: Path, capsys) -> None:
    """Results are written one by one, byte-identical to dumping the list (what `simulate_text` returns)."""
    text = json.dumps([scenario(i) for i in range(7)])
    path = tmp_path / "batch.json"
    path.write_text(text, encoding="utf-8")
    assert run(capsys, "simulate", "--json", str(path))[1] == json.dumps(simulate_text(text, "x")) + "\n"
    (tmp_path / "empty.json").write_text(" [ ] ", encoding="utf-8")
    assert run(capsys, "simulate", "--json", str(tmp_path / "empty.json"))[1] == "[]\n"


def test_a_policy_over_the_limit_is_refused_by_its_place(tmp_path: Path, capsys) -> None:
    batch = [scenario(0), scenario(1), {**scenario(2), "identityPolicies": [POLICY, big_policy()]}]
    path = tmp_path / "batch.json"
    path.write_text(json.dumps(batch), encoding="utf-8")
    code, out, err = run(capsys, "simulate", "--json", str(path))
    assert code == 2 and out == ""  # nothing is printed when any scenario of a list is bad
    assert err.count("\n") == 1 and str(path) in err
    assert "[2].identityPolicies[1]: the policy document is " in err
    assert f"over the {MAX_POLICY_BYTES:,}-byte limit for one policy" in err


def test_policies_under_the_limit_pass_whatever_the_scenario_size(tmp_path: Path, capsys) -> None:
    """A scenario over the limit as a whole, made of policies under it, is evaluated."""
    half = big_policy()
    half["Statement"][0]["Action"] = half["Statement"][0]["Action"][: len(half["Statement"][0]["Action"]) // 2 + 100]
    one = {**scenario(0), "identityPolicies": [half, half, POLICY]}
    assert len(json.dumps(half)) < MAX_POLICY_BYTES < len(json.dumps(one))
    path = tmp_path / "one.json"
    path.write_text(json.dumps(one), encoding="utf-8")
    code, out, _ = run(capsys, "simulate", "--json", str(path))
    assert code == 0 and json.loads(out)["decision"] == "ExplicitlyDenied"


@pytest.mark.parametrize(("text", "message"), [
    ('[{"request": 1}\n {"request": 2}]', "malformed JSON at line 2, column 2: Expecting ',' delimiter"),
    ('[{"request": 1},]', "malformed JSON at line 1, column 17: Expecting value"),
    ('{"request": 1} x', "malformed JSON at line 1, column 16: Extra data"),
    ('[{"request": 1}] [', "malformed JSON at line 1, column 18: Extra data"),
    ("", "malformed JSON at line 1, column 1: Expecting value"),
])
def test_malformed_lists_name_line_and_column(tmp_path: Path, capsys, text: str, message: str) -> None:
    path = tmp_path / "in.json"
    path.write_text(text, encoding="utf-8")
    code, out, err = run(capsys, "simulate", "--json", str(path))
    assert code == 2 and out == "" and err.count("\n") == 1
    assert message in err


# --- JSON Lines -------------------------------------------------------------------------------------------------
def jsonl(scenarios: list[dict]) -> str:
    return "".join(json.dumps(s) + "\n" for s in scenarios)


def test_json_lines_give_one_result_a_line_each_the_single_one(tmp_path: Path, capsys) -> None:
    batch = [scenario(i) for i in range(25)]
    path = tmp_path / "batch.jsonl"
    path.write_text(jsonl(batch[:10]) + "\n   \n" + jsonl(batch[10:]), encoding="utf-8")  # a blank line is skipped
    code, out, err = run(capsys, "simulate", "--json", str(path))
    assert (code, err) == (0, "")
    assert out.splitlines() == [json.dumps(evaluate(s).to_json()) for s in batch]
    listed = simulate_text(json.dumps(batch), "x")  # the same decisions as the list, whose places name elements
    assert [json.loads(line)["decision"] for line in out.splitlines()] == [r["decision"] for r in listed]


def test_jsonl_flag_reads_stdin_and_text_mode_renders_each(monkeypatch, capsys) -> None:
    batch = [scenario(i) for i in range(3)]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(jsonl(batch).encode())))
    code, out, _ = run(capsys, "simulate", "--jsonl", "-")
    assert code == 0
    blocks = out.strip("\n").split("\n\n")
    assert [b.splitlines()[0].split(":")[0] for b in blocks] == [evaluate(s).decision for s in batch]


@pytest.mark.parametrize(("bad", "message"), [
    ('{"request": {"principal": "x"', "line 3, column 30: malformed JSON: Expecting ',' delimiter"),
    (json.dumps({"request": {"action": "autoscaling:DeletePolicy", "resource": "*"}, "identityPolicies": []}),
     "line 3: request.principal: required non-empty string"),
    ("[1, 2]", "line 3: (top): a scenario must be an object, got list"),
    (json.dumps({**scenario(2), "identityPolicies": [big_policy()]}), "line 3: identityPolicies[0]: the policy "
                                                                      "document is "),
])
def test_a_bad_line_stops_with_its_number_after_the_lines_before(tmp_path: Path, capsys, bad: str,
                                                                  message: str) -> None:
    path = tmp_path / "batch.jsonl"
    path.write_text(jsonl([scenario(0), scenario(1)]) + bad + "\n" + jsonl([scenario(3)]), encoding="utf-8")
    code, out, err = run(capsys, "simulate", "--json", str(path))
    assert code == 2 and err.count("\n") == 1 and str(path) in err and message in err
    assert out.splitlines() == [json.dumps(evaluate(scenario(i)).to_json()) for i in (0, 1)]  # complete lines


def test_a_line_that_is_not_utf8_is_named(tmp_path: Path, capsys) -> None:
    path = tmp_path / "batch.ndjson"
    path.write_bytes(jsonl([scenario(0)]).encode() + b'{"request": "\xff"}\n')
    code, _, err = run(capsys, "simulate", "--json", str(path))
    assert code == 2 and "line 2: not UTF-8 text (invalid start byte at byte 14)" in err


def test_lines_are_read_one_at_a_time() -> None:
    """The stream holds one line: the second result is decided before the third line is read."""
    read = []

    def lines():
        for i in range(5):
            read.append(i)
            yield json.dumps(scenario(i))

    results = results_of_lines(lines(), "x")
    next(results)
    next(results)
    assert read == [0, 1]


def test_a_bounded_compiler_forgets_at_its_bound_and_still_shares_within_it() -> None:
    compiler = Compiler(max_documents=3)
    shared = json.loads(json.dumps(POLICY))
    firsts = [compiler.scenario(json.loads(json.dumps(scenario(i)))).identity[0].code for i in range(3)]
    assert firsts[0] is firsts[1] is firsts[2]  # equal documents share one compiled policy
    assert compiler.scenario({**scenario(9), "identityPolicies": [shared]}).identity[0].code is not firsts[0]
    assert len(compiler._by_id) <= 3  # started afresh at the bound
