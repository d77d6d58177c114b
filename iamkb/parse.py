"""Parse one page of the awsdocs Markdown dialect into sections of typed blocks.

The dialect (see the sources README): headings end with `<a name="anchor"></a>`; punctuation is backslash-escaped
(markdown-it undoes the escapes, as CommonMark says); notes are a bold label (`**Note**`) and a line break before
the text; links between pages are relative `page.md#anchor`; some tables were replaced by a placeholder link
"[See the AWS documentation website for more details]". markdown-it-py does the CommonMark work; this module maps
its syntax tree onto the KB's blocks and spans. Anything it does not understand is kept as a raw block and a
warning, never dropped. Link targets are resolved later, across the corpus (iamkb.links).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

from iamkb.model import Block, Link, Section, Span, Warning_, image_alt

ANCHOR = re.compile(r"""<a\s+name=["']([^"']+)["']\s*>\s*(?:</a>)?""", re.I)
CALLOUTS = {"note": "note", "important": "important", "tip": "tip", "warning": "warning", "caution": "warning"}
TAB_HEADING = re.compile(r"^\[\s*(.+?)\s*\]$")  # "[ Console ]": a content tab of the published page
PLACEHOLDER = "See the AWS documentation website for more details"
_MD = MarkdownIt("commonmark").enable("table")


@dataclass
class ParsedPage:
    """What the parser found in one page, before links are resolved across the corpus."""

    page_id: str
    guide: str
    page: str
    title: str
    sections: list[Section] = field(default_factory=list)
    warnings: list[Warning_] = field(default_factory=list)


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


class _PageParser:
    """Walks the syntax tree of one page; keeps the current section and the page's warnings."""

    def __init__(self, page_id: str, guide: str, page: str) -> None:
        self.page_id, self.guide, self.page = page_id, guide, page
        self.sections: list[Section] = []
        self.warnings: list[Warning_] = []
        self._line = 0
        self._in_heading = False  # heading anchors name the new section; elsewhere they are aliases

    # --- warnings -----------------------------------------------------------------------------------------
    def warn(self, code: str, message: str, line: int | None = None) -> None:
        self.warnings.append(Warning_(self.page_id, (line if line is not None else self._line) + 1, code, message))

    @property
    def current(self) -> Section:
        if not self.sections:  # content before the first heading: give it a section of its own
            self._open_section(1, self.page, self.page, 0)
            self.warn("content-before-heading", "content before the page's first heading kept in a section")
        return self.sections[-1]

    # --- sections -----------------------------------------------------------------------------------------
    def _open_section(self, level: int, title: str, anchor: str, line: int) -> None:
        parent = next((s for s in reversed(self.sections) if s.level < level), None)
        path = [*parent.path, title] if parent else [title]
        self.sections.append(Section(
            id=f"{self.page_id.split('/')[0]}/{self.page}#{anchor}", page=self.page_id, guide=self.guide,
            anchor=anchor, level=level, title=title, parent=parent.id if parent else None, path=path,
            line=line + 1))

    def heading(self, node: SyntaxTreeNode) -> None:
        inline = node.children[0] if node.children else None
        self._in_heading = True
        spans = self.inlines(inline) if inline else []
        self._in_heading = False
        anchors = [m.group(1) for m in ANCHOR.finditer(inline.content if inline else "")]
        title = spans_text(spans).strip()
        anchor = anchors[0] if anchors else self._derived_anchor(title)
        if not anchors:
            tab = TAB_HEADING.match(title)
            code = "tab-heading" if tab else "heading-without-anchor"
            self.warn(code, f"heading '{title}' has no <a name>; anchor '{anchor}' derived")
        if anchors and anchor in {s.anchor for s in self.sections}:
            unique = self._derived_anchor(anchor)
            self.warn("duplicate-anchor", f"heading '{title}' reuses the anchor '{anchor}' of an earlier heading; "
                                          f"kept as '{unique}'")
            anchor = unique
        level = int(node.tag[1])
        self._open_section(level, title, anchor, node.map[0] if node.map else self._line)
        self.current.aliases.extend(a for a in anchors[1:] if a != anchor)

    def _derived_anchor(self, title: str) -> str:
        """A slug for a heading upstream left without an anchor, unique within the page."""
        base = slugify(TAB_HEADING.sub(r"\1", title)) if " " in title or "[" in title else title
        base = base or "section"
        taken = {s.anchor for s in self.sections} | {a for s in self.sections for a in s.aliases}
        anchor, n = base, 1
        while anchor in taken:
            n += 1
            anchor = f"{base}-{n}"
        return anchor

    # --- blocks -------------------------------------------------------------------------------------------
    def blocks(self, nodes: list[SyntaxTreeNode]) -> list[Block]:
        out: list[Block] = []
        for node in nodes:
            if node.map:
                self._line = node.map[0]
            block = self.block(node)
            if block is not None:
                out.append(block)
        return out

    def block(self, node: SyntaxTreeNode) -> Block | None:
        kind = node.type
        if kind == "paragraph":
            return self.paragraph(node)
        if kind == "bullet_list":
            return {"type": "list", "items": [self.blocks(item.children) for item in node.children]}
        if kind == "ordered_list":
            return {"type": "procedure", "start": int(node.attrs.get("start", 1) or 1),
                    "steps": [self.blocks(item.children) for item in node.children]}
        if kind in ("fence", "code_block"):
            return {"type": "code", "lang": (node.info or "").strip(), "code": node.content.rstrip("\n"),
                    "line": (node.map[0] + 2) if node.map else 0, "example": None}
        if kind == "table":
            return self.table(node)
        if kind == "html_block":
            return self.html_block(node)
        if kind == "blockquote":
            return {"type": "quote", "blocks": self.blocks(node.children)}
        if kind == "hr":
            return {"type": "rule"}
        self.warn("unknown-block", f"block of type '{kind}' kept as raw text")
        return {"type": "raw", "text": node.content or ""}

    def html_block(self, node: SyntaxTreeNode) -> Block | None:
        content = node.content.strip()
        anchors = ANCHOR.findall(content)
        rest = ANCHOR.sub("", content).strip()
        self.current.aliases.extend(anchors)
        if not rest:
            return None
        self.warn("raw-html", f"HTML block kept as raw text: {rest[:60]!r}")
        return {"type": "raw", "text": rest}

    def paragraph(self, node: SyntaxTreeNode) -> Block:
        spans = self.inlines(node.children[0]) if node.children else []
        callout = _callout_kind(spans)
        if callout:
            body = _strip_leading_breaks(spans[1:])
            return {"type": "callout", "kind": callout,
                    "blocks": [{"type": "paragraph", "inlines": body, "text": spans_text(body).strip()}]}
        return {"type": "paragraph", "inlines": spans, "text": spans_text(spans).strip()}

    def table(self, node: SyntaxTreeNode) -> Block:
        header: list[dict] = []
        rows: list[list[dict]] = []
        for part in node.children:
            for tr in part.children:
                cells = [self.cell(td) for td in tr.children]
                if part.type == "thead":
                    header = cells
                else:
                    rows.append(cells)
        return {"type": "table", "header": header, "rows": rows}

    def cell(self, td: SyntaxTreeNode) -> dict:
        spans = self.inlines(td.children[0]) if td.children else []
        return {"inlines": spans, "text": spans_text(spans).strip()}

    # --- inlines ------------------------------------------------------------------------------------------
    def inlines(self, node: SyntaxTreeNode) -> list[Span]:
        out: list[Span] = []
        for child in node.children:
            out.extend(self.inline(child))
        return _merge_text(out)

    def inline(self, node: SyntaxTreeNode) -> list[Span]:
        kind = node.type
        if kind == "text":
            return [{"t": "text", "v": node.content}] if node.content else []
        if kind == "code_inline":
            return [{"t": "code", "v": node.content}]
        if kind in ("strong", "em"):
            return [{"t": kind, "c": self.inlines(node)}]
        if kind == "softbreak":
            return [{"t": "text", "v": " "}]
        if kind == "hardbreak":
            return [{"t": "br"}]
        if kind == "link":
            return [self.link(node)]
        if kind == "image":
            return [{"t": "image", "src": node.attrs.get("src", ""), "alt": node.content or ""}]
        if kind == "html_inline":
            anchors = ANCHOR.findall(node.content)
            if anchors and self._in_heading:
                return []
            if anchors:
                section = self.current
                section.aliases.extend(a for a in anchors if a != section.anchor)
                return []
            if node.content.strip().lower() in ("</a>", "<br>", "<br/>", "<br />"):
                return [{"t": "br"}] if node.content.lower().startswith("<br") else []
            self.warn("raw-html", f"inline HTML kept as text: {node.content[:60]!r}")
            return [{"t": "text", "v": node.content}]
        self.warn("unknown-inline", f"inline of type '{kind}' kept as text")
        return [{"t": "text", "v": node.content or ""}]

    def link(self, node: SyntaxTreeNode) -> Span:
        href = str(node.attrs.get("href", ""))
        children = self.inlines(node)
        text = spans_text(children).strip()
        section = self.current
        if PLACEHOLDER in text:
            section.missing_content.append(href)
            self.warn("missing-content", f"upstream placeholder for content not in the Markdown source: {href}")
        section.links.append(Link(text=text, href=href, line=self._line + 1))
        return {"t": "link", "href": href, "target": None, "c": children}


def _callout_kind(spans: list[Span]) -> str | None:
    """`**Note**` followed by a line break (or nothing) opens a callout in the awsdocs dialect."""
    if not spans or spans[0]["t"] != "strong":
        return None
    label = spans_text(spans[0]["c"]).strip().rstrip(":").lower()
    if label not in CALLOUTS:
        return None
    rest = spans[1:]
    if rest and rest[0]["t"] not in ("br",) and not (rest[0]["t"] == "text" and rest[0]["v"][:1] in (" ", ":")):
        return None
    return CALLOUTS[label]


def _strip_leading_breaks(spans: list[Span]) -> list[Span]:
    out = list(spans)
    while out and (out[0]["t"] == "br" or (out[0]["t"] == "text" and not out[0]["v"].strip())):
        out.pop(0)
    if out and out[0]["t"] == "text":
        out[0] = {"t": "text", "v": out[0]["v"].lstrip(" :")}
    return out


def _merge_text(spans: list[Span]) -> list[Span]:
    out: list[Span] = []
    for span in spans:
        if span["t"] == "text" and out and out[-1]["t"] == "text":
            out[-1] = {"t": "text", "v": out[-1]["v"] + span["v"]}
        else:
            out.append(span)
    return out


def spans_text(spans: list[Span]) -> str:
    """Plain text of inline spans (links and emphasis by their text, breaks as newlines)."""
    parts = []
    for span in spans:
        t = span["t"]
        if t in ("text", "code"):
            parts.append(span["v"])
        elif t == "br":
            parts.append("\n")
        elif t == "image":
            parts.append(image_alt(span))
        else:
            parts.append(spans_text(span.get("c", [])))
    return "".join(parts)


def blocks_text(blocks: list[Block]) -> str:
    """Plain text of blocks, one paragraph per line; code included (mentions are found in both)."""
    lines: list[str] = []
    for b in blocks:
        t = b["type"]
        if t in ("paragraph", "raw"):
            lines.append(b["text"])
        elif t == "code":
            lines.append(b["code"])
        elif t in ("callout", "quote"):
            lines.append(blocks_text(b["blocks"]))
        elif t == "list":
            lines.extend(blocks_text(item) for item in b["items"])
        elif t == "procedure":
            lines.extend(blocks_text(step) for step in b["steps"])
        elif t == "table":
            for row in [b["header"], *b["rows"]]:
                lines.append(" | ".join(c["text"] for c in row))
    return "\n".join(line for line in lines if line)


def parse_page(text: str, *, guide: str, page: str) -> ParsedPage:
    """Parse one Markdown page into sections (links unresolved) and warnings."""
    page_id = f"{guide}/{page}"
    parser = _PageParser(page_id, guide, page)
    root = SyntaxTreeNode(_MD.parse(text))
    for node in root.children:
        if node.map:
            parser._line = node.map[0]
        if node.type == "heading":
            parser.heading(node)
            continue
        block = parser.block(node)
        if block is not None:
            parser.current.blocks.append(block)
    for section in parser.sections:
        section.aliases = list(dict.fromkeys(section.aliases))
        section.text = blocks_text(section.blocks)
    title = parser.sections[0].title if parser.sections else page
    return ParsedPage(page_id, guide, page, title, parser.sections, parser.warnings)
