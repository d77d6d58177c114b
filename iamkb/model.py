"""The parsed documentation model: pages, sections, examples and build warnings.

Blocks and inline spans stay plain JSON-shaped dicts (they are trees written straight into kb/build and read by
the site), while the units other stages address by id are dataclasses. The shapes are fixed by
kb/schema/*.schema.json.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Block = dict[str, Any]
Span = dict[str, Any]

# The alt text the awsdocs Markdown conversion gave every image it lost (table icons, diagrams, screenshots).
PLACEHOLDER_ALT = "Image NOT FOUND"


def image_alt(span: Span) -> str:
    """An image span's description without Markdown escapes; "" for the conversion's placeholder, which
    describes nothing (the table icons' meaning is in the cell's own "Yes" / "No" that follows them)."""
    alt = span.get("alt", "").replace("\\[", "").replace("\\]", "").strip("[] ")
    return "" if alt == PLACEHOLDER_ALT else alt



def is_toc(block: Block) -> bool:
    """A list whose every item is one link into the KB: a page's table of contents ("Topics", "Contents").
    Search leaves these lines out of a section's prose; the site reads the guide's page tree from them."""
    items = block.get("items") or []
    if block.get("type") != "list" or not items:
        return False
    for item in items:
        if len(item) != 1 or item[0].get("type") != "paragraph":
            return False
        inlines = item[0].get("inlines") or []
        if len(inlines) != 1 or inlines[0].get("t") != "link" or not inlines[0].get("target"):
            return False
    return True

@dataclass
class Warning_:
    """Something the parser kept as raw text or could not resolve; listed in the build report."""

    page: str
    line: int
    code: str
    message: str


@dataclass
class Link:
    text: str
    href: str
    target: str | None = None  # section id (or a page's top section id) inside the corpus
    external: bool = True
    line: int = 0


@dataclass
class Section:
    id: str
    page: str
    guide: str
    anchor: str
    level: int
    title: str
    parent: str | None
    path: list[str]
    line: int
    aliases: list[str] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    text: str = ""
    links: list[Link] = field(default_factory=list)
    mentions: dict[str, list[str]] = field(default_factory=dict)
    missing_content: list[str] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)


@dataclass
class Example:
    id: str
    section: str
    page: str
    n: int
    line: int
    kind: str
    format: str
    intro: str
    code: str
    policy: Any
    error: dict[str, Any] | None = None
    corrected: bool = False
    correction: str | None = None
    wrapped: bool = False  # a fragment, run inside the smallest complete policy (`policy`); `code` is as published
    wrapping: str | None = None  # what the wrapping added or left out


@dataclass
class Page:
    id: str
    guide: str
    page: str
    title: str
    url: str
    source: dict[str, str]
    sections: list[str] = field(default_factory=list)
