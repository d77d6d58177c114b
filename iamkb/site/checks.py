"""Policy check pages: the coverage of IAM Access Analyzer's policy checks by `iamkb check`, and one page per iamkb
finding code with iamkb's text beside Access Analyzer's.

Both come from the KB (kb/build/lint_catalog.json, built from the lint catalog, and kb/build/analyzer_checks.json,
parsed from the IAM User Guide's policy check reference), so the table a reader sees is the one the build checked.
"""

from __future__ import annotations

from iamkb.site import markdown as md
from iamkb.site import urls
from iamkb.site.pages import Site, code, front_matter, heading, table

INDEX = "reference/checks/index.md"
SEVERITY_WORDS = {"error": "Error", "security_warning": "Security warning", "warning": "Warning",
                  "suggestion": "Suggestion"}


def code_path(code_name: str) -> str:
    return f"reference/checks/{urls.slug(code_name)}.md"


def _code_link(doc: str, code_name: str) -> str:
    return f"[{code(code_name)}]({urls.relative(doc, code_path(code_name))})"


def _resolution(text: str) -> str:
    """The resolution's text as the KB holds it (paragraphs one a line, list items as "- ...") as Markdown."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("- "):
            out.append(f"- {md.esc(line[2:])}")
        elif line:
            out.append(("\n" if out and out[-1].startswith("- ") else "") + md.esc(line) + "\n")
    return "\n".join(out)


def _analyzer_section(site: Site, doc: str, check: dict, level: int = 2) -> str:
    """Access Analyzer's own text for one check: its messages, resolution, snippets and managed policies."""
    parts = [heading(level, f"Access Analyzer: {check['severity']} – {check['title']}", check["id"]),
             f"Check {code(check['id'])} of the IAM User Guide's policy check reference "
             f"({site.md_link(doc, check['section'], 'read it in the guide')})."]
    if check.get("finding_details"):
        parts.append("Finding details:\n\n" + md.fence(check["finding_details"], None))
    if check.get("resolution"):
        parts += [f"**Resolving the {check['severity'].lower()}**", _resolution(check["resolution"])]
    for snippet in check.get("snippets", []):
        parts.append((md.esc(snippet["intro"]) + "\n\n" if snippet.get("intro") else "")
                     + md.fence(snippet["code"], "json" if snippet.get("json") is not None else None))
    if check.get("policy_types"):
        parts.append(f"The page says it is about: {', '.join(check['policy_types'])} policies.")
    if check.get("managed_policies"):
        parts.append("AWS managed policies the page names for it: "
                     + ", ".join(code(p) for p in check["managed_policies"]) + ".")
    return "\n\n".join(parts)


def code_page(site: Site, entry: dict, checks: dict[str, dict]) -> tuple[str, str]:
    doc = code_path(entry["code"])
    rows = [["Severity", md.esc(SEVERITY_WORDS.get(entry["severity"], entry["severity"]))],
            ["Policy types", ", ".join(entry["policy_types"])]]
    if entry.get("section") and site.entity_path(entry["section"]):
        rows.append(["Documented in", site.md_link(doc, entry["section"])])
    parts = [front_matter(entry["code"], entry["description"]),
             heading(1, entry["code"], "code"), f"**{md.esc(entry['title'])}**", md.esc(entry["description"]),
             table(["Property", "Value"], rows, sortable=False)]
    if entry.get("note"):
        parts.append(f"How it differs from Access Analyzer: {md.esc(entry['note'])}.")
    implemented = [checks[a] for a in entry["analyzer"] if a in checks]
    if implemented:
        parts.append(f"Implements {len(implemented)} Access Analyzer check(s); their text follows, as the IAM User "
                     "Guide publishes it.")
        parts += [_analyzer_section(site, doc, c) for c in implemented]
    else:
        parts.append("Access Analyzer has no check of its own for this.")
    parts += [heading(2, "From the command line", "cli"),
              md.fence(f"iamkb check --json my-policy.json\n"
                       f"iamkb check --ignore {entry['code']} my-policy.json           # everywhere\n"
                       f"iamkb check --ignore '{entry['code']}@Statement[0]' my-policy.json  # one statement", "bash"),
              f"[All checks and their coverage]({urls.relative(doc, INDEX)})"]
    return doc, "\n\n".join(parts) + "\n"


def checks_index(site: Site, catalog: dict) -> tuple[str, str]:
    doc = INDEX
    counts = catalog["counts"]
    rows = []
    for row in catalog["checks"]:
        if row["codes"]:
            how = ", ".join(_code_link(doc, c) for c in row["codes"])
        elif row["status"] == "implemented":
            how = md.esc(row["how"])
        else:
            how = f"not applicable offline: {md.esc(row['how'])}"
        rows.append([md.esc(row["severity"]), site.md_link(doc, row["section"], row["title"]), how])
    code_rows = [[_code_link(doc, c["code"]), md.esc(SEVERITY_WORDS.get(c["severity"], c["severity"])),
                  md.esc(c["title"]), ", ".join(c["policy_types"]), str(len(c["analyzer"]))] for c in catalog["codes"]]
    share = f"{100 * counts['implemented'] / counts['applicable']:.0f}%" if counts["applicable"] else "—"
    parts = [front_matter("Policy checks",
                          "Every IAM Access Analyzer policy check and the iamkb check code that implements it."),
             heading(1, "Policy checks: iamkb check and IAM Access Analyzer", "checks"),
             f"IAM Access Analyzer documents {counts['checks']} policy checks. {counts['not_offline']} of them need "
             f"data a policy document does not hold; of the other {counts['applicable']}, `iamkb check` implements "
             f"{counts['implemented']} ({share}), with {len(catalog['codes'])} finding codes. Each code's page shows "
             "iamkb's text beside Access Analyzer's.",
             "`iamkb check --policy-type identity|resource|boundary|scp|session|trust` picks the checks for a policy "
             "type (by default it reads the type from the document); `--ignore CODE[@PATH]`, `--severity "
             "CODE=LEVEL` and `--config FILE` (TOML) configure them.",
             heading(2, "Access Analyzer's checks", "coverage"),
             table(["Severity", "Access Analyzer check", "iamkb"], rows),
             heading(2, "iamkb's finding codes", "codes"),
             table(["Code", "Severity", "Title", "Policy types", "Access Analyzer checks"], code_rows)]
    return doc, "\n\n".join(parts) + "\n"


def check_pages(site: Site) -> dict[str, str]:
    catalog = site.data.lint_catalog
    if not catalog:
        return {}
    checks = {c["id"]: c for c in site.data.analyzer_checks}
    out = dict([checks_index(site, catalog)])
    out.update(code_page(site, entry, checks) for entry in catalog["codes"])
    return out
