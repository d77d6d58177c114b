"""The CLI contract: help with examples, one-line errors with exit 2, topics and topic."""

from __future__ import annotations

import json
import subprocess
import sys

from iamkb.cli import COMMANDS, main


def test_help_lists_every_command_with_an_example(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for cmd in COMMANDS:
        assert cmd.name in out and cmd.example in out


def test_each_command_has_help(capsys):
    for cmd in COMMANDS:
        try:
            main([cmd.name, "--help"])
        except SystemExit as done:
            assert done.code == 0, cmd.name
        out = capsys.readouterr().out
        assert f"iamkb {cmd.name}" in out and "example:" in out, cmd.name


def test_unknown_command_suggests_the_closest(capsys):
    assert main(["topicz"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did you mean" in err and "topics" in err


def test_topics_and_topic(kb_build, capsys):
    assert main(["topics", "--json", "--page", "autoscaling/security-iam"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in rows] == ["autoscaling/security-iam#security-iam", "autoscaling/security-iam#access-control"]
    assert main(["topic", "autoscaling/security-iam#access-control", "--json"]) == 0
    section = json.loads(capsys.readouterr().out)
    assert section["title"] == "Access control" and section["level"] == 2


def test_unknown_topic_is_a_one_line_error_with_a_suggestion(kb_build):
    proc = subprocess.run([sys.executable, "-m", "iamkb.cli", "topic", "autoscaling/security-iam#access-contro"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "did you mean autoscaling/security-iam#access-control" in proc.stderr
    assert "Traceback" not in proc.stderr
