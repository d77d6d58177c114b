"""The parse stage of the build: every page of a profile parsed, links resolved across the corpus, policy
examples and mentions found, and the parse report (counts and every warning, each code explained).

`parse_corpus` reads only the verified source cache and returns plain data; iamkb.pipeline runs it first and
hands its result to the later stages, and iamkb.store writes it to kb/build/ (pages, sections, examples,
report). Nothing here knows the later stages or the files on disk.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

from iamkb import extract, mentions, sources
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
