"""Ask's ranking: the rerank's score, its hand-written rules, and the learned ranker that has the last word.

The rerank multiplies what the features measured (`iamkb.search.features`) into one score: the retrieval score
(to the power bm25_power) times the question's coverage, the heading path and title, the kind of document and
the meaning (exp(semantic * cosine), with vectors); then two rules that no feature expresses: an entity the
question is about goes first (`place_named`), and a section whose heading path says more of the question goes
above the section enclosing it (`prefer_specific`). Its order and score are features of the learned rankers
(kb/ranker.json: a linear model over the features, one over every feature and one over those that need no
vectors; fitted by iamkb.search.train.fit), which give the final order. Each rule was kept because removing it
cost questions under cross-validation with the rankers in place (bench/README.md, "Search parameters").
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from iamkb import paths
from iamkb.search.analysis import analyze
from iamkb.search.documents import ENTITY_KINDS
from iamkb.search.engine import Engine, Hit, Query
from iamkb.search.features import (
    LEXICAL_FEATURES,
    SPACES,
    Candidate,
    Unit,
    coverage,
    feature_rows,
    measure,
    passage_coverage,
)
from iamkb.search.params import Weights

SAYS_THE_REST_PARTIAL = 2.0  # `says_the_rest` counts a multi-term form with this `partial`
SPECIFIC_PASSES = 2     # `prefer_specific`'s passes (a second settles chains: page > section > subsection)
SPECIFIC_MARGIN = 1e-9  # ... how much more of the question a section's heading path must say than its ancestor's
SPECIFIC_STEP = 1e-3    # ... and the share of its own score it is lifted by above the ancestor


def rerank(engine: Engine, query: Query, candidates: list[Candidate], named: list[str],
           question_units: list[Unit], weights: Weights | None = None) -> list[Candidate]:
    """Order the candidates by retrieval score times the evidence BM25 does not weigh (see the module doc)."""
    if not candidates:
        return []
    weights = weights or engine.params.weights
    top = max(c.hit.score for c in candidates) or 1.0
    measure(candidates, query, question_units, weights.partial)
    for c in candidates:
        kind = weights.entity if c.hit.kind in ENTITY_KINDS else 1.0
        if c.overview:
            kind *= 1.0 + weights.definition
        c.score = (c.hit.score / top) ** weights.bm25_power * (weights.cover_base + c.coverage) \
            * (1.0 + weights.heading_cover * c.heading_coverage + weights.title_precision * c.title_precision) \
            * kind * math.exp(weights.semantic * c.similarity)
    ranked = sorted(candidates, key=lambda c: (-c.score, c.hit.id))
    if named:
        ranked = place_named(engine, query, ranked, named, question_units)
    if weights.specific_top:
        ranked = prefer_specific(ranked, weights.specific_top)
    for c in ranked[:engine.params.pools.proximity_depth]:
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
    rules = engine.params.rules
    lifted = ranked[0].score * rules.named_lift
    best = max((c.score for c in ranked if c.hit.kind not in ENTITY_KINDS), default=0.0)
    for ident in named:
        c = by_id.get(ident)
        if c is None:
            continue
        if len(extra) <= rules.entity_centric_extra and says_the_rest(c.hit, extra, rules.entity_says_the_rest):
            c.score = max(c.score, lifted)
        elif best:
            c.score = best * rules.named_below_best
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


def says_the_rest(entity: Hit, extra: list[Unit], share: float) -> bool:
    """Whether an entity's answer says the question's words beside its name: "DeleteTags access level" and
    "autoScalingGroup arn format" are answered by the reference line (access level, ARN), "is PassRole logged
    in CloudTrail" is not (it wants the section on PassRole in CloudTrail logs)."""
    if not extra:
        return True
    text = " ".join([entity.title, entity.body, entity.data.get("answer", "")])
    return coverage(set(analyze(text)), extra, SAYS_THE_REST_PARTIAL) >= share


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


@dataclass(frozen=True)
class Ranker:
    """Weights over standardised features (mean and scale from the questions it was fitted on)."""

    features: tuple[str, ...]
    weights: tuple[float, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    fitted_on: int = 0
    l2: float = 0.0  # the pull towards the rerank's order it was fitted with (kb/search.yml ask.train.l2)
    space: str = "full"  # the signals it ranks with (features.SPACES)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Ranker | None:
        """None when the data is for other features (an index built by another version of this module)."""
        features = tuple(data.get("features", ()))
        space = data.get("space", "lexical" if features == LEXICAL_FEATURES else "full")
        if SPACES.get(space) != features:
            return None
        return cls(features, tuple(data["weights"]), tuple(data["mean"]), tuple(data["scale"]),
                   int(data.get("fitted_on", 0)), float(data.get("l2", 0.0)), space)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("weights", "mean", "scale"):
            out[key] = [round(v, 6) for v in out[key]]
        out["features"] = list(self.features)
        return out

    def scores(self, rows: list[list[float]]) -> list[float]:
        return [sum(w * (x - m) / s for w, x, m, s in zip(self.weights, row, self.mean, self.scale, strict=True))
                for row in rows]


def usable(rankers: list[Ranker], space: str = "full") -> Ranker | None:
    """The ranker for the signals at hand (`features.SPACES`; kb/ranker.json may hold rankers of other
    versions)."""
    return next((r for r in rankers if r.space == space), None)


def rankers_from_json(data: dict[str, Any] | None) -> list[Ranker]:
    """kb/ranker.json's rankers ({"rankers": [...]}) that this version of the module can apply."""
    found = (Ranker.from_json(r) for r in (data or {}).get("rankers", []))
    return [r for r in found if r is not None]


def apply(ranker: Ranker, ranked: list) -> list:
    """The candidates in the ranker's order (ties keep the rerank's order)."""
    if not ranked:  # a question of question words only, on an index without vectors: nothing to order
        return ranked
    rows = feature_rows(ranked, ranker.features)
    scores = ranker.scores(rows)
    order = sorted(range(len(ranked)), key=lambda i: (-scores[i], i))
    top = max(scores)
    mass = [math.exp(s - top) for s in scores]
    total = sum(mass)
    for i in order:
        ranked[i].learned = mass[i] / total  # shown as the result's score: its share, in the order given
    return [ranked[i] for i in order]


def load(path: Path | None = None) -> dict[str, Any] | None:
    """kb/ranker.json as data (None when absent: ask keeps the rerank's order)."""
    from iamkb.errors import InputError

    path = path or paths.kb_dir() / "ranker.json"
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise InputError(f"malformed JSON at line {err.lineno}: {err.msg}", where=str(path)) from None


def ranker_for(engine: Engine) -> Ranker | None:
    """The learned ranker the index carries for the signals at hand (`Engine.space`); None when kb/ranker.json
    held none for them."""
    return usable(rankers_from_json(engine.rankers_data), engine.space())


def rank(engine: Engine, query: Query, named: list[str], question_units: list[Unit], pool: list[Candidate],
         weights: Weights | None = None, learned: bool = True) -> list[Candidate]:
    """The final order: the rerank, then the learned ranker (unless `learned` is off, or the semantic weight
    is 0: benchmarks of the rerank alone)."""
    weights = weights or engine.params.weights
    ranked = rerank(engine, query, pool, named, question_units, weights)
    ranker = ranker_for(engine) if learned and weights.semantic else None
    return apply(ranker, ranked) if ranker is not None else ranked
