"""A link checker over a built site: every internal link must reach a file, and its #anchor an id in it.

Run by the tests over the real build (and usable by hand: `python -m iamkb.site.linkcheck site/`). External
links (a scheme or //host) are not followed: the site must work offline, and upstream pages are not ours.
"""

from __future__ import annotations

import html
import posixpath
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

_ID = re.compile(r"""\s(?:id|name)=["']([^"']+)["']""")
_HREF = re.compile(r"""<a\s[^>]*?href=["']([^"']*)["']""")


@dataclass(frozen=True)
class Broken:
    page: str  # site-relative path of the page holding the link
    href: str
    reason: str

    def __str__(self) -> str:
        return f"{self.page}: {self.href} ({self.reason})"


def _target_file(site: Path, page_rel: str, path: str) -> tuple[str, Path]:
    base = posixpath.dirname(page_rel)
    rel = posixpath.normpath(posixpath.join(base, unquote(path))) if path else page_rel
    target = site / rel
    if target.is_dir() or path.endswith("/"):
        target = target / "index.html"
        rel = posixpath.join(rel, "index.html")
    return rel, target


def check_site(site: Path) -> tuple[int, list[Broken]]:
    """(number of internal links checked, broken ones)."""
    pages = {p.relative_to(site).as_posix(): p for p in site.rglob("*.html")}
    ids: dict[str, set[str]] = {}

    def ids_of(rel: str) -> set[str]:
        if rel not in ids:
            text = pages[rel].read_text(encoding="utf-8", errors="replace")
            ids[rel] = {html.unescape(m) for m in _ID.findall(text)}
        return ids[rel]

    broken: list[Broken] = []
    checked = 0
    for rel, path in sorted(pages.items()):
        if rel == "404.html":  # served for any missing URL: its relative links are not meant for /404.html
            continue
        for raw in _HREF.findall(path.read_text(encoding="utf-8", errors="replace")):
            href = html.unescape(raw)
            parts = urlsplit(href)
            if parts.scheme or parts.netloc or href.startswith(("mailto:", "javascript:")):
                continue
            if parts.path.startswith("/"):
                broken.append(Broken(rel, href, "absolute path: breaks when the site is not at the root"))
                continue
            checked += 1
            target_rel, target = _target_file(site, rel, parts.path)
            if posixpath.normpath(target_rel).startswith(".."):
                broken.append(Broken(rel, href, "leaves the site"))
            elif not target.is_file():
                broken.append(Broken(rel, href, "no such file"))
            elif parts.fragment and target_rel in pages and unquote(parts.fragment) not in ids_of(target_rel):
                broken.append(Broken(rel, href, f"no anchor #{parts.fragment} in {target_rel}"))
    return checked, broken


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    site = Path(args[0] if args else "site")
    checked, broken = check_site(site)
    for b in broken:
        print(b)
    print(f"{checked} internal links checked, {len(broken)} broken")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
