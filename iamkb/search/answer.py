"""Ask: the question through every stage, and the answer composed in the words of the docs, as data.

The stages (each its own module): the query (`Engine.parse`: terms, spelling, synonyms), the candidate pools
(`iamkb.search.retrieval`), the features (`iamkb.search.features`), the ranking (`iamkb.search.ranking`: the
rerank, its rules and the learned ranker), then this module's composition: an `Answer` of parts (the named
entities' facts, the quoted section, its example policy for a how-to question, the citations), which each front
end renders its own way: `render_text` for the CLI (the JSON's "answer" string), the JSON's "citations" and
"parts" for the API and the site's Ask page.
"""

from __future__ import annotations

import html
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from iamkb.search.analysis import analyze
from iamkb.search.documents import ENTITY_KINDS
from iamkb.search.engine import Engine, Query
from iamkb.search.features import Candidate, sentence_terms, units
from iamkb.search.params import Weights
from iamkb.search.ranking import named_before_namesakes, rank
from iamkb.search.retrieval import candidates, named_entities

                          # tuning part over 0, 2, 4, 8: R@1 0.782, 0.795, 0.795, 0.795, R@3 0.905, 0.910, 0.907, 0.902)
HOWTO = re.compile(r"\b(how|allow|deny|restrict|prevent|stop|only|require|limit|control|policy|policies|example|"
                   r"grant|let|force|give|permissions? to|can'?t|cannot)\b", re.IGNORECASE)
_WORD = re.compile(r"\S+")
QUOTE_SENTENCES = 2       # sentences quoted from a section (`key_sentences`)
SNIPPET_CHARS = 300       # a snippet's length before it is cut (`highlight`)
ANSWER_ENTITIES = 2       # named entities whose facts lead the answer (`compose`) ...
ANSWER_SOURCES = 2        # ... each with this many of the sections that name it
ANSWER_SECTION_DEPTH = 3  # the quoted section is the best section among this many results


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


@dataclass
class Citation:
    id: str
    title: str
    url: str  # upstream (the AWS documentation page; for a reference entry, its Service Authorization page)


@dataclass
class Answer:
    """What ask says, as parts for each front end to render (`render_text` is the CLI's)."""

    declined: bool = False
    facts: list[dict[str, str]] = field(default_factory=list)  # the named entities' one-line answers: {id, text}
    quote: dict[str, str] | None = None    # the best section's key sentences: {id, title, url, text}
    example: dict[str, str] | None = None  # its example policy, for a how-to question: {id, section, code}
    summary: dict[str, str] | None = None  # the best result's line when no section is quoted: {id, title, text}
    closest: dict[str, str] | None = None  # when declined: the best result, {id, title, url}
    citations: list[Citation] = field(default_factory=list)  # every id the parts come from, first mention first

    def parts(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "citations"}


def compose(engine: Engine, question: str, query: Query, ranked: list[Candidate], named: list[str]) -> Answer:
    """The answer: entity facts, then the best section quoted, then its example policy for a how-to."""
    terms = set(query.terms)
    # Abstention: no candidate carries enough of the question's words, weighted by rarity (the coverage of the
    # docs' own text: a section's written questions are the KB's paraphrases, not what the docs say).
    best_cov = max((c.text_coverage for c in ranked), default=0.0)
    rules = engine.params.rules
    if not ranked or (not named and best_cov < rules.min_coverage):
        top = ranked[0].hit if ranked else None
        return Answer(declined=True, closest={"id": top.id, "title": top.title, "url": top.url} if top else None)
    out = Answer()
    cited: list[tuple[str, str]] = []
    for ident in named[:ANSWER_ENTITIES]:
        doc = next((c.hit for c in ranked if c.hit.id == ident), None)
        if doc is not None and doc.data.get("answer"):
            out.facts.append({"id": doc.id, "text": doc.data["answer"]})
            cited.append((doc.id, doc.url))
            cited.extend((s["id"], s["url"]) for s in doc.data.get("sources", [])[:ANSWER_SOURCES])
    section = next((c for c in ranked[:ANSWER_SECTION_DEPTH] if c.hit.kind == "section"), None)
    if section is not None and not (named and ranked[0].hit.kind in ENTITY_KINDS and section is not ranked[0]
                                    and section.score < ranked[0].score * rules.quote_beside_entity):
        quote = " ".join(key_sentences(section.hit.body, terms))
        if quote:
            out.quote = {"id": section.hit.id, "title": section.hit.title, "url": section.hit.url, "text": quote}
            cited.append((section.hit.id, section.hit.url))
        if HOWTO.search(question):
            example = _example_code(engine, section)
            if example:
                out.example = {"id": example[0], "section": section.hit.id, "code": example[1].strip()}
                cited.append((example[0], section.hit.url))
    elif not out.facts:
        top = ranked[0].hit
        out.summary = {"id": top.id, "title": top.title,
                       "text": top.data.get("answer") or " ".join(key_sentences(top.body, terms))}
        cited.append((top.id, top.url))
    seen: dict[str, str] = {}
    for ident, url in cited:
        seen.setdefault(ident, url)
    out.citations = [Citation(i, _title(engine, i, ranked), u) for i, u in seen.items()]
    return out


def _title(engine: Engine, ident: str, ranked: list[Candidate]) -> str:
    hit = next((c.hit for c in ranked if c.hit.id == ident), None) or engine.document(ident)
    return hit.title if hit is not None else ident


def render_text(answer: Answer) -> str:
    """The answer as the CLI prints it (and the JSON's "answer" field): the parts in order, then the sources."""
    if answer.declined:
        closest = answer.closest
        near = f" The closest match, \"{closest['title']}\" ({closest['id']} <{closest['url']}>), covers too " \
               "little of the question." if closest else ""
        return ("Nothing in the knowledge base answers this confidently." + near
                + " Try other words, or `iamkb search` for plain full-text results.")
    parts = [f["text"] for f in answer.facts]
    if answer.quote:
        parts.append(f"From \"{answer.quote['title']}\" ({answer.quote['url']}): \"{answer.quote['text']}\"")
    if answer.example:
        parts.append(f"Example policy ({answer.example['id']}):\n{answer.example['code']}")
    if answer.summary:
        parts.append(f"{answer.summary['title']}: {answer.summary['text']}")
    parts.append("Sources: " + "; ".join(f"{c.id} <{c.url}>" for c in answer.citations))
    return "\n\n".join(parts)


def ask(engine: Engine, question: str, limit: int = 10, weights: Weights | None = None,
        learned: bool = True) -> dict:
    """The answer and its ranked sources (`weights` other than the index's, or `learned` off: for benchmarks
    and tuning). The learned ranker has the last word: the one for the signals at hand (`Engine.space`), with
    the lexical weights when there are no vectors; "ranking" says which: MiniLM's vectors took part ("full"),
    the in-page engine's token vectors ("static"), or the index has no vectors (yet) and the lexical signals
    alone answered ("lexical")."""
    weights = weights or (engine.params.weights if engine.semantic() is not None else engine.params.lexical_weights)
    query = engine.parse(question)
    named = named_entities(engine, query)
    question_units = units(engine, query, weights)
    pool = candidates(engine, query, named, question_units, semantic=bool(weights.semantic))  # off: no numpy
    ranked = named_before_namesakes(rank(engine, query, named, question_units, pool, weights, learned), named)
    terms = set(query.terms)
    results = [{**c.hit.result(), "score": round(c.learned if c.learned is not None else c.score, 4),
                "snippet": snippet(c, terms)} for c in ranked[:limit]]
    answer = compose(engine, question, query, ranked, named)
    return {"question": question, "answer": render_text(answer), "results": results,
            "ranking": engine.space() if weights.semantic else "lexical",
            "citations": [asdict(c) for c in answer.citations], "parts": answer.parts(),
            "corrections": dict(query.corrections)}


__all__ = ["Answer", "ask", "compose", "render_text"]
