"""Pinned upstream pages: the manifest (kb/sources.toml), and fetching with sha256 verification.

A page is resolved from the local cache, then a mirror folder laid out like the upstream raw-file address space
(`awsdocs/<repository>/<commit>/<path>`), then the upstream address itself. The upstream repositories are
archived, so a sha256 mismatch always means a broken or tampered file: fetch stops, naming every bad page, and
writes nothing to the cache unless every page of the profile verified.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from iamkb import paths
from iamkb.errors import InputError

UPSTREAM = "https://raw.githubusercontent.com/{repository}/{commit}/{path}"
PROFILES = ("default", "full")


@dataclass(frozen=True)
class Guide:
    """One pinned upstream repository (a guide at one commit)."""

    key: str  # "autoscaling" or "iam": the first part of every section id
    repository: str  # "awsdocs/amazon-ec2-auto-scaling-user-guide"
    commit: str
    license: str
    docs_url: str  # base URL of the published guide; page URL = docs_url + page + ".html"
    title: str


@dataclass(frozen=True)
class PageSource:
    guide: Guide
    path: str  # path inside the repository, e.g. doc_source/security-iam.md
    sha256: str
    profiles: tuple[str, ...]

    @property
    def page(self) -> str:
        return Path(self.path).stem

    @property
    def page_id(self) -> str:
        return f"{self.guide.key}/{self.page}"

    @property
    def relpath(self) -> str:
        """Path in the mirror/cache layout (the upstream raw-file address space)."""
        return f"{self.guide.repository}/{self.guide.commit}/{self.path}"

    @property
    def url(self) -> str:
        return f"{self.guide.docs_url}{self.page}.html"


@dataclass(frozen=True)
class Manifest:
    guides: dict[str, Guide]
    pages: tuple[PageSource, ...]

    def profile(self, name: str) -> list[PageSource]:
        if name not in PROFILES:
            raise InputError(f"unknown profile '{name}' (choose {' or '.join(PROFILES)})", where="--profile")
        return [p for p in self.pages if name in p.profiles]


def manifest_path() -> Path:
    return paths.kb_dir() / "sources.toml"


def load_manifest(path: Path | None = None) -> Manifest:
    """Read kb/sources.toml, checking every field a fetch relies on."""
    path = path or manifest_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("manifest not found", where=str(path)) from None
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"not valid TOML: {err}", where=str(path)) from None
    guides = {}
    for key, g in sorted(data.get("guide", {}).items()):
        try:
            guides[key] = Guide(key, g["repository"], g["commit"], g["license"], g["docs_url"], g["title"])
        except KeyError as err:
            raise InputError(f"missing field {err}", where=f"{path}: guide.{key}") from None
    pages = []
    for i, p in enumerate(data.get("page", [])):
        where = f"{path}: page[{i}]"
        try:
            guide = guides[p["guide"]]
            pages.append(PageSource(guide, p["path"], p["sha256"], tuple(p["profiles"])))
        except KeyError as err:
            raise InputError(f"missing or unknown field {err}", where=where) from None
    return Manifest(guides, tuple(pages))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


def _download(url: str, timeout: float = 20.0) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (fixed https address)
            return resp.read()
    except (urllib.error.URLError, TimeoutError, OSError):
        return None


@dataclass
class FetchResult:
    page: PageSource
    data: bytes | None
    origin: str  # "cache", "mirror", "upstream" or "missing"
    problem: str | None = None


def resolve(page: PageSource, cache: Path, mirror: Path | None, network: bool) -> FetchResult:
    """Find one page: cache, then mirror, then upstream; a copy whose sha256 differs is reported, not used."""
    problems = []
    candidates: list[tuple[str, bytes | None]] = [("cache", _read(cache / page.relpath))]
    if mirror is not None:
        candidates.append(("mirror", _read(mirror / page.relpath)))
    for origin, data in candidates:
        if data is None:
            continue
        if sha256(data) == page.sha256:
            return FetchResult(page, data, origin)
        problems.append(f"sha256 mismatch in {origin} ({sha256(data)[:12]}… != {page.sha256[:12]}…)")
    if network:
        data = _download(UPSTREAM.format(repository=page.guide.repository, commit=page.guide.commit,
                                         path=page.path))
        if data is not None:
            if sha256(data) == page.sha256:
                return FetchResult(page, data, "upstream")
            problems.append("sha256 mismatch upstream")
        else:
            problems.append("not reachable upstream")
    if not problems:
        problems.append("not in the cache or the mirror" + ("" if network else " (network off)"))
    return FetchResult(page, None, "missing", "; ".join(problems))


def _write_atomic(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, target)


def fetch(pages: Iterable[PageSource], *, cache: Path, mirror: Path | None, network: bool,
          progress=None) -> list[FetchResult]:
    """Resolve and verify every page; only when all verified, store the new ones in the cache."""
    pages = list(pages)
    results = []
    for i, page in enumerate(pages):
        results.append(resolve(page, cache, mirror, network))
        if progress:
            progress(i + 1, len(pages))
    bad = [r for r in results if r.data is None]
    if bad:
        names = "; ".join(f"{r.page.relpath}: {r.problem}" for r in bad)
        raise InputError(f"{len(bad)} of {len(pages)} source page(s) missing or not matching the manifest: {names}",
                         where="fetch")
    for r in results:
        if r.origin != "cache":
            _write_atomic(cache / r.page.relpath, r.data)  # type: ignore[arg-type]
    return results


def read_verified(page: PageSource, cache: Path | None = None) -> str:
    """The text of a fetched page, re-verified (the cache could have been changed since fetch)."""
    cache = cache or paths.cache_dir()
    data = _read(cache / page.relpath)
    if data is None:
        raise InputError("not fetched (run `iamkb fetch`)", where=page.relpath)
    if sha256(data) != page.sha256:
        raise InputError("sha256 does not match the manifest: the cached copy was changed; run `iamkb fetch`",
                         where=page.relpath)
    return data.decode("utf-8")


class Progress:
    """A bar on a terminal, a few plain lines elsewhere (CI logs), always on stderr."""

    def __init__(self, label: str, stream=None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._last = -1

    def __call__(self, done: int, total: int) -> None:
        if self.tty:
            width = 30
            filled = width * done // max(total, 1)
            self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
            if done == total:
                self.stream.write("\n")
            self.stream.flush()
            return
        step = max(total // 4, 1)
        if done == total or done // step != self._last:
            self._last = done // step
            self.stream.write(f"{self.label}: {done}/{total}\n")


def add_fetch_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", default="default", choices=PROFILES,
                        help="default: the IAM chapter and its references (~60 pages); full: both guides (545)")
    parser.add_argument("--mirror", type=Path, default=None,
                        help="a folder laid out as awsdocs/<repo>/<commit>/<path> "
                             "(default: $IAMKB_SOURCES, else ../shared/sources when it exists)")
    parser.add_argument("--offline", action="store_true", help="never try the upstream address")
    parser.add_argument("--json", action="store_true", help="print a JSON summary")


def run_fetch(args: argparse.Namespace) -> int:
    manifest = load_manifest()
    pages = manifest.profile(args.profile)
    mirror = args.mirror or paths.default_mirror()
    if args.mirror is not None and not args.mirror.is_dir():
        raise InputError("mirror folder not found", where=str(args.mirror))
    results = fetch(pages, cache=paths.cache_dir(), mirror=mirror, network=not args.offline,
                    progress=None if args.json else Progress(f"fetch {args.profile}"))
    origins: dict[str, int] = {}
    for r in results:
        origins[r.origin] = origins.get(r.origin, 0) + 1
    summary = {"profile": args.profile, "pages": len(results), "verified": len(results), "from": origins,
               "cache": str(paths.cache_dir())}
    if args.json:
        print(json.dumps(summary, sort_keys=True))
    else:
        where = ", ".join(f"{n} from {o}" for o, n in sorted(origins.items()))
        print(f"{len(results)} pages verified ({where}); cache: {paths.cache_dir()}")
    return 0
