"""ask's pointer to `iamkb can-i`: added for "why is this call denied" questions, never changing the answer."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_search import _write_kb

from iamkb.callcheck import load_rules
from iamkb.callhint import hint
from iamkb.search import ask
from iamkb.search.build import build_index


def _cli_name(operation: str) -> str:
    """autoscaling:CreateAutoScalingGroup -> create-auto-scaling-group"""
    name = operation.split(":", 1)[1]
    return "".join(f"-{c.lower()}" if c.isupper() else c for c in name).lstrip("-")


def test_every_operation_the_check_covers_is_recognised(kb_build: Path) -> None:
    operations = load_rules(kb_build)["operations"]
    for op in operations:
        name = op.split(":", 1)[1]
        assert hint(f"{name} fails with AccessDenied"), op
        assert hint(f"aws autoscaling {_cli_name(op)} says I am not authorized to perform iam:PassRole"), op


@pytest.mark.parametrize("question", [
    "why does my CreateAutoScalingGroup call fail with not authorized to perform iam:PassRole?",
    "creating a group from a launch template fails with UnauthorizedOperation on ec2:CreateTags",
    "The first time anyone tries to create an Auto Scaling group it fails: not authorized to perform "
    "iam:CreateServiceLinkedRole",
    "instances with encrypted volumes fail to launch from our launch template; what goes in the key policy?",
])
def test_denied_calls_get_the_hint(question: str) -> None:
    found = hint(question)
    assert found and found["command"] == "iamkb can-i call.json" and found["url"] == "reference/can-i/"


@pytest.mark.parametrize("question", [
    "how do I create an Auto Scaling group with a launch template?",  # nothing fails
    "access denied even though my role's policy allows the action",  # no Auto Scaling call
    "I can't assume a role",
    "clients in the service network can't reach the instances behind the VPC Lattice target group",  # not IAM
])
def test_other_questions_get_none(question: str) -> None:
    assert hint(question) is None


def test_ask_adds_the_hint_and_leaves_the_answer_as_it_was(tmp_path: Path) -> None:
    from iamkb.search.answer import ask as answer
    from iamkb.search.engine import engine

    _write_kb(tmp_path / "build")
    build_index(tmp_path / "build", tmp_path / "index", tmp_path / "none.yml", tmp_path / "none.json")
    question = "CreateAutoScalingGroup fails with AccessDenied when I delete a policy"
    out = ask(question, index=tmp_path / "index")
    assert out.pop("hint") == hint(question)
    assert out == answer(engine(tmp_path / "index"), question)
    assert "hint" not in ask("which policies can be deleted", index=tmp_path / "index")
