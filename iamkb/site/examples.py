"""Example pages: each policy example of the docs with its scenarios (request, expected, actual, the sentence
of the docs it checks), its lint findings and the commands that reproduce them locally."""

from __future__ import annotations

import json

from iamkb.site import markdown as md
from iamkb.site import playground, urls
from iamkb.site.pages import KIND_TITLES, Site, code, front_matter, heading, table

OUTCOME_MARK = {"passed": "passed", "failed": "**failed**", "docs_wrong": "docs wrong", "ambiguous": "ambiguous"}


def _request_cell(scenario: dict) -> str:
    req = (scenario or {}).get("request", {})
    parts = [code(req.get("action", "?")), "on", code(req.get("resource", "?"))]
    if req.get("anonymous"):
        parts.append("(anonymous, unsigned)")
    ctx = req.get("context") or {}
    if ctx:
        parts.append("with " + ", ".join(code(f"{k}={json.dumps(v)}") for k, v in sorted(ctx.items())))
    return " ".join(parts)


def scenario_table(entry: dict) -> str:
    rows = [[md.esc(s.get("name") or ""), _request_cell(s.get("scenario") or {}), code(s.get("expected") or ""),
             code(s.get("actual") or "—"), OUTCOME_MARK.get(s.get("outcome"), md.esc(s.get("outcome") or "")),
             md.esc(s.get("doc") or "") + (f" <em>({md.esc(s['reason'])})</em>" if s.get("reason") else "")]
            for s in entry.get("scenarios", [])]
    return table(["Scenario", "Request", "Expected", "Actual", "Outcome", "Sentence of the docs it checks"], rows,
                 sortable=False, cards=True)


def lint_table(findings: list[dict]) -> str:
    if not findings:
        return "No findings: `iamkb check` reports nothing for this policy."
    rows = [[md.esc(f.get("severity", "")), code(f.get("code", "")), md.esc(f.get("message", "")),
             code(str(f.get("path", "")))] for f in findings]
    return table(["Severity", "Code", "Message", "Path"], rows, sortable=False)


def example_title(site: Site, ex: dict) -> str:
    sec = site.data.sections.get(ex["section"])
    return f"Example: {sec['title'] if sec else ex['section']}" + (f" ({ex['n']})" if ex["n"] > 1 else "")


def example_page(site: Site, ex: dict) -> tuple[str, str]:
    doc = urls.example_path(ex["id"])
    entry = site.catalog.get(ex["id"], {})
    title = example_title(site, ex)
    kind = KIND_TITLES.get(ex.get("kind") or "", ex.get("kind") or "policy")
    article = "An" if kind[:1].lower() in "aeiou" else "A"
    parts = [front_matter(title, ex.get("intro")), heading(1, title, "example"),
             f"{article} {md.esc(kind)} from "
             f"{site.md_link(doc, ex['section'])} (example {ex['n']} of that section), format "
             f"`{ex.get('format')}`. Id: {code(ex['id'])}."]
    if ex.get("intro"):
        parts.append("> " + md.esc(ex["intro"]))
    parts += [heading(2, "Policy", "policy"), md.fence(ex.get("code") or "", "json")]
    if ex.get("wrapped"):
        # The fragment stays as the docs show it (above); what runs is the smallest complete policy holding it.
        wrapping = ex.get("wrapping") or ""
        what = md.esc(wrapping[:1].upper() + wrapping[1:] + ".")
        if ex.get("corrected"):
            what += " " + md.esc(f"Corrected: {ex.get('correction')}.")
        parts.append('!!! info "A fragment of a policy, run inside the smallest complete policy"\n\n'
                     + md.indent(what) + "\n\n" + md.indent("The scenarios run this policy:") + "\n\n"
                     + md.indent(md.fence(json.dumps(ex.get("policy"), indent=2), "json")))
    elif ex.get("corrected"):
        parts.append('!!! warning "Not valid JSON as published"\n\n' + md.indent(md.esc(ex.get("correction") or ""))
                     + "\n\n" + md.indent("The scenarios run the corrected policy:") + "\n\n"
                     + md.indent(md.fence(json.dumps(ex.get("policy"), indent=2), "json")))
    elif ex.get("error"):
        err = ex["error"]
        parts.append(f'!!! danger "Not valid JSON as published"\n\n    {md.esc(err.get("message", ""))} at line '
                     f'{err.get("line")}, column {err.get("column")}.')
    parts.append(heading(2, "Scenarios", "scenarios"))
    if entry.get("scenarios"):
        counts = entry.get("counts", {})
        parts.append(", ".join(f"{counts.get(k, 0)} {k.replace('_', ' ')}"
                               for k in ("scenarios", "passed", "failed", "docs_wrong", "ambiguous")) + ".")
        parts.append(scenario_table(entry))
    else:
        parts.append("No scenarios are written for this example yet (kb/scenarios/"
                     f"{md.esc(_scenario_file(ex['id']))}).")
    parts += [heading(2, "Lint findings", "lint"), lint_table(entry.get("lint") or [])]
    parts += [p for p in [playground.example_section(site, ex, entry)] if p]
    parts += [heading(2, "Run it locally", "run"),
              "```bash\n"
              f"iamkb examples --json '{ex['id']}'   # run its scenarios\n"
              f"iamkb topic '{ex['section']}' --json   # the section it comes from\n"
              "# save the policy above as policy.json, then:\n"
              "iamkb check --json policy.json\n"
              "iamkb simulate --json scenario.json   # a request against it (scenario format in DESIGN.md)\n"
              "```",
              f"Scenario file: `kb/scenarios/{_scenario_file(ex['id'])}`."]
    return doc, "\n\n".join(parts) + "\n"


def _scenario_file(example_id: str) -> str:
    body = example_id.removeprefix("example:")
    return body.replace("/", "--").replace("#", "--").replace(":", "--") + ".json"


def examples_index(site: Site) -> tuple[str, str]:
    doc = "examples/index.md"
    rows = []
    for ex in site.data.examples:
        entry = site.catalog.get(ex["id"], {})
        counts = entry.get("counts", {})
        rows.append([site.md_link(doc, ex["id"], example_title(site, ex).removeprefix("Example: ")),
                     md.esc(ex["page"].partition("/")[0]), md.esc(ex.get("kind") or ""),
                     str(counts.get("scenarios", 0)), str(counts.get("passed", 0)), str(counts.get("failed", 0)),
                     str(len(entry.get("lint") or []))])
    body = [front_matter("Policy examples"),
            heading(1, "Policy examples", "examples"),
            f"Every policy example of the docs ({len(rows)}), runnable: each has scenarios that turn the sentences "
            "around it into requests with an expected decision, run through the local policy evaluator.",
            table(["Example", "Guide", "Kind", "Scenarios", "Passed", "Failed", "Lint findings"], rows)]
    return doc, "\n\n".join(body) + "\n"


def example_pages(site: Site) -> dict[str, str]:
    out = dict([examples_index(site)])
    out.update(example_page(site, ex) for ex in site.data.examples)
    return out
