"""Shared test helpers.

Tests that need a browser or node skip locally with a clear reason when those are missing; CI sets
IAMKB_REQUIRE_ALL=1, which turns such a skip into a failure (a green CI must have run them).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"  # screenshots of the browser tests (CI keeps them)
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"]


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


@pytest.fixture(scope="module")
def browser(chromium_path: str):
    """Debian's chromium driven by Playwright, one per test module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path, args=BROWSER_ARGS)
        yield b
        b.close()


@contextlib.contextmanager
def checked_page(browser, name: str, *, full_page: bool = False) -> Iterator:
    """A fresh page (its own context) that records the URLs it requests (`page.requested`); afterwards a
    screenshot goes to tests/artifacts/<name>.png, and any JavaScript error fails the test."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.requested = []
    page.on("request", lambda r: page.requested.append(r.url))
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)
    ctx.close()
    assert errors == [], f"JavaScript errors: {errors}"


@pytest.fixture(scope="session")
def kb_build() -> Path:
    """The knowledge base built by `make kb` (make test builds it first)."""
    from iamkb.paths import build_dir

    path = build_dir()
    if not (path / "report.json").exists():
        pytest.fail(f"{path} has no built knowledge base: run `make kb` (make test does it first)")
    return path


# The markers pyproject.toml declares, given by what a test needs, so that `-m "not node and not browser"` runs
# what a machine without them can (a test that asks for a tool through a fixture is marked without a decorator).
MARK_BY_FIXTURE = {"require_node": "node", "chromium_path": "browser"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture, mark in MARK_BY_FIXTURE.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(mark)
