"""Shared test helpers.

Tests that need a browser or node skip locally with a clear reason when those are missing; CI sets
IAMKB_REQUIRE_ALL=1, which turns such a skip into a failure (a green CI must have run them).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def count_headings(markdown: str) -> int:
    """An independent count of ATX headings outside fenced code: a line scanner, not the parser under test."""
    count, fenced = 0, False
    for line in markdown.splitlines():
        if line.strip().startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(r"^#{1,6} ", line):
            count += 1
    return count


def uncovered_modules(module: str, patterns: tuple[str, ...]) -> set[Path]:
    """The iamkb modules that importing `module` loads (in a fresh interpreter) and that none of the glob
    patterns under iamkb/ covers: what a build step's input hash would miss."""
    code = (f"import sys, {module}\n"
            "print('\\n'.join(sorted(m.__file__ for n, m in sys.modules.items() if n.split('.')[0] == 'iamkb')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    package = ROOT / "iamkb"
    loaded = {Path(f).resolve().relative_to(package) for f in proc.stdout.split()}
    assert loaded, f"importing {module} loaded no iamkb module"
    return loaded - {p.relative_to(package) for pattern in patterns for p in package.glob(pattern)}


def need(condition: bool, reason: str) -> None:
    """Skip (locally) or fail (CI, IAMKB_REQUIRE_ALL=1) when a required tool is missing."""
    if condition:
        return
    if os.environ.get("IAMKB_REQUIRE_ALL") == "1":
        pytest.fail(f"required in CI but missing: {reason}")
    pytest.skip(reason)


def node_modules_ok() -> bool:
    return shutil.which("node") is not None and (ROOT / "node_modules" / "@cloud-copilot" / "iam-simulate").is_dir()


@pytest.fixture(scope="session")
def require_node() -> None:
    need(node_modules_ok(), "node and the npm oracle packages are missing (run `make node`)")


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    need(Path(path).exists(), "Debian's chromium is not installed (apt-get install chromium)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        need(False, "the playwright Python package is not installed")
    return path


CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser(chromium_path: str):
    """Debian's chromium under Playwright, headless, for one test module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def kb_build() -> Path:
    """The knowledge base built by `make kb` (make test builds it first)."""
    from iamkb.paths import build_dir

    path = build_dir()
    if not (path / "report.json").exists():
        pytest.fail(f"{path} has no built knowledge base: run `make kb` (make test does it first)")
    return path
