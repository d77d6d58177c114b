"""Ask's learned last stage: fitting (iamkb.search.train.fit), the features it reads (iamkb.search.features),
applying it (iamkb.search.ranking) and carrying it in the index."""

from __future__ import annotations

import json
import random

import pytest
from conftest import need

from iamkb.errors import InputError
from iamkb.search import features, ranking
from iamkb.search.build import build_index
from iamkb.search.params import load as load_params
from iamkb.search.train import fit as training

N = len(features.FEATURES)
L2 = load_params().l2
PASSAGE = features.FEATURES.index("passage")


def _question(rng: random.Random, n: int = 8) -> tuple[list[list[float]], list[bool]]:
    """Candidates in a rerank order (descending "rerank" feature) where the relevant one is never first by
    that order but always has the highest "passage" feature: a signal the rerank misses."""
    rows = []
    for i in range(n):
        row = [rng.random() for _ in range(N)]
        row[0] = float(n - i)  # the rerank's score: its order
        rows.append(row)
    best = rng.randrange(1, n)
    rows[best][PASSAGE] = max(r[PASSAGE] for r in rows) + 0.5
    return rows, [i == best for i in range(n)]


def test_fit_learns_a_signal_the_rerank_misses_and_is_deterministic():
    rng = random.Random(7)
    train = [_question(rng) for _ in range(60)]
    test = [_question(rng) for _ in range(30)]
    model = training.fit([r for r, _ in train], [y for _, y in train], L2)
    again = training.fit([r for r, _ in train], [y for _, y in train], L2)
    assert model == again and model.fitted_on == 60
    assert all(training._first_rank(y, model, rows) == 1 for rows, y in test)
    assert max(range(N), key=lambda i: model.weights[i]) == PASSAGE


def _noisy_question(rng: random.Random, n: int = 10) -> tuple[list[list[float]], list[bool]]:
    """Candidates whose relevance depends on several features at once, with overlapping evidence (no feature
    separates them) and features that nearly repeat each other, as the rerank's score, the similarities and
    their ranks do: a loss with one interior minimum at the end of a long, narrow valley, like the tuning
    part's."""
    rows = []
    for _ in range(n):
        base = [rng.gauss(0, 1) for _ in range(3)]
        rows.append([base[k % 3] + rng.gauss(0, 0.02) for k in range(N)])
    truth = [sum(x * (k % 4 - 1.5) for k, x in enumerate(r)) + rng.gauss(0, 1) for r in rows]
    return rows, [t == max(truth) for t in truth]


def test_fit_finds_the_minimum_and_noise_in_the_last_bits_does_not_move_it():
    """The loss is convex, so the fit must reach its one minimum (zero gradient), and features that differ
    in their seventh decimal (BLAS summing in another order gives such) must give the same weights. The
    gradient descent this replaced stopped short of the minimum, at a point such noise moved."""
    import numpy as np

    rng = random.Random(11)
    train = [_noisy_question(rng) for _ in range(80)]
    rows, relevant = [r for r, _ in train], [y for _, y in train]
    model = training.fit(rows, relevant, L2)
    jitter = random.Random(5)
    nudged = training.fit([[[x + jitter.uniform(-1e-7, 1e-7) for x in row] for row in q] for q in rows], relevant,
                          L2)
    assert max(abs(a - b) for a, b in zip(model.weights, nudged.weights, strict=True)) < 1e-5
    data = [((np.asarray(x) - model.mean) / model.scale, np.asarray(y, float) / sum(y)) for x, y in train]
    start = np.zeros(N)
    start[0] = model.scale[0]
    _, gradient, _ = training._objective(np.asarray(model.weights), data, start, model.l2, hessian=False)
    assert float(np.abs(gradient).max()) < 1e-6
    for k in range(N):  # and no step along any one weight lowers the loss
        for d in (-1e-3, 1e-3):
            w = np.asarray(model.weights, dtype=float)
            w[k] += d
            assert training._objective(w, data, start, model.l2, hessian=False)[0] >= \
                training._objective(np.asarray(model.weights), data, start, model.l2, hessian=False)[0]


def test_strong_regularisation_keeps_the_rerank_order():
    rng = random.Random(3)
    train = [_question(rng) for _ in range(20)]
    model = training.fit([r for r, _ in train], [y for _, y in train], l2=1e3)
    rows, _ = _question(rng)
    scores = model.scores(rows)
    assert sorted(range(len(rows)), key=lambda i: (-scores[i], i)) == list(range(len(rows)))


def test_ranker_round_trips_and_refuses_other_features():
    for space, columns in features.SPACES.items():
        n = len(columns)
        model = ranking.Ranker(columns, tuple([0.5] * n), tuple([0.0] * n), tuple([1.0] * n), 3, space=space)
        assert ranking.Ranker.from_json(json.loads(json.dumps(model.to_json()))) == model
    assert ranking.Ranker.from_json({**model.to_json(), "features": ["rerank"]}) is None
    assert ranking.Ranker.from_json({**model.to_json(), "space": "lexical"}) is None  # a space of other features
    assert ranking.rankers_from_json({"rankers": [model.to_json(), {**model.to_json(), "features": ["x"]}]}) == [model]


def _candidate(ident: str, similarity: float, passage: float | None):
    from iamkb.search.engine import Hit
    from iamkb.search.features import Candidate

    hit = Hit(id=ident, kind="section", guide="autoscaling", title=ident, url="", score=1.0, body="", data={})
    return Candidate(hit=hit, score=1.0, similarity=similarity, passage_similarity=passage)


def test_meaning_columns_are_the_cosines_and_their_ranks_among_the_candidates():
    ranked = [_candidate("a", 0.1, 0.4), _candidate("b", 0.3, None), _candidate("c", 0.35, 0.25)]
    rows = features.feature_rows(ranked)
    column = {f: [row[i] for row in rows] for i, f in enumerate(features.FEATURES)}
    assert column["similarity"] == [0.1, 0.3, 0.35]
    assert column["passage"] == [0.4, 0.3, 0.25]  # b (an entity: no passages) counts its own cosine
    assert column["similarity_rank"] == [1 / 3, 1 / 2, 1.0]
    assert column["passage_rank"] == [1.0, 1 / 2, 1 / 3]


def test_the_said_level_and_proximity_columns():
    """"said": an action the question describes in words; "level": 1 / a section's depth, 0 for an entity;
    "proximity_rank": the place by the share of the question two consecutive sentences say."""
    from dataclasses import replace

    page, sub, action = (_candidate(i, 0.1, None) for i in ("page", "sub", "action:x:Y"))
    page.hit.data, sub.hit.data = {"level": 1}, {"level": 3}
    action.hit = replace(action.hit, kind="action")
    action.said = True
    page.passage_coverage, sub.passage_coverage, action.passage_coverage = 0.5, 1.0, 0.25
    rows = features.feature_rows([page, sub, action])
    column = {f: [row[i] for row in rows] for i, f in enumerate(features.FEATURES)}
    assert column["level"] == [1.0, 1 / 3, 0.0]
    assert column["said"] == [0.0, 0.0, 1.0]
    assert column["proximity_rank"] == [1 / 2, 1.0, 1 / 3]


def test_the_ranker_used_is_the_one_for_the_signals_at_hand():
    assert not set(features.LEXICAL_FEATURES) & set(features.SEMANTIC_FEATURES)
    made = [ranking.Ranker(f, tuple([1.0] * len(f)), tuple([0.0] * len(f)), tuple([1.0] * len(f)), space=s)
            for s, f in features.SPACES.items()]
    for space, ranker in zip(features.SPACES, made, strict=True):
        assert ranking.usable(made, space) is ranker
    assert ranking.usable(made[1:]) is None


def test_the_index_carries_the_rankers_and_ask_applies_one(tmp_path):
    from test_search import _write_kb

    from iamkb.search import ask
    from iamkb.search.engine import engine

    _write_kb(tmp_path / "build")
    weights = tuple(1.0 if f == "passage" else 0.0 for f in features.FEATURES)  # ranks by the closest passage only
    made = [ranking.Ranker(features.FEATURES, weights, tuple([0.0] * N), tuple([1.0] * N), 1)]
    (tmp_path / "ranker.json").write_text(json.dumps({"rankers": [r.to_json() for r in made]}))
    build_index(tmp_path / "build", tmp_path / "index", tmp_path / "none.yml", tmp_path / "ranker.json")
    e = engine(tmp_path / "index")
    assert ranking.rankers_from_json(e.rankers_data) == made
    need(e.semantic() is not None, "the embedding model is not installed: ask does not apply the ranker without it")
    assert ranking.ranker_for(e) == made[0]
    question = "how can I remove scaling policies"
    out = ask(question, index=tmp_path / "index")
    scores = [r["score"] for r in out["results"]]
    assert scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1 + 1e-9  # shares of the softmax
    from iamkb.search import retrieval

    q = e.parse(question)
    units = features.units(e, q)
    pool = retrieval.candidates(e, q, retrieval.named_entities(e, q), units)
    passage = {c.hit.id: c.passage_similarity if c.passage_similarity is not None else c.similarity for c in pool}
    got = [r["id"] for r in out["results"]]
    assert [passage[i] for i in got] == sorted((passage[i] for i in got), reverse=True)

    # without a ranker file the index has none, and ask keeps the rerank's order
    build_index(tmp_path / "build", tmp_path / "plain", tmp_path / "none.yml", tmp_path / "absent.json")
    plain = engine(tmp_path / "plain")
    assert plain.rankers_data is None and ranking.ranker_for(plain) is None


def test_a_malformed_ranker_file_is_one_line_naming_it(tmp_path):
    bad = tmp_path / "ranker.json"
    bad.write_text('{"features": [\n')
    with pytest.raises(InputError) as err:
        ranking.load(bad)
    assert str(bad) in str(err.value) and "line 2" in str(err.value)


@pytest.mark.slow
def test_the_committed_ranker_ranks_the_tuning_part_as_a_refit_does(kb_build):
    """kb/ranker.json is not edited by hand, nor left behind by a change to the features: a refit on the tuning
    part with this machine's index ranks the tuning questions as the committed ranker does. Compared by what
    matters, the rank of each question's first answer, not by weights: the rank features move discretely when
    two cosines a few ULPs apart swap places on another CPU's BLAS, and such swaps moved refitted weights by
    0.015. A question whose answer moves by such a swap is let through: at most 1% of them, and Recall@1 within
    two questions. On one machine, a refit is exactly repeatable."""
    from iamkb.paths import index_dir, kb_dir
    from iamkb.search import embed
    from iamkb.search.engine import open_in_space
    from iamkb.search.train.evaluate import load_questions, metrics, tuning_part

    need(embed.find_model_zip() is not None, "the embedding model is not installed: the ranker's features need it")
    committed = ranking.rankers_from_json(json.loads((kb_dir() / "ranker.json").read_text()))
    assert [r.space for r in committed] == list(features.SPACES), "kb/ranker.json is not this version's"
    tuning = tuning_part(load_questions())
    for made in committed:
        e = open_in_space(index_dir().resolve(), made.space)
        assert e.space() == made.space, "the index has no vectors: run `iamkb index`"
        rows, relevant = training.training_data(e, tuning)
        refit = training.fit(rows, relevant, made.l2, made.features)
        assert refit == training.fit(rows, relevant, made.l2, made.features)  # deterministic here
        assert refit.fitted_on == made.fitted_on
        mine = [training._first_rank(y, refit, x) for x, y in zip(rows, relevant, strict=True)]
        theirs = [training._first_rank(y, made, x) for x, y in zip(rows, relevant, strict=True)]
        moved = sum(a != b for a, b in zip(mine, theirs, strict=True))
        assert moved <= len(tuning) // 100, f"{moved} of {len(tuning)} tuning questions rank elsewhere"
        assert abs(metrics(mine)["recall@1"] - metrics(theirs)["recall@1"]) <= 2 / len(tuning)


def test_the_committed_rankers_were_fitted_with_todays_search_parameters():
    """Changing a number in kb/search.yml changes what the features mean: kb/ranker.json must be refitted with
    it (it records the digest of the parameters it was fitted with, and `iamkb index` says when they differ)."""
    from iamkb.paths import kb_dir

    fitted = json.loads((kb_dir() / "ranker.json").read_text())
    assert fitted["params_digest"] == load_params().digest, "kb/search.yml changed since the rankers were fitted"
    assert {r.l2 for r in ranking.rankers_from_json(fitted)} == {load_params().l2}


def test_only_the_tuning_part_is_fitted_on(kb_build):
    from iamkb.search.train.evaluate import load_questions, tuning_part

    questions = load_questions()
    part = tuning_part(questions)
    assert part and all(q.answerable and not q.heldout for q in part)
    assert len(part) == sum(1 for q in questions if q.answerable) - sum(1 for q in questions if q.heldout)
