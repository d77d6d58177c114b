"""Runnable examples: every policy example in the docs, with scenarios that state what it allows and denies.

The docs describe each example in prose ("grants permissions to ... but only if the group has the tag
environment=test"). kb/scenarios/ holds one hand-written file per example (keyed by the example id) that turns
those sentences into requests with an expected decision; this module runs them through the policy engine, so a
docs example that stops meaning what its prose says fails the build instead of misleading a reader.

Scenario file (kb/schema/scenarios.schema.json):

    {"example": "example:<section id>:<n>",
     "substitutions": {"region": "us-west-2"},          # optional: placeholders the docs tell the reader to replace
     "scenarios": [{"name", "doc": the sentence it checks, "expected": "Allowed"|"ExplicitlyDenied"|
                    "ImplicitlyDenied", "status": "ok"|"docs_wrong"|"ambiguous", "reason": why (when not ok),
                    "request": {...}, "identityPolicies": [...], "resourcePolicy": ..., ...}]}

Wherever the example's policy goes, a scenario holds the string "$EXAMPLE"; the runner puts the example's parsed
policy there (the document, or for key-policy statement sections the statement, so a key policy reads
{"Statement": ["$EXAMPLE", <root account statement>]}). A fragment of the docs (a statement's elements, say) runs
as the smallest complete policy holding it, which build-kb records with the example (iamkb/extract.py).

Outcome of one scenario:
- status ok: "passed" when the engine's decision equals `expected`, else "failed".
- status docs_wrong: `expected` is what the docs claim; the scenario is "docs_wrong" (a confirmed disagreement,
  listed in the drift report) when the engine decides otherwise, and "failed" when the engine now agrees with the
  docs (the marking is stale and must be revisited).
- status ambiguous: reported with its reason and the actual decision; never counted as passed or failed.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from iamkb import paths, store
from iamkb.errors import InputError
from iamkb.extract import published_policy

PLACEHOLDER = "$EXAMPLE"
DECISIONS = ("Allowed", "ExplicitlyDenied", "ImplicitlyDenied")
STATUSES = ("ok", "docs_wrong", "ambiguous")
# Keys of a scenario that describe it rather than the request; stripped before the engine sees it.
META_KEYS = ("name", "doc", "expected", "status", "reason")

# Guides whose every runnable example must have scenarios (both guides of the corpus).
REQUIRED_GUIDES = ("autoscaling", "iam")
# A "fragment" is a piece of a policy (a statement's elements, statements without their list); build-kb wraps
# each one it can read in the smallest complete policy, and then it runs like every other format.
FRAGMENT = "fragment"

Evaluator = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class ScenarioFile:
    """One kb/scenarios/*.json file, validated."""

    path: Path
    example: str
    substitutions: dict[str, str]
    scenarios: list[dict[str, Any]]


@dataclass
class ScenarioResult:
    name: str
    doc: str
    expected: str
    actual: str
    status: str
    outcome: str  # passed | failed | docs_wrong | ambiguous
    reason: str | None = None
    explain: list[Any] = field(default_factory=list)


@dataclass
class ExampleReport:
    """Per-example summary: the DESIGN.md contract fields first, then the details."""

    id: str
    section: str | None
    kind: str | None
    scenarios: int
    passed: int
    failed: int
    docs_wrong: int = 0
    ambiguous: int = 0
    corrected: bool = False
    correction: str | None = None
    wrapped: bool = False  # a fragment run inside the smallest complete policy (the catalog shows both)
    error: str | None = None  # no scenario file, or a scenario file for an example the KB does not have
    results: list[ScenarioResult] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The JSON line of `iamkb examples --json` (results only for scenarios that did not pass)."""
        data = asdict(self)
        data["results"] = [asdict(r) for r in self.results if r.outcome != "passed"]
        return data


# ---------------------------------------------------------------------------------------------- file names


def file_name(example_id: str) -> str:
    """The filesystem-safe scenario file name of an example id.

    example:autoscaling/page#anchor:1 -> autoscaling--page--anchor--1.json (':', '/' and '#' never occur in
    anchors or page names, so the mapping is reversible).
    """
    body = example_id.removeprefix("example:")
    return body.replace("/", "--").replace("#", "--").replace(":", "--") + ".json"


def scenarios_dir() -> Path:
    return paths.kb_dir() / "scenarios"


# ---------------------------------------------------------------------------------------------- loading


def _schema() -> dict[str, Any]:
    return json.loads((paths.kb_dir() / "schema" / "scenarios.schema.json").read_text(encoding="utf-8"))


def _json_path(parts: Iterable[Any]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top)"


def load_scenario_file(path: Path, schema: dict[str, Any] | None = None) -> ScenarioFile:
    """Read and validate one scenario file; bad input names the file and the JSON path or line."""
    import jsonschema

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise InputError(f"invalid JSON: {err.msg} at line {err.lineno} column {err.colno}", where=str(path)) from None
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror}", where=str(path)) from None
    validator = jsonschema.Draft202012Validator(schema or _schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        raise InputError(f"{_json_path(first.absolute_path)}: {first.message}", where=str(path))
    for i, scenario in enumerate(data["scenarios"]):
        if scenario["status"] != "ok" and not scenario.get("reason"):
            raise InputError(f"scenarios[{i}].reason: required when status is {scenario['status']}", where=str(path))
    if path.name != file_name(data["example"]):
        raise InputError(f"example: {data['example']} belongs in {file_name(data['example'])}", where=str(path))
    return ScenarioFile(path, data["example"], dict(data.get("substitutions", {})), data["scenarios"])


def load_scenario_files(directory: Path | None = None) -> dict[str, ScenarioFile]:
    """All scenario files, by example id."""
    directory = directory or scenarios_dir()
    schema = _schema()
    files = [load_scenario_file(p, schema) for p in sorted(directory.glob("*.json"))]
    return {f.example: f for f in files}


def load_examples(build: Path | None = None) -> list[dict[str, Any]]:
    """The examples extracted by build-kb (kb/build/examples.json)."""
    return store.load("examples", build)


# ---------------------------------------------------------------------------------------------- substitution


def substitute_placeholders(value: Any, substitutions: dict[str, str]) -> Any:
    """Replace the docs' placeholders ("region", "account_id") in a policy, as the prose tells the reader to.

    Only whole strings and whole ARN segments are replaced, so "region" never rewrites part of a word.
    """
    if not substitutions:
        return value
    if isinstance(value, dict):
        return {k: substitute_placeholders(v, substitutions) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute_placeholders(v, substitutions) for v in value]
    if isinstance(value, str):
        if value in substitutions:
            return substitutions[value]
        if value.startswith("arn:"):
            return ":".join(_substitute_segment(s, substitutions) for s in value.split(":"))
    return value


def _substitute_segment(segment: str, substitutions: dict[str, str]) -> str:
    head, sep, tail = segment.partition("/")
    return substitutions.get(head, head) + sep + tail if sep else substitutions.get(segment, segment)


def fill_example(value: Any, policy: Any) -> Any:
    """Put the example's policy wherever the scenario says "$EXAMPLE" (a fresh copy each time)."""
    if value == PLACEHOLDER:
        return copy.deepcopy(policy)
    if isinstance(value, dict):
        return {k: fill_example(v, policy) for k, v in value.items()}
    if isinstance(value, list):
        return [fill_example(v, policy) for v in value]
    return value


def placeholder_paths(value: Any, path: tuple[str | int, ...] = ()) -> list[list[str | int]]:
    """Where a scenario holds "$EXAMPLE", as lists of keys and indexes: the site's example pages put the
    reader's edited policy there."""
    if value == PLACEHOLDER:
        return [list(path)]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in placeholder_paths(v, (*path, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in placeholder_paths(v, (*path, i))]
    return []


def engine_scenario(scenario: dict[str, Any], policy: Any) -> dict[str, Any]:
    """The DESIGN.md scenario the engine evaluates: meta keys dropped, the example filled in."""
    body = {k: v for k, v in scenario.items() if k not in META_KEYS}
    return fill_example(body, policy)


def example_policy(example: dict[str, Any], substitutions: dict[str, str]) -> Any:
    """The policy the scenarios run: the KB's parsed (or corrected) policy with the docs' placeholders filled."""
    if example.get("policy") is None:
        raise InputError("has no parsed policy to run", where=example["id"])
    return substitute_placeholders(example["policy"], substitutions)


# ---------------------------------------------------------------------------------------------- running


def default_evaluator() -> Evaluator:
    """The project's engine (iamkb.policy), imported only when scenarios actually run."""
    from iamkb.policy import evaluate

    return lambda scenario: evaluate(scenario).to_json()


def _outcome(status: str, expected: str, actual: str) -> str:
    if status == "ok":
        return "passed" if actual == expected else "failed"
    if status == "docs_wrong":
        return "failed" if actual == expected else "docs_wrong"
    return "ambiguous"


def run_scenario(scenario: dict[str, Any], policy: Any, evaluate: Evaluator) -> ScenarioResult:
    result = evaluate(engine_scenario(scenario, policy))
    actual = result["decision"]
    return ScenarioResult(
        name=scenario["name"], doc=scenario["doc"], expected=scenario["expected"], actual=actual,
        status=scenario["status"], outcome=_outcome(scenario["status"], scenario["expected"], actual),
        reason=scenario.get("reason"), explain=list(result.get("explain") or []),
    )


def requires_scenarios(example: dict[str, Any]) -> bool:
    """Every example of either guide that has a policy to run (a complete one, or a fragment wrapped in the
    smallest complete policy) must have scenarios, so a docs example that stops meaning what its prose says
    cannot slip through uncovered; only a block with no reading at all has nothing to run."""
    guide = example.get("page", "").split("/")[0]
    return guide in REQUIRED_GUIDES and example.get("policy") is not None


def run_example(example: dict[str, Any], sfile: ScenarioFile | None, evaluate: Evaluator) -> ExampleReport:
    """Evaluate one example's scenarios; an example without a scenario file is a failure of its own."""
    report = ExampleReport(
        id=example["id"], section=example.get("section"), kind=example.get("kind"), scenarios=0, passed=0,
        failed=0, corrected=bool(example.get("corrected")), correction=example.get("correction"),
        wrapped=bool(example.get("wrapped")),
    )
    if sfile is None or not sfile.scenarios:
        if requires_scenarios(example):
            report.error = f"no scenarios: write kb/scenarios/{file_name(example['id'])}"
        return report
    policy = example_policy(example, sfile.substitutions)
    for scenario in sfile.scenarios:
        res = run_scenario(scenario, policy, evaluate)
        report.results.append(res)
        setattr(report, res.outcome, getattr(report, res.outcome) + 1)
    report.scenarios = len(sfile.scenarios)
    return report


def orphan_report(sfile: ScenarioFile) -> ExampleReport:
    """A scenario file whose example the KB does not have (an id typo, or the docs changed)."""
    return ExampleReport(
        id=sfile.example, section=None, kind=None, scenarios=len(sfile.scenarios), passed=0,
        failed=len(sfile.scenarios), error=f"{sfile.path.name}: no such example in examples.json",
    )


def run_all(
    examples: list[dict[str, Any]], files: dict[str, ScenarioFile], evaluate: Evaluator,
    ids: list[str] | None = None,
) -> list[ExampleReport]:
    """Reports for the chosen examples (all when ids is empty), in the KB's order, then orphan files."""
    by_id = {e["id"]: e for e in examples}
    if ids:
        unknown = [i for i in ids if i not in by_id]
        if unknown:
            raise InputError(f"unknown example id {unknown[0]!r} (iamkb examples --json lists them)",
                             where="iamkb examples")
        chosen = [by_id[i] for i in ids]
    else:
        chosen = examples
    reports = [run_example(e, files.get(e["id"]), evaluate) for e in chosen]
    if not ids:
        reports += [orphan_report(f) for i, f in sorted(files.items()) if i not in by_id]
    return reports


def is_failure(report: ExampleReport) -> bool:
    return report.failed > 0 or report.error is not None


# ---------------------------------------------------------------------------------------------- catalog


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _statements(policy: Any) -> list[dict[str, Any]]:
    if not isinstance(policy, dict):
        return []
    if "Statement" not in policy:  # a single statement (key-policy sections, the Lambda permission)
        return [policy]
    return [s for s in _as_list(policy["Statement"]) if isinstance(s, dict)]


def policy_actions(policy: Any) -> list[str]:
    """Actions (and NotActions) the policy names, as written (wildcards kept), sorted and unique."""
    found = {a for s in _statements(policy) for k in ("Action", "NotAction") for a in _as_list(s.get(k))}
    return sorted(a for a in found if isinstance(a, str))


def policy_condition_keys(policy: Any) -> list[str]:
    """Condition keys the policy tests, as written, sorted and unique."""
    keys = set()
    for statement in _statements(policy):
        condition = statement.get("Condition")
        if isinstance(condition, dict):
            for block in condition.values():
                if isinstance(block, dict):
                    keys.update(block)
    return sorted(keys)


def _lint(policy: Any, ref: Any) -> list[dict[str, Any]]:
    """`iamkb check` findings for the example (a statement is checked inside a one-statement document)."""
    from iamkb.policy.lint import lint_document

    doc = policy if "Statement" in policy else {"Version": "2012-10-17", "Statement": [policy]}
    return [f.to_json() for f in lint_document(doc, ref=ref, use_reference=ref is not None)]


def _reference_of(kb: dict[str, Any]) -> Any:
    """The reference tables as build-kb holds them in memory (kb/build is not written yet), else kb/build."""
    from iamkb.refdata import FILES, from_records, load_reference

    if all(name in kb for name in FILES):
        return from_records(*(kb[name] for name in FILES))
    try:
        return load_reference()
    except InputError:
        return None


def catalog_entry(
    example: dict[str, Any], section: dict[str, Any] | None, report: ExampleReport, sfile: ScenarioFile | None,
    ref: Any = None,
) -> dict[str, Any]:
    policy = example.get("policy")
    published = published_policy(example)
    scenarios = []
    for scenario, result in zip(sfile.scenarios if sfile else [], report.results, strict=False):
        scenarios.append({
            "name": result.name, "doc": result.doc, "expected": result.expected, "actual": result.actual,
            "status": result.status, "outcome": result.outcome, "reason": result.reason,
            "scenario": engine_scenario(scenario, example_policy(example, sfile.substitutions)),
            "slots": placeholder_paths({k: v for k, v in scenario.items() if k not in META_KEYS}),
        })
    return {
        "id": example["id"], "section": example.get("section"), "page": example.get("page"),
        "title": section.get("title") if section else None, "intro": example.get("intro"),
        "kind": example.get("kind"), "format": example.get("format"), "policy": policy,
        "corrected": bool(example.get("corrected")), "correction": example.get("correction"),
        "wrapped": bool(example.get("wrapped")), "wrapping": example.get("wrapping"),
        "actions": policy_actions(published), "condition_keys": policy_condition_keys(published),
        "substitutions": sfile.substitutions if sfile else {},
        "scenarios": scenarios,
        "counts": {k: getattr(report, k) for k in ("scenarios", "passed", "failed", "docs_wrong", "ambiguous")},
        "lint": _lint(policy, ref) if isinstance(policy, dict) else [],
    }


def build_catalog(kb: dict[str, Any], evaluate: Evaluator | None = None) -> dict[str, object]:
    """The example catalog for kb/build/example_catalog.json: called by build-kb after the reference stage.

    kb is {"pages", "sections", "examples"} in memory; scenarios are read from kb/scenarios/.
    """
    if evaluate is None:
        try:
            evaluate = default_evaluator()
        except ImportError:  # the engine is not installed yet: catalog the examples without results
            evaluate = None
    files = load_scenario_files()
    sections = {s["id"]: s for s in kb.get("sections", [])}
    ref = _reference_of(kb)
    entries = []
    for example in kb["examples"]:
        sfile = files.get(example["id"])
        report = run_example(example, sfile if evaluate else None, evaluate)
        entries.append(catalog_entry(example, sections.get(example.get("section")), report, sfile, ref))
    entries.sort(key=lambda e: e["id"])
    return {"example_catalog": entries}


def example_drift(catalog: dict[str, Any] | list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Scenarios the docs get wrong or leave ambiguous, for the drift report.

    Accepts build_catalog's result or its "example_catalog" list.
    """
    entries = catalog["example_catalog"] if isinstance(catalog, dict) else catalog
    out = []
    for entry in entries:
        if entry.get("corrected"):
            out.append({"kind": "example", "example": entry["id"], "section": entry["section"],
                        "scenario": None, "reason": f"not valid as published: {entry.get('correction')}"})
        for s in entry["scenarios"]:
            if s["status"] != "ok":
                out.append({"kind": "example", "example": entry["id"], "section": entry["section"],
                            "scenario": s["name"], "reason": f"{s['status']}: {s['reason']}"})
    return sorted(out, key=lambda d: (d["example"], d["scenario"] or ""))


# ---------------------------------------------------------------------------------------------- CLI


def add_examples_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ids", nargs="*", metavar="ID", help="example ids to run (default: all)")
    parser.add_argument("--json", action="store_true", help="print a JSON list, one object per example")


def _explain_lines(explain: list[Any]) -> list[str]:
    """The engine's readable explanation of each statement (JSON when an entry is not in its shape)."""
    from iamkb.policy.explain import statement_lines

    lines: list[str] = []
    for item in explain:
        try:
            lines.extend(statement_lines(item))
        except (KeyError, TypeError):
            lines.append(json.dumps(item, sort_keys=True))
    return lines


def format_text(reports: list[ExampleReport]) -> str:
    """Readable report: one line per example; details for every scenario that did not simply pass."""
    lines = []
    uncovered = 0
    for r in reports:
        mark = "FAIL" if is_failure(r) else "ok  "
        extra = "".join(f", {getattr(r, k)} {k}" for k in ("docs_wrong", "ambiguous") if getattr(r, k))
        if r.scenarios == 0 and not r.error:
            uncovered += 1
            continue
        lines.append(f"{mark} {r.id} ({r.kind}): {r.passed}/{r.scenarios} passed{extra}")
        if r.corrected:
            lines.append(f"     corrected: {r.correction}")
        if r.error:
            lines.append(f"     error: {r.error}")
        for res in r.results:
            if res.outcome == "passed":
                continue
            lines.append(f"  [{res.outcome}] {res.name}")
            lines.append(f"     docs: {res.doc}")
            lines.append(f"     expected {res.expected}, got {res.actual}")
            if res.reason:
                lines.append(f"     reason: {res.reason}")
            if res.outcome == "failed":
                lines.extend(f"     | {line}" for line in _explain_lines(res.explain))
    total = sum(r.scenarios for r in reports)
    failed = sum(1 for r in reports if is_failure(r))
    lines.append(f"{len(reports)} examples ({uncovered} fragments without scenarios), {total} scenarios, "
                 f"{failed} examples failing")
    return "\n".join(lines)


def run_examples(args: argparse.Namespace) -> int:
    reports = run_all(load_examples(), load_scenario_files(), default_evaluator(), list(args.ids))
    if args.json:
        json.dump([r.summary() for r in reports], sys.stdout, indent=2, sort_keys=False)
        sys.stdout.write("\n")
    else:
        print(format_text(reports))
    return 1 if any(is_failure(r) for r in reports) else 0
