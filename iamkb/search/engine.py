"""Query the index: query building (synonyms, spelling, IAM-aware terms), ranked hits, snippets.

One Engine per index generation and process (see `engine()`): opening Whoosh and reading meta.json is the cold
cost `ask` pays once; every later question reuses the open searcher.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from iamkb import paths
from iamkb.errors import InputError
from iamkb.search.analysis import STOPS, analyze, compounds, iam_analyzer
from iamkb.search.params import Params

MAX_QUERY_CHARS = 2000
MAX_TERMS = 64
SHORT_WORD_LEN = 5      # `correct`: a word of up to this many letters is short (one edit, a common word) ...
MAX_EDITS_SHORT = 1     # ... the edits (OSA distance) a correction may make to a short word
MAX_EDITS = 2           # ... and to a longer one
CORRECTION_CANDIDATES = 8  # ... the nearest vocabulary words it weighs (rapidfuzz's extract limit)
RAREST_KEPT = 3         # `selective`: the rarest terms kept when every term of a question is common
HIGHLIGHT = ("<mark>", "</mark>")


@dataclass
class Hit:
    """A ranked document: stored fields, score and the query terms it matched."""

    id: str
    kind: str
    guide: str
    title: str
    url: str
    score: float
    body: str
    data: dict[str, Any]
    matched: frozenset[str] = field(default_factory=frozenset)
    snippet: str = ""
    docnum: int = -1

    def result(self) -> dict[str, Any]:
        """The DESIGN.md result shape."""
        return {"id": self.id, "kind": self.kind, "title": self.title, "url": self.url,
                "score": round(self.score, 4), "snippet": self.snippet}


@dataclass
class Query:
    """A user's text turned into index terms, with what was corrected or expanded on the way."""

    text: str
    terms: list[str]
    corrections: dict[str, str]
    expansions: list[str]
    words: list[str]  # the original compound words, as typed (entity detection looks at these)


def is_content_word(low: str, question_words: frozenset[str]) -> bool:
    """Whether a lowercased word says what a question is about: neither a stop word nor question glue (the
    question words of kb/search.yml)."""
    return low not in STOPS and low not in question_words


@lru_cache(maxsize=4)
def question_terms(question_words: frozenset[str]) -> frozenset[str]:
    """The index terms of the question words, which a question's terms leave out."""
    return frozenset(analyze(" ".join(sorted(question_words))))


def _bounded(text: str) -> str:
    return text[:MAX_QUERY_CHARS]


class Engine:
    """An open index: Whoosh searcher plus the synonym table, vocabulary and entity names of meta.json."""

    def __init__(self, folder: Path) -> None:
        from whoosh import index

        from iamkb.search.semantic import single_threaded_blas

        single_threaded_blas()  # before anything here loads numpy (`top_docs`, `semantic`)
        try:
            self.ix = index.open_dir(str(folder))
            meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        except (OSError, ValueError, index.EmptyIndexError) as err:
            raise InputError(f"no usable index ({type(err).__name__}); run `iamkb index`", where=str(folder)) from None
        self.folder = folder
        self.searcher = self.ix.searcher()
        self.synonyms: dict[str, list[str]] = meta.get("synonyms", {})
        self.vocabulary: dict[str, int] = meta.get("vocabulary", {})
        self.entities: dict[str, list[str]] = meta.get("entities", {})
        self.counts: dict[str, int] = meta.get("counts", {})
        self.action_words = {i: frozenset(w) for i, w in meta.get("action_words", {}).items()}  # answer.said_actions
        self.actions_by_word = _by_first_word(self.action_words)
        self._syn_re = _synonym_regex(self.synonyms)
        self._idf: dict[str, float] = {}
        self._entity_docnums: frozenset[int] | None = None
        self._stored_cache: dict[int, dict[str, Any]] = {}
        self._docnum_cache: dict[str, int | None] = {}
        self._postings: dict[tuple[str, str], Any] = {}  # (field, term) -> (docnums, BM25F scores): `postings`
        self._holder_sets: dict[tuple[str, str], frozenset[int]] = {}  # ... its docnums as a set: `term_docs`
        self._semantic: Any = False  # not loaded yet; then a Semantic, or None when the index has no vectors
        self.rankers_data: dict[str, Any] | None = meta.get("ranker")  # kb/ranker.json (iamkb.search.ranking)
        try:
            self.params = Params.from_json(meta["params"])  # kb/search.yml, compiled in (iamkb.search.params)
        except (KeyError, TypeError, ValueError):
            raise InputError("the index carries no search parameters (built by an older version); run "
                             "`iamkb index`", where=str(folder)) from None

    def semantic(self):
        """The index's document vectors and question embedder (`iamkb.search.semantic`), loaded on first use
        (numpy and the memory-mapped weights cost ~0.1 s, paid once per process); None without vectors."""
        if self._semantic is False:
            from iamkb.search.semantic import Semantic

            self._semantic = Semantic.open(self.folder)
        return self._semantic

    def space(self) -> str:
        """The signals ask ranks with (`features.SPACES`): "full" with MiniLM's vectors, "static" with the
        in-page engine's token vectors (`open_in_space`), "lexical" without vectors."""
        sem = self.semantic()
        return "lexical" if sem is None else sem.space

    def synonym_regex(self) -> re.Pattern[str] | None:
        """The synonym table's keys as one regex (longest first, whole words only)."""
        return self._syn_re

    def idf(self, term: str) -> float:
        """Inverse document frequency of a term in the prose (body) of the sections and examples (the reference
        entities would make every word of their boilerplate look common), memoized per process."""
        if term not in self._idf:
            reader = self.searcher.reader()
            entities = self.entity_docnums()
            df = sum(1 for d in reader.postings("body", term).all_ids() if d not in entities) \
                if ("body", term) in reader else 0
            self._idf[term] = math.log((reader.doc_count() - len(entities) + 1) / (df + 1)) + 1.0
        return self._idf[term]

    def entity_docnums(self) -> frozenset[int]:
        """Document numbers of the reference entities, read once from the kind field's postings."""
        if self._entity_docnums is None:
            from iamkb.search.documents import ENTITY_KINDS

            reader = self.searcher.reader()
            self._entity_docnums = frozenset(
                d for k in ENTITY_KINDS if ("kind", k) in reader for d in reader.postings("kind", k).all_ids())
        return self._entity_docnums

    # --- query building ------------------------------------------------------------------------------------

    def correct(self, word: str) -> str | None:
        """The nearest vocabulary word to an unknown word, else None. Edit distance counts a swap of two
        letters as one edit ("tempalte"); 1 edit for words of up to 5 letters, 2 for longer ones. A short word
        is only corrected to a common one: "polcy" is surely "policy", but "paren" need not be "parent". The
        first letter must stay: typists rarely get it wrong, and a word that differs there is another word
        ("vacation" is not "action", "uptime" not "time"; on the question set every correction that changed
        the first letter was one of these, and the rule let ask decline one more unanswerable question)."""
        from rapidfuzz import process
        from rapidfuzz.distance import OSA

        rules = self.params.query
        if len(word) < rules.min_correct_len:
            return None
        short = len(word) <= SHORT_WORD_LEN
        found = process.extract(word, self.vocabulary.keys(), scorer=OSA.distance,
                                score_cutoff=MAX_EDITS_SHORT if short else MAX_EDITS, limit=CORRECTION_CANDIDATES)
        if short:
            found = [m for m in found if self.vocabulary[m[0]] >= rules.short_word_min_df]
        found = [m for m in found if m[0][:1] == word[:1]]
        if not found:
            return None
        best = min(found, key=lambda m: (m[1], -self.vocabulary[m[0]], m[0]))
        return best[0]

    def known(self, word: str) -> bool:
        """Whether a word needs no correction: the index has it as typed, or its stem (so "deleting" stands
        when the docs only say "delete"), or the synonym table does."""
        low = word.lower()
        if low in self.vocabulary or low in self.synonyms:
            return True
        reader = self.searcher.reader()
        return any(("body", t) in reader or ("title", t) in reader for t in analyze(low)[:1])

    def corrections_of(self, word: str) -> str | None:
        """A corrected spelling of one typed word; a hyphenated word is corrected part by part
        ("service-linkd" becomes "service-linked"). None when nothing changes."""
        low = word.lower()
        if not is_content_word(low, self.params.query.question_words) or self.known(low):
            return None
        if "-" in low:
            parts = low.split("-")
            fixed = [p if not p.isalpha() or self.known(p) else (self.correct(p) or p) for p in parts]
            return "-".join(fixed) if fixed != parts else None
        if not low.isalpha():
            return None
        fixed = self.correct(low)
        return fixed if fixed and fixed != low else None

    def parse(self, text: str) -> Query:
        text = _bounded(text)
        expansions: list[str] = []
        for m in self._syn_re.finditer(text.lower()) if self._syn_re else ():
            expansions.extend(self.synonyms[m.group(1)])
        words = compounds(text)
        corrections: dict[str, str] = {}
        for w in words:
            low = w.lower()
            if low in corrections:
                continue
            fixed = self.corrections_of(low)
            if fixed:
                corrections[low] = fixed
                # a misspelled shorthand expands like the shorthand ("autoscalling" -> "auto scaling")
                expansions.extend(self.synonyms.get(fixed, []))
        full = " ".join([text, *expansions, *corrections.values()])
        drop = question_terms(self.params.query.question_words)
        terms = [t for t in analyze(full) if t not in drop][:MAX_TERMS]
        return Query(text=text, terms=terms, corrections=corrections, expansions=expansions, words=words)

    def selective(self, terms: list[str], fields: list[str]) -> list[str]:
        """The terms worth retrieving on: a term in more than max_df_share of the documents hardly moves BM25
        but costs most of the scoring time (Whoosh scores every posting in Python). Keeps the rarest few when
        every term is common."""
        reader = self.searcher.reader()
        total = max(reader.doc_count(), 1)
        df = {t: sum(reader.doc_frequency(f, t) for f in fields) for t in terms}
        keep = [t for t in terms if df[t] <= self.params.query.max_df_share * total]
        return keep or sorted(terms, key=lambda t: df[t])[:RAREST_KEPT]

    def whoosh_query(self, terms: list[str], boosts: dict[str, float] | None = None):
        from whoosh.query import NullQuery, Or, Term

        boosts = boosts or self.params.search_boosts
        terms = self.selective(terms, list(boosts))
        if not terms:
            return NullQuery
        return Or([Term(f, t, boost=b) for t in terms for f, b in boosts.items()])

    def syntax_query(self, text: str):
        """The Whoosh query language, for queries that use it; None when the text does not parse to anything."""
        from whoosh.qparser import MultifieldParser

        boosts = self.params.search_boosts
        parser = MultifieldParser(list(boosts), self.ix.schema, fieldboosts=boosts)
        try:
            q = parser.parse(text)
        except Exception:  # noqa: BLE001 - any parser failure means: treat the text as plain terms
            return None
        from whoosh.query import NullQuery

        if q is None or q is NullQuery or not list(q.terms()):
            return None
        return q

    # --- searching ---------------------------------------------------------------------------------------

    def run(self, q, *, kind: str | None = None, guide: str | None = None, limit: int = 10,
            snippets: bool = True) -> list[Hit]:
        from whoosh.highlight import ContextFragmenter
        from whoosh.query import And, Term

        filters = [Term("kind", kind)] if kind else []
        if guide:
            filters.append(Term("guide", guide))
        flt = (filters[0] if len(filters) == 1 else And(filters)) if filters else None
        results = self.searcher.search(q, limit=limit, filter=flt, optimize=False)
        results.fragmenter = ContextFragmenter(maxchars=220, surround=60)
        results.formatter = _mark_formatter()
        hits = []
        for r in results:
            stored = r.fields()
            hit = Hit(id=stored["id"], kind=stored["kind"], guide=stored["guide"], title=stored["title"],
                      url=stored.get("url", ""), score=float(r.score), body=stored.get("body", ""),
                      data=json.loads(stored.get("data") or "{}"), docnum=r.docnum)
            if snippets:
                hit.snippet = self.snippet(r, hit)
            hits.append(hit)
        return hits

    @staticmethod
    def snippet(result, hit: Hit) -> str:
        try:
            text = result.highlights("body", top=2)
        except Exception:  # noqa: BLE001 - a highlighting failure must not lose the result
            text = ""
        if text:
            return text
        import html

        body = hit.data.get("answer") or hit.body
        return html.escape(body[:220] + ("…" if len(body) > 220 else ""))

    def search(self, text: str, *, kind: str | None = None, guide: str | None = None,
               limit: int = 10) -> tuple[Query, list[Hit]]:
        """Plain full-text search; Whoosh syntax when the query uses it, plain terms when it does not parse."""
        query = self.parse(text)
        q = self.syntax_query(query.text) if looks_like_syntax(query.text) else None
        if q is None:
            q = self.whoosh_query(query.terms)
        hits = self.run(q, kind=kind, guide=guide, limit=limit)
        if not hits and q is not None and looks_like_syntax(query.text):
            hits = self.run(self.whoosh_query(query.terms), kind=kind, guide=guide, limit=limit)
        return query, hits

    def postings(self, field_name: str, term: str):
        """A term's documents in one field and their BM25F scores, as Whoosh's matcher scores them (numpy
        arrays: docnums ascending, scores), memoized. Why: Whoosh scores every posting of an Or query in Python,
        ~7 us each, and a question's dozen terms over three fields came to 3,300 postings and a quarter of its
        time; a batch asks the same terms again and again, and an index generation never changes."""
        key = (field_name, term)
        if key not in self._postings:
            import numpy as np
            from whoosh.query import Term

            m = Term(field_name, term).matcher(self.searcher)
            ids, scores = [], []
            while m.is_active():
                ids.append(m.id())
                scores.append(m.score())
                m.next()
            self._postings[key] = (np.array(ids, dtype=np.int64), np.array(scores, dtype=np.float64))
        return self._postings[key]

    def top_docs(self, terms: list[str], boosts: dict[str, float], limit: int) -> list[tuple[float, int]]:
        """The best (score, docnum) pairs for the terms, without loading any stored fields: the scores of
        `whoosh_query(terms, boosts)` (an Or of boosted field terms sums its matches' scores), summed from the
        memoized postings, ties by docnum as Whoosh's collector breaks them."""
        import numpy as np

        total = np.zeros(self.searcher.doc_count_all(), dtype=np.float64)
        found = np.zeros(total.shape, dtype=bool)
        for term in self.selective(terms, list(boosts)):
            for f, boost in boosts.items():
                ids, scores = self.postings(f, term)
                total[ids] += boost * scores
                found[ids] = True
        docs = np.flatnonzero(found)
        best = docs[np.lexsort((docs, -total[docs]))[:limit]]
        return [(float(total[d]), int(d)) for d in best]

    def _stored(self, docnum: int) -> dict[str, Any]:
        """A document's stored fields with `data` decoded, memoized: a batch of questions reads the same few
        hundred sections again and again (unpickling them was a tenth of the time per question). Shared:
        treat as read-only."""
        if docnum not in self._stored_cache:
            stored = dict(self.searcher.stored_fields(docnum))
            stored["data"] = json.loads(stored.get("data") or "{}")
            self._stored_cache[docnum] = stored
        return self._stored_cache[docnum]

    def hit(self, docnum: int, score: float) -> Hit:
        stored = self._stored(docnum)
        return Hit(id=stored["id"], kind=stored["kind"], guide=stored["guide"], title=stored["title"],
                   url=stored.get("url", ""), score=score, body=stored.get("body", ""),
                   data=stored["data"], docnum=docnum)

    def document(self, ident: str) -> Hit | None:
        if ident not in self._docnum_cache:
            self._docnum_cache[ident] = self.searcher.document_number(id=ident)
        docnum = self._docnum_cache[ident]
        return None if docnum is None else self.hit(docnum, 0.0)

    def term_docs(self, terms: list[str], fields: list[str], docnums: list[int]) -> dict[str, set[int]]:
        """For each term, which of the given documents hold it in any of the fields: what a candidate matched,
        read from the memoized postings (recording matched terms during the search costs 4x the search)."""
        wanted = set(docnums)
        return {term: set().union(*(wanted & self._holders(f, term) for f in fields)) for term in terms}

    def _holders(self, field_name: str, term: str) -> frozenset[int]:
        key = (field_name, term)
        if key not in self._holder_sets:
            self._holder_sets[key] = frozenset(self.postings(field_name, term)[0].tolist())
        return self._holder_sets[key]


def _by_first_word(names: dict[str, frozenset[str]]) -> dict[str, list[str]]:
    """Action ids by the first (alphabetically) of their name's terms: a question can say a name in words only if
    it says that term, so `answer.said_actions` checks a handful of names, not all 2,714 (1.6 ms a question)."""
    out: dict[str, list[str]] = {}
    for ident, words in names.items():
        if words:
            out.setdefault(min(words), []).append(ident)
    return out


def _mark_formatter():
    """Snippets as HTML-escaped text with the matched terms in <mark> (the web page shows them as is)."""
    from html import escape as htmlescape

    from whoosh.highlight import Formatter, get_text

    class MarkFormatter(Formatter):
        between = " … "

        def _text(self, text):
            return htmlescape(text, quote=False)

        def format_token(self, text, token, replace=False):
            return f"{HIGHLIGHT[0]}{htmlescape(get_text(text, token, replace), quote=False)}{HIGHLIGHT[1]}"

    return MarkFormatter()


_SYNTAX = re.compile(r"\b(AND|OR|NOT|ANDNOT)\b|[\"()]|\b(title|body|code|names|path|kind|guide|id):|"
                     r"(^|\s)[\w-]*[*?](\s|$)")


def looks_like_syntax(text: str) -> bool:
    """Whether the user wrote Whoosh query syntax (operators, quotes, fields, bare wildcards)."""
    return bool(_SYNTAX.search(text))


def _synonym_regex(synonyms: dict[str, list[str]]) -> re.Pattern[str] | None:
    if not synonyms:
        return None
    keys = sorted(synonyms, key=len, reverse=True)
    return re.compile(r"(?<![\w:/-])(" + "|".join(re.escape(k) for k in keys) + r")(?![\w:/-])")


@lru_cache(maxsize=2)
def _engine_at(real: str, mtime: float) -> Engine:
    return Engine(Path(real))


def engine(folder: Path | None = None) -> Engine:
    """The Engine of the current index generation, opened once per process (a rebuild opens the new one)."""
    folder = folder or paths.index_dir()
    real = os.path.realpath(folder)
    try:
        mtime = os.stat(os.path.join(real, "meta.json")).st_mtime
    except OSError:
        raise InputError("no index yet: run `iamkb index` (or `make index`)", where=str(folder)) from None
    return _engine_at(real, mtime)


__all__ = ["Engine", "Hit", "Query", "engine", "iam_analyzer", "looks_like_syntax"]


def open_in_space(folder: Path, space: str) -> Engine:
    """The index at `folder` ranked with the given signals (`features.SPACES`): as ask does ("full", when it
    has vectors), as the site's in-page engine does ("static": the token vectors of
    `iamkb.search.tokenvectors`, when the index has them), or without vectors ("lexical")."""
    eng = Engine(folder)
    if space == "lexical":
        eng._semantic = None
    elif space == "static":
        from iamkb.search.tokenvectors import StaticSpace

        eng._semantic = StaticSpace.open(folder)
    return eng
