"""Ask's candidate pools: which documents compete for the answer, before any is ranked.

Lexical retrieval is the index's BM25F (Whoosh's own scores, summed from memoized postings: Engine.top_docs),
with sections and examples drawn apart from the reference entities, so that thousands of entities cannot crowd a
few hundred sections out; then the sections nearest in meaning that BM25 missed (when the index has vectors),
the actions the question says in words, and the entities it names outright. `gather` folds examples into their
section and records which of the question's terms each candidate holds (in its text, in its heading path, in its
written questions), which the features (`iamkb.search.features`) measure.
"""

from __future__ import annotations

import re

from iamkb.search.analysis import analyze
from iamkb.search.engine import Engine, Hit, Query, is_content_word
from iamkb.search.features import HOME_GUIDE, PHRASE, Candidate, Unit, phrases_in

ASKED_FIELD = "asks"  # a section's written questions (kb/section_questions.yml)

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
    pools = engine.params.pools
    top = engine.top_docs(query.terms, engine.params.ask_boosts, pools.depth)
    keep, n_docs, n_entities = [], 0, 0
    for score, docnum in top:
        if docnum in entity_docs:
            if n_entities < pools.retrieve_entities:
                n_entities += 1
                keep.append((score, docnum))
        elif n_docs < pools.retrieve:
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
    ids = sem.nearest(question_vector, engine.params.pools.neighbours,
                      lambda i: i not in have and "#" in i and ":" not in i)
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
    said (not DeleteGroup where DeleteAutoScalingGroup is said), Auto Scaling's first, at most pools.said_actions.
    Why: among 3,700 reference entities, BM25 leaves such an action out of the pool when its words are common
    ones, and 7 of batch 7's tuning questions asked for one that way."""
    content = [w for w in query.words if is_content_word(w.lower(), engine.params.query.question_words)]
    typed = [query.corrections.get(w.lower(), w) for w in content]
    words = set(analyze(" ".join(content + typed)))
    words |= {t for a, b in zip(typed, typed[1:], strict=False) for t in analyze(a + b)}
    said = [i for w in sorted(words) for i in engine.actions_by_word.get(w, ())
            if len(engine.action_words[i]) > 1 and engine.action_words[i] <= words]
    longest = [i for i in said if not any(engine.action_words[i] < engine.action_words[j] for j in said)]
    home = f"action:{HOME_GUIDE}:"
    ordered = sorted(longest, key=lambda i: (not i.startswith(home), -len(engine.action_words[i]), i))
    return ordered[:engine.params.pools.said_actions]


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
            cand.hit.score = max(cand.hit.score, h.score * engine.params.rules.example_share)
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
    docs_of = engine.term_docs(all_terms, [f for f in engine.params.ask_boosts if f != ASKED_FIELD],
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
