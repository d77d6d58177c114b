"""Benchmark `iamkb check`: the lint over every policy example of the KB, with and without evidence, beside the
15-code lint it replaced (the file as of a given git revision, run in the same process on the same documents), and
the build stages it added (parsing the Access Analyzer checks, the coverage table).

Run after `make kb`:  .venv/bin/python bench/bench_lint.py [--repeat 5] [--before REV]
Prints one JSON object of median timings (seconds); copy the figures into bench/README.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_reference import ROOT, timed  # the same median-of-runs timer (it puts the project on sys.path)


def previous_lint(rev: str):
    """The single-module lint of revision `rev` (iamkb/policy/lint.py), loaded under another name."""
    text = subprocess.run(["git", "show", f"{rev}:iamkb/policy/lint.py"], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout
    path = Path(tempfile.mkdtemp()) / "previous_lint.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("previous_lint", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules["previous_lint"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--before", default="eec7f67", help="git revision with the previous lint.py")
    args = parser.parse_args()
    from iamkb.analyzer_checks import build_analyzer_checks, lint_coverage
    from iamkb.paths import build_dir
    from iamkb.policy.lint import lint_document
    from iamkb.refdata import load_reference

    build = build_dir()
    examples = json.loads((build / "examples.json").read_text(encoding="utf-8"))
    sections = json.loads((build / "sections.json").read_text(encoding="utf-8"))
    docs = [e["policy"] if "Statement" in e["policy"] else {"Version": "2012-10-17", "Statement": [e["policy"]]}
            for e in examples if isinstance(e.get("policy"), dict)]
    ref = load_reference(build)
    old = previous_lint(args.before)
    checks = build_analyzer_checks(sections)
    findings = sum(len(lint_document(d, ref=ref)) for d in docs)
    with_evidence = sum(1 for d in docs for f in lint_document(d, ref=ref) if f.evidence)
    result = {
        "documents": len(docs),
        "findings": findings,
        "findings_with_evidence": with_evidence,
        "previous_lint_s": timed(lambda: [old.lint_document(d, ref=ref) for d in docs], args.repeat),
        "lint_s": timed(lambda: [lint_document(d, ref=ref) for d in docs], args.repeat),
        "lint_without_evidence_s": timed(lambda: [lint_document(d, ref=ref, evidence=False) for d in docs],
                                         args.repeat),
        "build_analyzer_checks_s": timed(lambda: build_analyzer_checks(sections), args.repeat),
        "lint_coverage_s": timed(lambda: lint_coverage(checks), args.repeat),
        "iamkb_check_process_s": timed(lambda: subprocess.run(
            [sys.executable, "-m", "iamkb.cli", "check", "--json", str(_write(docs[0]))], cwd=ROOT,
            capture_output=True), max(1, args.repeat // 2)),
    }
    print(json.dumps(result, indent=1))
    return 0


def _write(doc: dict) -> Path:
    path = Path(tempfile.mkdtemp()) / "policy.json"
    path.write_text(json.dumps(doc))
    return path


if __name__ == "__main__":
    sys.exit(main())
