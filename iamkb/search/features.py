"""Ask's features: what each candidate says of the question, measured once and read by both rankers.

A question becomes units (its content words, each with the forms it may be matched in: the word, its spelling
correction, its synonyms' expansions, with a credit each); a candidate (a section, with the examples that
brought it in, or a reference entity) is measured against them: how much of the question its text and its
written questions cover (words weighted by rarity), its heading path, the share of its title the question
says, whether it is an overview for a "what is X" question, the most of the question two consecutive sentences
say; and its similarity in meaning (`iamkb.search.semantic`, when the index has vectors). `feature_rows` turns
the measurements into the columns the learned rankers read (`FEATURES`, `LEXICAL_FEATURES`): this module is the
one place that defines them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache

from iamkb.search.analysis import analyze, sentences
from iamkb.search.documents import ENTITY_KINDS
from iamkb.search.engine import Engine, Hit, Query, is_content_word, question_terms
from iamkb.search.params import Weights

HOME_GUIDE = "autoscaling"  # the guide the KB is about: its sections are the better answer where both guides say it
DEFINITION = re.compile(r"\s*(what\s+(is|are)|what's|whats|define|definition\s+of|meaning\s+of)\b", re.IGNORECASE)
OVERVIEW = re.compile(r"(overview|introduction|what\s+(is|are))\b", re.IGNORECASE)
LOG_FLOOR = 1e-6   # `feature_rows`: the rerank's score is logged as at least this ...
BM25_FLOOR = 1e-3  # ... and the BM25 share with this added


@dataclass
class Candidate:
    """A section or entity competing for the answer, with the evidence the rerank weighs."""

    hit: Hit
    score: float = 0.0
    matched: set[str] = field(default_factory=set)
    heading: set[str] = field(default_factory=set)  # the heading path's terms (and the question's phrases in it)
    examples: list[tuple[float, str]] = field(default_factory=list)  # (retrieval score, example id)
    similarity: float = 0.0  # cosine of the question's and the document's sentence embeddings (0: no vector)
    passage_similarity: float | None = None  # a section's closest passage (None: no passage vectors)
    said: bool = False  # an action whose name the question says in words (`said_actions`)
    asked_terms: set[str] = field(default_factory=set)  # the question's terms its written questions hold
    asked: float = 0.0  # ... as a share of the question (`coverage`; kb/section_questions.yml, sections only)
    passage_coverage: float = 0.0  # the most of the question two consecutive sentences say (`passage_coverage`;
                                   # measured for the first PROXIMITY_DEPTH candidates, 0 for the rest)
    # what the rerank measured (set by `rerank`; the learned stage reads them as features)
    coverage: float = 0.0          # share of the question's words the document or its written questions say
    text_coverage: float = 0.0     # ... the document itself says (what the abstention reads)
    heading_coverage: float = 0.0  # ... its heading path says
    title_precision: float = 0.0   # share of the title's words the question says
    overview: bool = False         # an overview section, for a "what is X" question
    learned: float | None = None  # the share of the learned ranker's softmax (None: not ranked by it)


@dataclass(frozen=True)
class Unit:
    """One content word of the question and the forms it may be matched in: the word itself (a compound name
    whole, or all of its parts), its spelling correction, its synonyms' expansions, each with a credit."""

    word: str
    forms: tuple[tuple[frozenset[str], float], ...]
    weight: float = 1.0

    @property
    def terms(self) -> set[str]:
        return set().union(*(f for f, _ in self.forms))

    def match(self, terms: set[str] | frozenset[str], partial: float = 1.0) -> float:
        """How well a document's terms carry this word: the best form's share of terms found (to the power
        `partial`), times its credit (so "AWSServiceRoleForAutoScaling" is not matched by every page that
        says "role", nor "ABAC" by every page that says "access")."""
        return max((credit * (len(form & terms) / len(form)) ** partial for form, credit in self.forms), default=0.0)


def _word_forms(word: str, credit: float, drop: frozenset[str]) -> list[tuple[frozenset[str], float]]:
    terms = [t for t in analyze(word) if t not in drop]
    if not terms:
        return []
    if len(terms) == 1:
        return [(frozenset(terms), credit)]
    return [(frozenset(terms[:1]), credit), (frozenset(terms[1:]), credit)]


def _phrase_synonyms(engine: Engine, text: str) -> dict[str, list[str]]:
    """Synonym expansions of the question, keyed by each word of the shorthand that triggered them."""
    out: dict[str, list[str]] = {}
    regex = engine.synonym_regex()
    for m in regex.finditer(text.lower()) if regex else ():
        for word in m.group(1).split():
            out.setdefault(word, []).extend(engine.synonyms[m.group(1)])
    return out


def units(engine: Engine, query: Query, weights: Weights | None = None) -> list[Unit]:
    """The question's content words, each with the forms it may match (itself, correction, synonyms)."""
    weights = weights or engine.params.weights
    drop = question_terms(engine.params.query.question_words)
    synonyms = _phrase_synonyms(engine, query.text)
    out: list[Unit] = []
    seen: set[str] = set()
    for w in query.words:
        low = w.lower()
        if not is_content_word(low, engine.params.query.question_words) or low in seen:
            continue
        seen.add(low)
        forms = _word_forms(w, 1.0, drop)
        fixed = query.corrections.get(low)
        if fixed:
            forms += _word_forms(fixed, 1.0, drop)
        for expansion in synonyms.get(low, []) + (engine.synonyms.get(fixed, []) if fixed else []):
            terms = frozenset(analyze(expansion)) - drop
            if len(terms) > 1:  # a phrase: matched only where the words stand together (see `phrases_in`)
                terms = frozenset({phrase_term(expansion)})
            if terms:
                forms.append((terms, weights.synonym))
        if forms:
            weight = max(engine.idf(t) for f, _ in forms[:1] for t in f) if weights.idf else 1.0
            out.append(Unit(low, tuple(forms), weight))
    return out


PHRASE = "\u201c"  # marks a phrase term: no analyzer emits it, so it matches only through `phrases_in`
_NOT_WORD = re.compile(r"[^a-z0-9]+")


def _words(text: str) -> str:
    return " " + _NOT_WORD.sub(" ", text.lower()).strip() + " "


def phrase_term(expansion: str) -> str:
    """The pseudo-term of a multi-word synonym expansion ("customer managed key")."""
    return PHRASE + _words(expansion).strip()


def phrases_in(text: str, phrases: set[str]) -> set[str]:
    """The phrase terms whose words stand together in the text (a plural or other ending on the last word
    counts: "customer managed keys"). Why: matched word by word, "customer managed key" (what CMK means) was
    found in a section on a *custom* suffix for the *service-linked role* that *manages* ... and that section
    outranked the key policy page for "what does the ASG SLR need on my CMK?"."""
    if not phrases:
        return set()
    words = _words(text)
    return {p for p in phrases if f" {p[len(PHRASE):]}" in words}


def coverage(terms: set[str] | frozenset[str], question_units: list[Unit], partial: float = 1.0) -> float:
    """The (weighted) share of the question's words a set of document terms carries."""
    total = sum(u.weight for u in question_units)
    if not total:
        return 0.0
    return sum(u.weight * u.match(terms, partial) for u in question_units) / total


def passage_coverage(c: Candidate, question_units: list[Unit], partial: float) -> float:
    """The (weighted) share of the question's words that two consecutive sentences of a section say, with its
    heading path; an entity's whole coverage. Why: a section that says all of the question in one place answers
    it more often than one that says its words pages apart (a proximity signal BM25 and the section-wide
    coverage do not have). Each window is reduced to the question's terms first, so a section costs a set
    intersection per sentence and a coverage per distinct window."""
    if c.hit.kind != "section" or not question_units:
        return c.coverage
    asked = set().union(*(u.terms for u in question_units))
    said = [terms & asked for _, terms in sentence_terms(c.hit.body)]
    heading = frozenset(c.heading & asked)
    following = [*said[1:], frozenset()] if said else []
    windows = {heading | a | b for a, b in zip(said, following, strict=True)} or {heading}
    return max(coverage(w, question_units, partial) for w in windows)


def is_overview(hit: Hit) -> bool:
    """A page's top section, or a section that introduces its topic ("Overview", "What is ABAC for AWS?")."""
    return hit.kind == "section" and (hit.data.get("level") == 1 or bool(OVERVIEW.match(hit.title)))


@lru_cache(maxsize=2048)
def sentence_terms(text: str) -> tuple[tuple[str, frozenset[str]], ...]:
    """A text's sentences with their index terms, memoized: the same sections come back question after
    question in a batch, and analyzing their sentences again was a fifth of the time per question."""
    return tuple((s, frozenset(analyze(s))) for s in sentences(text))


def measure(candidates: list[Candidate], query: Query, question_units: list[Unit], partial: float) -> None:
    """Set each candidate's measurements of the question (its coverage by the document alone and with its
    written questions, by its heading path and by its written questions; its title's precision; whether it is
    the overview a "what is X" question wants); the rerank and the rankers read them."""
    typed = set(query.terms)
    definition = bool(DEFINITION.match(query.text))
    for c in candidates:
        title_terms = set(analyze(c.hit.title))
        c.text_coverage = coverage(c.matched, question_units, partial)
        c.coverage = coverage(c.matched | c.asked_terms, question_units, partial)
        c.heading_coverage = coverage(c.heading, question_units, partial)
        c.asked = coverage(c.asked_terms, question_units, partial)
        c.title_precision = len(title_terms & typed) / len(title_terms) if title_terms else 0.0
        c.overview = definition and is_overview(c.hit)
        c.hit.matched = frozenset(c.matched)

# The rerank's evidence per candidate; the two ranks (among the candidates, by closest passage and by section
# vector) were added after the rest: CV on the tuning part 0.827 / 0.930 -> 0.832 / 0.935 (R@1 / R@3), and
# fitted on batches 1-2, batch 3's tuning part 0.656 / 0.766 -> 0.688 / 0.797; a BM25 rank scored lower (0.813).
FEATURES = ("rerank", "bm25", "coverage", "heading", "title", "entity", "overview", "similarity",
            "home_guide", "passage", "position", "passage_rank", "similarity_rank", "said", "level",
            "proximity_rank", "asked")
# The columns that need the sentence vectors. Without them (an index built `--lexical`, or the site's in-browser
# engine, which has no model) ask ranks with a second ranker fitted over the others, on candidates gathered and
# reranked without vectors, so a missing model costs the semantic signal, not the learned stage.
SEMANTIC_FEATURES = ("similarity", "passage", "passage_rank", "similarity_rank")
LEXICAL_FEATURES = tuple(f for f in FEATURES if f not in SEMANTIC_FEATURES)
# The rankers kb/ranker.json holds, by the signals at hand: MiniLM's vectors ("full"), the static token vectors
# the site's in-page engine ranks with ("static", iamkb.search.tokenvectors: the same features, other values),
# none ("lexical"). The order is kb/ranker.json's.
SPACES = {"full": FEATURES, "lexical": LEXICAL_FEATURES, "static": FEATURES}


def feature_rows(ranked: list, features: tuple[str, ...] = FEATURES) -> list[list[float]]:
    """One row of `features` per candidate, in the rerank's order, from what the rerank measured (ranks as
    1 / (1 + rank), 1 for the first)."""
    if not ranked:
        return []
    top = max(c.hit.score for c in ranked) or 1.0
    passage = [c.passage_similarity if c.passage_similarity is not None else c.similarity for c in ranked]
    columns: dict[str, list[float]] = {
        "rerank": [math.log(max(c.score, LOG_FLOOR)) for c in ranked],
        "bm25": [math.log(c.hit.score / top + BM25_FLOOR) for c in ranked],
        "coverage": [c.coverage for c in ranked],
        "heading": [c.heading_coverage for c in ranked],
        "title": [c.title_precision for c in ranked],
        "entity": [float(c.hit.kind in ENTITY_KINDS) for c in ranked],
        "overview": [float(c.overview) for c in ranked],
        "similarity": [c.similarity for c in ranked],
        "home_guide": [float(c.hit.guide == HOME_GUIDE) for c in ranked],
        "passage": passage,
        "position": [1.0 / (1 + i) for i in range(len(ranked))],
        "passage_rank": _ranks(passage),
        "similarity_rank": _ranks([c.similarity for c in ranked]),
        "said": [float(c.said) for c in ranked],
        "level": [1.0 / (c.hit.data.get("level") or 1) if c.hit.kind == "section" else 0.0 for c in ranked],
        "proximity_rank": _ranks([c.passage_coverage for c in ranked]),
        "asked": [c.asked for c in ranked],
    }
    return [[columns[f][i] for f in features] for i in range(len(ranked))]


def _ranks(values: list[float]) -> list[float]:
    """Each value's place among them (highest first, ties in list order) as 1 / (1 + rank)."""
    order = sorted(range(len(values)), key=lambda i: -values[i])
    out = [0.0] * len(values)
    for rank, i in enumerate(order):
        out[i] = 1.0 / (1 + rank)
    return out
