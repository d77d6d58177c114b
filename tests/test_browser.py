"""The site in a real browser (Playwright driving Debian's chromium), served by `iamkb serve`.

Screenshots go to tests/artifacts/ (CI keeps them as artifacts).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import checked_page

from iamkb.serve import make_server
from iamkb.site.build import cached_site

pytestmark = pytest.mark.browser

DELETE_EXAMPLE = "examples/autoscaling/security_iam_id-based-policy-examples/policy-example-delete-policy-1/"


@pytest.fixture(scope="module")
def base_url(kb_build: Path) -> Iterator[str]:
    srv = make_server(cached_site(), port=0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    host, port = srv.server_address[:2]
    yield f"http://{host}:{port}/"
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def page(browser, request):
    with checked_page(browser, request.node.name) as pg:
        yield pg


def test_home_renders(page, base_url: str) -> None:
    page.goto(base_url)
    assert "Auto Scaling IAM" in page.locator("h1").first.inner_text()
    tabs = page.locator(".md-tabs__link").all_inner_texts()
    assert [t.strip() for t in tabs][:3] == ["Home", "Start here", "Auto Scaling guide"]
    assert "Last built from" in page.locator(".md-footer").inner_text()


def test_navigation_reaches_an_action_page(page, base_url: str) -> None:
    page.goto(base_url)
    page.get_by_role("link", name="Reference", exact=True).first.click()
    page.locator(".md-nav__link", has_text="Auto Scaling actions").first.click()
    page.wait_for_url("**/reference/actions/")
    page.locator(".iamkb-filter").fill("DeletePolicy")
    visible = page.locator(".iamkb-table tbody tr:not([hidden])")
    assert visible.count() == 1
    visible.locator("a").first.click()
    page.wait_for_url("**/reference/actions/autoscaling/DeletePolicy/")
    assert page.locator("h1").inner_text().replace("¶", "").strip() == "autoscaling:DeletePolicy"


def test_site_search_finds_the_delete_policy_example(page, base_url: str) -> None:
    page.goto(base_url)
    page.locator("label.md-search__icon, .md-search__input").first.click()
    page.locator(".md-search__input").fill("which scaling policies can be deleted")
    results = page.locator(".md-search-result__link")
    results.first.wait_for(timeout=15000)
    hrefs = [results.nth(i).get_attribute("href") or "" for i in range(min(results.count(), 10))]
    assert any(DELETE_EXAMPLE in h or "policy-example-delete-policy" in h for h in hrefs), hrefs


def test_ask_box_answers_through_serve(page, base_url: str) -> None:
    page.goto(base_url + "ask/")
    page.locator(".iamkb-ask-input").fill("how do I stop people deleting scaling policies?")
    page.locator(".iamkb-ask-form button").click()
    first = page.locator(".iamkb-results li a").first
    first.wait_for(timeout=20000)
    assert page.locator(".iamkb-answer").inner_text().strip()
    hrefs = page.locator(".iamkb-results li a").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    assert any("policy-example-delete-policy" in h for h in hrefs[:3]), hrefs
    first.click()
    page.wait_for_load_state()
    assert page.url.startswith(base_url)  # the answer links into this site, not upstream


def test_ask_box_explains_the_cli_without_the_server(page) -> None:
    page.goto((cached_site() / "ask" / "index.html").as_uri())
    page.locator(".iamkb-ask-input").fill("what is PassRole?")
    page.locator(".iamkb-ask-form button").click()
    assert 'iamkb ask "what is PassRole?"' in page.locator(".iamkb-ask-output").inner_text()


def test_example_page_shows_its_scenario_table(page, base_url: str) -> None:
    import json

    from iamkb.paths import build_dir

    catalog = json.loads((build_dir() / "example_catalog.json").read_text())
    catalog = catalog["example_catalog"] if isinstance(catalog, dict) else catalog
    entry = next(e for e in catalog if e["id"].endswith("#policy-example-delete-policy:1"))
    page.goto(base_url + DELETE_EXAMPLE)
    table = page.locator("h2#scenarios ~ table, h2#scenarios ~ div table").first
    rows = table.locator("tbody tr")
    assert rows.count() == len(entry["scenarios"])
    assert "Expected" in table.locator("thead").inner_text()
    assert entry["scenarios"][0]["doc"][:40] in rows.first.inner_text()
