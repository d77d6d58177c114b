"""`iamkb site` (make site): atomic and incremental.

Two real MkDocs builds in this file (~40 s each): the module fixture's first build, and one rebuild after an input
changed (on a copy of the site, with `iamkb serve` reading it throughout). Everything else is either a run that
must not build (up to date, or failing fast in the hook) or a fake build of a few files.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from conftest import uncovered_modules

from iamkb import atomic
from iamkb.errors import InputError
from iamkb.serve import make_server
from iamkb.site import build as site_build

ROOT = Path(__file__).resolve().parent.parent
KB_INPUTS = ("glossary.yml", "reading_path.yml", "exercises.yml", "managed_policies.json",  # the pages
             "synonyms.yml", "ranker.json", "section_questions.yml", "search.yml")  # the in-page search's data


def run_site(site: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "iamkb.cli", "site", "--site-dir", str(site), *args],
                          capture_output=True, text=True, env={**os.environ, **(env or {})}, cwd=ROOT)


@contextlib.contextmanager
def served_while_read(site: Path, paths: tuple[str, ...], readers: int = 1, pause: float = 0.05):
    """`iamkb serve`'s server on `site`, with reader threads requesting `paths` over and over until the block
    ends; yields (base URL, responses): each response's body, or "error ..." for a failed request."""
    srv = make_server(site, port=0)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{srv.server_address[1]}/"
    responses: list[str] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            for path in paths:
                try:
                    with urllib.request.urlopen(base + path, timeout=10) as resp:
                        responses.append(resp.read().decode("utf-8", "replace"))
                except (urllib.error.URLError, OSError) as err:
                    responses.append(f"error {base + path}: {err}")
            done.wait(pause)

    threads = [threading.Thread(target=read) for _ in range(readers)]
    for t in threads:
        t.start()
    try:
        yield base, responses
    finally:
        done.set()
        for t in threads:
            t.join()
        srv.shutdown()
        srv.server_close()


def copy_kb(kb_build: Path, dest: Path) -> Path:
    """A copy of what the site reads from kb/ (the hand-written files, kb/build, and kb/index, whose static token
    vectors the search data carries: hard links, read only), for IAMKB_KB."""
    dest.mkdir()
    for name in KB_INPUTS:
        shutil.copy2(ROOT / "kb" / name, dest / name)
    shutil.copytree(kb_build, dest / "build")
    shutil.copytree((ROOT / "kb" / "index").resolve(), dest / "index", copy_function=os.link)
    return dest


def leftovers(site: Path) -> list[str]:
    """Temporary folders and links a build might leave beside the site."""
    return sorted(p.name for p in site.parent.iterdir() if ".tmp-" in p.name or ".link-" in p.name)


def mtimes(site: Path) -> dict[str, int]:
    return {p.relative_to(site).as_posix(): p.stat().st_mtime_ns for p in site.rglob("*")}


def digest(site: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(site.rglob("*")):
        h.update(p.relative_to(site).as_posix().encode() + b"\0")
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def built(kb_build: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
    """A site built by `iamkb site` from the real KB into a temporary folder: the one full build of the file."""
    site = tmp_path_factory.mktemp("step") / "site"
    proc = run_site(site)
    assert proc.returncode == 0, proc.stderr
    return site, proc


def test_first_build_is_a_symlink_to_a_complete_generation(built) -> None:
    site, proc = built
    assert proc.stdout.splitlines()[0] == f"building {site} (no built site) ..."
    lines = proc.stdout.splitlines()
    assert lines[1].startswith(f"built {site} in ")
    # then the size: the total, the pages and the largest files, counted here without iamkb's code
    files = [p for p in site.resolve().rglob("*") if p.is_file()]
    pages = [p for p in files if p.name == "index.html"]
    assert lines[2].startswith(f"{sum(p.stat().st_size for p in files) / 1e6:.1f} MB in {len(files):,} files; "
                               f"{len(pages):,} pages, ")
    largest = max(files, key=lambda p: p.stat().st_size)
    assert lines[3] == "largest files:" and lines[4].endswith(largest.relative_to(site.resolve()).as_posix())
    assert site.is_symlink() and os.readlink(site).startswith("site.gen-")  # relative: the folder can move
    assert (site / "index.html").is_file() and (site / "glossary" / "index.html").is_file()
    stamp = json.loads((site / site_build.STAMP).read_text())
    assert stamp["fingerprint"] == site_build.fingerprint() and stamp["strict"] is True
    assert leftovers(site) == []


def test_unchanged_inputs_skip_the_build_and_touch_nothing(built) -> None:
    site, _ = built
    target, before = os.readlink(site), mtimes(site)
    proc = run_site(site)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"{site} is up to date (its inputs are unchanged; --force rebuilds)\n"
    assert os.readlink(site) == target and mtimes(site) == before


def test_the_same_kb_elsewhere_is_still_up_to_date(built, kb_build: Path, tmp_path: Path) -> None:
    """The hash covers contents, not locations: IAMKB_KB pointing at an identical copy changes nothing."""
    site, _ = built
    kb = copy_kb(kb_build, tmp_path / "kb")
    proc = run_site(site, "--json", env={"IAMKB_KB": str(kb), "IAMKB_BUILD": str(kb / "build")})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["built"] is False


def test_a_failed_build_exits_2_with_one_line_and_leaves_the_site_as_it_was(built, kb_build, tmp_path) -> None:
    site, _ = built
    kb = copy_kb(kb_build, tmp_path / "kb")
    (kb / "build" / "pages.json").write_text('[{"id": ', encoding="utf-8")  # one input broken: the hook fails
    target, before = os.readlink(site), digest(site)
    proc = run_site(site, env={"IAMKB_KB": str(kb), "IAMKB_BUILD": str(kb / "build")})
    assert proc.returncode == 2
    assert proc.stdout == f"building {site} (changed: kb/build, search) ...\n"  # the search data reads kb/build too
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("iamkb: error: mkdocs build: ") and "pages.json: malformed JSON" in proc.stderr
    assert os.readlink(site) == target and digest(site) == before
    assert leftovers(site) == [] and [p.name for p in atomic.generations(site)] == [target]


def test_a_changed_input_rebuilds_while_the_server_keeps_serving(built, kb_build, tmp_path) -> None:
    """The second real build: a glossary entry changes, on a copy of the site that `iamkb serve` is serving."""
    site0, _ = built
    shutil.copytree(site0.parent, tmp_path / "copy", symlinks=True)
    site = tmp_path / "copy" / "site"
    old_target = os.readlink(site)
    kb = copy_kb(kb_build, tmp_path / "kb")
    glossary = yaml.safe_load((kb / "glossary.yml").read_text(encoding="utf-8"))
    marker = "Zqxj marker sentence."
    glossary["terms"][0]["definition"] += " " + marker
    (kb / "glossary.yml").write_text(yaml.safe_dump(glossary, sort_keys=False), encoding="utf-8")

    with served_while_read(site, ("", "glossary/", "search/iamkb-data.js")) as (base, responses):
        proc = run_site(site, "--json", env={"IAMKB_KB": str(kb), "IAMKB_BUILD": str(kb / "build")})
        with urllib.request.urlopen(base + "glossary/", timeout=10) as resp:
            served = resp.read().decode("utf-8")
    failures = [r for r in responses if r.startswith("error ")]
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["built"] is True and result["changed"] == ["kb/*.yml"]
    pages = list(site.resolve().rglob("index.html"))
    assert result["size"]["pages"] == len(pages)
    assert result["size"]["page_bytes"] == sum(p.stat().st_size for p in pages)
    assert marker in (site / "glossary" / "index.html").read_text(encoding="utf-8")
    assert marker in served  # the running server serves the new generation
    assert failures == []
    assert os.readlink(site) != old_target
    assert sorted(p.name for p in atomic.generations(site)) == sorted([old_target, os.readlink(site)])
    assert leftovers(site) == []


# ------------------------------------------------------------------------------------- without MkDocs


def fake_build(calls: list[Path]):
    def build(site_dir: Path, *, strict: bool = True, root: Path = ROOT) -> Path:
        calls.append(site_dir)
        (site_dir / "index.html").write_text(f"build {len(calls)}", encoding="utf-8")
        return site_dir
    return build


def test_force_rebuilds_unchanged_inputs(kb_build, tmp_path, monkeypatch) -> None:
    calls: list[Path] = []
    monkeypatch.setattr(site_build, "build_site", fake_build(calls))
    site = tmp_path / "site"
    assert site_build.update_site(site)["built"] is True
    assert site_build.update_site(site)["built"] is False
    result = site_build.update_site(site, force=True)
    assert result["built"] is True and result["changed"] == []
    assert len(calls) == 2 and (site / "index.html").read_text() == "build 2"
    assert site.resolve().stat().st_mode & 0o777 == 0o777 & ~atomic._umask()  # not mkdtemp's 0700
    # a site built without --strict is rebuilt by a strict run, not the other way round
    assert site_build.update_site(site, strict=False, force=True)["built"] is True
    assert site_build.update_site(site, strict=False)["built"] is False
    assert site_build.update_site(site)["changed"] == ["strict"] and len(calls) == 4


def test_a_failing_build_leaves_no_temporary_folder(kb_build, tmp_path, monkeypatch) -> None:
    def failing(site_dir: Path, **_) -> Path:
        (site_dir / "half.html").write_text("half", encoding="utf-8")
        raise InputError("Config value 'theme': Unrecognised theme name", where="mkdocs build")

    site = tmp_path / "site"
    monkeypatch.setattr(site_build, "build_site", fake_build([]))
    site_build.update_site(site)
    monkeypatch.setattr(site_build, "build_site", failing)
    with pytest.raises(InputError, match="mkdocs build: Config value"):
        site_build.update_site(site, force=True)
    assert (site / "index.html").read_text() == "build 1" and not (site / "half.html").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site", os.readlink(site)]


def test_swap_migrates_a_real_folder_and_keeps_one_previous_generation(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("built before generations")
    (tmp_path / "site-old").mkdir()  # an unrelated sibling: never removed
    (tmp_path / "site.tmp-running").mkdir()  # another build still writing: never removed

    def new(text: str) -> Path:
        folder = tmp_path / f"site.tmp-{text}"
        folder.mkdir()
        (folder / "index.html").write_text(text)
        return folder

    first = atomic.swap_in(new("one"), site)
    assert site.is_symlink() and (site / "index.html").read_text() == "one"
    legacy = [p for p in atomic.generations(site) if p != first]
    assert len(legacy) == 1 and (legacy[0] / "index.html").read_text() == "built before generations"
    second = atomic.swap_in(new("two"), site)
    assert (site / "index.html").read_text() == "two"
    assert sorted(atomic.generations(site)) == sorted([first, second])  # the legacy folder is gone
    assert (tmp_path / "site-old").is_dir() and (tmp_path / "site.tmp-running").is_dir()


def test_swap_refuses_a_file_in_the_way(tmp_path: Path) -> None:
    (tmp_path / "site").write_text("not a folder")
    new = tmp_path / "site.tmp-x"
    new.mkdir()
    with pytest.raises(InputError, match="not a folder"):
        atomic.swap_in(new, tmp_path / "site")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


def test_a_server_never_sees_a_missing_or_half_site_during_swaps(tmp_path: Path) -> None:
    """Many swaps under readers: every response is 200. (A request that resolved a generation can finish while one
    more swap happens; real builds are ~40 s apart, so the swaps here are paced at 0.1 s.)"""
    site = tmp_path / "site"

    def generation(n: int) -> Path:
        folder = tmp_path / f"site.tmp-{n}"
        (folder / "a").mkdir(parents=True)
        (folder / "index.html").write_text(f"gen {n}")
        (folder / "a" / "index.html").write_text(f"gen {n}")
        return folder

    atomic.swap_in(generation(0), site)
    with served_while_read(site, ("", "a/"), readers=2, pause=0.0) as (_, seen):
        for n in range(1, 30):  # paced: a generation outlives one more swap, not two within one request
            atomic.swap_in(generation(n), site)
            time.sleep(0.1)
    assert seen and all(s.startswith("gen ") for s in seen), [s for s in seen if not s.startswith("gen ")][:3]
    assert len(atomic.generations(site)) == 2


# ------------------------------------------------------------------------------------------ the hash


def test_the_hash_covers_every_iamkb_module_the_hook_runs() -> None:
    assert uncovered_modules("iamkb.site.hooks", site_build.CODE) == set()


def test_each_input_changes_its_own_part_of_the_hash(tmp_path: Path, monkeypatch) -> None:
    root, kb = tmp_path / "root", tmp_path / "kb"
    (root / "docs" / "overrides").mkdir(parents=True)
    (kb / "build").mkdir(parents=True)
    files = {root / "mkdocs.yml": ["mkdocs.yml"], root / "docs" / "index.md": ["docs"],
             root / "docs" / "overrides" / "main.html": ["docs"], kb / "build" / "pages.json": ["kb/build", "search"],
             kb / "glossary.yml": ["kb/*.yml"], kb / "reading_path.yml": ["kb/*.yml"],
             kb / "exercises.yml": ["kb/*.yml"], kb / "managed_policies.json": ["kb/managed_policies.json"],
             kb / "synonyms.yml": ["search"], kb / "ranker.json": ["search"], kb / "section_questions.yml": ["search"],
             kb / "search.yml": ["search"]}
    for path in files:
        path.write_text("x")
    monkeypatch.setenv("IAMKB_KB", str(kb))
    monkeypatch.delenv("IAMKB_BUILD", raising=False)
    before = site_build.site_inputs(root)
    for path, group in files.items():
        path.write_text("y")
        after = site_build.site_inputs(root)
        assert [k for k in before if before[k] != after[k]] == group, path
        path.write_text("x")
    (kb / "build" / "notes.txt").write_text("not read by the site")
    assert site_build.site_inputs(root) == before
    monkeypatch.setattr(site_build, "PACKAGES", (*site_build.PACKAGES, "no-such-package"))
    assert [k for k, v in site_build.site_inputs(root).items() if v != before[k]] == ["packages"]


def test_mkdocs_complaint_is_one_line() -> None:
    traceback = ("INFO    -  Building documentation\nTraceback (most recent call last):\n  File \"x.py\", line 1\n"
                 "    raise\niamkb.errors.InputError: kb/build/pages.json: malformed JSON at line 1: Expecting value\n")
    assert site_build.mkdocs_complaint(traceback) == "kb/build/pages.json: malformed JSON at line 1: Expecting value"
    assert site_build.mkdocs_complaint(traceback.replace("iamkb.errors.InputError", "KeyError")).startswith(
        "KeyError: kb/build")
    strict = ("INFO    -  Cleaning site directory\n"
              "WARNING -  Doc file 'index.md' contains a link 'nope.md', but the target is not found.\n"
              "WARNING -  Doc file 'about.md' contains a link 'gone.md', but the target is not found.\n"
              "\nAborted with 2 warnings in strict mode!\n")
    assert site_build.mkdocs_complaint(strict) == ("Doc file 'index.md' contains a link 'nope.md', but the target is "
                                                   "not found. (and 1 more)")
    assert site_build.mkdocs_complaint("\nAborted with a configuration error!\n") == "Aborted with a configuration error!"


def test_strict_fails_on_a_warning(tmp_path: Path) -> None:
    """MkDocs's --quiet hides warnings from --strict; build_site must not use it."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text("[broken](nope.md)\n")
    (tmp_path / "mkdocs.yml").write_text("site_name: t\n")
    with pytest.raises(InputError, match=r"mkdocs build: Doc file 'index.md' contains a link 'nope.md'"):
        site_build.build_site(tmp_path / "out", root=tmp_path)
    site_build.build_site(tmp_path / "out2", strict=False, root=tmp_path)
    assert (tmp_path / "out2" / "index.html").is_file()
