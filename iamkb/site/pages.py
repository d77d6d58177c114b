"""Page generators: each takes the KB (SiteData) and returns {docs path: Markdown} for one kind of page.

Every page is a pure function of the KB, so the same KB gives the same site. Links between generated pages are
relative `.md` links: MkDocs checks them (and their anchors) in strict mode.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property

import yaml

from iamkb.refdata import Reference, from_records
from iamkb.site import markdown as md
from iamkb.site import urls
from iamkb.site.data import SiteData

GUIDES = {"autoscaling": "Amazon EC2 Auto Scaling User Guide", "iam": "IAM User Guide"}
GUIDE_TABS = {"autoscaling": "Auto Scaling guide", "iam": "IAM policy reference"}
LICENSES = {
    "autoscaling": "CC BY-SA 4.0 (documentation text), MIT-0 (sample code)",
    "iam": "MIT-0",
}
KIND_TITLES = {"identity": "identity-based policy", "key_policy": "KMS key policy statement",
               "trust_policy": "role trust policy", "vpc_endpoint": "VPC endpoint policy",
               "resource_policy": "resource-based policy", "scp": "service control policy"}


def front_matter(title: str, description: str | None = None) -> str:
    """YAML front matter: the title, and the description (the page's meta description, for search engines)."""
    meta: dict = {"title": title}
    if description:
        meta["description"] = description[:300]
    return "---\n" + yaml.safe_dump(meta, sort_keys=True, allow_unicode=True, width=1000) + "---\n\n"


def heading(level: int, title: str, anchor: str | None = None) -> str:
    attr = f' {{: id="{md.esc_attr(anchor)}" }}' if anchor else ""
    return f"{'#' * max(1, min(level, 6))} {md.esc(title)}{attr}"


def table(header: list[str], rows: list[list[str]], *, sortable: bool = True, cards: bool = False) -> str:
    """A Markdown table (cells already Markdown) wrapped so docs/javascripts/tables.js can sort and filter it.
    With `cards`, a phone shows each row as a card, its cells labelled by their column (a11y.css, a11y.js):
    for a few wide rows, where scrolling sideways would hide most of each row."""
    if not rows:
        return "_None._"
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join([" --- "] * len(header)) + "|"]
    lines += ["| " + " | ".join(c.replace("\n", " ") or " " for c in row) + " |" for row in rows]
    body = "\n".join(lines)
    classes = " ".join(c for c, on in (("iamkb-table", sortable), ("iamkb-cards", cards)) if on)
    if not classes:
        return body
    return f'<div class="{classes}" markdown>\n\n{body}\n\n</div>'


def code(v: str) -> str:
    return md.code_span(v)


def first_sentence(text: str, limit: int = 200) -> str:
    m = re.match(r"(.+?[.!?])(\s|$)", text or "")
    s = m.group(1) if m else (text or "")
    return s if len(s) <= limit else s[: limit - 1].rstrip() + "…"


@dataclass
class Site:
    """The KB plus every cross-reference the pages need: who has a page, where it is, what links where."""

    data: SiteData
    pages_out: dict[str, str] = field(default_factory=dict)

    # ------------------------------------------------------------------ lookups

    @cached_property
    def ref(self) -> Reference:
        d = self.data
        return from_records(d.actions, d.condition_keys, d.resource_types, d.services)

    @cached_property
    def topic_ids(self) -> set[str]:
        return {p["id"] for p in self.data.pages}

    @cached_property
    def mentioned_actions(self) -> dict[str, dict]:
        """Actions the docs name exactly (any service), by record id."""
        out = {}
        for s in self.data.sections.values():
            for name in s["mentions"].get("actions", []):
                rec = self.ref.action(name)
                if rec:
                    out[rec["id"]] = rec
        return out

    @cached_property
    def action_pages(self) -> dict[str, str]:
        """Action record id -> docs path: every autoscaling action, and every other action the docs name."""
        out = {}
        for rec in self.data.actions:
            if rec["service"] == "autoscaling" or rec["id"] in self.mentioned_actions:
                out[rec["id"]] = urls.action_path(rec["id"].removeprefix("action:"))
        return out

    @cached_property
    def key_paths(self) -> dict[str, str]:
        """Condition key record id -> docs path."""
        by_key = urls.condition_key_paths(r["key"] for r in self.data.condition_keys)
        return {r["id"]: by_key[r["key"]] for r in self.data.condition_keys}

    @cached_property
    def resource_type_paths(self) -> dict[str, str]:
        return {r["id"]: urls.resource_type_path(r["service"], r["name"]) for r in self.data.resource_types}

    @cached_property
    def policy_paths(self) -> dict[str, str]:
        return {p["id"]: urls.managed_policy_path(p["name"]) for p in self.data.managed_policies}

    def entity_path(self, entity_id: str) -> str | None:
        """Any KB id -> the docs path of its page (sections resolve to their topic page)."""
        kind = entity_id.split(":", 1)[0]
        if kind == "action":
            return self.action_pages.get(entity_id)
        if kind == "condition_key":
            return self.key_paths.get(entity_id)
        if kind == "resource_type":
            return self.resource_type_paths.get(entity_id)
        if kind == "managed_policy":
            return self.policy_paths.get(entity_id)
        if kind == "example":
            return urls.example_path(entity_id) if self.data.example(entity_id) else None
        page_id = entity_id.partition("#")[0]
        return urls.topic_path(page_id) if page_id in self.topic_ids else None

    def site_url(self, entity_id: str) -> str | None:
        """The id's page in the built site, root-relative (urls.site_url)."""
        return urls.site_url(entity_id, self.entity_path)

    def link(self, from_doc: str, entity_id: str) -> str | None:
        """A relative Markdown link target from one page to an entity (a section keeps its anchor)."""
        path = self.entity_path(entity_id)
        if path is None:
            return None
        anchor = None
        if "#" in entity_id and not entity_id.startswith(("action:", "condition_key:", "example:")):
            sec = self.data.sections.get(entity_id)
            anchor = entity_id.partition("#")[2] if sec else None
        return urls.relative(from_doc, path, anchor)

    def md_link(self, from_doc: str, entity_id: str, label: str | None = None, *, as_code: bool = False) -> str:
        text = label if label is not None else self.label(entity_id)
        shown = code(text) if as_code else md.esc(text)
        target = self.link(from_doc, entity_id)
        return f"[{shown}]({target})" if target else shown

    def label(self, entity_id: str) -> str:
        kind, _, rest = entity_id.partition(":")
        if kind == "example":
            ex = self.data.example(entity_id)
            sec = self.data.sections.get(ex["section"]) if ex else None
            return f"{sec['title']} ({ex['n']})" if sec and ex else rest
        if kind == "resource_type":
            return rest
        if kind in ("action", "condition_key", "managed_policy"):
            return rest
        sec = self.data.sections.get(entity_id)
        return sec["title"] if sec else entity_id

    @cached_property
    def glossary_terms(self) -> dict[str, dict]:
        """lower-cased term or alias -> its glossary entry."""
        out = {}
        for entry in self.data.glossary:
            for name in [entry["term"], *entry.get("aliases", [])]:
                out[name.lower()] = entry
        return out

    def linker(self, doc: str, section: dict | None = None, glossary: bool = True) -> md.Linker:
        gl = {}
        if glossary:
            for name, entry in self.glossary_terms.items():
                gl[name] = (urls.relative(doc, "glossary.md", glossary_anchor(entry["term"])),
                            first_sentence(entry.get("definition", "")))
        linker = md.Linker(target_url=lambda t: self.link(doc, t), glossary=gl)
        if section is not None:
            linker.set_entities(self.section_entities(doc, section))
        return linker

    def section_entities(self, doc: str, section: dict) -> dict[str, str]:
        """The section's mentions that have pages: mention string -> relative link."""
        out = {}
        m = section.get("mentions", {})
        for name in m.get("actions", []):
            rec = self.ref.action(name)
            if rec and rec["id"] in self.action_pages:
                out[name] = urls.relative(doc, self.action_pages[rec["id"]])
        for key in m.get("condition_keys", []):
            rec = self.ref.condition_key(key) or self.ref.condition_key_family(key)
            if rec and rec["id"] in self.key_paths:
                out[key] = urls.relative(doc, self.key_paths[rec["id"]])
        for name in m.get("managed_policies", []):
            pid = f"managed_policy:{name}"
            if pid in self.policy_paths:
                out[name] = urls.relative(doc, self.policy_paths[pid])
        return out

    @cached_property
    def backlinks(self) -> dict[str, list[str]]:
        """page id -> ids of sections on other pages that link to it."""
        out: dict[str, set[str]] = defaultdict(set)
        for s in self.data.sections.values():
            for ln in s.get("links", []):
                target = ln.get("target")
                if target:
                    page = target.partition("#")[0]
                    if page != s["page"]:
                        out[page].add(s["id"])
        return {k: sorted(v) for k, v in out.items()}

    def first_anchor(self, page_id: str) -> str | None:
        """The anchor of a topic page's first section (its title heading)."""
        sections = self.page_sections.get(page_id)
        return sections[0].partition("#")[2] if sections else None

    @cached_property
    def page_sections(self) -> dict[str, list[str]]:
        return {p["id"]: p["sections"] for p in self.data.pages}

    @cached_property
    def catalog(self) -> dict[str, dict]:
        cat = self.data.catalog or {}
        entries = cat.get("example_catalog", []) if isinstance(cat, dict) else cat
        return {e["id"]: e for e in entries}


def glossary_anchor(term: str) -> str:
    return "term-" + urls.slug(term.lower())


def source_line(page: dict) -> str:
    src = page["source"]
    return (f"Upstream: [{md.esc(page['title'])}]({md.url_quote(page['url'])}) in the "
            f"*{GUIDES.get(page['guide'], page['guide'])}* · source `{src['repository']}` at "
            f"`{src['commit'][:12]}`, `{src['path']}` · licence {md.esc(LICENSES.get(page['guide'], src['license']))}")



def json_linker(prefix: str = ""):
    """A function that adds `site_url` (`prefix` + the page, root-relative) to each result and citation of ask's
    or search's JSON, for the site built from the KB as it is (urls.with_site_urls); None without a built KB."""
    from iamkb.errors import InputError
    from iamkb.site.data import load_site_data

    try:
        site = Site(load_site_data())
    except InputError:
        return None
    return lambda result: urls.with_site_urls(result, site.site_url, prefix)
