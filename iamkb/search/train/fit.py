"""Fitting ask's learned rankers (iamkb.search.ranking.Ranker) on the tuning part of kb/questions.yml.

Why a learned last stage: the rerank (iamkb.search.ranking.rerank) multiplies its signals with fixed exponents;
how much the closest passage of a section should count against the words it covers is not something one can
set by hand. A linear model over the same evidence (iamkb.search.features.FEATURES: the rerank's own score and
position, BM25, coverage, heading, meaning of the section and of its closest passage, ...) learns those
trade-offs from the tuning questions. It starts from the rerank's order (the rerank's score is a feature with
the weight that reproduces it) and is regularised towards that start (kb/search.yml ask.train.l2), so with
little evidence it changes little. Three are fitted, one per `features.SPACES` entry, each on candidates
gathered with its own signals: over every feature with MiniLM's vectors (ask), over every feature with the
static token vectors (the site's in-page engine, iamkb.search.tokenvectors), and over the lexical ones without
vectors (an index without vectors).

The fit is a listwise softmax cross-entropy minimised by Newton's method (no randomness: the same questions give
the same weights); the rankers are written to kb/ranker.json with the digest of the search parameters they were
fitted with, and compiled into the index by `iamkb index`. The held-out part is never loaded here.

    .venv/bin/python -m iamkb.search.train.fit            # cross-validate on the tuning part, print the figures
    .venv/bin/python -m iamkb.search.train.fit --fit      # and write kb/ranker.json from the whole tuning part
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from typing import Any

from iamkb import paths
from iamkb.search.features import FEATURES, SPACES, feature_rows
from iamkb.search.ranking import Ranker

NEWTON_STEPS = 50  # the fit converges in fewer than 15 on the tuning part
CONVERGED = 1e-9   # largest gradient component at which the fit has found its minimum


def _objective(w, data, start, l2: float, hessian: bool = True):
    """The listwise loss (mean over questions of the cross-entropy between the softmax of the scores and the
    relevant candidates' share), with the L2 pull towards `start`, its gradient and (when asked) its Hessian."""
    import numpy as np

    f, g, h = 0.0, np.zeros_like(w), np.zeros((len(w), len(w)))
    for z, target in data:
        s = z @ w
        p = np.exp(s - s.max())
        p /= p.sum()
        f -= float(target @ np.log(np.maximum(p, 1e-300)))
        g += (p - target) @ z
        if hessian:
            mean_z = p @ z
            h += (z * p[:, None]).T @ z - np.outer(mean_z, mean_z)
    n = len(data)
    return (f / n + 0.5 * l2 * float((w - start) @ (w - start)), g / n + l2 * (w - start),
            h / n + l2 * np.eye(len(w)))


def fit(rows: list[list[list[float]]], relevant: list[list[bool]], l2: float,
        features: tuple[str, ...] = FEATURES) -> Ranker:
    """Listwise fit: for each question, the softmax of the scores over its candidates should put its mass on
    the relevant ones. Starts from the rerank's own order (weight on its score only).

    Why Newton's method: the loss is convex (strictly, with the L2 term), so it has one minimum, and Newton's
    steps (with backtracking) reach it in a few iterations. The gradient descent used before stopped short of
    it after its fixed 300 epochs, and where it stopped depended on noise: a difference of 1e-7 in the features
    (BLAS summing in another order) moved the cross-validated Recall@1 on the tuning part by 0.03."""
    import numpy as np

    data = []
    for x, y in zip(rows, relevant, strict=True):
        if len(x) and any(y):
            target = np.asarray(y, dtype=float)
            data.append((np.asarray(x, dtype=float), target / target.sum()))
    stacked = np.vstack([x for x, _ in data])
    mean, scale = stacked.mean(axis=0), stacked.std(axis=0) + 1e-9
    data = [((x - mean) / scale, t) for x, t in data]
    start = np.zeros(len(features))
    start[0] = scale[0]  # the rerank's order; the penalty pulls towards it, so little evidence changes little
    w = start.copy()
    f, g, h = _objective(w, data, start, l2)
    for _ in range(NEWTON_STEPS):
        step = np.linalg.solve(h, g)
        t = 1.0
        while True:  # backtracking: halve the step until the loss falls enough (Armijo)
            f_new, g_new, h_new = _objective(w - t * step, data, start, l2)
            if f_new <= f - 1e-4 * t * float(g @ step) or t < 1e-6:
                break
            t /= 2
        w, f, g, h = w - t * step, f_new, g_new, h_new
        if float(np.abs(g).max()) < CONVERGED:
            break
    return Ranker(features, tuple(float(v) for v in w), tuple(float(v) for v in mean),
                  tuple(float(v) for v in scale), fitted_on=len(data), l2=l2)


def _first_rank(relevant: list[bool], ranker: Ranker | None = None, rows: list[list[float]] | None = None,
                depth: int = 10) -> int | None:
    """1-based rank of the first relevant candidate within `depth`, in the ranker's order (without a ranker: the
    rerank's order, the order the candidates come in)."""
    order = list(range(len(relevant)))
    if ranker is not None and rows is not None:
        scores = ranker.scores(rows)
        order.sort(key=lambda i: (-scores[i], i))
    return next((k + 1 for k, i in enumerate(order[:depth]) if relevant[i]), None)


def training_data(engine, questions) -> tuple[list, list]:
    """Feature rows and relevance of each tuning question's candidates, ranked by the hand-made rerank, with the
    signals the engine has (`Engine.space`: without vectors, gathered and reranked as ask does then)."""
    from iamkb.search.features import units
    from iamkb.search.ranking import rerank
    from iamkb.search.train.evaluate import section_of
    from iamkb.search.train.tune import prepare

    semantic = engine.space() != "lexical"
    features = SPACES[engine.space()]
    weights = engine.params.weights if semantic else engine.params.lexical_weights
    rows, relevant = [], []
    for p in prepare(engine, questions, semantic=semantic):
        qu = units(engine, p.query)
        ranked = rerank(engine, p.query, p.candidates, p.named, qu, weights)
        rows.append(feature_rows(ranked, features))
        wanted = set(p.question.relevant)
        relevant.append([c.hit.id in wanted or section_of(c.hit.id) in wanted for c in ranked])
    return rows, relevant


def cross_validate(rows: list, relevant: list, questions: list, l2: float, n_folds: int,
                   features: tuple[str, ...]) -> dict[str, Any]:
    """The rerank's figures and the learned stage's under n-fold cross-validation, and fitted on the earlier
    batches and scored on the newest batch's questions (a second test, closer to how new questions arrive)."""
    from iamkb.search.train.evaluate import metrics
    from iamkb.search.train.tune import folds

    index = list(range(len(questions)))
    before = [_first_rank(relevant[i]) for i in index]
    after: list[int | None] = [None] * len(index)
    for test in folds(index, n_folds):
        held = set(test)
        train = [i for i in index if i not in held]
        model = fit([rows[i] for i in train], [relevant[i] for i in train], l2, features)
        for i in test:
            after[i] = _first_rank(relevant[i], model, rows[i])
    report: dict[str, Any] = {"rerank": metrics(before), "cv_learned": metrics(after)}
    last = max(q.batch for q in questions)
    earlier = [i for i in index if questions[i].batch < last]
    if earlier:
        newest = [i for i in index if questions[i].batch == last]
        model = fit([rows[i] for i in earlier], [relevant[i] for i in earlier], l2, features)
        report[f"batch{last}_rerank"] = metrics([before[i] for i in newest])
        report[f"batch{last}_learned_from_earlier"] = metrics([_first_rank(relevant[i], model, rows[i])
                                                              for i in newest])
    return report


def fit_space(engine, questions) -> Ranker:
    """The ranker for the engine's signals (`Engine.space`), on its own training data, with the pull towards
    the rerank the index's search parameters say."""
    space = engine.space()
    made = fit(*training_data(engine, questions), engine.params.l2, SPACES[space])
    return replace(made, space=space)


def ranker_file(engine, rankers: list[Ranker]) -> dict[str, Any]:
    """kb/ranker.json's content: the rankers and the digest of the search parameters they were fitted with
    (`iamkb index` says when kb/search.yml has changed since)."""
    return {"params_digest": engine.params.digest, "rankers": [r.to_json() for r in rankers]}


def main(argv: list[str] | None = None) -> int:
    from iamkb.search.engine import open_in_space
    from iamkb.search.train.evaluate import load_questions, tuning_part

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--fit", action="store_true", help="also fit on the whole tuning part and write kb/ranker.json")
    ap.add_argument("--l2", type=float, default=None, help="instead of kb/search.yml's ask.train.l2 (CV only)")
    args = ap.parse_args(argv)
    folder = paths.index_dir().resolve()
    engines = {space: open_in_space(folder, space) for space in SPACES}
    if any(e.space() != space for space, e in engines.items()):
        raise SystemExit("the index has no semantic vectors: install the pinned packages (make venv) and run "
                         "`iamkb index`")
    tuning = tuning_part(load_questions())
    l2 = engines["full"].params.l2 if args.l2 is None else args.l2
    report: dict[str, Any] = {"n": len(tuning), "l2": l2}
    for space, engine in engines.items():
        rows, relevant = training_data(engine, tuning)
        report[space] = cross_validate(rows, relevant, tuning, l2, args.folds, SPACES[space])
    if args.fit:
        target = paths.kb_dir() / "ranker.json"
        content = ranker_file(engines["full"], [fit_space(e, tuning) for e in engines.values()])
        target.write_text(json.dumps(content, indent=1) + "\n", encoding="utf-8")
        report["written"] = str(target)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
