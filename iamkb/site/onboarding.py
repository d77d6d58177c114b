"""Onboarding pages: the "Start here" reading path, the glossary, and the drift report.

The path and the glossary are hand-written (kb/reading_path.yml, kb/glossary.yml); their links are KB ids,
checked here so a renamed section fails the build instead of leaving a dead link.
"""

from __future__ import annotations

from iamkb.errors import InputError
from iamkb.site import markdown as md
from iamkb.site import urls
from iamkb.site.pages import Site, code, front_matter, glossary_anchor, heading, table


def _check_id(site: Site, ident: str, where: str) -> None:
    if site.entity_path(ident) is None:
        raise InputError(f"'{ident}' is not a page or section of the knowledge base", where=where)


def start_here(site: Site) -> tuple[str, str]:
    doc = "start-here.md"
    steps = site.data.reading_path
    parts = [front_matter("Start here"),
             heading(1, "Start here", "start-here"),
             "A guided path through Identity and Access Management for Amazon EC2 Auto Scaling, from \"who can "
             "do what\" to writing and testing your own policies. Each step is one page with what it teaches; "
             f"the [glossary]({urls.relative(doc, 'glossary.md')}) explains the terms the docs take for granted."]
    for i, step in enumerate(steps, 1):
        if "page" in step:  # a page of this site, not of the docs (MkDocs checks the link in strict mode)
            link = f"[{md.esc(step.get('title') or step['page'])}]({urls.relative(doc, step['page'])})"
            parts.append(f"{i}. **{link}**  \n    {md.esc(step.get('teaches', ''))}")
            continue
        _check_id(site, step["id"], f"kb/reading_path.yml: steps[{i - 1}].id")
        sec = site.data.sections.get(step["id"]) or site.data.sections.get(
            f"{step['id']}#{site.first_anchor(step['id'])}")
        title = sec["title"] if sec else step["id"]
        parts.append(f"{i}. **{site.md_link(doc, step['id'], title)}**  \n    {md.esc(step.get('teaches', ''))}")
    parts.append("When you have read the path, try the [policy examples]"
                 f"({urls.relative(doc, 'examples/index.md')}): each runs its scenarios in the page, with the "
                 "policy and the requests yours to edit, and `iamkb simulate` runs them in a terminal.")
    return doc, "\n\n".join(parts) + "\n"


def glossary(site: Site) -> tuple[str, str]:
    doc = "glossary.md"
    parts = [front_matter("Glossary"), heading(1, "Glossary", "glossary"),
             "Terms the Auto Scaling IAM docs take for granted. Topic pages link the first use of each term here."]
    for i, entry in enumerate(sorted(site.data.glossary, key=lambda e: e["term"].lower())):
        parts.append(heading(2, entry["term"], glossary_anchor(entry["term"])))
        parts.append(md.esc(" ".join(entry.get("definition", "").split())))
        also = [*entry.get("aliases", []), *entry.get("synonyms", [])]
        if also:
            parts.append("Also: " + ", ".join(md.esc(a) for a in also) + ".")
        see = []
        for sid in entry.get("see", []):
            _check_id(site, sid, f"kb/glossary.yml: terms[{i}].see ({entry['term']})")
            see.append(site.md_link(doc, sid))
        if see:
            parts.append("Read: " + ", ".join(see))
    return doc, "\n\n".join(parts) + "\n"


def drift_page(site: Site) -> tuple[str, str]:
    doc = "reference/drift.md"
    report = site.data.drift or {"findings": [], "counts": {}}
    rows = []
    for f in report.get("findings", []):
        where = []
        if f.get("section") and site.entity_path(f["section"]):
            where.append(site.md_link(doc, f["section"]))
        if f.get("example") and site.entity_path(f["example"]):
            where.append(site.md_link(doc, f["example"], "example"))
        name = f.get("name") or ""
        rows.append([md.esc(f.get("severity", "")), code(f.get("kind", "")), _name_link(site, doc, name),
                     md.esc(f.get("message", "")), ", ".join(where) or "—"])
    counts = table(["Kind", "Findings"], [[code(k), str(v)] for k, v in sorted(report.get("counts", {}).items())],
                   sortable=False)
    parts = [front_matter("Drift report"),
             heading(1, "Where the docs and the reference disagree", "drift"),
             "Findings from comparing the docs (sections, tables and policy examples) with the Service "
             "Authorization Reference and the AWS managed policies. `iamkb drift --json` prints the same.",
             counts, table(["Severity", "Kind", "Name", "Finding", "Where"], rows)]
    return doc, "\n\n".join(parts) + "\n"


def _name_link(site: Site, doc: str, name: str) -> str:
    if not name:
        return ""
    rec = site.ref.action(name) if ":" in name else None
    if rec and site.entity_path(rec["id"]):
        return site.md_link(doc, rec["id"], name, as_code=True)
    key = site.ref.condition_key(name) if ":" in name else None
    if key:
        return site.md_link(doc, key["id"], name, as_code=True)
    if f"managed_policy:{name}" in site.policy_paths:
        return site.md_link(doc, f"managed_policy:{name}", name, as_code=True)
    return code(name)
