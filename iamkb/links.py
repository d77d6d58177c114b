"""Resolve the links of parsed pages across the corpus.

Relative links (`page.md#anchor`, `#anchor`) and absolute docs.aws.amazon.com links to a page the corpus has
become section ids; an anchor that names an inline `<a name>` (an alias) resolves to the section holding it.
Everything else stays external. A corpus link whose anchor is nowhere in the page is a broken upstream link: it
resolves to the page and is listed as a warning.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from iamkb.model import Section, Span, Warning_

DOCS = {
    "autoscaling": re.compile(r"^https?://docs\.aws\.amazon\.com/autoscaling/ec2/userguide/([A-Za-z0-9_.-]+)\.html"),
    "iam": re.compile(r"^https?://docs\.aws\.amazon\.com/IAM/latest/UserGuide/([A-Za-z0-9_.-]+)\.html"),
}


@dataclass
class AnchorTable:
    """Where every anchor of the corpus lives: (page id, anchor) -> section id; page id -> top section id."""

    anchors: dict[tuple[str, str], str]
    pages: dict[str, str]

    @classmethod
    def build(cls, sections: Iterable[Section]) -> AnchorTable:
        anchors: dict[tuple[str, str], str] = {}
        pages: dict[str, str] = {}
        for s in sections:
            pages.setdefault(s.page, s.id)
            anchors.setdefault((s.page, s.anchor), s.id)
            for alias in s.aliases:
                anchors.setdefault((s.page, alias), s.id)
        return cls(anchors, pages)


def _split(href: str) -> tuple[str, str]:
    base, _, anchor = href.partition("#")
    return base, anchor


def resolve_href(href: str, page_id: str, table: AnchorTable) -> tuple[str | None, bool]:
    """(target section id or None, broken) for one href found on page_id."""
    guide = page_id.split("/", 1)[0]
    base, anchor = _split(href)
    target_page = None
    if not base:
        target_page = page_id
    elif re.match(r"^[A-Za-z0-9_.-]+\.md$", base):
        target_page = f"{guide}/{base[:-3]}"
    else:
        for g, pattern in DOCS.items():
            m = pattern.match(href)
            if m:
                target_page = f"{g}/{m.group(1)}"
                break
    if target_page is None or target_page not in table.pages:
        return None, False
    if not anchor:
        return table.pages[target_page], False
    found = table.anchors.get((target_page, anchor))
    return (found, False) if found else (table.pages[target_page], True)


def _resolve_spans(spans: list[Span], page_id: str, table: AnchorTable) -> None:
    for span in spans:
        if span["t"] == "link":
            span["target"], _ = resolve_href(span["href"], page_id, table)
        if "c" in span:
            _resolve_spans(span["c"], page_id, table)


def _resolve_blocks(blocks: list[dict], page_id: str, table: AnchorTable) -> None:
    for b in blocks:
        t = b["type"]
        if "inlines" in b:
            _resolve_spans(b["inlines"], page_id, table)
        if t in ("callout", "quote"):
            _resolve_blocks(b["blocks"], page_id, table)
        elif t == "list":
            for item in b["items"]:
                _resolve_blocks(item, page_id, table)
        elif t == "procedure":
            for step in b["steps"]:
                _resolve_blocks(step, page_id, table)
        elif t == "table":
            for cell in [*b["header"], *(c for row in b["rows"] for c in row)]:
                _resolve_spans(cell["inlines"], page_id, table)


def resolve_links(sections: list[Section], table: AnchorTable) -> list[Warning_]:
    """Fill every link's target in place (the section's link list and the spans); return broken-link warnings."""
    warnings = []
    for s in sections:
        for link in s.links:
            link.target, broken = resolve_href(link.href, s.page, table)
            link.external = link.target is None
            if broken:
                warnings.append(Warning_(s.page, link.line, "broken-anchor",
                                         f"link '{link.href}' names an anchor the target page does not have; "
                                         f"resolved to the page"))
        _resolve_blocks(s.blocks, s.page, table)
    return warnings
