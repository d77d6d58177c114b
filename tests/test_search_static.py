"""The site's in-page search engine (docs/javascripts/search/, run by node) against ask in Python with the same
signals (the static token vectors, `static.page_engine`), over the real index: the same BM25F score for every
posting, the same stems, analyses, sentences, spelling corrections, WordPiece tokens and question vectors, and
for every question of kb/questions.yml the same results, snippets and answer parts. Plus the engine's own unit
tests (tests/js/*.test.js, `node --test`) and the export's determinism."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from iamkb import paths
from iamkb.search import ranking, static
from iamkb.search.answer import ask
from iamkb.search.engine import Engine
from iamkb.search.train.evaluate import load_questions

ROOT = Path(__file__).resolve().parent.parent
HARNESS = ROOT / "tests" / "js" / "harness.js"


@pytest.fixture(scope="module")
def engine() -> Engine:
    folder = paths.index_dir()
    if not (folder / "meta.json").exists():
        pytest.fail(f"{folder} has no index: run `make index` (make test does it first)")
    eng = static.page_engine(folder)
    assert eng.space() == "static", "kb/index has no static token vectors: run `iamkb index` with the model"
    return eng


@pytest.fixture(scope="module")
def exported(engine: Engine, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("search") / "data.json"
    path.write_text(static.to_json(static.export(engine)), encoding="utf-8")
    return path


class Node:
    """The harness (tests/js/harness.js) over the exported data: one request per call."""

    def __init__(self, data: Path) -> None:
        self.proc = subprocess.Popen(["node", str(HARNESS), str(data)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, encoding="utf-8")

    def __call__(self, op: str, **request):
        self.proc.stdin.write(json.dumps({"op": op, **request}) + "\n")
        self.proc.stdin.flush()
        out = json.loads(self.proc.stdout.readline())
        assert "error" not in out, out.get("error")
        return out["result"]

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def js(require_node, exported: Path) -> Iterator[Node]:
    node = Node(exported)
    yield node
    node.close()


def test_every_posting_scores_as_whoosh_scores_it(engine: Engine, js: Node) -> None:
    """The page sums whoosh.scoring.bm25 of the exported ingredients: bit for bit Whoosh's own scores."""
    from whoosh.query import Term

    reader = engine.searcher.reader()
    for field in engine.params.ask_boosts:
        want = []
        for term in reader.field_terms(field):
            m = Term(field, term).matcher(engine.searcher)
            while m.is_active():
                want.append(m.score())
                m.next()
        got = js("scores", field=field)
        assert len(got) == len(want) == sum(reader.doc_frequency(field, t) for t in reader.field_terms(field))
        assert got == want, f"{field}: {sum(a != b for a, b in zip(got, want, strict=True))} scores differ"


def test_the_stemmer_stems_the_whole_vocabulary_as_whoosh(engine: Engine, js: Node) -> None:
    from whoosh.lang.porter import stem

    words = list(engine.vocabulary)
    got = js("stem", words=words)
    diff = [(w, s, stem(w)) for w, s in zip(words, got, strict=True) if s != stem(w)]
    assert not diff, f"{len(diff)} of {len(words)} words stem differently, e.g. {diff[:5]}"


def test_every_document_analyzes_and_splits_into_sentences_the_same(engine: Engine, js: Node) -> None:
    from iamkb.search.analysis import analyze, sentences

    searcher = engine.searcher
    stored = [searcher.stored_fields(d) for d in range(searcher.doc_count_all())]
    texts = [s["title"] for s in stored] + [s.get("body", "") for s in stored] \
        + [json.loads(s.get("data") or "{}").get("answer", "") for s in stored]
    got = js("analyze", texts=texts)
    diff = [t for t, g in zip(texts, got, strict=True) if g != list(analyze(t))]
    assert not diff, f"{len(diff)} of {len(texts)} texts analyze differently, e.g. {diff[:2]}"
    bodies = [s.get("body", "") for s in stored if s["kind"] == "section"]
    got = js("sentences", texts=bodies)
    diff = [t[:80] for t, g in zip(bodies, got, strict=True) if g != sentences(t)]
    assert not diff, f"{len(diff)} of {len(bodies)} sections split differently, e.g. {diff[:2]}"


def _misspellings(words: list[str], every: int) -> list[str]:
    """A deletion, a swap of neighbours and a doubled letter in every `every`-th word of at least four letters:
    typing slips, each one edit away (deterministic)."""
    out = []
    for i, w in enumerate(x for x in words if len(x) >= 4 and x.isalpha()):
        if i % every:
            continue
        k = 1 + i % (len(w) - 2)
        out += [w[:k] + w[k + 1:], w[:k] + w[k + 1] + w[k] + w[k + 2:], w[:k] + w[k] + w[k:]]
    return out


def test_spelling_corrections_are_rapidfuzz_s(engine: Engine, js: Node) -> None:
    """Engine.correct (rapidfuzz's OSA distance, its extract's order and limit, then the rules) on slips of
    the vocabulary's own words and on every word of the question set."""
    from iamkb.search.analysis import compounds

    typed = {w.lower() for q in load_questions() for w in compounds(q.q) if w.isalpha()}
    words = _misspellings(list(engine.vocabulary), 13) + sorted(typed)
    got = js("correct", words=words)
    want = [engine.correct(w) for w in words]
    diff = [(w, g, p) for w, g, p in zip(words, got, want, strict=True) if g != p]
    assert sum(1 for p in want if p) > len(words) // 4  # the slips do get corrected: the test compares something
    assert not diff, f"{len(diff)} of {len(words)} corrections differ (word, page, Python): {diff[:5]}"


def test_the_static_space_tokenizes_and_measures_as_python(engine: Engine, js: Node) -> None:
    """WordPiece over the space's tokens (BERT's normaliser and pre-tokenizer ported), every question's vector
    and, for a sample of questions, the exact cosine with every document and with each section's closest
    passage, and the nearest documents in order."""
    from iamkb.search.tokenvectors import token_ids

    space = engine.semantic()
    questions = [q.q for q in load_questions()]
    searcher = engine.searcher
    texts = questions + [searcher.stored_fields(d).get("body", "") for d in range(searcher.doc_count_all())] \
        + ["Ünïcödé crème brûlée — “quoted” 東京 tab\there", "x" * 150, ""]
    got = js("tokens", texts=texts)
    diff = [t[:60] for t, g in zip(texts, got, strict=True) if g != token_ids(space.tokenizer, t)]
    assert not diff, f"{len(diff)} of {len(texts)} texts tokenize differently, e.g. {diff[:3]}"
    vectors = js("vectors", texts=questions)
    want = [space.question_vector(q) for q in questions]
    assert sum(v is not None for v in want) == len(questions)  # every question has tokens in the space
    diff = [q for q, g, w in zip(questions, vectors, want, strict=True) if g != w]
    assert not diff, f"{len(diff)} question vectors differ, e.g. {diff[:3]}"
    ids = space.ids()
    for q in questions[::50]:
        got = js("cosines", text=q, ids=ids, k=20)
        qv = space.question_vector(q)
        assert got["documents"] == space.similarities(qv, ids)
        assert got["passages"] == space.passage_similarities(qv, ids)
        assert got["nearest"] == space.nearest(qv, 20, lambda i: True)


def _why(python: dict, page: dict, rank: int) -> str:
    """Where two rankings part, and whether it is a tie broken differently (equal scores) or a score that differs."""
    a, b = python["results"], page["results"]
    i = next((k for k in range(min(len(a), len(b))) if a[k]["id"] != b[k]["id"]), min(len(a), len(b)))
    if i >= min(len(a), len(b)):
        return f"rank {i + 1}: one list is shorter ({len(a)} against {len(b)})"
    pa = {r["id"]: r["score"] for r in a}
    pb = {r["id"]: r["score"] for r in b}
    x, y = a[i]["id"], b[i]["id"]
    tie = pa.get(x) == pa.get(y) or pb.get(x) == pb.get(y)
    return (f"rank {i + 1}: Python {x} ({pa.get(x)}), page {y} ({pb.get(y)}): "
            + ("a tie broken differently" if tie else "the scores differ"))


def test_every_question_ranks_and_answers_the_same_in_the_page(engine: Engine, js: Node) -> None:
    """The differential test: each question of kb/questions.yml through ask in Python (static token vectors, as
    the page ranks) and through the page's engine: the same top 3 (the requirement), and in fact the same ten results with the
    same scores and snippets, the same answer parts, citations, corrections and can-i hint."""
    from iamkb.callhint import hint

    questions = [q.q for q in load_questions()]
    assert sum(1 for q in questions if hint(q)) > 0  # the set has "why is this call denied" questions
    page = js("ask", questions=questions, limit=10)
    top3, rest = [], []
    for q, got in zip(questions, page, strict=True):
        want = ask(engine, q)
        if [r["id"] for r in want["results"][:3]] != [r["id"] for r in got["results"][:3]]:
            top3.append(f"{q!r}: {_why(want, got, 3)}")
            continue
        shown = [{k: r[k] for k in ("id", "kind", "title", "url", "score", "snippet")} for r in got["results"]]
        citations = [{k: c[k] for k in ("id", "title", "url")} for c in got["citations"]]
        if shown != want["results"]:
            rest.append(f"{q!r}: results differ below the top 3 or in score or snippet ({_why(want, got, 10)})")
        elif got["parts"] != want["parts"] or citations != want["citations"]:
            rest.append(f"{q!r}: answer parts or citations differ")
        elif got["corrections"] != want["corrections"]:
            rest.append(f"{q!r}: spelling corrections differ")
        elif got["hint"] != hint(q):
            rest.append(f"{q!r}: the can-i hint differs")
    assert not top3, f"{len(top3)} of {len(questions)} questions rank differently in the top 3:\n" + "\n".join(top3)
    assert not rest, f"{len(rest)} questions differ:\n" + "\n".join(rest[:10])


def test_the_engine_s_own_tests_pass(require_node, exported: Path) -> None:
    """tests/js/*.test.js (`node --test`): the regex translation, the stemmer and OSA on known cases, and the
    engine's behaviour on the exported data."""
    proc = subprocess.run(["node", "--test", *sorted(str(p) for p in (ROOT / "tests" / "js").glob("*.test.js"))],
                          capture_output=True, text=True, env={**os.environ, "IAMKB_SEARCH_DATA": str(exported)},
                          cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "# fail 0" in proc.stdout and "# pass 0" not in proc.stdout


def test_the_export_is_deterministic(engine: Engine, exported: Path) -> None:
    again = static.to_json(static.export(engine))
    assert again == exported.read_text(encoding="utf-8")
    data = json.loads(again)
    assert len(data["docs"]["id"]) == engine.searcher.doc_count_all()
    assert data["ranker"]["features"] == list(ranking.ranker_for(engine).features)
    script = static.script(data)
    assert script.startswith(f"window.{static.GLOBAL}=JSON.parse(") and script.endswith(");\n")
    assert json.loads(json.loads(script[len(f"window.{static.GLOBAL}=JSON.parse("):-3])) == data


@pytest.mark.slow
def test_a_fresh_lexical_index_exports_what_the_built_index_does(engine: Engine, exported: Path, tmp_path) -> None:
    """The site build exports from kb/index when it is current (with its static token vectors), else from a
    lexical index it builds: that one must give the page what kb/index gives it without vectors."""
    from iamkb.search.build import build_index
    from iamkb.search.engine import open_in_space

    build_index(target=tmp_path / "index", vectors=False)
    fresh = static.page_engine(tmp_path / "index")
    assert fresh.space() == "lexical"
    lexical = static.export(open_in_space(engine.folder, "lexical"))
    assert lexical["static"] is None and lexical["ranker"]["space"] == "lexical"
    assert static.to_json(static.export(fresh)) == static.to_json(lexical)


def test_a_question_of_question_words_only_is_declined_without_vectors(engine: Engine) -> None:
    """No term to retrieve on and no vectors to find neighbours with: no candidates, and the learned ranker
    has nothing to order (it raised on the empty list)."""
    from iamkb.search.engine import open_in_space

    out = ask(open_in_space(engine.folder, "lexical"), "how do I")
    assert out["results"] == [] and out["parts"]["declined"] and out["parts"]["closest"] is None


def test_ask_json_links_results_and_citations_to_the_site(capsys) -> None:
    """`iamkb ask --json` adds site_url (root-relative, from urls.site_url) to each result and citation the
    site has a page for."""
    from iamkb.cli import main
    from iamkb.site.data import load_site_data
    from iamkb.site.pages import Site

    site = Site(load_site_data())
    assert main(["ask", "--json", "DeleteTags access level"]) == 0
    out = json.loads(capsys.readouterr().out)
    linked = [x for x in out["results"] + out["citations"] if site.site_url(x["id"]) is not None]
    assert linked and all(x["site_url"] == site.site_url(x["id"]) for x in linked)
    assert all("site_url" not in x for x in out["results"] + out["citations"] if site.site_url(x["id"]) is None)
    assert out["citations"][0]["site_url"] == "reference/actions/autoscaling/DeleteTags/"
