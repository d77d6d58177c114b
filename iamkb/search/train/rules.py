"""Is each hand-written rule of the rerank worth keeping, now that a learned ranker has the last word?

For each rule, the tuning part is ranked as ask ranks it (rerank, learned ranker fitted under 5-fold
cross-validation on the other folds, named_before_namesakes) with the rule and without it, for the full ranking
and the lexical one; a rule whose removal costs no question is covered by the ranker's features and can go
(bench/README.md, "Search parameters"). The held-out part is never loaded.

    .venv/bin/python -m iamkb.search.train.rules [--mode full|lexical] [--only RULE ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from iamkb.search import ranking
from iamkb.search.engine import Engine
from iamkb.search.features import FEATURES, LEXICAL_FEATURES, feature_rows, units
from iamkb.search.params import Weights
from iamkb.search.train.evaluate import load_questions, metrics, section_of, tuning_part
from iamkb.search.train.fit import fit
from iamkb.search.train.tune import Prepared, folds, prepare


@dataclass(frozen=True)
class Variant:
    """Ask with one rule off: other weights, or a stage replaced by the identity."""

    weights: Callable[[Weights], Weights] = lambda w: w
    place_named: bool = True
    namesakes: bool = True


# The rules ask still has (the Auto Scaling guide's factor, which cost nothing, went: its feature stayed).
VARIANTS: dict[str, Variant] = {
    "with every rule": Variant(),
    "place_named off": Variant(place_named=False),
    "prefer_specific off": Variant(weights=lambda w: replace(w, specific_top=0)),
    "named_before_namesakes off": Variant(namesakes=False),
    "entity factor off": Variant(weights=lambda w: replace(w, entity=1.0)),
    "heading_cover factor off": Variant(weights=lambda w: replace(w, heading_cover=0.0)),
    "title_precision factor off": Variant(weights=lambda w: replace(w, title_precision=0.0)),
    "definition factor off": Variant(weights=lambda w: replace(w, definition=0.0)),
}


def cv_ranks(engine: Engine, prepared: list[Prepared], features: tuple[str, ...], weights: Weights,
             variant: Variant, l2: float) -> list[int | None]:
    """Each question's first relevant rank, ranked as ask does with the variant, the ranker fitted per fold."""
    rows, relevant, ranked_all = [], [], []
    place = ranking.place_named
    if not variant.place_named:
        ranking.place_named = lambda engine, query, ranked, named, question_units: ranked
    try:
        for p in prepared:
            qu = units(engine, p.query, weights)
            ranked = ranking.rerank(engine, p.query, p.candidates, p.named, qu, weights)
            rows.append(feature_rows(ranked, features))
            wanted = set(p.question.relevant)
            relevant.append([c.hit.id in wanted or section_of(c.hit.id) in wanted for c in ranked])
            ranked_all.append(list(ranked))
    finally:
        ranking.place_named = place
    index = list(range(len(prepared)))
    out: list[int | None] = [None] * len(index)
    for test in folds(index, 5):
        held = set(test)
        train = [i for i in index if i not in held]
        model = fit([rows[i] for i in train], [relevant[i] for i in train], l2, features)
        for i in test:
            scores = model.scores(rows[i])
            order = [ranked_all[i][k] for k in sorted(range(len(rows[i])), key=lambda k: (-scores[k], k))]
            if variant.namesakes:
                order = ranking.named_before_namesakes(order, prepared[i].named)
            hits = {id(c): r for c, r in zip(ranked_all[i], relevant[i], strict=True)}
            out[i] = next((k + 1 for k, c in enumerate(order[:10]) if hits[id(c)]), None)
    return out


def report(engine: Engine, mode: str, only: list[str] | None = None) -> dict[str, Any]:
    semantic = mode == "full"
    if not semantic:
        engine._semantic = None  # as an index without vectors: the lexical pool, features and ranker
    features = FEATURES if semantic else LEXICAL_FEATURES
    weights = engine.params.weights if semantic else engine.params.lexical_weights
    prepared = prepare(engine, tuning_part(load_questions()), semantic=semantic)
    chosen = {k: v for k, v in VARIANTS.items() if not only or k == "with every rule" or k in only}
    return {name: metrics(cv_ranks(engine, prepared, features, v.weights(weights), v, engine.params.l2))
            for name, v in chosen.items()}


def main(argv: list[str] | None = None) -> int:
    from iamkb.paths import index_dir
    from iamkb.search.engine import Engine

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mode", choices=("full", "lexical"), action="append",
                    help="the full ranking, the lexical one (default both)")
    ap.add_argument("--only", nargs="*", choices=sorted(VARIANTS), help="these variants (and the baseline)")
    args = ap.parse_args(argv)
    out = {mode: report(Engine(index_dir().resolve()), mode, args.only) for mode in args.mode or ("full", "lexical")}
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
