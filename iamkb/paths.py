"""Where the project's inputs and generated outputs live, resolved from the project root or the environment.

Kept in one place so every stage agrees; each can be overridden for tests (IAMKB_BUILD, IAMKB_CACHE, ...).
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def kb_dir() -> Path:
    """The hand-written knowledge-base inputs (manifest, scenarios, glossary, schemas)."""
    return Path(os.environ.get("IAMKB_KB", ROOT / "kb"))


def build_dir() -> Path:
    """The generated knowledge base (kb/build), replaced atomically by build-kb."""
    return Path(os.environ.get("IAMKB_BUILD", kb_dir() / "build"))


def index_dir() -> Path:
    """The Whoosh index, built from build_dir()."""
    return Path(os.environ.get("IAMKB_INDEX", build_dir().parent / "index"))


def cache_dir() -> Path:
    """The verified source cache (pages already fetched and checked)."""
    return Path(os.environ.get("IAMKB_CACHE", ROOT / ".cache" / "sources"))


def site_dir() -> Path:
    return Path(os.environ.get("IAMKB_SITE", ROOT / "site"))


def node_modules() -> Path:
    """The npm packages (`make node`): the test oracle, and the site's in-page Python runtime and editor."""
    return Path(os.environ.get("IAMKB_NODE_MODULES", ROOT / "node_modules"))


def default_mirror() -> Path | None:
    """The sources mirror: $IAMKB_SOURCES, else ../shared/sources beside the checkout when it exists."""
    env = os.environ.get("IAMKB_SOURCES")
    if env:
        return Path(env)
    shared = ROOT.parent / "shared" / "sources"
    return shared if shared.is_dir() else None
