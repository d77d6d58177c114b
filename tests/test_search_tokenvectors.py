"""The static token vectors (iamkb.search.tokenvectors): what the site's in-page engine ranks with in place of
the sentence vectors. Made from the real index (kb/index, built by `make test` with the model)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from conftest import need

from iamkb import paths
from iamkb.errors import InputError
from iamkb.search import embed, semantic, tokenvectors
from iamkb.search.build import all_docs, load_kb, load_section_questions
from iamkb.search.engine import Engine, open_in_space
from iamkb.search.train.evaluate import load_questions


@pytest.fixture(scope="module")
def space() -> tokenvectors.StaticSpace:
    need(embed.find_model_zip() is not None, "the embedding model is not installed: the index has no vectors")
    found = tokenvectors.StaticSpace.open(paths.index_dir().resolve())
    assert found is not None, "kb/index has no static token vectors: run `iamkb index`"
    return found


def test_question_vectors_are_integers_and_cosines_are_the_exact_ones(space) -> None:
    """A question's vector is integers scaled to query_scale; each cosine is the one of the integer vectors
    (computed here in another way: normalised float rows); a question of no known token has no vector."""
    ids = space.ids()
    for q in [q.q for q in load_questions()][::40]:
        v = space.question_vector(q)
        assert all(isinstance(x, int) for x in v) and max(abs(x) for x in v) == space.query_scale
        rows = np.asarray(space.vectors, dtype=np.float64)
        rows /= np.linalg.norm(rows, axis=1, keepdims=True)
        want = rows @ (np.asarray(v, dtype=np.float64) / np.linalg.norm(v))
        got = space.similarities(v, ids)
        assert max(abs(got[i] - want[space.rows[i]]) for i in ids) < 1e-12
        best = int(np.argmax(want))
        assert space.nearest(v, 1, lambda i: True) == [ids[best]]
    assert space.question_vector("") is None and space.question_vector("\u0000\u0001") is None


def test_the_space_is_the_index_s_rows_and_tokens(space) -> None:
    """One int8 row per document and passage vector of the index, in their order; the tokens are the WordPiece
    pieces the indexed texts use, each once, and every weight is positive."""
    meta = json.loads((paths.index_dir() / semantic.VECTORS_META).read_text(encoding="utf-8"))
    assert space.ids() == meta["ids"] and space.vectors.dtype == np.int8
    assert len(space.passages) == len(meta["passage_ids"]) and space.passages.dtype == np.int8
    assert space.table.shape == (len(space.weights), space.vectors.shape[1]) == (len(space.weights), tokenvectors.DIMS)
    tokens = [t for t, i in sorted(space.tokenizer.vocab.items(), key=lambda item: item[1]) if i < len(space.weights)]
    assert len(set(tokens)) == len(tokens) and all(w > 0 for w in space.weights)
    full = embed.WordPiece.from_file(paths.index_dir() / embed.VOCAB_FILE)
    docs = all_docs(load_kb(paths.build_dir()), load_section_questions(paths.kb_dir() / "section_questions.yml").questions)
    used = {i for _, t in semantic.document_items(docs) + semantic.passage_items(docs)
            for i in full.encode(t, embed.MAX_TOKENS)[1:-1]}
    assert {full.vocab[t] for t in tokens} == used


@pytest.mark.slow
def test_distilling_twice_gives_the_same_bytes(space, tmp_path: Path) -> None:
    """The space is a function of the index's texts, vectors and model: made again from them, byte for byte."""
    folder = paths.index_dir().resolve()
    for name in (semantic.VECTORS, semantic.PASSAGES, semantic.VECTORS_META, embed.WEIGHTS_FILE, embed.VOCAB_FILE):
        os.link(folder / name, tmp_path / name)
    docs = all_docs(load_kb(paths.build_dir()), load_section_questions(paths.kb_dir() / "section_questions.yml").questions)
    tokenvectors.write(tmp_path, docs)
    for name in (tokenvectors.TABLES, tokenvectors.META):
        assert (tmp_path / name).read_bytes() == (folder / name).read_bytes(), name


def test_an_engine_in_the_static_space_ranks_with_its_ranker(space) -> None:
    """open_in_space gives ask the static space, its weights and its own learned ranker; its JSON says so."""
    from iamkb.search import ranking
    from iamkb.search.answer import ask

    e = open_in_space(paths.index_dir().resolve(), "static")
    assert e.space() == "static" and ranking.ranker_for(e).space == "static"
    out = ask(e, "how do I let a role create auto scaling groups with a launch template")
    assert out["ranking"] == "static" and out["results"]
    assert Engine(paths.index_dir().resolve()).space() == "full"


def test_a_damaged_space_is_one_line_naming_the_file(space, tmp_path: Path) -> None:
    (tmp_path / tokenvectors.META).write_text("{}", encoding="utf-8")
    (tmp_path / semantic.VECTORS_META).write_text("{}", encoding="utf-8")
    (tmp_path / tokenvectors.TABLES).write_bytes(b"not a zip")
    with pytest.raises(InputError) as err:
        tokenvectors.StaticSpace.open(tmp_path)
    assert str(tmp_path / tokenvectors.TABLES) in str(err.value) and "\n" not in str(err.value)
