"""The site's policy check pages: the coverage table lists every Access Analyzer check with iamkb's code or the
reason it cannot apply offline, and each code's page shows iamkb's text beside Access Analyzer's."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from iamkb.site import urls
from iamkb.site.build import cached_site
from iamkb.site.checks import INDEX, code_path
from iamkb.store import load


@pytest.fixture(scope="module")
def site(kb_build: Path) -> Path:
    return cached_site()


@pytest.fixture(scope="module")
def catalog(kb_build: Path) -> dict:
    return load("lint_catalog", kb_build)


def text_of(site: Path, doc: str) -> str:
    page = (site / urls.url_of(doc) / "index.html").read_text(encoding="utf-8")
    article = page[page.index("<article"):page.index("</article>")]
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", article)))


def test_the_coverage_table_lists_every_check(site, catalog) -> None:
    text = text_of(site, INDEX)
    counts = catalog["counts"]
    assert (f"IAM Access Analyzer documents {counts['checks']} policy checks. {counts['not_offline']} of them need "
            f"data a policy document does not hold; of the other {counts['applicable']}, `iamkb check` implements "
            f"{counts['implemented']}").replace("`", "") in text
    page = (site / urls.url_of(INDEX) / "index.html").read_text(encoding="utf-8")
    rows = re.findall(r"<tr>(.*?)</tr>", page, flags=re.S)
    check_rows = [r for r in rows if "access-analyzer-reference-policy-checks" in r]
    assert len(check_rows) == len(catalog["checks"])
    for row, check in zip(check_rows, catalog["checks"], strict=True):
        cell = html.unescape(re.sub(r"<[^>]+>", "", row))
        if check["codes"]:
            assert all(c in cell for c in check["codes"]), check["check"]
        else:
            assert check["how"] in cell, check["check"]


def test_each_code_page_shows_both_texts(site, catalog, kb_build) -> None:
    checks = {c["id"]: c for c in load("analyzer_checks", kb_build)}
    for entry in catalog["codes"]:
        text = text_of(site, code_path(entry["code"]))
        assert entry["description"] in text, entry["code"]
        for check_id in entry["analyzer"]:
            details = checks[check_id]["finding_details"]
            assert re.sub(r"\s+", " ", details) in text, (entry["code"], check_id)
