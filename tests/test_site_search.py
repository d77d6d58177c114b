"""The header search box and the Ask page in a real browser (Playwright driving Debian's chromium): on a static
host (`python -m http.server`, no API), opened from disk (file://), and behind `iamkb serve` (the upgrade to the
full ask). What each page must show comes from ask in Python on the same index, ranked as the page ranks, never written
here. Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ARTIFACTS, checked_page, served_by_iamkb, served_statically

from iamkb import paths
from iamkb.search import static
from iamkb.search.answer import ask
from iamkb.search.train.evaluate import load_questions, tuning_part
from iamkb.site.build import cached_site
from iamkb.site.data import load_site_data
from iamkb.site.pages import Site

pytestmark = pytest.mark.browser
SEARCH_FILES = ("search/iamkb-data.js", "javascripts/search/engine.js", "javascripts/search/analysis.js",
                "javascripts/search/tokenvectors.js")


@pytest.fixture(scope="module")
def site(kb_build: Path) -> Path:
    return cached_site()


@pytest.fixture(scope="module")
def links() -> Site:
    return Site(load_site_data())


@pytest.fixture(scope="module")
def python_page():
    """ask in Python as the page ranks (static token vectors), on the index the site's data was exported from
    (kb/index)."""
    return static.page_engine(paths.index_dir())


@pytest.fixture(scope="module")
def static_url(site: Path) -> Iterator[str]:
    with served_statically(site) as url:
        yield url


@pytest.fixture(scope="module")
def served_url(site: Path) -> Iterator[str]:
    with served_by_iamkb(site) as url:
        yield url


@pytest.fixture
def page(browser, request):
    with checked_page(browser, request.node.name) as pg:
        yield pg


def _questions(python_page, want, n: int) -> list[tuple[str, dict]]:
    """The first n tuning questions whose answer (as the page ranks, in Python) satisfies `want` (with that answer)."""
    out = []
    for q in tuning_part(load_questions()):
        answer = ask(python_page, q.q)
        if want(answer):
            out.append((q.q, answer))
            if len(out) == n:
                break
    assert len(out) == n, "the question set has too few questions of this kind"
    return out


def _type(page, text: str) -> None:
    page.keyboard.press("/")
    page.keyboard.type(text)


def _first_href_is(page, href: str) -> None:
    page.wait_for_function("href => { const a = document.querySelector('.iamkb-search__link');"
                           " return a && a.href === href; }", arg=href, timeout=20000)


def test_typed_questions_show_their_section_first_and_nothing_loads_before(page, static_url, python_page, links):
    """A few questions whose answer (by Python, ranked as the page ranks) is a section: typed into the box on a static
    host, the dropdown's first result links to that section's page here. Before the box is used the page asks
    for none of the search's files."""
    page.goto(static_url + "start-here/")
    page.wait_for_load_state("networkidle")
    assert not [u for u in page.requested if any(f in u for f in SEARCH_FILES)]
    for question, answer in _questions(python_page, lambda a: a["results"] and a["results"][0]["kind"] == "section", 3):
        first = answer["results"][0]["id"]
        page.locator(".iamkb-search__input").fill("")
        _type(page, question)
        _first_href_is(page, static_url + links.site_url(first))
        assert page.locator(".iamkb-search__title").first.inner_text() == answer["results"][0]["title"]
        page.keyboard.press("Escape")
    loaded = [u.replace(static_url, "") for u in page.requested if any(f in u for f in SEARCH_FILES)]
    assert sorted(loaded) == sorted(SEARCH_FILES)  # each once, on first use
    assert not [u for u in page.requested if "/api/" in u]


def test_the_keyboard_moves_through_the_results_and_opens_one(page, static_url, python_page, links):
    question = "service-linked role permissions"
    results = ask(python_page, question)["results"]
    page.goto(static_url)
    page.keyboard.press("s")
    assert page.evaluate("document.activeElement.classList.contains('iamkb-search__input')")
    page.keyboard.type(question)
    _first_href_is(page, static_url + (links.site_url(results[0]["id"]) or results[0]["url"]))
    box = page.locator(".iamkb-search__input")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    assert box.get_attribute("aria-activedescendant") == "iamkb-search-result-1"
    page.keyboard.press("ArrowUp")
    assert box.get_attribute("aria-activedescendant") == "iamkb-search-result-0"
    assert page.locator(".iamkb-search__link[aria-selected=true]").count() == 1
    page.keyboard.press("ArrowDown")
    target = static_url + links.site_url(results[1]["id"])
    page.keyboard.press("Enter")
    page.wait_for_url(target.split("#")[0] + "**")
    page.keyboard.press("/")
    page.keyboard.type("tag")
    page.locator(".iamkb-search__panel--shown").wait_for()
    page.keyboard.press("Escape")
    assert page.locator(".iamkb-search__panel--shown").count() == 0
    assert not page.evaluate("document.activeElement.classList.contains('iamkb-search__input')")


def test_a_misspelt_iam_name_offers_the_name(page, static_url, python_page):
    question = "CreateAutoScalingGrop permissions"
    answer = ask(python_page, question)
    assert answer["corrections"] == {"createautoscalinggrop": "createautoscalinggroup"}
    page.goto(static_url)
    _type(page, question)
    fix = page.locator(".iamkb-search__fix")
    want = "autoscaling:CreateAutoScalingGroup permissions"  # the action's name as the reference spells it
    page.wait_for_function("w => { const a = document.querySelector('.iamkb-search__fix');"
                           " return a && a.textContent === w; }", arg=want, timeout=20000)
    fix.click()
    assert page.locator(".iamkb-search__input").input_value() == "autoscaling:CreateAutoScalingGroup permissions"


def test_window_iamkb_search_is_the_design_hook(page, static_url, python_page, links):
    """window.iamkb.search(query, {limit}): DESIGN.md's shape, best first, the Python path's ids, urls
    relative to the site root."""
    question = "which condition keys can I use with DeleteAutoScalingGroup"
    want = ask(python_page, question)["results"][:5]
    page.goto(static_url + "glossary/")
    got = page.evaluate("q => window.iamkb.search(q, {limit: 5})", question)
    assert [r["id"] for r in got] == [r["id"] for r in want]
    assert [set(r) for r in got] == [{"id", "kind", "title", "url", "score", "snippet"}] * 5
    assert [r["url"] for r in got] == [links.site_url(r["id"]) or r["url"] for r in want]
    assert [r["snippet"] for r in got] == [r["snippet"] for r in want]
    assert page.evaluate("typeof window.iamkb.simulate") == "function"  # the object is extended, not replaced


def test_opened_from_disk_the_box_answers_and_links_to_the_files(page, site, python_page, links):
    question = "what permissions does the service-linked role have"
    first = ask(python_page, question)["results"][0]
    page.goto((site / "index.html").resolve().as_uri())
    _type(page, question)
    page.locator(".iamkb-search__link").first.wait_for(timeout=20000)
    page_url, _, anchor = (links.site_url(first["id"]) or "").partition("#")
    want = (site / page_url / "index.html").resolve().as_uri() + (f"#{anchor}" if anchor else "")
    _first_href_is(page, want)
    page.keyboard.press("Enter")
    page.wait_for_url(want.split("#")[0] + "**")
    assert page.locator("h1").first.inner_text()


def test_behind_iamkb_serve_the_box_asks_the_server(page, served_url):
    page.goto(served_url + "start-here/")
    _type(page, "how do I stop people deleting scaling policies")
    page.locator(".iamkb-search__engine").filter(has_text="iamkb serve").wait_for(timeout=60000)
    hrefs = page.locator(".iamkb-search__link").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    assert any("policy-example-delete-policy" in h for h in hrefs[:3]), hrefs
    assert all(h.startswith(served_url) or h.startswith("https://docs.aws.amazon.com/") for h in hrefs)
    assert any("/api/ask?" in u for u in page.requested)
    assert not [u for u in page.requested if "iamkb-data.js" in u]  # the server answers: no page engine loaded


def _check_answer_view(page, answer: dict, base: str, links: Site) -> None:
    """The rendered answer: the parts Python composes, each cited id a link to its page here, no markup or
    URL shown as text."""
    view = page.locator(".iamkb-answer-view")
    text = view.inner_text()
    assert not re.search(r"</?\w+>|https?://", text), text[:500]
    parts = answer["parts"]
    if parts["quote"]:
        quote = page.locator(".iamkb-answer-quote")
        assert parts["quote"]["text"] in quote.inner_text()
        assert quote.locator("a").get_attribute("href").endswith(links.site_url(parts["quote"]["id"]))
    if parts["example"]:
        code = page.locator(".iamkb-answer-example .highlight code")
        assert code.inner_text() == parts["example"]["code"]
        assert code.locator("span.nt").count() > 0 and code.locator("span.s2").count() > 0
        assert page.locator(".iamkb-answer-example a").get_attribute("href") \
            .endswith(links.site_url(parts["example"]["id"]))
    for entity in parts["facts"]:
        card = page.locator(".iamkb-answer-card").filter(has=page.locator(f"a[href$='{links.site_url(entity['id'])}']"))
        assert card.count() == 1
    sources = page.locator(".iamkb-answer-sources a").evaluate_all("els => els.map(e => e.href)")
    assert sources == [base + links.site_url(c["id"]) for c in answer["citations"]]


def test_the_ask_page_renders_a_structured_answer_on_a_static_host(browser, static_url, python_page, links):
    """A how-to question (quote and example policy) and a question naming an action (its card), as Python's
    ranking composes them (as the page ranks), in light and dark, wide and on a phone."""
    howto = _questions(python_page, lambda a: a["parts"]["example"] and a["parts"]["quote"], 1)[0]
    entity = _questions(python_page, lambda a: any(e["id"].startswith("action:autoscaling:")
                                               for e in a["parts"]["facts"]), 1)[0]
    for name, (question, answer) in (("howto", howto), ("entity", entity)):
        for look, viewport, scheme in (("light", {"width": 1280, "height": 900}, "light"),
                                       ("dark-phone", {"width": 390, "height": 844}, "dark")):
            ctx = browser.new_context(viewport=viewport, color_scheme=scheme)
            pg = ctx.new_page()
            errors: list[str] = []
            pg.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
            pg.goto(static_url + "ask/")
            pg.locator(".iamkb-ask-input").fill(question)
            pg.locator(".iamkb-ask-form button").click()
            pg.locator(".iamkb-answer-engine").wait_for(timeout=20000)
            if answer["parts"]["facts"]:
                pg.locator(".iamkb-answer-card dl").first.wait_for(timeout=10000)
            _check_answer_view(pg, answer, static_url, links)
            assert "this page" in pg.locator(".iamkb-answer-engine").inner_text()
            ARTIFACTS.mkdir(exist_ok=True)
            pg.screenshot(path=str(ARTIFACTS / f"ask-{name}-{look}.png"), full_page=True)
            ctx.close()
            assert errors == []


def test_the_ask_page_card_shows_what_the_call_needs(page, static_url, links):
    """An action the docs' call rules cover: its card lists what else the call needs, each a link."""
    kb = links.data
    page.goto(static_url + "ask/")
    page.locator(".iamkb-ask-input").fill("autoscaling:CreateAutoScalingGroup")
    page.locator(".iamkb-ask-form button").click()
    card = page.locator(".iamkb-answer-card")
    card.locator("dl").wait_for(timeout=20000)
    rules = kb.call_rules["operations"]["autoscaling:CreateAutoScalingGroup"]["rules"]
    needs = card.locator("dt", has_text="The call also needs").locator("xpath=following-sibling::dd[1]")
    names = needs.locator("a, code").all_inner_texts()
    assert names == list(dict.fromkeys(r["action"] for r in rules))
    level = next(a["access_level"] for a in kb.actions if a["id"] == "action:autoscaling:CreateAutoScalingGroup")
    assert card.locator("dt", has_text="Access level").locator("xpath=following-sibling::dd[1]").inner_text() == level


def test_the_ask_page_behind_serve_uses_the_full_ask(page, served_url, links):
    page.goto(served_url + "ask/")
    page.locator(".iamkb-ask-input").fill("which condition keys does CreateAutoScalingGroup support?")
    page.locator(".iamkb-ask-form button").click()
    note = page.locator(".iamkb-answer-engine")
    note.wait_for(timeout=60000)
    assert "iamkb serve" in note.inner_text()
    text = page.locator(".iamkb-answer-view").inner_text()
    assert not re.search(r"</?\w+>|https?://", text)
    hrefs = page.locator(".iamkb-answer-sources a").evaluate_all("els => els.map(e => e.href)")
    assert hrefs and all(h.startswith(served_url) for h in hrefs)


def test_the_box_on_a_phone(browser, static_url):
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, color_scheme="dark")
    pg = ctx.new_page()
    pg.goto(static_url)
    pg.locator(".iamkb-search__open").click()
    assert pg.locator(".iamkb-search__input").is_visible()
    pg.keyboard.type("launch template permissions")
    pg.locator(".iamkb-search__link").first.wait_for(timeout=20000)
    box = pg.locator(".iamkb-search__panel").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / "search-box-phone-dark.png"))
    ctx.close()


def test_the_ask_page_points_a_denied_call_to_the_whole_call_check(page, static_url):
    """On a static host too, a "why is this call denied" question gets the pointer to Can I make this call?"""
    from iamkb.callhint import hint

    question = next(q.q for q in load_questions() if hint(q.q))
    page.goto(static_url + "ask/")
    page.locator(".iamkb-ask-input").fill(question)
    page.locator(".iamkb-ask-form button").click()
    note = page.locator(".iamkb-hint")
    note.wait_for(timeout=20000)
    assert note.locator("code").first.inner_text() == "iamkb can-i"
    assert note.locator("a").get_attribute("href") == static_url + hint(question)["url"]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_serious_violation_in_the_open_box_or_an_answer(browser, static_url, scheme) -> None:
    """axe-core (the pinned npm package) on what the search adds: the dropdown open with results, and the Ask
    page with an answer that has an entity card, a quote and results."""
    from conftest import ROOT, need

    axe = ROOT / "node_modules" / "axe-core" / "axe.min.js"
    need(axe.is_file(), "axe-core is not installed (run `make node`)")
    found = []
    for url, question, ready in ((static_url + "glossary/", "service-linked role permissions", ".iamkb-search__link"),
                                 (static_url + "ask/", "DeleteTags access level", ".iamkb-answer-card dl")):
        ctx = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=scheme)
        page = ctx.new_page()
        page.goto(url)
        if "ask/" in url:  # with Enter: a clicked button keeps the focus, white on the accent indigo (4.2:1, the palette's)
            page.locator(".iamkb-ask-input").fill(question)
            page.keyboard.press("Enter")
        else:
            _type(page, question)
        page.locator(ready).first.wait_for(timeout=20000)
        page.add_script_tag(path=str(axe))
        result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
        ctx.close()
        found += [f"{url}: {v['id']} on {[n['target'] for n in v['nodes'][:3]]}" for v in result["violations"]
                  if v["impact"] in ("serious", "critical")]
    assert found == [], "\n".join(found)
