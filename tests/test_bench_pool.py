"""bench/pool.py: the judges' verdicts reach kb/questions.yml as `also:` lists, and nothing else changes."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import yaml

from iamkb.search.train.evaluate import load_questions

SET = """# a comment the merge keeps
- q: first
  ids:
  - a/p#x
  style: plain
- q: second
  ids: []
  style: none
- q: third
  ids:
  - a/p#y
  also:
  - a/p#old
  style: terse
  heldout: true
"""


@pytest.fixture
def pool(monkeypatch, tmp_path):
    spec = importlib.util.spec_from_file_location("pool", Path(__file__).resolve().parent.parent / "bench" / "pool.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "questions.yml").write_text(SET, encoding="utf-8")
    monkeypatch.setenv("IAMKB_KB", str(kb))
    monkeypatch.setattr(module, "JUDGED", tmp_path / "judged.yml")
    return module


def _judges(folder: Path, numbers: dict[int, str], rows: str) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "questions.json").write_text(json.dumps({str(k): v for k, v in numbers.items()}), encoding="utf-8")
    (folder / "judged1.yml").write_text(rows, encoding="utf-8")
    return folder / "judged1.yml"


def test_merge_adds_the_yes_verdicts_and_records_all(pool, tmp_path):
    # the judges' bare yes:/no: keys, which YAML 1.1 reads as booleans
    f = _judges(tmp_path / "packets", {0: "first", 2: "third"},
                "- n: 0\n  yes: [b/q#z]\n  no: [b/q#w]\n- n: 2\n  yes: []\n  no: [c/r#v]\n")
    pool.merge([f])
    text = (tmp_path / "kb" / "questions.yml").read_text(encoding="utf-8")
    assert text.startswith("# a comment the merge keeps\n")
    assert [(q.q, q.ids, q.also, q.heldout) for q in load_questions()] == [
        ("first", ("a/p#x",), ("b/q#z",), False), ("second", (), (), False),
        ("third", ("a/p#y",), ("a/p#old",), True)]
    judged = yaml.safe_load((tmp_path / "judged.yml").read_text(encoding="utf-8"))
    assert judged == {"first": {"yes": ["b/q#z"], "no": ["b/q#w"]}, "third": {"yes": [], "no": ["c/r#v"]}}
    pool.merge([f])  # merging again changes nothing
    assert (tmp_path / "kb" / "questions.yml").read_text(encoding="utf-8") == text


def test_merge_refuses_verdicts_for_a_question_no_longer_in_the_set(pool, tmp_path):
    f = _judges(tmp_path / "packets", {0: "a question since removed"}, "- n: 0\n  yes: [b/q#z]\n  no: []\n")
    with pytest.raises(SystemExit, match="no longer in the set"):
        pool.merge([f])
    assert (tmp_path / "kb" / "questions.yml").read_text(encoding="utf-8") == SET
