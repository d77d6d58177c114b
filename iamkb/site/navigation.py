"""The way through the site: the navigation tree, and "previous / next" along the Start here path.

Every generated page has a place in the navigation, so the left column and the breadcrumbs (Material's
navigation.path) always say where the reader is:

- a guide's pages nest as the guide nests them: a page's "Topics" list (its table of contents) names its child
  pages, so the tree is the guide's own; pages no list names are the guide's top level, in reading-path order;
- the reference is grouped by kind (Auto Scaling actions, other services' actions, condition keys, resource
  types, managed policies), then by service;
- the examples are grouped by guide, then by the topic page they come from.

The site prunes the navigation (navigation.prune): a page carries its own branch and one link per collapsed
sibling group; no list holds more than GROUP_LIMIT entries (`bounded`), so a page's navigation stays the same
size whether the site has 1,400 pages or 2,800.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable

from iamkb.model import is_toc
from iamkb.site import callchain, checks, urls
from iamkb.site import markdown as md
from iamkb.site.examples import example_title
from iamkb.site.pages import GUIDE_TABS, Site
from iamkb.site.playground import TRY_PAGE

Nav = list  # MkDocs's nav: a list of "path.md" and {title: path or Nav}


# ------------------------------------------------------------------------------------------------- guides


def ordered_topics(site: Site, guide: str) -> list[dict]:
    """A guide's pages: the reading-path order first, then the rest by title."""
    order = {step["id"].partition("#")[0]: i for i, step in enumerate(site.data.reading_path) if "id" in step}
    pages = [p for p in site.data.pages if p["guide"] == guide]
    return sorted(pages, key=lambda p: (order.get(p["id"], len(order)), p["title"].lower()))


def toc_children(site: Site, page: dict) -> list[str]:
    """The pages a topic page's "Topics" lists name, in their order (links to another page's top only)."""
    firsts = {p["id"]: p["sections"][0] for p in site.data.pages if p["sections"]}
    out: list[str] = []
    for sid in page["sections"]:
        for block in site.data.sections[sid].get("blocks", []):
            if not is_toc(block):
                continue
            for item in block["items"]:
                target = item[0]["inlines"][0]["target"]
                child = target.partition("#")[0]
                if child != page["id"] and firsts.get(child) == target and child not in out:
                    out.append(child)
    return out


def page_tree(site: Site, ordered: list[dict]) -> tuple[list[str], dict[str, list[str]]]:
    """(top-level page ids, children by page id) of one guide. A page named by several lists stays under the
    first parent in reading order; a list that would make a page its own ancestor is ignored."""
    ids = {p["id"] for p in ordered}
    parent: dict[str, str] = {}
    children: dict[str, list[str]] = defaultdict(list)

    def ancestor_or_self(page: str, of: str) -> bool:
        while True:
            if page == of:
                return True
            if page not in parent:
                return False
            page = parent[page]

    for p in ordered:
        for child in toc_children(site, p):
            if child in ids and child not in parent and not ancestor_or_self(p["id"], child):
                parent[child] = p["id"]
                children[p["id"]].append(child)
    return [p["id"] for p in ordered if p["id"] not in parent], dict(children)


def guide_nav(site: Site, guide: str, ordered: list[dict]) -> Nav:
    """One guide's tab: its index, then its pages nested as its "Topics" lists nest them."""
    roots, children = page_tree(site, ordered)
    titles = {p["id"]: p["title"] for p in ordered}

    def entry(page_id: str) -> Entry:
        path = urls.topic_path(page_id)
        kids = children.get(page_id)
        title = titles[page_id]
        return (title, {title: [path, *bounded([entry(k) for k in kids])]} if kids else path)

    # The top-level pages on the Start here path come first, in its order; the others by title, in runs when
    # there are many (their runs' "first – last" titles are then alphabetical, as the reader expects).
    on_path = {step["id"].partition("#")[0] for step in site.data.reading_path if "id" in step}
    index = f"{guide}/index.md"
    roots = [r for r in roots if urls.topic_path(r) != index]  # a guide's own index.md page is the tab's index
    first = [entry(r) for r in roots if r in on_path]
    rest = [entry(r) for r in roots if r not in on_path]
    return [index, *(item for _, item in first), *bounded(rest, max(GROUP_LIMIT - len(first), 2))]


# ---------------------------------------------------------------------------------------------- bounding

GROUP_LIMIT = 40  # the most entries one list of the navigation shows (see `bounded`)
Entry = tuple[str, str | dict]  # (the label a reader knows the entry by, the nav item)


def bounded(entries: list[Entry], limit: int = GROUP_LIMIT) -> Nav:
    """At most `limit` nav items: a longer list is cut into even consecutive runs, each a group titled by its
    first and last labels ("AccepterVpc – CreateAction"), like a dictionary's guide words, and runs of runs
    when there are more than `limit` runs. A pruned page shows one entry per collapsed group on its path, so
    this bounds a page's navigation however many pages the site has (the pages of ec2's 145 condition keys
    would each carry all 145 links)."""
    ranged = [(label, label, item) for label, item in entries]
    while len(ranged) > limit:
        runs = math.ceil(len(ranged) / limit)
        size = math.ceil(len(ranged) / runs)
        ranged = [(chunk[0][0], chunk[-1][1], {range_title(chunk[0][0], chunk[-1][1]): [i for _, _, i in chunk]})
                  for chunk in (ranged[i:i + size] for i in range(0, len(ranged), size))]
    return [item for _, _, item in ranged]


def range_title(first: str, last: str, width: int = 28) -> str:
    def short(label: str) -> str:
        return label if len(label) <= width else label[: width - 1].rstrip() + "…"
    return f"{short(first)} – {short(last)}"


# ---------------------------------------------------------------------------------------------- reference


def service_title(site: Site, prefix: str) -> str:
    """A service group's title: its name and the prefix its actions and keys are written with."""
    if prefix == "aws":
        return "Global keys (aws)"
    name = next((s.get("name") for s in site.data.services if s.get("prefix") == prefix), None)
    return f"{name} ({prefix})" if name else prefix


def by_service(site: Site, items: Iterable[tuple[str, str, str]]) -> Nav:
    """[(service, name, docs path)] -> one group per service (by title), its pages by name, both bounded."""
    groups: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for service, name, path in items:
        groups[service].append((name, path))
    titled = sorted((service_title(site, s), sorted(v, key=lambda e: (e[0].lower(), e[1]))) for s, v in groups.items())
    return bounded([(title, {title: bounded(entries)}) for title, entries in titled])


def reference_nav(site: Site, pages: dict[str, str]) -> Nav:
    """The Reference tab: each kind with its index table first, then its pages by service."""
    d = site.data
    autoscaling = sorted((r["name"], p) for r in d.actions if (p := site.action_pages.get(r["id"]))
                         and r["service"] == "autoscaling")
    other = [(r["service"], r["name"], site.action_pages[r["id"]]) for r in site.mentioned_actions.values()
             if r["service"] != "autoscaling" and r["id"] in site.action_pages]
    keys = [(r.get("service") or "aws", r["key"].partition(":")[2] or r["key"], site.key_paths[r["id"]])
            for r in d.condition_keys]
    types = [(r["service"], r["name"], site.resource_type_paths[r["id"]]) for r in d.resource_types]
    policies = sorted((p["name"], site.policy_paths[p["id"]]) for p in d.managed_policies)
    groups = [
        ("Auto Scaling actions", "reference/actions/index.md", bounded(autoscaling)),
        ("Other services' actions", "reference/actions/other.md", by_service(site, other)),
        ("Condition keys", "reference/condition-keys/index.md", by_service(site, keys)),
        ("Resource types", "reference/resource-types/index.md", by_service(site, types)),
        ("AWS managed policies", "reference/managed-policies/index.md", bounded(policies)),
    ]
    codes = sorted((p.removeprefix("reference/checks/").removesuffix(".md"), p) for p in pages
                   if p.startswith("reference/checks/") and p != checks.INDEX)
    groups.append(("Policy checks", checks.INDEX, bounded(codes)))
    nav: Nav = ["reference/index.md"] if "reference/index.md" in pages else []
    nav += [{title: [index, *entries]} for title, index, entries in groups if index in pages]
    nav += [p for p in ("reference/drift.md", callchain.CAN_I, callchain.TROUBLESHOOTING) if p in pages]
    return nav


# ----------------------------------------------------------------------------------------------- examples


def examples_nav(site: Site) -> Nav:
    """The Examples tab: the index, then one group per guide and, inside it, per topic page."""
    by_page: dict[str, list[Entry]] = defaultdict(list)
    for ex in site.data.examples:
        by_page[ex["page"]].append((example_title(site, ex).removeprefix("Example: "), urls.example_path(ex["id"])))
    nav: Nav = ["examples/index.md"]
    for guide, tab in GUIDE_TABS.items():
        groups = [(p["title"], {p["title"]: bounded(by_page[p["id"]])}) for p in ordered_topics(site, guide)
                  if by_page.get(p["id"])]
        if groups:
            nav.append({f"From the {tab}": bounded(groups)})
    return nav


def navigation(site: Site, pages: dict[str, str]) -> Nav:
    """The whole tree (tabs: Home, Start here, the two guides, Reference, Examples, Ask, About)."""
    start = ["start-here.md", "glossary.md", *([TRY_PAGE] if TRY_PAGE in pages else [])]
    nav: Nav = [{"Home": "index.md"}, {"Start here": start}]
    for guide, tab in GUIDE_TABS.items():
        ordered = ordered_topics(site, guide)
        if ordered:
            nav.append({tab: guide_nav(site, guide, ordered)})
    if "reference/index.md" in pages:
        nav.append({"Reference": reference_nav(site, pages)})
    nav += [{"Examples": examples_nav(site)}, {"Ask": "ask.md"}, {"About": "about.md"}]
    return nav


def nav_paths(nav: Nav) -> list[str]:
    """Every docs path the tree names, in order (tests and the build check that each page is placed once)."""
    out: list[str] = []
    for entry in nav:
        values = entry.values() if isinstance(entry, dict) else [entry]
        for value in values:
            out.extend(nav_paths(value) if isinstance(value, list) else [value])
    return out


# ------------------------------------------------------------------------------------ the Start here path


def path_steps(site: Site) -> list[tuple[str, str, str]]:
    """The reading path as (step id, docs path, title), in order. A step naming a page of the site itself
    (`page`, with its `title`) has its docs path for id."""
    out = []
    for step in site.data.reading_path:
        if "page" in step:
            out.append((step["page"], step["page"], step.get("title") or step["page"]))
            continue
        ident = step["id"]
        path = site.entity_path(ident)
        if path is None:
            continue  # start_here reports a bad id with its place in kb/reading_path.yml
        page_id = ident.partition("#")[0]
        sec = site.data.sections.get(ident) or site.data.sections.get(f"{page_id}#{site.first_anchor(page_id)}")
        out.append((ident, path, sec["title"] if sec else ident))
    return out


def path_pager(site: Site, doc: str, index: int, steps: list[tuple[str, str, str]]) -> tuple[str, str]:
    """(the line above the page, the pager below it) for step `index` of the path, shown on page `doc`.
    Markdown links, so MkDocs resolves and checks them like every other link."""
    n = len(steps)
    start = urls.relative(doc, "start-here.md")
    where = (f'<p class="iamkb-path-step" markdown="span">[Start here]({start}) · step {index + 1} of {n}: '
             f"{md.esc(steps[index][2])}</p>")

    def link(target: str, rel: str, label: str, title: str) -> str:
        return (f'[<span class="iamkb-pager-label">{label}</span> <span class="iamkb-pager-title">'
                f'{md.esc(title)}</span>]({target}){{: .iamkb-pager-{rel} rel="{rel}" }}')

    links = []
    def target(ident: str, path: str) -> str:
        return site.link(doc, ident) or urls.relative(doc, path)

    if index > 0:
        ident, path, title = steps[index - 1]
        links.append(link(target(ident, path), "prev", f"Previous: step {index}", title))
    if index + 1 < n:
        ident, path, title = steps[index + 1]
        links.append(link(target(ident, path), "next", f"Next: step {index + 2}", title))
    else:
        links.append(link(start, "next", "End of the path", "Back to Start here"))
    pager = '<nav class="iamkb-pager" aria-label="Start here path" markdown="span">' + " ".join(links) + "</nav>"
    return where, pager


def with_reading_path(site: Site, pages: dict[str, str]) -> dict[str, str]:
    """Each page of the Start here path with its step above its title and "previous / next" below it."""
    steps = path_steps(site)
    out = dict(pages)
    seen: set[str] = set()
    for i, (_, path, _) in enumerate(steps):
        if path in seen or path not in out:
            continue  # a page holding two steps shows the first
        seen.add(path)
        where, pager = path_pager(site, path, i, steps)
        out[path] = insert_after_front_matter(out[path], where) + "\n" + pager + "\n"
    return out


def insert_after_front_matter(markdown: str, text: str) -> str:
    """Markdown with `text` as its first block after the YAML front matter."""
    if markdown.startswith("---\n"):
        end = markdown.index("\n---\n", 4) + len("\n---\n")
        return markdown[:end] + "\n" + text + "\n\n" + markdown[end:].lstrip("\n")
    return text + "\n\n" + markdown

