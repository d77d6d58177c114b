"""How heavy the built site is, and a page of it: what `iamkb site` reports and the page-weight benchmark reads.

The theme's templates indent every navigation entry in loops that print blank lines for each child of a nav
section, even a collapsed one, so a page's HTML was about half whitespace and grew with the number of pages.
`collapse_whitespace` (the hook's on_post_page) keeps one newline wherever a run of whitespace starts with one,
outside <pre>, <textarea> and <script>: a browser renders the page the same, as HTML collapses such runs anyway.
(minify-html, measured on the default site: 53.7 MB -> 49.9 MB more, at 2.6 times the time and a new compiled
dependency that rewrites the markup the tests read; not worth it.)
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_VERBATIM = re.compile(r"(<pre\b.*?</pre>|<textarea\b.*?</textarea>|<script\b.*?</script>)", re.S | re.I)
_RUN = re.compile(r"\n[ \t\r\n]*")


def collapse_whitespace(html: str) -> str:
    """HTML with each whitespace run that holds a newline cut to one newline, verbatim elements untouched."""
    parts = _VERBATIM.split(html)
    return "".join(part if i % 2 else _RUN.sub("\n", part) for i, part in enumerate(parts))


@dataclass(frozen=True)
class SiteSize:
    files: int
    total_bytes: int
    pages: int
    page_bytes: int  # all index.html files
    largest: tuple[tuple[str, int], ...]  # (path relative to the site, bytes), largest first

    @property
    def mean_page_bytes(self) -> float:
        return self.page_bytes / self.pages if self.pages else 0.0

    def to_json(self) -> dict:
        return {"files": self.files, "bytes": self.total_bytes, "pages": self.pages, "page_bytes": self.page_bytes,
                "mean_page_bytes": round(self.mean_page_bytes), "largest": [list(x) for x in self.largest]}

    def lines(self) -> list[str]:
        """What `iamkb site` prints: the total, the pages, the largest files."""
        out = [f"{self.total_bytes / 1e6:.1f} MB in {self.files:,} files; {self.pages:,} pages, "
               f"{self.page_bytes / 1e6:.1f} MB, {self.mean_page_bytes / 1e3:.0f} KB a page on average",
               "largest files:"]
        out += [f"  {size / 1e3:>9,.0f} KB  {path}" for path, size in self.largest]
        return out


def _files(site_dir: Path) -> Iterator[tuple[str, int]]:
    root = site_dir.resolve()
    for folder, _, names in os.walk(root):
        for name in names:
            path = Path(folder, name)
            yield path.relative_to(root).as_posix(), path.stat().st_size


def site_size(site_dir: Path, largest: int = 8) -> SiteSize:
    """Sizes of a built site (its folder or the symlink to it)."""
    files = sorted(_files(site_dir), key=lambda f: (-f[1], f[0]))
    pages = [size for path, size in files if path.endswith("index.html")]
    return SiteSize(files=len(files), total_bytes=sum(size for _, size in files), pages=len(pages),
                    page_bytes=sum(pages), largest=tuple(files[:largest]))
