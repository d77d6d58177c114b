"""Ask: retrieve, rerank, and compose an answer in the words of the docs, citing every source by id and URL.

Retrieval is the same BM25F index as search, with sections (and examples) and reference entities drawn from
separate pools so that 3,700 entities cannot crowd 400 sections out. The rerank adds what BM25 does not see:
how much of the question a document covers (each word matched as typed, as its correction, or through a
synonym, weighted by its rarity; a compound name or an expansion counts only when all of it matches), whether
its heading path says it and how much of its title the question says, the kind of document, the question's type ("what is X" wants an overview),
whether a section says more of the question than the section enclosing it, the reference entity a question
names outright, and how close the question's meaning is to the document's (a sentence embedding: it bridges
"remove" and "delete", which no lexical signal does; `iamkb.search.semantic`). Examples count for the section
they belong to.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache

from iamkb.search.analysis import analyze, sentences
from iamkb.search.documents import ENTITY_KINDS
from iamkb.search.engine import Engine, Hit, Query, is_content_word, question_terms


@dataclass(frozen=True)
class Weights:
    """The rerank's knobs, chosen on the tuning part of kb/questions.yml (never on the held-out part).

    5-fold cross-validation over the tuning part (`python -m iamkb.search.tune`) scores re-tuning these by
    coordinate ascent the same as keeping them (R@1 0.847, R@3 0.920 either way, 150 questions), so they are
    kept as they are rather than fitted again: a round of tuning here buys nothing that generalises. The one
    weight added since, `semantic`, was chosen the same way: its value by cross-validation, the others left as
    they were (re-tuning them with it scored lower; bench/README.md, Search)."""

    entity: float = 0.55           # an entity the question does not name is rarely the answer to words
    cover_base: float = 0.1        # the floor for a document that covers none of the question's words
    heading_cover: float = 0.75    # the share of the question's words the heading path (ancestors' titles and
                                   # the title) says; it was title 0.5 + heading path 0.25, and the title is
                                   # part of the path: cross-validation preferred the one signal (iamkb.search.tune)
    title_precision: float = 0.25   # the share of the title's words the question says
    synonym: float = 1.0           # credit for a word matched through a synonym rather than itself
    idf: bool = True              # weigh the question's words by their rarity when measuring coverage
    bm25_power: float = 0.75        # how much the retrieval score counts against the rerank's evidence
    specific_top: int = 10         # how deep the section-versus-enclosing-section rule looks (0: off)
    partial: float = 2.0           # exponent on the share of a multi-term form found (higher: stricter)
    definition: float = 0.25        # boost of an overview section for "what is X"
    home_guide: float = 0.1       # a section of the Auto Scaling guide counts this much more than another guide's:
                                   # the KB's readers run Auto Scaling groups, so where both guides say it ("the
                                   # permissions to create a service-linked role") theirs is the better answer.
                                   # Every fold of the 5-fold cross-validation chose 0.1 of (0, .05, .1, .2, .3, .5)
    semantic: float = 2.0          # score factor exp(semantic * cosine(question, document)) from the sentence
                                   # embedding (iamkb.search.semantic); 0: off. Every fold of the 5-fold
                                   # cross-validation chose 2.0 (`python -m iamkb.search.tune --semantic`)


WEIGHTS = Weights()
HOME_GUIDE = "autoscaling"  # the guide the KB is about (see Weights.home_guide)
ASKED_FIELD = "asks"  # a section's written questions (kb/section_questions.yml)
ASK_BOOSTS = {"title": 3.0, "names": 2.0, "body": 1.0, ASKED_FIELD: 1.0}  # asks: CV on the tuning part with the
# first round's questions over 0, 0.25, 0.5, 1, 2, 3: R@1 0.829, 0.844, 0.844, 0.846, 0.844, 0.841, R@3 0.932,
# 0.951, 0.951, 0.949, 0.949, 0.946; with both rounds over 0.5, 1, 2: R@1 0.858, 0.858, 0.856, MRR 0.908, 0.909, 0.907
MIN_COVERAGE = 0.5        # below this (rarity-weighted) share of the question's words, say so instead of guessing
ENTITY_CENTRIC_EXTRA = 4  # a question naming an entity with at most this many other words is about the entity
ENTITY_SAYS_THE_REST = 0.5  # ... when its answer says at least this share of those words
RETRIEVE = 40             # sections and examples kept for the rerank
RETRIEVE_ENTITIES = 8     # reference entities kept apart: 3,700 of them would crowd 400 sections out of the pool
NEIGHBOURS = 5            # sections nearest in meaning added to the pool when BM25 missed them (`neighbours`)
POOL = 160                # retrieval depth both are drawn from
PROXIMITY_DEPTH = 20      # candidates (in the rerank's order) whose `passage_coverage` is measured: it analyzes
                          # every sentence of a section, ~80 ms of a cold ask for all 40-60; CV on the tuning part
                          # over all / 20 / 10: R@1 0.812 / 0.814 / 0.814, R@3 0.919 / 0.917 / 0.912
EXAMPLE_SHARE = 0.9       # an example's retrieval score counts this much for its section (`gather`)
NAMED_LIFT = 1.5          # an entity the question is about scores this much above the best candidate (`place_named`)
NAMED_BELOW_BEST = 0.9    # ... one it names among more words, this much of the best section's score
SAYS_THE_REST_PARTIAL = 2.0  # `says_the_rest` counts a multi-term form with this `partial`
SPECIFIC_PASSES = 2       # `prefer_specific`'s passes (a second settles chains: page > section > subsection)
SPECIFIC_MARGIN = 1e-9    # ... how much more of the question a section's heading path must say than its ancestor's
SPECIFIC_STEP = 1e-3      # ... and the share of its own score it is lifted by above the ancestor
QUOTE_SENTENCES = 2       # sentences quoted from a section (`key_sentences`)
SNIPPET_CHARS = 300       # a snippet's length before it is cut (`highlight`)
ANSWER_ENTITIES = 2       # named entities whose facts lead the answer (`compose`) ...
ANSWER_SOURCES = 2        # ... each with this many of the sections that name it
ANSWER_SECTION_DEPTH = 3  # the quoted section is the best section among this many results ...
SECTION_UNDER_ENTITY = 0.5  # ... left out when an entity leads and the section scores under this share of it
SAID_ACTIONS = 2          # actions the question describes in words, added to the pool (`said_actions`; CV on the
                          # tuning part over 0, 2, 4, 8: R@1 0.782, 0.795, 0.795, 0.795, R@3 0.905, 0.910, 0.907, 0.902)
HOWTO = re.compile(r"\b(how|allow|deny|restrict|prevent|stop|only|require|limit|control|policy|policies|example|"
                   r"grant|let|force|give|permissions? to|can'?t|cannot)\b", re.IGNORECASE)
DEFINITION = re.compile(r"\s*(what\s+(is|are)|what's|whats|define|definition\s+of|meaning\s+of)\b", re.IGNORECASE)
OVERVIEW = re.compile(r"(overview|introduction|what\s+(is|are))\b", re.IGNORECASE)
_WORD = re.compile(r"\S+")


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


def units(engine: Engine, query: Query, weights: Weights = WEIGHTS) -> list[Unit]:
    """The question's content words, each with the forms it may match (itself, correction, synonyms)."""
    drop = question_terms()
    synonyms = _phrase_synonyms(engine, query.text)
    out: list[Unit] = []
    seen: set[str] = set()
    for w in query.words:
        low = w.lower()
        if not is_content_word(low) or low in seen:
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


# What a question says when the qualified name it types with a space ("ec2 instance") is meant as that name.
SAYS_KIND = {"resource_type": re.compile(r"\bresource[- ]types?\b"),
             "condition_key": re.compile(r"\b(?:condition[- ])?keys?\b"),
             "action": re.compile(r"\b(?:actions?|permissions?|apis?)\b")}


def named_entities(engine: Engine, query: Query) -> list[str]:
    """Entity ids the question names: a qualified name (svc:Action, a condition key), a CamelCase action or
    resource type name as the reference spells it, or a managed policy name; and a qualified name typed with a
    space ("ec2 instance resource type arn") when the question says which kind of name it is (without that,
    "ec2 instance" is just words: most questions that say it are not about the resource type)."""
    found: list[str] = []
    for word in query.words:
        bare = word.strip("${}")
        low = bare.lower()
        fixed = query.corrections.get(word.lower())
        for name in (low, fixed):
            ids = engine.entities.get(name or "")
            if not ids:
                continue
            camel = sum(1 for c in bare if c.isupper()) >= 2 or ":" in bare
            if camel or ids[0].startswith("managed_policy:"):
                found.extend(i for i in ids[:1] if i not in found)
                break
    lowered = [w.strip("${}").lower() for w in query.words]
    text = query.text.lower()
    for service, name in zip(lowered, lowered[1:], strict=False):
        ids = engine.entities.get(f"{service}:{name}", [])[:1]
        kind = ids[0].split(":", 1)[0] if ids else ""
        if ids and ids[0] not in found and kind in SAYS_KIND and SAYS_KIND[kind].search(text):
            found.append(ids[0])
    return found


def retrieve(engine: Engine, query: Query) -> tuple[list[Hit], dict[int, float]]:
    """BM25F candidates: the best sections and examples, and apart from them the best few reference entities;
    and the scores of the whole retrieval depth (docnum -> score), which `neighbours` reads."""
    if not query.terms:
        return [], {}
    entity_docs = engine.entity_docnums()
    top = engine.top_docs(query.terms, ASK_BOOSTS, POOL)
    keep, n_docs, n_entities = [], 0, 0
    for score, docnum in top:
        if docnum in entity_docs:
            if n_entities < RETRIEVE_ENTITIES:
                n_entities += 1
                keep.append((score, docnum))
        elif n_docs < RETRIEVE:
            n_docs += 1
            keep.append((score, docnum))
    return [engine.hit(docnum, score) for score, docnum in keep], {docnum: score for score, docnum in top}


def neighbours(engine: Engine, hits: list[Hit], depth: dict[int, float], question_vector) -> list[Hit]:
    """Sections nearest to the question in meaning that lexical retrieval left out (hybrid retrieval): a
    question in words the docs do not use ("does the CMK for ASG EBS encryption have to be symmetric") may share
    too few of them with its answer to be among BM25's best 40 (scored as `pooled` says)."""
    sem = engine.semantic()
    if sem is None or question_vector is None:
        return []
    have = {h.id for h in hits}
    # sections only (ids guide/page#anchor; entities are kind:name, examples have no vector)
    ids = sem.nearest(question_vector, NEIGHBOURS, lambda i: i not in have and "#" in i and ":" not in i)
    return pooled(engine, ids, depth)


def pooled(engine: Engine, ids: list[str], depth: dict[int, float]) -> list[Hit]:
    """Documents added to the pool by other means than BM25's best: each keeps its BM25 score when it is within
    the retrieval depth, else the lowest score there (an upper bound: scoring it exactly would cost a second
    search, as long as the first)."""
    floor = min(depth.values(), default=0.0)
    docs = [d for d in (engine.document(i) for i in ids) if d is not None]
    for d in docs:
        d.score = depth.get(d.docnum, floor)
    return docs


def said_actions(engine: Engine, query: Query) -> list[str]:
    """The actions whose name the question says in words, in any order and form: "detach instance from asg iam
    permission" says autoscaling:DetachInstances, "roll back an instance refresh" RollbackInstanceRefresh (two
    words typed as one name's word count too). Only names of at least two words, only the longest of those
    said (not DeleteGroup where DeleteAutoScalingGroup is said), Auto Scaling's first, at most SAID_ACTIONS.
    Why: among 3,700 reference entities, BM25 leaves such an action out of the pool when its words are common
    ones, and 7 of batch 7's tuning questions asked for one that way."""
    content = [w for w in query.words if is_content_word(w.lower())]
    typed = [query.corrections.get(w.lower(), w) for w in content]
    words = set(analyze(" ".join(content + typed)))
    words |= {t for a, b in zip(typed, typed[1:], strict=False) for t in analyze(a + b)}
    said = [i for w in sorted(words) for i in engine.actions_by_word.get(w, ())
            if len(engine.action_words[i]) > 1 and engine.action_words[i] <= words]
    longest = [i for i in said if not any(engine.action_words[i] < engine.action_words[j] for j in said)]
    home = f"action:{HOME_GUIDE}:"
    return sorted(longest, key=lambda i: (not i.startswith(home), -len(engine.action_words[i]), i))[:SAID_ACTIONS]


def candidates(engine: Engine, query: Query, named: list[str], question_units: list[Unit],
               semantic: bool = True) -> list[Candidate]:
    """Everything the rerank weighs: the lexical and semantic pools gathered into candidates, each with its
    similarity to the question (`semantic` off: lexical only, no model loaded)."""
    hits, depth = retrieve(engine, query)
    sem = engine.semantic() if semantic else None
    question_vector = sem.question_vector(query.text) if sem is not None else None
    if question_vector is not None:
        hits += neighbours(engine, hits, depth, question_vector)
    said = said_actions(engine, query)
    have = {h.id for h in hits}
    hits += pooled(engine, [i for i in said if i not in have], depth)
    out = gather(engine, query, hits, named, question_units)
    for c in out:
        c.said = c.hit.id in said
    if question_vector is not None:
        ids = [c.hit.id for c in out]
        sims = sem.similarities(question_vector, ids)
        passages = sem.passage_similarities(question_vector, ids)
        for c in out:
            c.similarity = sims.get(c.hit.id, 0.0)
            c.passage_similarity = passages.get(c.hit.id)
    return out


def gather(engine: Engine, query: Query, hits: list[Hit], named: list[str],
           question_units: list[Unit]) -> list[Candidate]:
    """Candidates from the hits (an example counts for its section), the named entities, and the question
    terms each one holds in any field the rerank reads."""
    by_id: dict[str, Candidate] = {}
    for h in hits:
        if h.kind == "example":
            section = h.data.get("section")
            if not section:
                continue
            cand = by_id.get(section)
            if cand is None:
                doc = engine.document(section)
                if doc is None:
                    continue
                cand = by_id[section] = Candidate(hit=doc)
            cand.hit.score = max(cand.hit.score, h.score * EXAMPLE_SHARE)
            cand.examples.append((h.score, h.id))
            continue
        cand = by_id.get(h.id)
        if cand is None:
            by_id[h.id] = Candidate(hit=h)
        else:  # the section was first seen through one of its examples
            cand.hit = Hit(**{**h.__dict__, "score": max(h.score, cand.hit.score)})
    for ident in named:
        if ident not in by_id:
            doc = engine.document(ident)
            if doc is not None:
                by_id[ident] = Candidate(hit=doc)
    all_terms = sorted(set().union(*(u.terms for u in question_units))) if question_units else []
    # what the documents say; their written questions apart (`asked_terms`): the abstention reads the docs' words
    docs_of = engine.term_docs(all_terms, [f for f in ASK_BOOSTS if f != ASKED_FIELD],
                               [c.hit.docnum for c in by_id.values()] + [h.docnum for h in hits])
    phrases = {t for t in all_terms if t.startswith(PHRASE)}
    for c in by_id.values():
        c.matched = {t for t, docs in docs_of.items() if c.hit.docnum in docs}
        heading = " / ".join(c.hit.data.get("path") or [c.hit.title])
        c.heading = set(analyze(heading)) | phrases_in(heading, phrases)
        c.matched |= c.heading & phrases | phrases_in(f"{c.hit.title}\n{c.hit.body}", phrases)
    for h in hits:
        if h.kind == "example" and h.data.get("section") in by_id:
            by_id[h.data["section"]].matched |= {t for t, docs in docs_of.items() if h.docnum in docs}
    asked_by = engine.term_docs(all_terms, [ASKED_FIELD], [c.hit.docnum for c in by_id.values()])
    for c in by_id.values():
        c.asked_terms = {t for t, docs in asked_by.items() if c.hit.docnum in docs}
    return list(by_id.values())


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


def rerank(engine: Engine, query: Query, candidates: list[Candidate], named: list[str],
           question_units: list[Unit], weights: Weights = WEIGHTS) -> list[Candidate]:
    """Order the candidates by retrieval score times the evidence BM25 does not weigh (see the module doc)."""
    if not candidates:
        return []
    top = max(c.hit.score for c in candidates) or 1.0
    question_terms = set(query.terms)
    definition = bool(DEFINITION.match(query.text))
    for c in candidates:
        title_terms = set(analyze(c.hit.title))
        c.text_coverage = coverage(c.matched, question_units, weights.partial)
        c.coverage = coverage(c.matched | c.asked_terms, question_units, weights.partial)
        c.heading_coverage = coverage(c.heading, question_units, weights.partial)
        c.asked = coverage(c.asked_terms, question_units, weights.partial)
        c.title_precision = len(title_terms & question_terms) / len(title_terms) if title_terms else 0.0
        c.overview = definition and is_overview(c.hit)
        kind = weights.entity if c.hit.kind in ENTITY_KINDS else 1.0
        if c.hit.guide == HOME_GUIDE:
            kind *= 1.0 + weights.home_guide
        if c.overview:
            kind *= 1.0 + weights.definition
        c.score = (c.hit.score / top) ** weights.bm25_power * (weights.cover_base + c.coverage) \
            * (1.0 + weights.heading_cover * c.heading_coverage + weights.title_precision * c.title_precision) \
            * kind * math.exp(weights.semantic * c.similarity)
        c.hit.matched = frozenset(c.matched)
    ranked = sorted(candidates, key=lambda c: (-c.score, c.hit.id))
    if named:
        ranked = place_named(engine, query, ranked, named, question_units)
    if weights.specific_top:
        ranked = prefer_specific(ranked, weights.specific_top)
    for c in ranked[:PROXIMITY_DEPTH]:
        c.passage_coverage = passage_coverage(c, question_units, weights.partial)
    return ranked


def place_named(engine: Engine, query: Query, ranked: list[Candidate], named: list[str],
                question_units: list[Unit]) -> list[Candidate]:
    """Put the entities a question names first when the question is about them ("iam:PassRole", "DeleteTags
    access level": few other words, and the entity's answer says them), and right below the best section when
    it asks more ("example with aws:SourceArn and
    aws:SourceAccount for the autoscaling role" wants the section that shows them)."""
    wanted = set(named)
    own = set().union(*(set(analyze(w)) for w in query.words
                        if wanted & set(engine.entities.get(w.strip("${}").lower(), [])[:1])
                        or wanted & set(engine.entities.get(query.corrections.get(w.lower(), ""), [])[:1])))
    extra = [Unit(u.word, u.forms) for u in question_units if not (u.terms & own)]  # counted, not weighed
    by_id = {c.hit.id: c for c in ranked}
    lifted = ranked[0].score * NAMED_LIFT
    best = max((c.score for c in ranked if c.hit.kind not in ENTITY_KINDS), default=0.0)
    for ident in named:
        c = by_id.get(ident)
        if c is None:
            continue
        if len(extra) <= ENTITY_CENTRIC_EXTRA and says_the_rest(c.hit, extra):
            c.score = max(c.score, lifted)
        elif best:
            c.score = best * NAMED_BELOW_BEST
    return sorted(ranked, key=lambda c: (-c.score, c.hit.id))


def named_before_namesakes(ranked: list[Candidate], named: list[str]) -> list[Candidate]:
    """No reference entity the question does not name ranks above one it names: "ssm:GetParameters" put
    ssm:GetParameter first (the same words once stemmed), which is another action. Sections keep their places."""
    first = next((i for i, c in enumerate(ranked) if c.hit.id in named), None)
    if first is None:
        return ranked
    above = [c for c in ranked[:first] if c.hit.kind in ENTITY_KINDS and c.hit.id not in named]
    if not above:
        return ranked
    moved = {c.hit.id for c in above}
    return [c for c in ranked[:first + 1] if c.hit.id not in moved] + above + ranked[first + 1:]


def says_the_rest(entity: Hit, extra: list[Unit]) -> bool:
    """Whether an entity's answer says the question's words beside its name: "DeleteTags access level" and
    "autoScalingGroup arn format" are answered by the reference line (access level, ARN), "is PassRole logged
    in CloudTrail" is not (it wants the section on PassRole in CloudTrail logs)."""
    if not extra:
        return True
    text = " ".join([entity.title, entity.body, entity.data.get("answer", "")])
    return coverage(set(analyze(text)), extra, SAYS_THE_REST_PARTIAL) >= ENTITY_SAYS_THE_REST


def prefer_specific(ranked: list[Candidate], depth: int) -> list[Candidate]:
    """A section ranks above an enclosing section of it (both near the top) when its heading path (its
    ancestors' titles and its own) says more of the question: "vpc endpoint policy" wants "Create a VPC endpoint
    policy" under the page "Amazon EC2 Auto Scaling and interface VPC endpoints", which BM25 prefers because the
    page repeats "Auto Scaling". Siblings lifted over the same section keep their order."""
    head = ranked[:depth]
    by_id = {c.hit.id: c for c in head}
    heading = {c.hit.id: c.heading_coverage for c in head}
    changed = False
    for _ in range(SPECIFIC_PASSES):
        for low in head:
            for ident in low.hit.data.get("ancestors", []):
                high = by_id.get(ident)
                if high is not None and heading[low.hit.id] > heading[ident] + SPECIFIC_MARGIN and low.score <= high.score:
                    low.score = high.score + SPECIFIC_STEP * low.score
                    changed = True
    return sorted(ranked, key=lambda c: (-c.score, c.hit.id)) if changed else ranked


@lru_cache(maxsize=2048)
def sentence_terms(text: str) -> tuple[tuple[str, frozenset[str]], ...]:
    """A text's sentences with their index terms, memoized: the same sections come back question after
    question in a batch, and analyzing their sentences again was a fifth of the time per question."""
    return tuple((s, frozenset(analyze(s))) for s in sentences(text))


def key_sentences(text: str, terms: set[str], limit: int = QUOTE_SENTENCES) -> list[str]:
    """The sentences of a text that carry most of the question's terms (in text order), for quoting."""
    analyzed = sentence_terms(text)
    if not analyzed:
        return []
    scored = [(len(t & terms), -i, s) for i, (s, t) in enumerate(analyzed)]
    best = sorted(scored, reverse=True)[:limit]
    if best[0][0] == 0:
        return [analyzed[0][0]]
    keep = sorted((-i, s) for n, i, s in best if n > 0)
    return [s for _, s in keep]


def highlight(sentence: str, terms: set[str], limit: int = SNIPPET_CHARS) -> str:
    """HTML-escaped text with the words that match the question's terms in <mark>."""
    sentence = sentence[:limit] + ("…" if len(sentence) > limit else "")
    out, pos = [], 0
    for m in _WORD.finditer(sentence):
        out.append(html.escape(sentence[pos:m.start()], quote=False))
        word = m.group()
        core = word.strip(".,;:()[]\"'")
        hit = bool(core) and bool(set(analyze(core)) & terms)
        out.append(f"<mark>{html.escape(word, quote=False)}</mark>" if hit else html.escape(word, quote=False))
        pos = m.end()
    out.append(html.escape(sentence[pos:], quote=False))
    return "".join(out)


def snippet(c: Candidate, terms: set[str]) -> str:
    if c.hit.kind in ENTITY_KINDS and c.hit.data.get("answer"):
        return highlight(c.hit.data["answer"], terms)
    return highlight(" ".join(key_sentences(c.hit.body, terms)), terms)


def _example_code(engine: Engine, c: Candidate) -> tuple[str, str] | None:
    ids = [i for _, i in sorted(c.examples, reverse=True)] or list(c.hit.data.get("examples", []))
    for ident in ids:
        doc = engine.document(ident)
        if doc is not None and doc.data.get("code"):
            return ident, doc.data["code"]
    return None


def answer_parts(engine: Engine, question: str, query: Query, ranked: list[Candidate], named: list[str]) -> dict:
    """What the answer says, as data each front end renders (`compose` as the CLI's text, the site as links):
    {"declined": bool, "closest": id (declined) | None, "entities": [{"id", "answer"}], "section": {"id",
    "title", "quote"} | None, "example": {"id", "section", "code"} | None, "lead": {"id", "title", "text"} |
    None (no section and no entity: the best result's own words), "citations": [{"id", "title", "url"}]}."""
    terms = set(query.terms)
    parts: dict = {"declined": False, "closest": None, "entities": [], "section": None, "example": None,
                   "lead": None, "citations": []}
    cited: list[tuple[str, str, str]] = []
    # Abstention: no candidate carries half of the question's words, weighted by rarity (the coverage the rerank
    # measured of its own text: a section's written questions are the KB's paraphrases, not what the docs say; counted
    # in, 4 more of the 70 unanswerable questions were answered). Why weighted: the word a question turns on is
    # usually its rarest ("Karpenter", "sourdough", "vacation"); counted plainly over the best three, 8 of the first
    # 14 unanswerable questions were declined (3 answerable tuning questions wrongly), weighted over all candidates 14
    # (9); the blind batch 5 of 46 unanswerable ones then confirmed it: 36 -> 42 declined.
    best_cov = max((c.text_coverage for c in ranked), default=0.0)
    if not ranked or (not named and best_cov < MIN_COVERAGE):
        parts["declined"] = True
        if ranked:
            top = ranked[0].hit
            parts["closest"] = top.id
            cited.append((top.id, top.title, top.url))
    else:
        for ident in named[:ANSWER_ENTITIES]:
            doc = next((c.hit for c in ranked if c.hit.id == ident), None)
            if doc is not None and doc.data.get("answer"):
                parts["entities"].append({"id": doc.id, "answer": doc.data["answer"]})
                cited.append((doc.id, doc.title, doc.url))
                cited.extend((s["id"], _title_of(engine, s["id"]), s["url"])
                             for s in doc.data.get("sources", [])[:ANSWER_SOURCES])
        section = next((c for c in ranked[:ANSWER_SECTION_DEPTH] if c.hit.kind == "section"), None)
        if section is not None and not (named and ranked[0].hit.kind in ENTITY_KINDS and section is not ranked[0]
                                        and section.score < ranked[0].score * SECTION_UNDER_ENTITY):
            quote = " ".join(key_sentences(section.hit.body, terms))
            if quote:
                parts["section"] = {"id": section.hit.id, "title": section.hit.title, "quote": quote}
                cited.append((section.hit.id, section.hit.title, section.hit.url))
            if HOWTO.search(question):
                example = _example_code(engine, section)
                if example:
                    parts["example"] = {"id": example[0], "section": section.hit.id, "code": example[1].strip()}
                    cited.append((example[0], _title_of(engine, example[0]), section.hit.url))
        elif not parts["entities"]:
            top = ranked[0].hit
            parts["lead"] = {"id": top.id, "title": top.title,
                             "text": top.data.get("answer") or " ".join(key_sentences(top.body, terms))}
            cited.append((top.id, top.title, top.url))
    seen: dict[str, dict] = {}
    for ident, title, url in cited:
        seen.setdefault(ident, {"id": ident, "title": title, "url": url})
    parts["citations"] = list(seen.values())
    return parts


def _title_of(engine: Engine, ident: str) -> str:
    doc = engine.document(ident)
    return doc.title if doc is not None else ident


def compose(parts: dict) -> str:
    """The answer as the CLI prints it: entity facts, then the best section quoted, then its example policy for a
    how-to, then every source by id and URL (`answer_parts` decides what it says)."""
    urls = {c["id"]: c["url"] for c in parts["citations"]}
    if parts["declined"]:
        closest = parts["closest"]
        said = f" The closest match, \"{_cited_title(parts, closest)}\" ({closest} <{urls[closest]}>), " \
               f"covers too little of the question." if closest else ""
        return ("Nothing in the knowledge base answers this confidently." + said
                + " Try other words, or `iamkb search` for plain full-text results.")
    text = [e["answer"] for e in parts["entities"]]
    if parts["section"]:
        s = parts["section"]
        text.append(f"From \"{s['title']}\" ({urls[s['id']]}): \"{s['quote']}\"")
    if parts["example"]:
        text.append(f"Example policy ({parts['example']['id']}):\n{parts['example']['code']}")
    if parts["lead"]:
        text.append(f"{parts['lead']['title']}: {parts['lead']['text']}")
    text.append("Sources: " + "; ".join(f"{c['id']} <{c['url']}>" for c in parts["citations"]))
    return "\n\n".join(text)


def _cited_title(parts: dict, ident: str) -> str:
    return next(c["title"] for c in parts["citations"] if c["id"] == ident)


def ask(engine: Engine, question: str, limit: int = 10, weights: Weights = WEIGHTS, learned: bool = True) -> dict:
    """The answer and its ranked sources (`weights` other than the defaults, or `learned` off: for benchmarks
    and tuning). The learned ranker (`iamkb.search.learned`) has the last word: the one over the semantic
    features when the index has vectors, else the lexical one; "ranking" says whether the semantic signals took
    part ("full") or the index has no vectors (yet) and the lexical signals alone answered ("lexical")."""
    query = engine.parse(question)
    named = named_entities(engine, query)
    question_units = units(engine, query, weights)
    pool = candidates(engine, query, named, question_units, semantic=bool(weights.semantic))  # off: no numpy
    ranked = rerank(engine, query, pool, named, question_units, weights)
    ranker = engine.ranker() if learned and weights.semantic else None  # semantic 0 (a benchmark): the rerank
    if ranker is not None:
        from iamkb.search.learned import apply

        ranked = apply(ranker, ranked)
    ranked = named_before_namesakes(ranked, named)
    terms = set(query.terms)
    results = [{**c.hit.result(), "score": round(c.learned if c.learned is not None else c.score, 4),
                "snippet": snippet(c, terms)} for c in ranked[:limit]]
    parts = answer_parts(engine, question, query, ranked, named)
    return {"question": question, "answer": compose(parts), "parts": parts, "citations": parts["citations"],
            "corrections": dict(query.corrections), "results": results, "ranking": "full" if weights.semantic and engine.semantic() is not None else "lexical"}


__all__ = ["ask"]
