"""What the hook generates, and in which navigation; plus building the site from Python (tests, bench).

`generate` returns every generated page as {docs path: Markdown}; `navigation` the nav tree (tabs: Home, Start
here, the two guides, Reference, Examples, Ask, About). Entity pages (actions, keys, ...) stay out of the nav:
the index tables link them, and a nav of 1,000 entries would slow every page and help nobody.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from iamkb import paths
from iamkb.errors import InputError
from iamkb.site import examples, onboarding, reference, topics, urls
from iamkb.site.pages import GUIDE_TABS, Site


def ordered_topics(site: Site, guide: str) -> list[dict]:
    """A guide's pages: the reading-path order first, then the rest by title."""
    order = {step["id"].partition("#")[0]: i for i, step in enumerate(site.data.reading_path)}
    pages = [p for p in site.data.pages if p["guide"] == guide]
    return sorted(pages, key=lambda p: (order.get(p["id"], len(order)), p["title"].lower()))


def generate(site: Site) -> dict[str, str]:
    out: dict[str, str] = {}
    for guide in GUIDE_TABS:
        ordered = ordered_topics(site, guide)
        if ordered:
            out.update([topics.guide_index(site, guide, ordered)])
        out.update(topics.topic_page(site, p) for p in ordered)
    out.update(reference.reference_pages(site))
    if site.data.drift is not None:
        out.update([onboarding.drift_page(site)])
    out.update(examples.example_pages(site))
    out.update([onboarding.start_here(site), onboarding.glossary(site)])
    return out


def navigation(site: Site, pages: dict[str, str]) -> list:
    nav: list = [{"Home": "index.md"}, {"Start here": ["start-here.md", "glossary.md"]}]
    for guide, tab in GUIDE_TABS.items():
        ordered = ordered_topics(site, guide)
        if ordered:
            nav.append({tab: [f"{guide}/index.md", *(urls.topic_path(p["id"]) for p in ordered)]})
    ref = [p for p in ("reference/index.md", "reference/actions/index.md", "reference/actions/other.md",
                       "reference/condition-keys/index.md", "reference/resource-types/index.md",
                       "reference/managed-policies/index.md") if p in pages]
    policies = [site.policy_paths[p["id"]] for p in site.data.managed_policies]
    if ref:
        nav.append({"Reference": [*ref[:-1], {"AWS managed policies": [ref[-1], *policies]},
                                  *(["reference/drift.md"] if "reference/drift.md" in pages else [])]})
    nav += [{"Examples": ["examples/index.md"]}, {"Ask": "ask.md"}, {"About": "about.md"}]
    return nav


# ------------------------------------------------------------------------------------------------- building


def fingerprint(root: Path = paths.ROOT) -> str:
    """A hash of everything the site is built from: the KB, the hand-written pages, the config and this code."""
    h = hashlib.sha256()
    inputs = [root / "mkdocs.yml", root / "kb" / "glossary.yml", root / "kb" / "reading_path.yml"]
    for folder in (paths.build_dir(), root / "docs", root / "iamkb" / "site"):
        inputs += sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    for p in inputs:
        if p.exists():
            h.update(str(p.relative_to(root) if p.is_relative_to(root) else p).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def build_site(site_dir: Path, *, strict: bool = True, root: Path = paths.ROOT) -> Path:
    """Run `mkdocs build` into site_dir; raise InputError with MkDocs's complaint when it fails."""
    cmd = [sys.executable, "-m", "mkdocs", "build", "--quiet", "--site-dir", str(site_dir)]
    if strict:
        cmd.append("--strict")
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, env={**os.environ})
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
        raise InputError(" | ".join(lines[-5:]) or f"exit {proc.returncode}", where="mkdocs build")
    return site_dir


def cached_site(cache: Path | None = None) -> Path:
    """The site built from the current inputs, reused while they are unchanged (tests and benchmarks share it)."""
    base = cache or paths.ROOT / ".cache" / "site"
    key = fingerprint()[:16]
    out = base / key
    if (out / "index.html").exists() and (out / ".complete").exists():
        return out
    if base.exists():
        shutil.rmtree(base)
    build_site(out)
    (out / ".complete").write_text(key)
    return out
