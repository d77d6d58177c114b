"""The site: built from the real KB with `mkdocs build --strict`, checked link by link and page by page."""

from __future__ import annotations

import json
import re
from pathlib import Path

import markdown
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iamkb.errors import InputError
from iamkb.site import markdown as md
from iamkb.site import urls
from iamkb.site.build import cached_site
from iamkb.site.data import load_site_data
from iamkb.site.linkcheck import check_site
from iamkb.site.onboarding import glossary, start_here
from iamkb.site.pages import Site

REQUIRED = ("actions", "condition_keys", "resource_types", "managed_policies", "crosslinks", "drift",
            "example_catalog", "reference_meta")


@pytest.fixture(scope="module")
def kb(kb_build: Path) -> Site:
    missing = [n for n in REQUIRED if not (kb_build / f"{n}.json").exists()]
    if missing:
        pytest.fail(f"the KB lacks {', '.join(missing)}: run a full `iamkb build-kb`")
    return Site(load_site_data())


@pytest.fixture(scope="module")
def site(kb: Site) -> Path:
    return cached_site()


def page_html(site: Path, doc_path: str) -> str:
    return (site / urls.url_of(doc_path) / "index.html").read_text(encoding="utf-8")


def test_no_broken_internal_link_or_anchor(site: Path) -> None:
    checked, broken = check_site(site)
    assert checked > 10_000  # every page has nav links; a site without them was not built
    assert broken == [], "\n".join(map(str, broken[:20]))


def test_link_checker_reports_a_missing_anchor_and_file(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "index.html").write_text('<h1 id="top">A</h1><a href="../b/#nope">b</a>'
                                               '<a href="../c/">c</a><a href="#top">self</a>')
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "index.html").write_text('<h1 id="b">B</h1><a href="../a/#top">a</a>')
    checked, broken = check_site(tmp_path)
    assert checked == 4
    assert sorted(b.reason for b in broken) == ["no anchor #nope in b/index.html", "no such file"]


def test_every_entity_and_example_has_its_page(kb: Site, site: Path) -> None:
    d = kb.data
    expected = {
        "topic": [urls.topic_path(p["id"]) for p in d.pages],
        "autoscaling action": [urls.action_path(a["id"].removeprefix("action:"))
                               for a in d.actions if a["service"] == "autoscaling"],
        "condition key": list(urls.condition_key_paths(k["key"] for k in d.condition_keys).values()),
        "resource type": [urls.resource_type_path(r["service"], r["name"]) for r in d.resource_types],
        "managed policy": [urls.managed_policy_path(p["name"]) for p in d.managed_policies],
        "example": [urls.example_path(e["id"]) for e in d.examples],
    }
    for kind, docs in expected.items():
        assert len(set(docs)) == len(docs), f"two {kind}s share a page"
        missing = [p for p in docs if not (site / urls.url_of(p) / "index.html").is_file()]
        assert missing == [], f"{len(missing)} {kind} pages missing, e.g. {missing[:3]}"
    assert len(expected["autoscaling action"]) == sum(a["service"] == "autoscaling" for a in d.actions)


def test_action_page_is_titled_with_the_full_name(kb: Site, site: Path) -> None:
    text = page_html(site, urls.action_path("autoscaling:CreateAutoScalingGroup"))
    assert re.search(r"<h1[^>]*>autoscaling:CreateAutoScalingGroup", text)
    assert "<title>autoscaling:CreateAutoScalingGroup" in text
    rec = kb.ref.action("autoscaling:CreateAutoScalingGroup")
    assert rec["access_level"] in text


def test_topic_pages_keep_every_upstream_anchor_and_alias(kb: Site, site: Path) -> None:
    for page in kb.data.pages:
        text = page_html(site, urls.topic_path(page["id"]))
        ids = set(re.findall(r'\sid="([^"]+)"', text))
        for sid in page["sections"]:
            sec = kb.data.sections[sid]
            assert sec["anchor"] in ids, f"{sid}: heading anchor lost"
            lost = [a for a in sec.get("aliases", []) if a not in ids]
            assert lost == [], f"{sid}: aliases {lost} lost"
        assert page["url"] in text, f"{page['id']}: no link to the upstream page"


def test_mentions_link_to_reference_pages(kb: Site, site: Path) -> None:
    doc = "autoscaling/security_iam_id-based-policy-examples.md"
    text = page_html(site, doc)
    assert 'href="../../reference/actions/autoscaling/DeletePolicy/"' in text
    sec = kb.data.sections["autoscaling/security_iam_id-based-policy-examples#policy-example-delete-policy"]
    assert "autoscaling:DeletePolicy" in sec["mentions"]["actions"] or "DeletePolicy" in sec["text"]
    # the example block links to its example page
    assert 'href="../../examples/autoscaling/security_iam_id-based-policy-examples/policy-example-delete-policy-1/"' in text


def test_example_page_has_its_scenario_table_and_command(kb: Site, site: Path) -> None:
    ex_id = "example:autoscaling/security_iam_id-based-policy-examples#policy-example-delete-policy:1"
    entry = kb.catalog[ex_id]
    assert entry["scenarios"], "the delete-policy example has scenarios in kb/scenarios"
    text = page_html(site, urls.example_path(ex_id))
    table = text.split('id="scenarios"', 1)[1].split("</table>", 1)[0]
    assert table.count("<tr>") == len(entry["scenarios"]) + 1  # header + one row per scenario
    for s in entry["scenarios"]:
        assert s["expected"] in table
    assert f"iamkb examples --json '{ex_id}'" in _text_of(text)


def test_footer_names_the_source_commits(kb: Site, site: Path) -> None:
    text = (site / "index.html").read_text(encoding="utf-8")
    commits = {m["commit"][:12] for m in kb.data.manifest}
    assert commits and all(c in text for c in commits)
    assert "CC BY-SA 4.0" in text and "MIT-0" in text


def _script_data(path: Path, name: str):
    """The JSON a generated search script (`window.<name>=JSON.parse("...");`) carries."""
    text = path.read_text(encoding="utf-8")
    prefix = f"window.{name}=JSON.parse("
    assert text.startswith(prefix) and text.endswith(");\n"), path
    return json.loads(json.loads(text[len(prefix):-3]))


def test_the_site_ships_its_own_search_data_linking_to_its_own_pages(kb: Site, site: Path) -> None:
    """The in-page engine's data (iamkb.site.search) holds every document of the index, each linked to its page
    here when the site has one (and the page and its anchor exist); Material's search index is gone."""
    from iamkb.site import search

    assert not (site / "search" / "search_index.json").exists()
    data = _script_data(site / search.DATA, "iamkbSearchData")
    docs = data["docs"]
    d = kb.data
    expected = len(d.sections) + sum(1 for e in d.examples if e["section"] in d.sections) + len(d.actions) \
        + len(d.condition_keys) + len(d.resource_types) + len(d.managed_policies)
    assert len(set(docs["id"])) == len(docs["kind"]) == expected
    linked = [(i, u) for i, u in zip(docs["id"], docs["site"], strict=True) if u]
    assert {i for i, u in zip(docs["id"], docs["site"], strict=True) if not u} \
        == {i for i in docs["id"] if kb.entity_path(i) is None}
    for ident, url in linked:
        page, _, anchor = url.partition("#")
        html = (site / page / "index.html").read_text(encoding="utf-8") if (site / page / "index.html").exists() else ""
        assert html, f"{ident}: {url} is no page of the site"
        assert not anchor or f'id="{anchor}"' in html, f"{ident}: no anchor #{anchor} in {page}"
    cards = _script_data(site / search.CARDS, search.CARDS_GLOBAL)
    assert set(cards) == {r["id"] for r in kb.data.actions + kb.data.condition_keys + kb.data.resource_types
                          + kb.data.managed_policies}
    create = cards["action:autoscaling:CreateAutoScalingGroup"]
    rules = kb.data.call_rules["operations"]["autoscaling:CreateAutoScalingGroup"]["rules"]
    assert [n["label"] for n in create["needs"]] == list(dict.fromkeys(r["action"] for r in rules))


def test_glossary_and_reading_path_ids_are_checked(kb: Site) -> None:
    bad = Site(kb.data)
    bad.data = load_site_data()
    bad.data.reading_path = [{"id": "autoscaling/no-such-page", "teaches": "x"}]
    with pytest.raises(InputError, match="reading_path.yml: steps\\[0\\].id"):
        start_here(bad)
    bad.data.glossary = [{"term": "x", "definition": "y", "see": ["iam/nope#nope"]}]
    with pytest.raises(InputError, match="glossary.yml: terms\\[0\\].see"):
        glossary(bad)


# ----------------------------------------------------------------------------------------- renderer units

EXTENSIONS = ["tables", "attr_list", "md_in_html", "admonition", "pymdownx.superfences", "pymdownx.tabbed"]


def _render(text: str) -> str:
    return markdown.markdown(text, extensions=EXTENSIONS)


def _text_of(rendered: str) -> str:
    import html as h

    return h.unescape(re.sub(r"<[^>]+>", "", rendered))


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=60))
def test_escaped_text_renders_as_itself(text: str) -> None:
    text = " ".join(text.split())
    if not text:
        return
    assert _text_of(_render(md.esc(text))).strip() == text.strip()


def test_blocks_render_tables_procedures_callouts_and_code() -> None:
    linker = md.Linker(target_url=lambda t: None)
    blocks = [
        {"type": "procedure", "start": 1, "steps": [
            [{"type": "paragraph", "inlines": [{"t": "text", "v": "Open *the* console"}]}],
            [{"type": "paragraph", "inlines": [{"t": "code", "v": "a|b"}]},
             {"type": "code", "lang": "json", "code": '{"a": 1}'}]]},
        {"type": "table", "header": [{"inlines": [{"t": "text", "v": "Key"}]}],
         "rows": [[{"inlines": [{"t": "code", "v": "x|y"}]}]]},
        {"type": "callout", "kind": "important", "blocks": [
            {"type": "paragraph", "inlines": [{"t": "strong", "c": [{"t": "text", "v": "Careful"}]}]}]},
    ]
    out = _render(md.blocks(blocks, linker))
    assert "<ol>" in out and out.count("<li>") == 2 and "Open *the* console" in out
    assert "<code>a|b</code>" in out and "<td><code>x|y</code></td>" in out
    assert 'class="admonition warning"' in out and "<strong>Careful</strong>" in out
    assert '{"a": 1}' in _text_of(out).replace("&quot;", '"')


def test_lost_images_render_as_a_table_icon_or_a_labelled_link() -> None:
    yes = {"t": "image", "alt": "\\[Image NOT FOUND\\]", "src": "http://docs.aws.amazon.com/IAM/latest/UserGuide/images/icon-yes.png"}
    cell = _render(md.inlines([yes, {"t": "text", "v": " Yes"}], md.Linker(target_url=lambda t: None)))
    assert _text_of(cell).split() == ["✓", "Yes"] and 'aria-hidden="true"' in cell  # not "Yes Yes"
    diagram = {"t": "image", "alt": "\\[Image NOT FOUND\\]", "src": "http://x/images/condition.diagram.png"}
    out = _render(md.inlines([diagram], md.Linker(target_url=lambda t: None)))
    assert "figure: condition.diagram.png" in out and "NOT FOUND" not in out and 'href="http://x/images/' in out
    described = {"t": "image", "alt": "The evaluation flow", "src": "http://x/images/flow.png"}
    assert "figure: The evaluation flow" in _render(md.inlines([described], md.Linker(target_url=lambda t: None)))


def test_content_tab_sections_become_tabs(kb: Site) -> None:
    from iamkb.site.topics import _tab_groups, tabs_markdown

    def sec(anchor: str, title: str, text: str) -> dict:
        return {"id": f"autoscaling/x#{anchor}", "anchor": anchor, "title": title, "level": 3,
                "parent": "autoscaling/x#p", "aliases": [], "mentions": {},
                "blocks": [{"type": "paragraph", "inlines": [{"t": "text", "v": text}]}]}

    secs = [sec("console", "[ Console ]", "Use the console."), sec("cli", "[ AWS CLI ]", "Use the CLI.")]
    groups = _tab_groups(secs)
    assert len(groups) == 1
    out = _render(tabs_markdown(kb, "autoscaling/x.md", groups[0], md.Linker(target_url=lambda t: None)))
    assert out.count('class="tabbed-set"') == 1 and ">Console</label>" in out and ">AWS CLI</label>" in out
    assert 'id="console"' in out and 'id="cli"' in out
