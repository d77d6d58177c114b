"""Topic pages: each page of the corpus rendered from its KB sections, anchors and aliases kept.

Upstream anchors are the section ids' anchors, written as the headings' ids, and the inline `<a name>` aliases
become empty elements with those ids, so a link to the AWS page's #anchor works on the site's page too.
Content-tab sections ("[ Console ]", "[ AWS CLI ]" headings, consecutive siblings) become Material content tabs.
"""

from __future__ import annotations

from iamkb.site import markdown as md
from iamkb.site import urls
from iamkb.site.pages import GUIDE_TABS, GUIDES, Site, front_matter, heading, source_line

SEE_ALSO_KINDS = (("action", "Actions"), ("condition_key", "Condition keys"),
                  ("resource_type", "Resource types"), ("managed_policy", "AWS managed policies"))


def example_hook(site: Site, doc: str):
    def hook(block: dict) -> str:
        ex_id = block["example"]
        target = site.link(doc, ex_id)
        if not target:
            return ""
        return (f"[Scenarios, lint findings and how to run this example]({target})"
                '{: .iamkb-example-link }')
    return hook


def section_markdown(site: Site, doc: str, sec: dict, linker: md.Linker, after_heading: str | None = None) -> str:
    parts = [heading(sec["level"], sec["title"], sec["anchor"])]
    if after_heading:
        parts.append(after_heading)
    parts += [f'<div id="{md.esc_attr(a)}" class="iamkb-alias"></div>' for a in sec.get("aliases", [])
              if a != sec["anchor"]]
    linker.set_entities(site.section_entities(doc, sec))
    body = md.blocks(sec.get("blocks", []), linker, example_hook(site, doc))
    if body:
        parts.append(body)
    if sec.get("missing_content"):
        links = ", ".join(f"[{md.esc(u)}]({md.url_quote(u)})" for u in sec["missing_content"])
        parts.append('!!! info "Content not in the source"\n\n'
                     "    The published page shows content here (usually a table) that its Markdown source "
                     f"replaces with a pointer to the AWS website: {links}")
    return "\n\n".join(parts)


def _tab_groups(secs: list[dict]) -> list[list[dict]]:
    """Group consecutive sibling content-tab sections (with their descendants) so they render as tabs."""
    groups: list[list[dict]] = []
    i = 0
    while i < len(secs):
        s = secs[i]
        if md.tab_label(s["title"]):
            group = []
            while i < len(secs) and md.tab_label(secs[i]["title"]) and secs[i]["parent"] == s["parent"]:
                group.append(secs[i])
                i += 1
                while i < len(secs) and secs[i]["level"] > s["level"]:  # the tab's own sub-sections
                    group.append(secs[i])
                    i += 1
            groups.append(group)
        else:
            groups.append([s])
            i += 1
    return groups


def tabs_markdown(site: Site, doc: str, group: list[dict], linker: md.Linker) -> str:
    out = []
    tabs: list[list[dict]] = []
    for s in group:
        if md.tab_label(s["title"]) and s["level"] == group[0]["level"]:
            tabs.append([s])
        else:
            tabs[-1].append(s)
    for tab in tabs:
        head, rest = tab[0], tab[1:]
        label = md.tab_label(head["title"]) or head["title"]
        inner = [f'<div id="{md.esc_attr(head["anchor"])}" class="iamkb-alias"></div>']
        linker.set_entities(site.section_entities(doc, head))
        body = md.blocks(head.get("blocks", []), linker, example_hook(site, doc))
        if body:
            inner.append(body)
        inner += [section_markdown(site, doc, s, linker) for s in rest]
        out.append(f'=== "{label.replace(chr(34), "")}"\n\n' + md.indent("\n\n".join(inner)))
    return "\n\n".join(out)


def see_also(site: Site, doc: str, page: dict) -> str:
    links = site.data.crosslinks.get("sections", {})
    grouped: dict[str, set[str]] = {k: set() for k, _ in SEE_ALSO_KINDS}
    for sid in page["sections"]:
        for kind, ids in links.get(sid, {}).items():
            grouped.setdefault(kind, set()).update(ids)
    lines = []
    for kind, title in SEE_ALSO_KINDS:
        items = [site.md_link(doc, i, as_code=True) for i in sorted(grouped.get(kind, ())) if site.entity_path(i)]
        if items:
            lines.append(f"- **{title}**: " + ", ".join(items))
    examples = [e for sid in page["sections"] for e in site.data.sections[sid].get("examples", [])]
    if examples:
        lines.append("- **Runnable examples on this page**: "
                     + ", ".join(site.md_link(doc, e) for e in examples if site.entity_path(e)))
    back = site.backlinks.get(page["id"], [])
    if back:
        pages = sorted({b.partition("#")[0] for b in back})
        lines.append("- **Pages that link here**: " + ", ".join(
            site.md_link(doc, p, site.data.sections[f"{p}#{site.first_anchor(p)}"]["title"]) for p in pages
            if site.first_anchor(p)))
    if not lines:
        return ""
    return heading(2, "See also", "iamkb-see-also") + "\n\n" + "\n".join(lines)


def topic_page(site: Site, page: dict) -> tuple[str, str]:
    doc = urls.topic_path(page["id"])
    linker = site.linker(doc)
    linker.upstream_base = page["url"]
    secs = [site.data.sections[sid] for sid in page["sections"]]
    parts = [front_matter(page["title"], next((s["text"] for s in secs if s.get("text")), None))]
    for i, group in enumerate(_tab_groups(secs)):
        source = f'<p class="iamkb-source" markdown>{source_line(page)}</p>' if i == 0 else None
        if len(group) == 1 and not md.tab_label(group[0]["title"]):
            parts.append(section_markdown(site, doc, group[0], linker, source))
        else:
            parts.append(tabs_markdown(site, doc, group, linker))
    extra = see_also(site, doc, page)
    if extra:
        parts.append(extra)
    return doc, "\n\n".join(parts) + "\n"


def guide_index(site: Site, guide: str, ordered: list[dict]) -> tuple[str, str]:
    doc = f"{guide}/index.md"
    lines = [front_matter(GUIDE_TABS[guide]), heading(1, GUIDE_TABS[guide]),
             f"Pages of the *{GUIDES[guide]}* in this knowledge base, rendered from its source "
             f"({md.esc(_licence_note(guide))}).", ""]
    for p in ordered:
        first = site.data.sections[p["sections"][0]]
        lines.append(f"- [{md.esc(p['title'])}]({urls.relative(doc, urls.topic_path(p['id']))})"
                     f" — {md.esc(_first(first.get('text', '')))}")
    return doc, "\n".join(lines) + "\n"


def _licence_note(guide: str) -> str:
    return {"autoscaling": "documentation CC BY-SA 4.0, sample code MIT-0", "iam": "MIT-0"}[guide]


def _first(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
