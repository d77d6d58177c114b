"""The KB on disk (iamkb.store): one writer that swaps the whole folder in, one reader with one-line errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from iamkb import store
from iamkb.errors import InputError


def _leftovers(build: Path) -> list[str]:
    return sorted(p.name for p in build.parent.iterdir() if ".tmp-" in p.name or ".link-" in p.name)


def test_write_then_load_round_trips_byte_for_byte(tmp_path: Path) -> None:
    build = tmp_path / "kb" / "build"
    files = {"sections": [{"id": "b", "title": "Zürich"}, {"id": "a"}], "report": {"z": 1, "a": [2, 1]}}
    store.write(files, build)
    assert build.is_symlink(), "the KB path is a link to its generation, swapped atomically"
    assert sorted(p.name for p in build.iterdir()) == ["report.json", "sections.json"]
    assert (build / "report.json").read_text(encoding="utf-8") == '{\n "a": [\n  2,\n  1\n ],\n "z": 1\n}\n'
    assert "Zürich" in (build / "sections.json").read_text(encoding="utf-8")
    assert store.load("sections", build) == files["sections"]
    assert store.load_if_built("drift", build) is None
    assert _leftovers(build) == []


def test_a_failed_write_leaves_the_previous_kb_and_no_temporary_folder(tmp_path: Path) -> None:
    build = tmp_path / "build"
    store.write({"pages": [1]}, build)
    before = os.readlink(build)
    with pytest.raises(TypeError):
        store.write({"pages": [2], "sections": [object()]}, build)  # not JSON: fails half-way through
    assert os.readlink(build) == before
    assert store.load("pages", build) == [1] and store.load_if_built("sections", build) is None
    assert _leftovers(build) == []


def test_a_kb_built_as_a_plain_folder_is_replaced_in_place(tmp_path: Path) -> None:
    build = tmp_path / "build"
    build.mkdir()
    (build / "pages.json").write_text("[0]\n", encoding="utf-8")
    store.write({"pages": [1]}, build)
    assert build.is_symlink() and store.load("pages", build) == [1]


def test_missing_and_malformed_files_are_one_line_errors_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"/sections.json: not built yet \(run `iamkb build-kb` or `make kb`\)$"):
        store.load("sections", tmp_path)
    (tmp_path / "sections.json").write_text('[\n {"id": }', encoding="utf-8")
    for read in (store.load, store.load_if_built):
        with pytest.raises(InputError, match=r"/sections.json: malformed JSON at line 2: Expecting value$"):
            read("sections", tmp_path)
