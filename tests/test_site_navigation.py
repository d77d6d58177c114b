"""The way through the site: every page in the navigation, lists bounded, the guides' own tree, breadcrumbs and
the Start here path's previous / next, checked on the real KB and the built site (no browser)."""

from __future__ import annotations

import json
import posixpath
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iamkb.site import navigation as nav_mod
from iamkb.site import urls
from iamkb.site.build import cached_site, generate
from iamkb.site.data import SiteData, load_site_data
from iamkb.site.pages import Site
from iamkb.site.weight import collapse_whitespace, site_size

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def kb(kb_build: Path) -> Site:
    return Site(load_site_data())


@pytest.fixture(scope="module")
def pages(kb: Site) -> dict[str, str]:
    return generate(kb)


@pytest.fixture(scope="module")
def tree(kb: Site, pages: dict[str, str]) -> list:
    return nav_mod.navigation(kb, pages)


@pytest.fixture(scope="module")
def site(kb: Site) -> Path:
    return cached_site()


def html(site: Path, doc: str) -> str:
    return (site / urls.url_of(doc) / "index.html").read_text(encoding="utf-8")


def lists(tree: list):
    """Every list of the nav tree below the tabs."""
    for entry in tree:
        if isinstance(entry, dict):
            for value in entry.values():
                if isinstance(value, list):
                    yield value
                    yield from lists(value)


def test_every_page_has_one_place_in_the_navigation(tree: list, pages: dict[str, str]) -> None:
    placed = nav_mod.nav_paths(tree)
    hand_written = sorted(p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").glob("*.md"))
    assert len(placed) == len(set(placed))
    assert sorted(placed) == sorted([*pages, *hand_written])


def test_no_list_of_the_navigation_is_longer_than_the_limit(tree: list, kb: Site) -> None:
    # the Auto Scaling actions alone are more than the limit, so the bound is doing something here
    assert sum(a["service"] == "autoscaling" for a in kb.data.actions) > nav_mod.GROUP_LIMIT
    longest = max(len(x) for x in lists(tree))
    # an index page comes first in its group, beside at most GROUP_LIMIT entries
    assert longest <= nav_mod.GROUP_LIMIT + 1


@given(st.lists(st.text(min_size=1, max_size=12), min_size=0, max_size=400), st.integers(2, 50))
def test_bounded_keeps_the_order_and_cuts_into_even_runs(labels: list[str], limit: int) -> None:
    entries = [(label, f"p{i}.md") for i, label in enumerate(labels)]
    out = nav_mod.bounded(entries, limit)
    assert len(out) <= limit
    assert nav_mod.nav_paths(out) == [path for _, path in entries]

    def check(items: list) -> None:
        for item in items:
            if isinstance(item, dict):
                (title, inner), = item.items()
                paths = nav_mod.nav_paths(inner)
                first = labels[int(paths[0][1:-3])]
                last = labels[int(paths[-1][1:-3])]
                assert title == nav_mod.range_title(first, last)
                assert len(inner) <= limit
                check(inner)
    check(out)


def test_the_chapter_nests_its_nine_child_pages(kb: Site, tree: list) -> None:
    """DESIGN.md: the IAM chapter is security-iam.md and its nine child pages; its Topics list names them."""
    ordered = nav_mod.ordered_topics(kb, "autoscaling")
    roots, children = nav_mod.page_tree(kb, ordered)
    assert "autoscaling/security-iam" in roots
    assert len(children["autoscaling/security-iam"]) == 9
    guide = next(e["Auto Scaling guide"] for e in tree if isinstance(e, dict) and "Auto Scaling guide" in e)
    group = next(e for e in guide if isinstance(e, dict) and "autoscaling/security-iam.md" in nav_mod.nav_paths([e]))
    (title, inner), = group.items()
    assert inner[0] == "autoscaling/security-iam.md"
    assert inner[1:] == [urls.topic_path(c) for c in children["autoscaling/security-iam"]]


def _page(pid: str, children: list[str]) -> tuple[dict, dict]:
    """A one-section page whose section is a Topics list of links to `children`."""
    toc = {"type": "list", "items": [[{"type": "paragraph", "text": c, "inlines": [
        {"t": "link", "target": f"{c}#{c.split('/')[1]}", "c": [{"t": "text", "v": c}]}]}] for c in children]}
    sid = f"{pid}#{pid.split('/')[1]}"
    return ({"id": pid, "guide": "iam", "title": pid.upper(), "sections": [sid]},
            {"id": sid, "title": pid, "text": "", "blocks": [toc] if children else []})


def test_a_topics_cycle_does_not_make_a_page_its_own_ancestor() -> None:
    pages, sections = zip(_page("iam/a", ["iam/b"]), _page("iam/b", ["iam/a", "iam/c"]), _page("iam/c", []),
                          strict=True)
    site = Site(SiteData(pages=list(pages), sections={s["id"]: s for s in sections}, examples=[], manifest=[]))
    roots, children = nav_mod.page_tree(site, list(pages))
    assert roots == ["iam/a"] and children == {"iam/a": ["iam/b"], "iam/b": ["iam/c"]}


def test_breadcrumbs_lead_from_an_entity_page_back_to_its_index_table(site: Path) -> None:
    text = html(site, urls.action_path("autoscaling:DeletePolicy"))
    crumbs = re.search(r'<nav class="md-path".*?</nav>', text, re.S).group(0)  # the theme's own markup
    hrefs = re.findall(r'href="([^"]+)"', crumbs)
    assert "../../" in hrefs  # reference/actions/ (the Auto Scaling actions table), from .../autoscaling/DeletePolicy/
    assert "Auto Scaling actions" in crumbs
    example = html(site, "examples/autoscaling/security_iam_id-based-policy-examples/policy-example-delete-policy-1.md")
    crumbs = re.search(r'<nav class="md-path".*?</nav>', example, re.S).group(0)
    assert "Amazon EC2 Auto Scaling identity-based policy examples" in crumbs  # the topic page it comes from


def test_the_start_here_path_reads_in_order_with_previous_and_next(kb: Site, site: Path) -> None:
    # each step's page: a page or section of the docs (`id`), or a page of the site itself (`page`)
    steps = [s["page"] if "page" in s else kb.entity_path(s["id"]) for s in kb.data.reading_path]
    assert len(steps) == len(set(steps)) and steps
    for i, doc in enumerate(steps):
        text = html(site, doc)
        assert f"step {i + 1} of {len(steps)}" in text
        pager = re.search(r'<nav[^>]*class="iamkb-pager".*?</nav>', text, re.S).group(0)
        nxt = _href(re.search(r'<a[^>]*class="iamkb-pager-next"[^>]*>', pager).group(0))
        want = "start-here.md" if i + 1 == len(steps) else steps[i + 1]
        assert posixpath.normpath(posixpath.join(urls.url_of(doc), nxt)) == urls.url_of(want).rstrip("/")
        prev = re.search(r'<a[^>]*class="iamkb-pager-prev"[^>]*>', pager)
        assert (prev is None) == (i == 0)
        if prev:
            want = steps[i - 1]
            assert posixpath.normpath(posixpath.join(urls.url_of(doc), _href(prev.group(0)))) == \
                urls.url_of(want).rstrip("/")


def _href(tag: str) -> str:
    return re.search(r'href="([^"]+)"', tag).group(1)


def test_a_page_carries_its_branch_not_the_whole_site(kb: Site, site: Path) -> None:
    """Pruned: an action page links none of the condition-key pages, and no page links more than a bounded
    number of nav entries, whatever the number of pages."""
    text = html(site, urls.action_path("autoscaling:DeletePolicy"))
    sidebar = text.split('md-nav--primary', 1)[1].split("md-sidebar--secondary", 1)[0]
    assert "condition-keys/aws-" not in sidebar
    entries = sidebar.count('class="md-nav__link')
    tabs = 8
    assert entries <= tabs + 3 * (nav_mod.GROUP_LIMIT + 1)


def test_the_theme_whitespace_is_dropped_but_code_is_kept_verbatim() -> None:
    page = ('<nav>\n    \n      <a href="x">\n        X\n      </a>\n\n</nav>\n<pre><code>{\n    "a": 1\n\n}'
            '</code></pre>\n   <script>var s = "a\n\n  b";</script>')
    out = collapse_whitespace(page)
    assert out == ('<nav>\n<a href="x">\nX\n</a>\n</nav>\n<pre><code>{\n    "a": 1\n\n}</code></pre>\n'
                   '<script>var s = "a\n\n  b";</script>')


def test_built_pages_have_no_indentation_runs_outside_code(site: Path) -> None:
    text = html(site, urls.action_path("autoscaling:DeletePolicy"))
    outside = re.sub(r"<pre\b.*?</pre>|<script\b.*?</script>", "(code)", text, flags=re.S)
    assert "\n " not in outside and "\n\n" not in outside


def test_site_size_counts_every_file(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "index.html").write_bytes(b"x" * 300)
    (tmp_path / "index.html").write_bytes(b"y" * 100)
    (tmp_path / "big.json").write_bytes(b"z" * 1000)
    size = site_size(tmp_path, largest=2)
    assert (size.files, size.total_bytes, size.pages, size.page_bytes) == (3, 1400, 2, 400)
    assert size.largest == (("big.json", 1000), ("a/index.html", 300))
    assert json.loads(json.dumps(size.to_json()))["mean_page_bytes"] == 200
