"""The site as its readers meet it, in a real browser (Playwright driving Debian's chromium): axe-core finds no
serious or critical violation on any page kind in either colour scheme, the keyboard reaches everything the
mouse does, and no page scrolls sideways on a 390-px phone outside its code blocks and tables.

The site is served as plain files (a static host, no `iamkb serve`). axe-core is the pinned npm package
(package.json, `make node`), injected into each page; its rules are those of WCAG 2.2 A/AA plus best practice.
Screenshots of every page kind at 390 and 1,400 px go to tests/artifacts/pages/ (CI keeps them).
"""

from __future__ import annotations

import functools
import http.server
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT, need
from hypothesis import given
from hypothesis import strategies as st

from iamkb.site import markdown as md
from iamkb.site import urls
from iamkb.site.build import cached_site
from iamkb.site.data import load_site_data
from iamkb.site.pages import Site
from iamkb.site.reference import ACTION_HEADER

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts" / "pages"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1400, "height": 900}


# --------------------------------------------------------------------------------------- without a browser

def _luminance(hex_colour: str) -> float:
    """WCAG 2.x relative luminance of an opaque #rrggbb colour."""
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def over(fg: str, alpha: float, bg: str) -> str:
    """`fg` at `alpha` over `bg`, as the browser composites it."""
    mix = [round(alpha * int(fg[i:i + 2], 16) + (1 - alpha) * int(bg[i:i + 2], 16)) for i in (1, 3, 5)]
    return "#" + "".join(f"{c:02x}" for c in mix)


def hsl(h: float, s: float, lum: float) -> str:
    import colorsys

    return "#" + "".join(f"{round(c * 255):02x}" for c in colorsys.hls_to_rgb(h / 360, lum, s))


# The backgrounds the theme draws these colours on (mkdocs-material 9.8: white and #f5f5f5 code in the light
# scheme; hsl(225, 15%, 14%) page and 18% code in the dark one).
LIGHT_PAGE, LIGHT_CODE = "#ffffff", "#f5f5f5"
DARK_PAGE, DARK_CODE = hsl(225, .15, .14), hsl(225, .15, .18)


def css_colours() -> dict[tuple[str, str], str]:
    """{(selector, custom property): value} of every colour docs/stylesheets/a11y.css sets."""
    text = re.sub(r"/\*.*?\*/", "", (ROOT / "docs" / "stylesheets" / "a11y.css").read_text(encoding="utf-8"),
                  flags=re.S)
    out = {}
    for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", text):
        for prop, value in re.findall(r"(--[\w-]+)\s*:\s*(#[0-9a-fA-F]{6,8})", body):
            out[(" ".join(selector.split()), prop)] = value.lower()
    return out


def test_the_palette_meets_wcag_aa_in_both_schemes() -> None:
    c = css_colours()
    primary = c[('[data-md-color-primary="custom"]', "--md-primary-fg-color")]
    assert contrast("#ffffff", primary) >= 4.5  # the header's title on it
    assert contrast(over("#ffffff", .85, primary), primary) >= 4.5  # the header's tabs (opacity .85 in a11y.css)
    assert contrast(primary, LIGHT_PAGE) >= 4.5 and contrast(primary, LIGHT_CODE) >= 4.5  # links, light
    dark_link = c[('[data-md-color-scheme="slate"][data-md-color-primary="custom"]', "--md-typeset-a-color")]
    assert contrast(dark_link, DARK_PAGE) >= 4.5 and contrast(dark_link, DARK_CODE) >= 4.5
    for (selector, prop), value in c.items():
        if prop.startswith("--md-code-hl-"):
            assert "slate" in selector and contrast(value, DARK_CODE) >= 4.5, (prop, value)
    light = c[('[data-md-color-scheme="default"]', "--md-default-fg-color--light")]
    assert contrast(over("#000000", int(light[7:9], 16) / 255, LIGHT_CODE), LIGHT_CODE) >= 4.5
    footer = c[(":root, [data-md-color-scheme]", "--md-footer-fg-color--lighter")]
    assert contrast(over("#ffffff", int(footer[7:9], 16) / 255, "#171717"), "#171717") >= 4.5


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=60))
def test_code_breaks_only_after_colons_and_slashes_and_reads_the_same(text: str) -> None:
    import html

    out = md.code_span(text)
    pieces = out.removeprefix("<code>").removesuffix("</code>").split("<wbr>")
    assert all(p[-1:] in (":", "/") for p in pieces[:-1])  # a break only after ':' or '/'
    assert len(pieces) - 1 == len(re.findall(r"[:/](?=.)", " ".join(text.split("\n"))))
    assert html.unescape(re.sub(r"\\(.)", r"\1", "".join(pieces))) == text.replace("\n", " ")


# ---------------------------------------------------------------------------------------------- in a browser


@pytest.fixture(scope="module")
def kb(kb_build: Path) -> Site:
    return Site(load_site_data())


@pytest.fixture(scope="module")
def kinds(kb: Site) -> dict[str, str]:
    """One page of every kind, as site paths (each from the KB, through the site's own mapping)."""
    d = kb.data
    key = next(r for r in d.condition_keys if r["key"] == "aws:ResourceTag/${TagKey}")
    rtype = next(r for r in d.resource_types if r["service"] == "autoscaling")
    example = next(e for e in d.examples if e["id"].endswith("#policy-example-delete-policy:1"))
    docs = {
        "home": "index.md", "start-here": "start-here.md", "glossary": "glossary.md",
        "guide-index": "autoscaling/index.md", "topic": urls.topic_path("autoscaling/security_iam_id-based-policy-examples"),
        "iam-topic": urls.topic_path("iam/reference_policies_elements"), "reference": "reference/index.md",
        "actions": "reference/actions/index.md", "action": urls.action_path("autoscaling:DeletePolicy"),
        "other-action": urls.action_path("iam:PassRole"), "condition-keys": "reference/condition-keys/index.md",
        "condition-key": kb.key_paths[key["id"]], "resource-types": "reference/resource-types/index.md",
        "resource-type": kb.resource_type_paths[rtype["id"]], "managed-policies": "reference/managed-policies/index.md",
        "managed-policy": kb.policy_paths[d.managed_policies[0]["id"]], "drift": "reference/drift.md",
        "examples": "examples/index.md", "example": urls.example_path(example["id"]), "ask": "ask.md",
        "about": "about.md",
    }
    return {kind: urls.url_of(doc) for kind, doc in docs.items()}


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def base_url(kb_build: Path) -> Iterator[str]:
    """The built site as plain files on a free loopback port."""
    handler = functools.partial(_Quiet, directory=str(cached_site().resolve()))
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/"
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def axe_source() -> str:
    need(AXE.is_file(), "axe-core is not installed (run `make node`)")
    return AXE.read_text(encoding="utf-8")


def open_page(browser, url: str, viewport: dict, scheme: str = "light"):
    ctx = browser.new_context(viewport=viewport, color_scheme=scheme)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url, wait_until="networkidle")  # the page as scripts complete it (the playground's form)
    return ctx, page, errors


@pytest.mark.browser
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_serious_or_critical_violation(browser, base_url, kinds, axe_source, scheme) -> None:
    found = []
    for kind, path in kinds.items():
        ctx, page, errors = open_page(browser, base_url + path, DESKTOP, scheme)
        page.add_script_tag(content=axe_source)
        result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
        ctx.close()
        assert errors == [], f"{kind}: JavaScript errors {errors}"
        for v in result["violations"]:
            if v["impact"] in ("serious", "critical"):
                found.append(f"{kind} ({path}): {v['id']} on {[n['target'] for n in v['nodes'][:3]]}")
    assert found == [], "\n".join(found)


@pytest.mark.browser
def test_axe_checks_colour_contrast_here(browser, base_url, axe_source) -> None:
    """The axe run above can fail: the theme's own deep orange header, without a11y.css, is reported."""
    ctx, page, _ = open_page(browser, base_url, DESKTOP)
    page.add_style_tag(content=".md-header, .md-tabs { background-color: #ff6e42 !important; }")
    page.add_script_tag(content=axe_source)
    result = page.evaluate("axe.run(document, {runOnly: ['color-contrast']})")
    ctx.close()
    assert [v["id"] for v in result["violations"]] == ["color-contrast"]


# What "scrolls sideways" may do on a phone: code blocks and tables scroll inside their frame; the breadcrumbs,
# content-tab labels and the (off-screen) drawer and search are the theme's own scrollers.
# The policy editor of example pages is a code block too (prism-code-editor, which scrolls inside its frame).
SCROLLERS = ("pre, .highlight, .md-typeset__scrollwrap, .md-path, .tabbed-labels, .md-sidebar, .md-search, .md-tabs, "
             ".prism-code-editor")

OVERFLOW = """(scrollers) => {
  const width = document.documentElement.clientWidth;
  const out = [];
  for (const el of document.querySelectorAll("body *")) {
    if (el.closest(scrollers)) continue;
    const box = el.getBoundingClientRect();
    if (!box.width || !box.height || getComputedStyle(el).visibility === "hidden") continue;
    if (box.right > width + 1) out.push(el.tagName.toLowerCase() + "." + el.className + " right=" + box.right);
  }
  return {width: width, scrollWidth: document.documentElement.scrollWidth, outside: out.slice(0, 5)};
}"""


@pytest.mark.browser
def test_no_page_kind_scrolls_sideways_on_a_phone(browser, base_url, kinds) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    problems = []
    for viewport in (PHONE, DESKTOP):
        ctx = browser.new_context(viewport=viewport)
        page = ctx.new_page()
        for kind, path in kinds.items():
            page.goto(base_url + path, wait_until="networkidle")  # with what scripts add (the playground)
            page.screenshot(path=str(ARTIFACTS / f"{kind}-{viewport['width']}.png"), full_page=True)
            if viewport is PHONE:
                seen = page.evaluate(OVERFLOW, SCROLLERS)
                if seen["scrollWidth"] > seen["width"] or seen["outside"]:
                    problems.append(f"{kind} ({path}): {seen}")
        ctx.close()
    assert problems == [], "\n".join(problems)
    assert len(list(ARTIFACTS.glob("*.png"))) >= 2 * len(kinds)


@pytest.mark.browser
def test_the_phone_check_can_fail(browser, base_url, kinds) -> None:
    ctx, page, _ = open_page(browser, base_url + kinds["topic"], PHONE)
    page.evaluate("document.querySelector('article p').style.minWidth = '900px'")
    seen = page.evaluate(OVERFLOW, SCROLLERS)
    ctx.close()
    assert seen["outside"] and seen["scrollWidth"] > seen["width"]


@pytest.mark.browser
def test_an_examples_scenarios_are_cards_on_a_phone_and_a_table_on_a_desktop(browser, base_url, kinds) -> None:
    displays = {}
    for viewport in (PHONE, DESKTOP):
        ctx, page, _ = open_page(browser, base_url + kinds["example"], viewport)
        row = page.locator(".iamkb-cards table tbody tr").first
        displays[viewport["width"]] = row.evaluate("r => getComputedStyle(r).display")
        labels = page.locator(".iamkb-cards table tbody tr").first.locator("td").evaluate_all(
            "cells => cells.map(c => c.dataset.label)")
        headers = [h.strip() for h in page.locator(".iamkb-cards table thead th").all_inner_texts()]
        ctx.close()
        assert labels == headers  # each card cell is labelled with its column
    assert displays == {390: "block", 1400: "table-row"}


FOCUSABLE = """() => {
  const sel = 'a[href], button, input, select, textarea, summary, [tabindex]';
  const all = [...document.querySelectorAll(sel)].filter(el => {
    if (el.disabled || el.getAttribute("tabindex") === "-1" || el.closest("[inert], [hidden]")) return false;
    // what a mouse can reach: rendered (not in a closed <details>, not hidden) and of some size
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.height > 0 && el.checkVisibility({visibilityProperty: true});
  });
  all.forEach((el, i) => el.dataset.kbd = String(i));
  return all.length;
}"""


CONTROLS = ".iamkb-sort, .iamkb-filter, .iamkb-ask-input, .iamkb-ask-form button"


@pytest.mark.browser
@pytest.mark.parametrize("kind", ["actions", "action", "example", "ask"])
def test_the_keyboard_reaches_everything_the_mouse_can(browser, base_url, kinds, kind) -> None:
    """Tab through the whole page: every visible link, button and field is reached, in one cycle."""
    ctx, page, _ = open_page(browser, base_url + kinds[kind], DESKTOP)
    page.wait_for_load_state("networkidle")  # the playground builds its form once its data is in
    count = page.evaluate(FOCUSABLE)
    reached: list[str] = []
    for _ in range(count + 40):
        # A code editor keeps Tab for indenting; Ctrl+M switches Tab to moving on, as its note on the page says.
        if page.evaluate("document.activeElement.matches('.prism-code-editor textarea')"):
            page.keyboard.press("Control+m")
        page.keyboard.press("Tab")
        mark = page.evaluate("document.activeElement && document.activeElement.dataset.kbd")
        if mark is not None:
            if reached and mark == reached[0]:
                break
            reached.append(mark)
    missed = page.evaluate("(seen) => [...document.querySelectorAll('[data-kbd]')].filter(e => !seen.includes("
                           "e.dataset.kbd)).map(e => e.outerHTML.slice(0, 120))", reached)
    # the page's own controls are among what was counted (so the check above covered them)
    unmarked = page.locator(f":is({CONTROLS}):not([data-kbd])").count()
    controls = page.locator(CONTROLS).count()
    ctx.close()
    assert missed == [] and len(reached) == count
    # the actions table: a sort button per column and its filter box; the Ask box: its field and its button
    assert unmarked == 0 and controls == {"actions": len(ACTION_HEADER) + 1, "action": 0, "example": 0, "ask": 2}[kind]


def focus_by_tab(page, selector: str, limit: int = 400, key: str = "Tab") -> int:
    """Press Tab (or `key`) until the element matching `selector` has the focus; the number of presses."""
    for presses in range(1, limit + 1):
        page.keyboard.press(key)
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            return presses
    raise AssertionError(f"Tab never reached {selector}")


@pytest.mark.browser
def test_keyboard_only_runs_the_ask_box(browser, base_url, kinds) -> None:
    ctx, page, errors = open_page(browser, base_url + kinds["ask"], DESKTOP)
    focus_by_tab(page, ".iamkb-ask-input")
    question = "who can delete scaling policies"
    page.keyboard.type(question)
    page.keyboard.press("Enter")
    output = page.locator(".iamkb-ask-output")
    page.locator(".iamkb-answer-engine").wait_for(timeout=60_000)  # answered (in the page, or by iamkb serve)
    assert output.get_attribute("aria-live") == "polite"  # what arrives is read out
    listed = page.locator(".iamkb-results li").count()
    ctx.close()
    assert errors == []
    assert listed > 0  # the reader's question was run, not dropped


@pytest.mark.browser
def test_keyboard_only_sorts_and_filters_a_reference_table(browser, base_url, kinds, kb: Site) -> None:
    ctx, page, _ = open_page(browser, base_url + kinds["actions"], DESKTOP)
    table = page.locator(".iamkb-table table")
    focus_by_tab(page, ".iamkb-filter")
    # next: the table's frame when it is wider than the page (a region the arrow keys scroll), then the first
    # header's button
    focus_by_tab(page, ".iamkb-sort", limit=2)
    page.keyboard.press("Tab")  # the "Access level" column
    page.keyboard.press("Enter")
    header = table.locator("thead th").nth(1)
    levels = [c.strip() for c in table.locator("tbody tr td:nth-child(2)").all_inner_texts()]
    assert header.get_attribute("aria-sort") == "ascending"
    assert levels == sorted((a["access_level"] for a in kb.data.actions if a["service"] == "autoscaling"),
                            key=str.lower)
    page.keyboard.press("Space")
    assert header.get_attribute("aria-sort") == "descending"
    assert [c.strip() for c in table.locator("tbody tr td:nth-child(2)").all_inner_texts()] == levels[::-1]
    focus_by_tab(page, ".iamkb-filter", limit=3, key="Shift+Tab")  # back to the filter box
    page.keyboard.type("DeletePolicy")
    assert table.locator("tbody tr:not([hidden])").count() == 1
    assert page.locator(".iamkb-filter-count").inner_text() == "1 shown"
    ctx.close()
