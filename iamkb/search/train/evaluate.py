"""Score ask and search on the project's question set (kb/questions.yml): Recall@1, Recall@3, MRR@10.

A question counts as answered at rank k when any of its ids is among the first k results (an example result
counts for its section). The set has a held-out third, reported separately: it is scored, never tuned on, so
`--misses` lists only the tuning part's misses. Any ranking function `question -> [ids]` can be scored, so the
benchmark scores its baselines with the same code.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from iamkb import paths
from iamkb.errors import InputError

KS = (1, 3)
MRR_AT = 10
ABSTAIN_PREFIX = "Nothing in the knowledge base answers this"


@dataclass(frozen=True)
class Question:
    q: str
    ids: tuple[str, ...]
    style: str
    heldout: bool
    batch: int = 1  # the round of writing it came from; each batch's held-out part is also scored apart
    also: tuple[str, ...] = ()  # further answers found by the pooled judging (see `relevant`)

    @property
    def answerable(self) -> bool:
        return bool(self.ids)

    @property
    def relevant(self) -> tuple[str, ...]:
        """Every id that answers the question: those written with it, and those the pooled judging found.
        Why both: a question was written with the answer its writer knew, but the docs often answer it twice
        (the IAM guide and the Auto Scaling guide, a condition key's entry and the section on it); a system
        that puts the other answer first is right, and scoring it a miss understates every system alike."""
        return self.ids + self.also


def load_questions(path: Path | None = None) -> list[Question]:
    import yaml

    path = path or paths.kb_dir() / "questions.yml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("question set not found", where=str(path)) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise InputError(f"malformed YAML{f' at line {mark.line + 1}' if mark else ''}", where=str(path)) from None
    if not isinstance(data, list):
        raise InputError("expected a list of questions", where=str(path))
    out = []
    for i, item in enumerate(data):
        where = f"{path}: question {i + 1}"
        if not isinstance(item, dict) or not isinstance(item.get("q"), str) or not item["q"].strip():
            raise InputError("each entry needs a non-empty 'q'", where=where)
        ids = item.get("ids") or []
        if not isinstance(ids, list) or not all(isinstance(x, str) for x in ids):
            raise InputError("'ids' must be a list of ids", where=where)
        also = item.get("also") or []
        if not isinstance(also, list) or not all(isinstance(x, str) for x in also):
            raise InputError("'also' must be a list of ids", where=where)
        if also and not ids:
            raise InputError("'also' needs 'ids': a question with no answer has none to add to", where=where)
        batch = item.get("batch", 1)
        if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
            raise InputError("'batch' must be a positive integer", where=where)
        out.append(Question(item["q"], tuple(ids), str(item.get("style", "")), bool(item.get("heldout", False)),
                            batch, tuple(also)))
    return out


def tuning_part(questions: list[Question]) -> list[Question]:
    """The answerable questions that are not held out: the only ones tuning and fitting may look at."""
    return [q for q in questions if q.answerable and not q.heldout]


def section_of(result_id: str) -> str:
    """The section an example id belongs to (`example:<section>:<n>`), else the id itself."""
    if result_id.startswith("example:"):
        return result_id[len("example:"):].rsplit(":", 1)[0]
    return result_id


def first_rank(results: list[str], relevant: Iterable[str]) -> int | None:
    """1-based rank of the first relevant result."""
    wanted = set(relevant)
    for rank, rid in enumerate(results, 1):
        if rid in wanted or section_of(rid) in wanted:
            return rank
    return None


def metrics(ranks: list[int | None]) -> dict[str, float]:
    n = len(ranks) or 1
    out = {f"recall@{k}": sum(1 for r in ranks if r is not None and r <= k) / n for k in KS}
    out[f"mrr@{MRR_AT}"] = sum(1 / r for r in ranks if r is not None and r <= MRR_AT) / n
    out["n"] = len(ranks)
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in out.items()}


def parts_of(questions: list[Question]) -> dict[str, list[Question]]:
    """The answerable questions by part: tuning, held-out, all; and when the set was written in several
    batches, each batch's tuning and held-out parts (a later batch's held-out part is the fairest test of a
    method tuned before it was written)."""
    answerable = [q for q in questions if q.answerable]
    parts = {"tune": tuning_part(answerable), "heldout": [q for q in answerable if q.heldout],
             "all": answerable}
    batches = sorted({q.batch for q in answerable})
    if len(batches) > 1:
        for b in batches:
            parts[f"tune.b{b}"] = [q for q in parts["tune"] if q.batch == b]
            parts[f"heldout.b{b}"] = [q for q in parts["heldout"] if q.batch == b]
    return parts


WRITTEN_PARTS = ("tune", "heldout", "all")


def score(system: Callable[[str], list[str]], questions: list[Question]) -> dict:
    """Metrics of a ranking function on the answerable questions, by part (see `parts_of`), counting every
    answer the set records (`Question.relevant`); and for the main parts, counting only the ids each question
    was written with ("as_written"), so the effect of the pooled judging stays in view."""
    results = {q: system(q.q) for q in questions if q.answerable}
    ranks = {q: first_rank(r, q.relevant) for q, r in results.items()}
    written = {q: first_rank(r, q.ids) for q, r in results.items()}
    parts = parts_of(questions)
    return {"metrics": {name: metrics([ranks[q] for q in qs]) for name, qs in parts.items()},
            "as_written": {name: metrics([written[q] for q in parts[name]]) for name in WRITTEN_PARTS},
            "misses": [{"q": q.q, "ids": list(q.relevant), "rank": r} for q, r in ranks.items()
                       if not q.heldout and (r is None or r > 1)]}


def abstention(answers: dict[str, str], questions: list[Question]) -> dict:
    """How often ask says 'nothing relevant' when it should (no ids) and when it should not."""
    none = [q for q in questions if not q.answerable]
    some = [q for q in questions if q.answerable]
    return {"unanswerable": len(none),
            "declined_correctly": sum(1 for q in none if answers[q.q].startswith(ABSTAIN_PREFIX)),
            "declined_wrongly": sum(1 for q in some if answers[q.q].startswith(ABSTAIN_PREFIX))}


def evaluate(questions: list[Question], ask_fn: Callable[[str], dict],
             search_fn: Callable[[str], dict]) -> dict:
    answers: dict[str, str] = {}

    def ask_ids(text: str) -> list[str]:
        res = ask_fn(text)
        answers[text] = res["answer"]
        return [r["id"] for r in res["results"]]

    ask_scores = score(ask_ids, questions)
    for q in questions:
        if q.q not in answers:
            answers[q.q] = ask_fn(q.q)["answer"]
    search_scores = score(lambda t: [r["id"] for r in search_fn(t)["results"]], questions)
    return {"questions": len(questions), "heldout": sum(1 for q in questions if q.heldout and q.answerable),
            "ask": ask_scores["metrics"], "search": search_scores["metrics"],
            "as_written": {"ask": ask_scores["as_written"], "search": search_scores["as_written"]},
            "abstention": abstention(answers, questions),
            "misses": {"ask": ask_scores["misses"], "search": search_scores["misses"]}}


def format_report(report: dict, show_misses: bool = False) -> str:
    lines = [f"{report['questions']} questions ({report['heldout']} held out; "
             f"{report['abstention']['unanswerable']} with no answer in the KB)",
             f"{'system':<8} {'part':<11} {'n':>4} {'R@1':>6} {'R@3':>6} {'MRR@10':>7}"]
    for parts, mark in ((report, ""), (report["as_written"], "*")):
        for system in ("ask", "search"):
            for part, m in parts[system].items():
                lines.append(f"{system:<8} {part + mark:<11} {m['n']:>4} {m['recall@1']:>6.3f} "
                             f"{m['recall@3']:>6.3f} {m['mrr@10']:>7.3f}")
    lines.append("* counting only the ids each question was written with, not those the pooled judging added")
    a = report["abstention"]
    lines.append(f"ask declined {a['declined_correctly']}/{a['unanswerable']} unanswerable questions and "
                 f"{a['declined_wrongly']} answerable ones")
    if show_misses:
        for system in ("ask", "search"):
            for m in report["misses"][system]:
                lines.append(f"  miss {system}: rank {m['rank']}: {m['q']}  (want {', '.join(m['ids'])})")
    return "\n".join(lines)


# --- `iamkb eval` ---------------------------------------------------------------------------------------------

def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--questions", type=Path, help="question set (default kb/questions.yml)")
    parser.add_argument("--misses", action="store_true",
                        help="list the tuning part's misses (the held-out part's are never shown)")
    parser.add_argument("--json", action="store_true")


def run_eval(args: argparse.Namespace) -> int:
    from iamkb.search import ask, search

    report = evaluate(load_questions(args.questions), ask, search)
    if args.json:
        if not args.misses:
            report.pop("misses")
        print(json.dumps(report, sort_keys=True))
    else:
        print(format_report(report, show_misses=args.misses))
    return 0
