"""KB blocks and spans -> Markdown that MkDocs (Python-Markdown + pymdownx) renders faithfully.

Text is escaped so that nothing in the docs' prose is read as Markdown; inline formatting is written as HTML
tags (robust next to punctuation), links as Markdown so MkDocs resolves and checks every internal link and
anchor in strict mode. Mentions of reference entities and glossary terms become links through a `Linker`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote, urljoin, urlsplit

from iamkb.model import image_alt

_MD_SPECIAL = re.compile(r"([\\`*_\[\]{}|])")
_LINE_START = re.compile(r"^(\s*)([#+\-]|\d+(?=[.)]))")
_TAB_TITLE = re.compile(r"^\[\s*(.+?)\s*\]$")
INDENT = "    "

# Upstream table icons (their images are not fetched), shown as symbols before the cell's own word.
_ICONS = {"icon-yes.png": ("yes", "✓"), "icon-no.png": ("no", "✗"), "icon-maybe.png": ("maybe", "◐")}
_CALLOUTS = {"note": ("note", None), "tip": ("tip", None), "important": ("warning", "Important"),
             "warning": ("danger", "Warning")}


def esc(text: str) -> str:
    """Plain text -> Markdown source that renders as exactly that text (one line)."""
    text = html.escape(text.replace("\n", " "), quote=False)
    text = _MD_SPECIAL.sub(r"\\\1", text)
    # A paragraph must not start like a heading, list item or numbered step ("1." -> "1\.").
    return _LINE_START.sub(lambda m: m.group(0) + "\\" if m.group(2)[0].isdigit()
                           else m.group(1) + "\\" + m.group(2), text)


def code_span(text: str) -> str:
    """Inline code as HTML, with a line-break opportunity (<wbr>) after each ':' and '/': an ARN or an action
    name in a narrow table column wraps between its parts instead of one character per line (copying the text
    copies no break)."""
    return "<code>" + re.sub(r"([:/])(?=.)", r"\1<wbr>", esc(text)) + "</code>"


def esc_attr(text: str) -> str:
    return html.escape(text, quote=True)


def url_quote(url: str) -> str:
    """A URL safe inside Markdown link parentheses (spaces and parentheses percent-encoded)."""
    return quote(url, safe=":/?#@!$&'*+,;=%~-._[]")


def tab_label(title: str) -> str | None:
    """'[ Console ]' -> 'Console': the upstream content-tab labels written as headings."""
    m = _TAB_TITLE.match(title.strip())
    return m.group(1) if m else None


@dataclass
class Linker:
    """Turns names in text into links: reference entities (per section) and glossary terms (first use per page).

    `target_url(id)` maps a section/page id to a relative link or None; `entities` maps an exact mention
    string to a relative link; `glossary` maps a lower-cased term to (link, definition).
    """

    target_url: Callable[[str], str | None]
    entities: dict[str, str] = field(default_factory=dict)
    glossary: dict[str, tuple[str, str]] = field(default_factory=dict)
    glossary_seen: set[str] = field(default_factory=set)
    upstream_base: str = ""  # the upstream page URL: relative links to pages outside the corpus resolve there
    _entity_rx: re.Pattern[str] | None = None
    _glossary_rx: re.Pattern[str] | None = None

    def __post_init__(self) -> None:
        self.set_entities(self.entities)
        if self.glossary:
            names = sorted(self.glossary, key=lambda n: (-len(n), n))
            self._glossary_rx = re.compile(r"(?<![\w:/-])(" + "|".join(map(re.escape, names)) + r")(?![\w/-])",
                                           re.IGNORECASE)

    def set_entities(self, entities: dict[str, str]) -> None:
        """The linkable names of the section being rendered (its mentions that have pages)."""
        self.entities = entities
        names = sorted(entities, key=lambda n: (-len(n), n))
        self._entity_rx = (re.compile(r"(?<![\w:/*-])(" + "|".join(map(re.escape, names)) + r")(?![\w*/-])")
                           if names else None)

    def text(self, value: str, *, in_link: bool) -> str:
        """Escaped text with entity and glossary links (none inside an existing link)."""
        if in_link:
            return esc(value)
        out, pos = [], 0
        for start, end, link, title in self._matches(value):
            out.append(esc(value[pos:start]))
            label = esc(value[start:end])
            out.append(f'[{label}]({link} "{esc_attr(title)}")' if title else f"[{label}]({link})")
            pos = end
        out.append(esc(value[pos:]))
        return "".join(out)

    def _matches(self, value: str) -> list[tuple[int, int, str, str]]:
        found: list[tuple[int, int, str, str]] = []
        if self._entity_rx:
            found += [(m.start(), m.end(), self.entities[m.group(1)], "") for m in self._entity_rx.finditer(value)]
        if self._glossary_rx:
            for m in self._glossary_rx.finditer(value):
                key = m.group(1).lower()
                if key in self.glossary_seen or any(s < m.end() and m.start() < e for s, e, _, _ in found):
                    continue
                self.glossary_seen.add(key)
                link, definition = self.glossary[key]
                found.append((m.start(), m.end(), link, definition))
        return sorted(found)

    def code(self, value: str, *, in_link: bool) -> str:
        rendered = code_span(value)
        link = None if in_link else self.entities.get(value.strip())
        return f"[{rendered}]({link})" if link else rendered


def image(span: dict) -> str:
    """An image the KB keeps only by reference: a table icon as its symbol (the cell's own "Yes" / "No"
    follows it), any other as a link to the upstream image, labelled by its description or file name."""
    src = span.get("src", "")
    name = src.rsplit("/", 1)[-1]
    if name in _ICONS:
        kind, symbol = _ICONS[name]
        return f'<span class="iamkb-icon iamkb-icon-{kind}" aria-hidden="true">{symbol}</span>'
    alt = image_alt(span) or name or "image"
    if not name:  # the upstream page names no image file: keep the description only
        return f"<em>[figure: {esc(alt)}]</em>"
    return f"[<em>figure: {esc(alt)}</em>]({url_quote(src)})"


def inlines(spans: list[dict], linker: Linker, *, in_link: bool = False) -> str:
    """Spans -> one line of Markdown."""
    out = []
    for span in spans:
        t = span.get("t")
        if t == "text":
            out.append(linker.text(span.get("v", ""), in_link=in_link))
        elif t == "code":
            out.append(linker.code(span.get("v", ""), in_link=in_link))
        elif t in ("strong", "em"):
            out.append(f"<{t}>{inlines(span.get('c', []), linker, in_link=in_link)}</{t}>")
        elif t == "br":
            out.append("<br>")
        elif t == "image":
            out.append(image(span))
        elif t == "link":
            out.append(link(span, linker, in_link=in_link))
        else:
            out.append(esc(span.get("v", "")))
    return "".join(out)


def link(span: dict, linker: Linker, *, in_link: bool) -> str:
    label = inlines(span.get("c", []), linker, in_link=True) or esc(span.get("href", ""))
    if in_link:
        return label
    target = span.get("target")
    url = linker.target_url(target) if target else None
    href = span.get("href") or ""
    if url is None:
        if not href or href.startswith("#"):
            return label
        if not urlsplit(href).scheme and linker.upstream_base:
            # A page of the guide outside the corpus: link to it on the AWS site (foo.md -> foo.html).
            path, _, frag = href.partition("#")
            href = urljoin(linker.upstream_base, re.sub(r"\.md$", ".html", path)) + (f"#{frag}" if frag else "")
        url = url_quote(href)
    return f"[{label}]({url})"


def indent(text: str, prefix: str = INDENT) -> str:
    return "\n".join(prefix + line if line.strip() else "" for line in text.split("\n"))


def blocks(items: list[dict], linker: Linker, code_hook: Callable[[dict], str] | None = None) -> str:
    """Blocks -> Markdown, separated by blank lines."""
    return "\n\n".join(filter(None, (block(b, linker, code_hook) for b in items)))


def _list(items: list[list[dict]], linker: Linker, code_hook, numbered: bool, start: int = 1) -> str:
    out = []
    for i, item in enumerate(items):
        marker = f"{start + i}." if numbered else "-"
        body = blocks(item, linker, code_hook) or esc("")
        first, _, rest = body.partition("\n")
        pad = " " * (len(INDENT) - len(marker) - 1)
        text = f"{marker}{pad} {first}"
        if rest:
            text += "\n" + indent(rest)
        out.append(text)
    # A blank line between items keeps multi-block items together ("loose" lists, as upstream renders them).
    return "\n\n".join(out)


def fence(code: str, lang: str | None) -> str:
    longest = max((len(m) for m in re.findall(r"`{3,}", code)), default=2)
    marks = "`" * (longest + 1)
    lang = re.sub(r"[^\w+-]", "", lang or "") or "text"
    return f"{marks}{lang}\n{code.rstrip()}\n{marks}"


def table(b: dict, linker: Linker) -> str:
    header = b.get("header") or []
    rows = b.get("rows") or []
    width = max(1, len(header), *(len(r) for r in rows))

    def row(cells: list[dict]) -> str:
        padded = list(cells) + [{"inlines": []}] * (width - len(cells))
        return "| " + " | ".join(inlines(c.get("inlines", []), linker) or " " for c in padded) + " |"

    lines = [row(header), "|" + "|".join([" --- "] * width) + "|", *(row(r) for r in rows)]
    return "\n".join(lines)


def block(b: dict, linker: Linker, code_hook: Callable[[dict], str] | None = None) -> str:
    t = b.get("type")
    if t == "paragraph":
        return inlines(b.get("inlines", []), linker)
    if t == "list":
        return _list(b.get("items", []), linker, code_hook, numbered=False)
    if t == "procedure":
        return _list(b.get("steps", []), linker, code_hook, numbered=True, start=int(b.get("start") or 1))
    if t == "table":
        return table(b, linker)
    if t == "code":
        # Upstream leaves most policy blocks without a language; an example block is JSON (highlighted as such).
        text = fence(b.get("code", ""), b.get("lang") or ("json" if b.get("example") else None))
        return text + ("\n\n" + code_hook(b) if code_hook and b.get("example") else "")
    if t == "callout":
        kind, title = _CALLOUTS.get(b.get("kind", "note"), ("note", None))
        head = f'!!! {kind} "{title}"' if title else f"!!! {kind}"
        return head + "\n\n" + indent(blocks(b.get("blocks", []), linker, code_hook))
    if t == "quote":
        inner = blocks(b.get("blocks", []), linker, code_hook)
        return "\n".join("> " + line if line else ">" for line in inner.split("\n"))
    if t == "rule":
        return "<hr>"
    return esc(b.get("text", ""))
