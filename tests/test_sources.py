"""Fetch and verify: tampered or missing sources give one clear error and leave cache and KB untouched."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from iamkb import sources
from iamkb.cli import main
from iamkb.paths import cache_dir


@pytest.fixture()
def mirror(tmp_path: Path) -> Path:
    """A private mirror holding the default profile's pages, copied from the verified cache."""
    root = tmp_path / "mirror"
    for page in sources.load_manifest().profile("default"):
        target = root / page.relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cache_dir() / page.relpath, target)
    return root


@pytest.fixture()
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mirror: Path) -> dict[str, Path]:
    paths = {"cache": tmp_path / "cache", "build": tmp_path / "kb-build", "mirror": mirror}
    monkeypatch.setenv("IAMKB_CACHE", str(paths["cache"]))
    monkeypatch.setenv("IAMKB_BUILD", str(paths["build"]))
    monkeypatch.setenv("IAMKB_SOURCES", str(mirror))
    return paths


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _first_pages(n: int = 2) -> list[sources.PageSource]:
    return sources.load_manifest().profile("default")[:n]


def test_manifest_pins_both_profiles():
    manifest = sources.load_manifest()
    assert len(manifest.profile("full")) == 545
    # DESIGN.md's rules (scripts/refresh_manifest.py): 16 Auto Scaling pages and 45 IAM pages, the Access Analyzer
    # policy check reference among them.
    assert len(manifest.profile("default")) == 61
    assert "iam/access-analyzer-reference-policy-checks" in {p.page_id for p in manifest.profile("default")}
    assert set(manifest.profile("default")) <= set(manifest.profile("full"))
    for page in manifest.pages:
        assert len(page.sha256) == 64 and len(page.guide.commit) == 40 and page.guide.license


def test_fetch_from_mirror_fills_the_cache_then_uses_it(env, capsys):
    assert main(["fetch", "--offline", "--json"]) == 0
    out = capsys.readouterr().out
    n = len(sources.load_manifest().profile("default"))
    assert f'"mirror": {n}' in out
    assert main(["fetch", "--offline", "--json"]) == 0
    assert f'"cache": {n}' in capsys.readouterr().out


def test_tampered_mirror_page_is_named_and_nothing_is_written(env, capsys):
    bad = _first_pages(1)[0]
    path = env["mirror"] / bad.relpath
    path.write_bytes(path.read_bytes() + b"\ntampered\n")
    assert main(["fetch", "--offline"]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("iamkb:")]
    assert len(lines) == 1, "one error line"
    err = lines[0]
    assert bad.relpath in err and "sha256 mismatch in mirror" in err
    assert not env["cache"].exists() or _snapshot(env["cache"]) == {}


def test_missing_pages_are_each_named(env, capsys):
    gone = _first_pages(2)
    for page in gone:
        (env["mirror"] / page.relpath).unlink()
    assert main(["fetch", "--offline"]) == 2
    err = capsys.readouterr().err
    assert f"2 of {len(sources.load_manifest().profile('default'))} source page(s)" in err
    for page in gone:
        assert page.relpath in err


def test_tampered_cache_leaves_the_previous_kb_untouched(env, capsys):
    assert main(["fetch", "--offline"]) == 0
    assert main(["build-kb", "--base-only"]) == 0
    before = _snapshot(env["build"])
    assert before
    page = _first_pages(1)[0]
    cached = env["cache"] / page.relpath
    cached.write_text(cached.read_text() + "\nchanged\n")
    capsys.readouterr()
    assert main(["build-kb", "--base-only"]) == 2
    err = capsys.readouterr().err
    assert page.relpath in err and "sha256" in err
    assert _snapshot(env["build"]) == before
    assert not list(env["build"].parent.glob(".kb-build.tmp-*")), "no temporary folder left behind"


def test_build_is_deterministic(env, tmp_path):
    assert main(["fetch", "--offline"]) == 0
    assert main(["build-kb", "--base-only"]) == 0
    first = _snapshot(env["build"])
    assert main(["build-kb", "--base-only"]) == 0
    assert _snapshot(env["build"]) == first


def test_unknown_profile_and_missing_mirror_are_usage_errors(env, capsys):
    assert main(["fetch", "--profile", "nope"]) == 2
    assert main(["fetch", "--mirror", str(env["mirror"] / "absent")]) == 2
    err = capsys.readouterr().err
    assert "invalid choice" in err and "mirror folder not found" in err
