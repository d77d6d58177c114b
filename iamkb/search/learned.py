"""Ask's last stage: a linear ranker, fitted on the tuning part of kb/questions.yml, over what the rerank knows.

Why: the hand-made rerank (`iamkb.search.answer.rerank`) multiplies its signals with fixed exponents; how much
the closest passage of a section should count against the words it covers is not something one can set by
hand, and each hand-set weight added to it scored the same under cross-validation. A linear model over the
same evidence (the rerank's own score and position, BM25, coverage, heading, meaning of the section and of its
closest passage, and where each candidate stands among the others by meaning) learns those trade-offs from the tuning questions: under 5-fold cross-validation on the
tuning part it ranks better than the rerank alone, and fitted on batches 1 and 2 it also ranks batch 3's tuning
questions better (bench/README.md, Search). It starts from the rerank (the rerank's score is a feature with
the weight that reproduces its order) and is regularised towards that start, so with little evidence it
changes little.

The ranker is fitted by `python -m iamkb.search.learned --fit` (listwise softmax cross-entropy, minimised by
Newton's method, no randomness: the same questions give the same weights), written to kb/ranker.json, and
compiled into the index by `iamkb index`, like the synonym table. The held-out part is never loaded here.

    .venv/bin/python -m iamkb.search.learned            # cross-validate on the tuning part, print the figures
    .venv/bin/python -m iamkb.search.learned --fit      # and write kb/ranker.json from the whole tuning part
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from iamkb import paths
from iamkb.search.documents import ENTITY_KINDS

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
FEATURE_SETS = (FEATURES, LEXICAL_FEATURES)
# "said" (an action the question describes in words, answer.said_actions) and "level" (a section's depth: 1 for
# a page, 1/2 for its sections, ...; 0 for an entity) were added last: CV 0.782 / 0.905 -> 0.795 / 0.910 ->
# 0.802 / 0.917; then "proximity_rank" (the candidate's place by the share of the question two consecutive
# sentences say, answer.passage_coverage): 0.812 / 0.919 (the share itself beside it: the same). Of a dozen other columns tried (has an example, a how-to question with an example, named by
# the question, body length, ...) none gained under CV.
# "asked" (the share of the question a section's written questions say, kb/section_questions.yml) came with
# those questions, which also joined retrieval, coverage and the passages: CV 0.814 / 0.917 -> 0.858 / 0.961
# (bench/README.md, sixth round).
L2 = 0.01          # 5-fold cross-validation on the tuning part over (0.1, 0.03, 0.01, 0.003, 0.001): R@1 0.812,
                   # 0.819, 0.823, 0.823, 0.826, R@3 0.929, 0.929, 0.933, 0.929, 0.929: within a question or two,
                   # 0.01 kept
LOG_FLOOR = 1e-6   # the rerank's score is logged as at least this (`feature_rows`)
BM25_FLOOR = 1e-3  # ... and the BM25 share with this added
NEWTON_STEPS = 50  # the fit converges in fewer than 15 on the tuning part
CONVERGED = 1e-9   # largest gradient component at which the fit has found its minimum


@dataclass(frozen=True)
class Ranker:
    """Weights over standardised features (mean and scale from the questions it was fitted on)."""

    features: tuple[str, ...]
    weights: tuple[float, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    fitted_on: int = 0
    l2: float = L2

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Ranker | None:
        """None when the data is for other features (an index built by another version of this module)."""
        if tuple(data.get("features", ())) not in FEATURE_SETS:
            return None
        return cls(tuple(data["features"]), tuple(data["weights"]), tuple(data["mean"]), tuple(data["scale"]),
                   int(data.get("fitted_on", 0)), float(data.get("l2", L2)))

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("weights", "mean", "scale"):
            out[key] = [round(v, 6) for v in out[key]]
        out["features"] = list(self.features)
        return out

    def scores(self, rows: list[list[float]]) -> list[float]:
        return [sum(w * (x - m) / s for w, x, m, s in zip(self.weights, row, self.mean, self.scale, strict=True))
                for row in rows]


def feature_rows(ranked: list, features: tuple[str, ...] = FEATURES) -> list[list[float]]:
    """One row of `features` per candidate, in the rerank's order, from what the rerank measured (ranks as
    1 / (1 + rank), 1 for the first)."""
    from iamkb.search.answer import HOME_GUIDE

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


def usable(rankers: list[Ranker], semantic: bool = True) -> Ranker | None:
    """The ranker for the signals at hand: over FEATURES when the index has vectors, else over LEXICAL_FEATURES
    (kb/ranker.json may hold rankers of other versions)."""
    want = FEATURES if semantic else LEXICAL_FEATURES
    return next((r for r in rankers if r.features == want), None)


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


def fit(rows: list[list[list[float]]], relevant: list[list[bool]], l2: float = L2,
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


def training_data(engine, questions, features: tuple[str, ...] = FEATURES) -> tuple[list, list]:
    """Feature rows and relevance of each tuning question's candidates, ranked by the hand-made rerank; for the
    lexical ranker, gathered and reranked as ask does without vectors."""
    from dataclasses import replace

    from iamkb.search.answer import WEIGHTS, rerank, units
    from iamkb.search.evaluate import section_of
    from iamkb.search.tune import prepare

    semantic = features == FEATURES
    weights = WEIGHTS if semantic else replace(WEIGHTS, semantic=0.0)
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
    from iamkb.search.evaluate import metrics
    from iamkb.search.tune import folds

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


def fit_all(engine, questions, l2: float = L2) -> list[Ranker]:
    """The rankers kb/ranker.json holds, one per FEATURE_SETS entry, each on its own training data."""
    return [fit(*training_data(engine, questions, features), l2, features) for features in FEATURE_SETS]


def main(argv: list[str] | None = None) -> int:
    from iamkb.search.engine import engine as open_engine
    from iamkb.search.evaluate import load_questions, tuning_part

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--fit", action="store_true", help="also fit on the whole tuning part and write kb/ranker.json")
    ap.add_argument("--l2", type=float, default=L2)
    args = ap.parse_args(argv)
    engine = open_engine()
    if engine.semantic() is None:
        raise SystemExit("the index has no semantic vectors: install the pinned packages (make venv) and run "
                         "`iamkb index`")
    tuning = tuning_part(load_questions())
    report: dict[str, Any] = {"n": len(tuning)}
    for name, features in zip(("full", "lexical"), FEATURE_SETS, strict=True):
        rows, relevant = training_data(engine, tuning, features)
        report[name] = cross_validate(rows, relevant, tuning, args.l2, args.folds, features)
    if args.fit:
        target = paths.kb_dir() / "ranker.json"
        models = {"rankers": [m.to_json() for m in fit_all(engine, tuning, args.l2)]}
        target.write_text(json.dumps(models, indent=1) + "\n", encoding="utf-8")
        report["written"] = str(target)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
