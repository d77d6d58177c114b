"""The search index as static data for the site's in-page engine (docs/javascripts/search/): ask run by the
reader's browser, on any static host, with no server; with the static token vectors in place of the sentence
vectors when the index has them (`page_engine`, iamkb.search.tokenvectors), else ask's lexical path.

`export(engine, site_url)` gathers everything that path reads, from the open index and the modules' constants:
the tuned numbers the index was built with (kb/search.yml, as `Engine.params` holds them), the documents (the
stored fields and data the rerank and the answer read, plus each one's page in the site), the postings of the
fields ask retrieves on with what Whoosh scores them from (the term frequency, the document's field
length, the term's idf, the field's average length, BM25F's B and K1: the page sums `whoosh.scoring.bm25` of
exactly these numbers, as `Engine.top_docs` sums Whoosh's own scores), the vocabulary with its document
frequencies (spelling correction), the synonym table, entity names, action words, the question words, every
tuned number, the regular expressions as Python writes them, the static space (its tokens, their weights and
the int8 token, document and passage rows) and the learned ranker for the signals exported. Nothing the ranking
reads is written twice: the page's code holds the algorithm, this data every number and table.

Why the BM25 ingredients rather than the 149,816 scores: a score is a 64-bit float (1.2 MB, 0.5 MB gzipped,
half of the whole export) while the ingredients are small integers and one idf per distinct document frequency;
`bm25` is plain arithmetic (no log or pow), so the page computes the same bits (tests/test_search_static.py
checks every posting).

`script(data)` wraps the data as a classic script that sets `window.iamkbSearchData`: a page opened from disk
(file://) may load scripts but not fetch JSON.

    .venv/bin/python -m iamkb.search.static OUT.js [--index DIR]   # what the site build writes
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from iamkb import callhint
from iamkb.search import analysis, answer, embed, engine, features, ranking, retrieval
from iamkb.search.documents import ENTITY_KINDS, KINDS

FORMAT = 3
GLOBAL = "iamkbSearchData"  # the window property the script sets


def _pattern(regex) -> dict[str, Any]:
    """A compiled Python regex as {"source", "ignorecase"} (the page translates the source to a JS RegExp)."""
    import re

    return {"source": regex.pattern, "ignorecase": bool(regex.flags & re.IGNORECASE)}


def constants() -> dict[str, Any]:
    """The limits, patterns and word lists the lexical path reads beside the tuned numbers (kb/search.yml, which
    the export takes from the index: `export`), from the modules that define them."""
    e, a, f, r = engine, answer, features, ranking
    return {
        "analysis": {"stops": sorted(analysis.STOPS), "min_token_chars": analysis.MIN_TOKEN_CHARS,
                     "compound": _pattern(analysis.COMPOUND), "part": _pattern(analysis._PART),
                     "camel": _pattern(analysis._CAMEL), "sentence": _pattern(analysis._SENTENCE)},
        "query": {"max_query_chars": e.MAX_QUERY_CHARS, "max_terms": e.MAX_TERMS, "short_word_len": e.SHORT_WORD_LEN,
                  "max_edits_short": e.MAX_EDITS_SHORT, "max_edits": e.MAX_EDITS,
                  "correction_candidates": e.CORRECTION_CANDIDATES, "rarest_kept": e.RAREST_KEPT},
        "ask": {"asked_field": retrieval.ASKED_FIELD, "home_guide": f.HOME_GUIDE, "phrase": f.PHRASE,
                "entity_kinds": sorted(ENTITY_KINDS), "says_kind": {k: _pattern(v) for k, v in retrieval.SAYS_KIND.items()},
                "definition": _pattern(f.DEFINITION), "overview": _pattern(f.OVERVIEW), "not_word": _pattern(f._NOT_WORD),
                "says_the_rest_partial": r.SAYS_THE_REST_PARTIAL, "specific_passes": r.SPECIFIC_PASSES,
                "specific_margin": r.SPECIFIC_MARGIN, "specific_step": r.SPECIFIC_STEP,
                "howto": _pattern(a.HOWTO), "word": _pattern(a._WORD), "highlight": list(e.HIGHLIGHT),
                "quote_sentences": a.QUOTE_SENTENCES, "snippet_chars": a.SNIPPET_CHARS,
                "answer_entities": a.ANSWER_ENTITIES, "answer_sources": a.ANSWER_SOURCES,
                "answer_section_depth": a.ANSWER_SECTION_DEPTH},
        "features": {"log_floor": f.LOG_FLOOR, "bm25_floor": f.BM25_FLOOR},
        "hint": {"denied": _pattern(callhint.DENIED), "fails": _pattern(callhint.FAILS),
                 "permission": _pattern(callhint.PERMISSION), "call": _pattern(callhint.CALL), **callhint.HINT},
    }


def _postings(eng: engine.Engine) -> dict[str, Any]:
    """Per field: its terms (Whoosh's order), each term's documents (as gaps from the previous docnum, the first
    from -1) and term frequencies (the postings' weights), and per document the field's length as Whoosh scores
    it (decoded from the byte it stores)."""
    searcher = eng.searcher
    reader = searcher.reader()
    ndocs = reader.doc_count_all()
    out: dict[str, Any] = {}
    for f in eng.params.ask_boosts:
        terms, counts, gaps, tfs = [], [], [], []
        for term in reader.field_terms(f):
            prev = -1
            n = 0
            for docnum, weight in reader.postings(f, term).items_as("weight"):
                gaps.append(docnum - prev)
                tfs.append(int(weight) if weight == int(weight) else weight)
                prev = docnum
                n += 1
            terms.append(term)
            counts.append(n)
        out[f] = {"terms": terms, "df": counts, "gaps": gaps, "tf": tfs,
                  "length": [searcher.doc_field_length(d, f, 1) for d in range(ndocs)]}
    return out


def _bm25(eng: engine.Engine, postings: dict[str, Any]) -> dict[str, Any]:
    """What `whoosh.scoring.BM25FScorer` reads beside a posting: B and K1, each field's average length, and the
    idf of a term, which depends only on its document frequency in the field (so one per distinct frequency)."""
    searcher = eng.searcher
    weighting = searcher.weighting
    out: dict[str, Any] = {"k1": weighting.K1, "b": {}, "avgfl": {}, "idf": {}}
    for f in postings:
        out["b"][f] = weighting._field_B.get(f, weighting.B)
        out["avgfl"][f] = searcher.avg_field_length(f) or 1
        firsts: dict[int, str] = {}
        for term, df in zip(postings[f]["terms"], postings[f]["df"], strict=True):
            firsts.setdefault(df, term)
        out["idf"][f] = {str(df): searcher.idf(f, term) for df, term in sorted(firsts.items())}
    return out


def _documents(eng: engine.Engine, site_url: Callable[[str], str | None]) -> dict[str, list]:
    """Column per stored field, in docnum order (the order ties are broken in): id, kind, guide, title, url (the
    upstream page), site (the page in this site, root-relative; "" when the site has none), body, data."""
    searcher = eng.searcher
    cols: dict[str, list] = {k: [] for k in ("id", "kind", "guide", "title", "url", "site", "body", "data")}
    for docnum in range(searcher.doc_count_all()):
        stored = searcher.stored_fields(docnum)
        cols["id"].append(stored["id"])
        cols["kind"].append(KINDS.index(stored["kind"]))
        cols["guide"].append(stored["guide"])
        cols["title"].append(stored["title"])
        cols["url"].append(stored.get("url", ""))
        cols["site"].append(site_url(stored["id"]) or "")
        cols["body"].append(stored.get("body", ""))
        cols["data"].append(json.loads(stored.get("data") or "{}"))
    return cols


def _idf(eng: engine.Engine, body_terms: list[str]) -> dict[str, Any]:
    """`Engine.idf` (the rarity that weighs a question's words) of every term the body field holds, and of any
    other term (the same for all: no section or example says it)."""
    missing = "\u0000"  # no analyzer emits it
    return {"terms": {t: eng.idf(t) for t in body_terms}, "other": eng.idf(missing)}


def _int8(rows) -> str:
    """An int8 matrix as base64 of its bytes, row after row (a JSON list of numbers would be 3.5 times larger
    before gzip, and slower to parse)."""
    import base64

    return base64.b64encode(rows.astype("int8").tobytes()).decode("ascii")


def _static_space(eng: engine.Engine) -> dict[str, Any] | None:
    """The static token vectors (iamkb.search.tokenvectors) when the engine ranks with them: the tokens (row
    order) and their weights, the token table, and the documents' and passages' rows with the docnum each
    belongs to (a section's passages as [docnum, rows] runs, in row order)."""
    space = eng.semantic()
    if eng.space() != "static":
        return None
    docnum = {ident: eng.document(ident).docnum for ident in space.ids()}
    runs = sorted(space.passage_rows.items(), key=lambda item: item[1][0])
    return {"dims": int(space.table.shape[1]), "query_scale": space.query_scale,
            "max_word_chars": embed.MAX_WORD_CHARS,
            "tokens": [t for t, i in sorted(space.tokenizer.vocab.items(), key=lambda item: item[1])
                       if i < len(space.weights)],
            "weights": list(space.weights), "table": _int8(space.table),
            "documents": {"docnums": [docnum[i] for i in space.ids()], "rows": _int8(space.vectors)},
            "passages": {"runs": [[eng.document(ident).docnum, end - start] for ident, (start, end) in runs],
                         "rows": _int8(space.passages)}}


def export(eng: engine.Engine, site_url: Callable[[str], str | None] = lambda ident: None) -> dict[str, Any]:
    """Everything the page's ranking reads from the index, as plain data (see the module doc): ask with the
    static token vectors when `eng` has them (`page_engine`), else ask's lexical path."""
    ranker = ranking.ranker_for(eng)
    postings = _postings(eng)
    return {
        "format": FORMAT,
        "space": eng.space(),
        "static": _static_space(eng),
        "params": eng.params.to_json(),
        "constants": constants(),
        "kinds": list(KINDS),
        "ranker": ranker.to_json() if ranker else None,
        "bm25": _bm25(eng, postings),
        "postings": postings,
        "idf": _idf(eng, postings["body"]["terms"] if "body" in postings else []),
        "docs": _documents(eng, site_url),
        "vocabulary": {"words": list(eng.vocabulary), "df": list(eng.vocabulary.values())},
        "synonyms": [[k, v] for k, v in eng.synonyms.items()],
        "synonym_regex": _pattern(eng.synonym_regex()) if eng.synonym_regex() else None,
        "entities": eng.entities,
        "action_words": {i: sorted(w) for i, w in eng.action_words.items()},
    }


def to_json(data: dict[str, Any]) -> str:
    """Compact JSON; every float as Python writes it (shortest text that reads back as the same double)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def script(data: dict[str, Any]) -> str:
    """A classic script that sets window.iamkbSearchData (JSON.parse of one string: a large object literal is
    slower for the browser to parse than the same JSON)."""
    text = to_json(data)
    literal = json.dumps(text, ensure_ascii=False).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return f"window.{GLOBAL}=JSON.parse({literal});\n"


def page_engine(folder: Path) -> engine.Engine:
    """The index at `folder` opened as the page runs it: with its static token vectors and their ranker when it
    has them (an index built with the model), else lexical."""
    eng = engine.open_in_space(folder, "static")
    return eng if eng.space() == "static" else engine.open_in_space(folder, "lexical")


def main(argv: list[str] | None = None) -> int:
    from iamkb import paths

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path, help="the script to write (.js), or the JSON (.json)")
    ap.add_argument("--index", type=Path, default=None, help="the index folder (default kb/index)")
    args = ap.parse_args(argv)
    data = export(page_engine(args.index or paths.index_dir()))
    args.out.write_text(to_json(data) if args.out.suffix == ".json" else script(data), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
