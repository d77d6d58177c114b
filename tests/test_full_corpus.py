"""The full corpus (both guides, 545 pages) parses: section counts from the sources, every warning explained."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import count_headings

from iamkb import pipeline, sources, store
from iamkb.cli import main
from iamkb.paths import cache_dir


@pytest.fixture(scope="module")
def full_report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    assert main(["fetch", "--profile", "full", "--offline", "--json"]) == 0
    build = tmp_path_factory.mktemp("kb-full")
    return pipeline.build("full", build_dir=build / "build", base_only=True) | {"_dir": build / "build"}


def test_every_page_of_both_guides_is_parsed(full_report):
    pages = sources.load_manifest().profile("full")
    assert full_report["pages"] == len(pages) == 545
    for page in pages:
        expected = count_headings(sources.read_verified(page, cache_dir()))
        assert full_report["sections_per_page"][page.page_id] == expected, page.page_id


def test_every_warning_is_listed_and_explained(full_report):
    listed = sum(info["count"] for info in full_report["warnings_by_code"].values())
    assert listed == len(full_report["warnings"])
    assert all(info["meaning"] for info in full_report["warnings_by_code"].values())
    # Placeholders in the sources, counted with a plain search, are all recorded as missing content.
    placeholders = sum(sources.read_verified(p, cache_dir()).count("See the AWS documentation website")
                       for p in sources.load_manifest().profile("full"))
    assert full_report["warnings_by_code"]["missing-content"]["count"] == placeholders


def test_full_build_examples_are_a_superset_of_the_default(full_report, kb_build: Path):
    full_ids = {e["id"] for e in store.load("examples", full_report["_dir"])}
    default_ids = {e["id"] for e in store.load("examples", kb_build)}
    assert default_ids <= full_ids
