"""Ask: retrieve, rerank, and compose an answer in the words of the docs, citing every source by id and URL.

Retrieval is the same BM25F index as search; the rerank adds what BM25 does not see: how many of the question's
words a document covers (a section that answers "deleting scaling policies on production groups" covers most of
them, a long page that repeats "policy" covers few), whether its title says it, the kind of document (a
reference entity answers a question about that entity, a section answers a how-to), and the reference entity a
question names outright. Examples count for the section they belong to.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from iamkb.search.analysis import STOPS, analyze
from iamkb.search.documents import ENTITY_KINDS
from iamkb.search.engine import QUESTION_WORDS, Engine, Hit, Query

# Tuned on the tuning part of kb/questions.yml.
ASK_BOOSTS = {"title": 3.0, "names": 2.0, "body": 1.0}
ENTITY_WEIGHT = 0.55      # an entity the question does not name is rarely the answer to a question in words
MIN_COVERAGE = 0.5        # below this share of the question's words matched, say so instead of guessing
ENTITY_CENTRIC_EXTRA = 2  # a question naming an entity with at most this many other words is about the entity
RETRIEVE = 40
TITLE_COVER = 1.0         # weight of the share of the question's words the title says
TITLE_PRECISION = 0.0     # weight of the share of the title's words the question says
HOWTO = re.compile(r"\b(how|allow|deny|restrict|prevent|stop|only|require|limit|control|policy|policies|example|"
                   r"grant|let|force|give|permissions? to|can'?t|cannot)\b", re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_WORD = re.compile(r"\S+")


@dataclass
class Candidate:
    """A section or entity competing for the answer, with the evidence the rerank weighs."""

    hit: Hit
    score: float = 0.0
    matched: set[str] = field(default_factory=set)
    examples: list[tuple[float, str]] = field(default_factory=list)  # (retrieval score, example id)


def units(engine: Engine, query: Query) -> list[set[str]]:
    """The question's content words, each as the set of index terms it may match (itself, correction, synonyms)."""
    out: list[set[str]] = []
    for w in query.words:
        low = w.lower()
        if low in STOPS or low in QUESTION_WORDS:
            continue
        terms = set(analyze(w))
        if low in query.corrections:
            terms |= set(analyze(query.corrections[low]))
        for expansion in engine.synonyms.get(low, []):
            terms |= set(analyze(expansion))
        terms -= set(analyze(" ".join(QUESTION_WORDS)))
        if terms:
            out.append(terms)
    return out


def coverage(matched: set[str], question_units: list[set[str]]) -> float:
    if not question_units:
        return 0.0
    return sum(1 for u in question_units if u & matched) / len(question_units)


def named_entities(engine: Engine, query: Query) -> list[str]:
    """Entity ids the question names: a qualified name (svc:Action, a condition key), a CamelCase action or
    resource type name as the reference spells it, or a managed policy name."""
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
    return found


def rerank(engine: Engine, query: Query, hits: list[Hit], named: list[str]) -> list[Candidate]:
    question_units = units(engine, query)
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
            cand.hit.score = max(cand.hit.score, h.score * 0.9)
            cand.matched |= h.matched
            cand.examples.append((h.score, h.id))
            continue
        cand = by_id.setdefault(h.id, Candidate(hit=h))
        if cand.hit is not h:  # the section was first seen through one of its examples
            cand.hit = Hit(**{**h.__dict__, "score": max(h.score, cand.hit.score)})
        cand.matched |= h.matched
    for ident in named:
        if ident not in by_id:
            doc = engine.document(ident)
            if doc is not None:
                by_id[ident] = Candidate(hit=doc)
    if not by_id:
        return []
    docs_of = engine.term_docs(sorted(set().union(*question_units)) if question_units else [], list(ASK_BOOSTS),
                               [c.hit.docnum for c in by_id.values()] + [h.docnum for h in hits])
    for c in by_id.values():
        c.matched |= {t for t, docs in docs_of.items() if c.hit.docnum in docs}
    for h in hits:
        if h.kind == "example" and h.data.get("section") in by_id:
            by_id[h.data["section"]].matched |= {t for t, docs in docs_of.items() if h.docnum in docs}
    top = max(c.hit.score for c in by_id.values()) or 1.0
    all_terms = set().union(*question_units) if question_units else set()
    for c in by_id.values():
        title_terms = set(analyze(c.hit.title))
        cov = coverage(c.matched, question_units)
        title_cov = coverage(title_terms, question_units)
        # how much of the title the question says: a short title the question repeats is the topic asked about
        title_prec = len(title_terms & all_terms) / len(title_terms) if title_terms else 0.0
        weight = ENTITY_WEIGHT if c.hit.kind in ENTITY_KINDS else 1.0
        c.score = (c.hit.score / top) * (0.4 + cov) * (1.0 + TITLE_COVER * title_cov + TITLE_PRECISION * title_prec) \
            * weight
        c.hit.matched = frozenset(c.matched)
    ranked = sorted(by_id.values(), key=lambda c: (-c.score, c.hit.id))
    if named and ranked:
        own = set().union(*(set(analyze(w)) for w in query.words if engine.entities.get(w.strip("${}").lower())))
        extra = [u for u in question_units if not (u & own)]
        best = ranked[0].score
        lifted = best * (1.5 if len(extra) <= ENTITY_CENTRIC_EXTRA else 0.9)
        for ident in named:
            by_id[ident].score = max(by_id[ident].score, lifted)
        ranked = sorted(by_id.values(), key=lambda c: (-c.score, c.hit.id))
    return ranked


def key_sentences(text: str, terms: set[str], limit: int = 2) -> list[str]:
    """The sentences of a text that carry most of the question's terms (in text order), for quoting."""
    sentences = [s.strip() for s in _SENTENCE.split(text) if s and s.strip() and s.strip() != "|"]
    if not sentences:
        return []
    scored = [(len(set(analyze(s)) & terms), -i, s) for i, s in enumerate(sentences)]
    best = sorted(scored, reverse=True)[:limit]
    if best[0][0] == 0:
        return sentences[:1]
    keep = sorted((-i, s) for n, i, s in best if n > 0)
    return [s for _, s in keep]


def highlight(sentence: str, terms: set[str], limit: int = 300) -> str:
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


def compose(engine: Engine, question: str, query: Query, ranked: list[Candidate], named: list[str]) -> str:
    """The answer text: entity facts, then the best section quoted, then its example policy for a how-to."""
    terms = set(query.terms)
    best_cov = max((coverage(set(c.hit.matched), units(engine, query)) for c in ranked[:3]), default=0.0)
    if not ranked or (not named and best_cov < MIN_COVERAGE):
        closest = f" The closest match, \"{ranked[0].hit.title}\" ({ranked[0].hit.id}), covers too little of " \
                  f"the question." if ranked else ""
        return ("Nothing in the knowledge base answers this confidently." + closest
                + " Try other words, or `iamkb search` for plain full-text results.")
    parts: list[str] = []
    cited: list[tuple[str, str]] = []
    for ident in named[:2]:
        doc = next((c.hit for c in ranked if c.hit.id == ident), None)
        if doc is not None and doc.data.get("answer"):
            parts.append(doc.data["answer"])
            cited.append((doc.id, doc.url))
            cited.extend((s["id"], s["url"]) for s in doc.data.get("sources", [])[:2])
    section = next((c for c in ranked[:3] if c.hit.kind == "section"), None)
    if section is not None and not (named and ranked[0].hit.kind in ENTITY_KINDS and section is not ranked[0]
                                    and section.score < ranked[0].score * 0.5):
        quote = " ".join(key_sentences(section.hit.body, terms))
        if quote:
            parts.append(f"From \"{section.hit.title}\" ({section.hit.url}): \"{quote}\"")
            cited.append((section.hit.id, section.hit.url))
        if HOWTO.search(question):
            example = _example_code(engine, section)
            if example:
                parts.append(f"Example policy ({example[0]}):\n{example[1].strip()}")
                cited.append((example[0], section.hit.url))
    elif not parts:
        top = ranked[0].hit
        parts.append(f"{top.title}: {top.data.get('answer') or ' '.join(key_sentences(top.body, terms))}")
        cited.append((top.id, top.url))
    seen: dict[str, str] = {}
    for ident, url in cited:
        seen.setdefault(ident, url)
    parts.append("Sources: " + "; ".join(f"{i} <{u}>" for i, u in seen.items()))
    return "\n\n".join(parts)


def ask(engine: Engine, question: str, limit: int = 10) -> dict:
    query = engine.parse(question)
    named = named_entities(engine, query)
    hits = engine.run(engine.whoosh_query(query.terms, ASK_BOOSTS), limit=RETRIEVE, snippets=False) \
        if query.terms else []
    ranked = rerank(engine, query, hits, named)
    terms = set(query.terms)
    results = [{**c.hit.result(), "score": round(c.score, 4), "snippet": snippet(c, terms)} for c in ranked[:limit]]
    return {"question": question, "answer": compose(engine, question, query, ranked, named), "results": results}


__all__ = ["ask"]
