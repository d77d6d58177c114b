"""Lookups over the built KB: the parsed sections (`iamkb topics`, `iamkb topic ID`) and the reference half
(`iamkb action|condition-key|resource-type|managed-policy NAME`).

Each answer joins the reference row with what the docs say about it (extra permissions, mentions, examples,
granting managed policies, drift). Names match case-insensitively; a near miss, a name of a service the KB does
not cover, or an unknown service is bad input: one line naming the closest real names, exit 2.
"""

from __future__ import annotations

import argparse
import difflib
import json
from collections.abc import Callable

from iamkb import store
from iamkb.errors import InputError
from iamkb.refdata import Reference, load_reference, nearest


def _did_you_mean(names: list[str]) -> str:
    return f" (did you mean {', '.join(names)}?)" if names else ""


def _service_problem(ref: Reference, service: str, what: str, name: str) -> InputError | None:
    """The error for a name whose service is unknown, or known but outside the KB; None when covered."""
    if not service:
        return None
    if not ref.service_known(service):
        near = nearest(service, sorted(ref.services), limit=3, cutoff=60.0)
        return InputError(f"unknown service prefix '{service}' in {what} '{name}'{_did_you_mean(near)}")
    if not ref.service_covered(service):
        entry = ref.services[service.lower()]
        return InputError(f"{what} '{name}': service '{entry['prefix']}' ({entry['name']}) is in the reference "
                          "but the docs in this KB never use it, so the KB does not cover it")
    return None


def _drift_for(name: str) -> list[dict]:
    report = store.load("drift")
    low = name.lower()
    return [f for f in report["findings"] if low in f["name"].lower().split()]


def _links(kind: str, eid: str) -> dict:
    return store.load("crosslinks").get(kind, {}).get(eid, {})


# ----------------------------------------------------------------------------------------------------- action


def find_action(ref: Reference, name: str) -> dict:
    rec = ref.action(name.strip())
    if rec:
        return rec
    if ":" not in name:
        matches = [a for a in ref.actions_matching(f"*:{name}")]
        near = matches or ref.suggest_actions(f"autoscaling:{name}")
        raise InputError(f"action '{name}' needs its service prefix{_did_you_mean(near)}")
    service = name.split(":", 1)[0]
    problem = _service_problem(ref, service, "action", name)
    if problem:
        raise problem
    if "*" in name or "?" in name:
        matches = ref.actions_matching(name)
        shown = ", ".join(matches[:5]) + (", ..." if len(matches) > 5 else "")
        raise InputError(f"'{name}' is a pattern matching {len(matches)} actions"
                         + (f" ({shown}); look up one of them" if matches else ""))
    raise InputError(f"unknown action '{name}'{_did_you_mean(ref.suggest_actions(name))}")


def action_answer(ref: Reference, name: str) -> dict:
    rec = find_action(ref, name)
    full = rec["id"].removeprefix("action:")
    tables = store.load("doc_tables")
    extra = [row for row in tables["api_permissions"]["rows"] if row["operation"].lower() == full.lower()]
    nrl = tables["no_resource_level_permissions"]
    links = _links("actions", rec["id"])
    return {
        "id": rec["id"],
        "reference": rec,
        "docs_extra_permissions": {"section": tables["api_permissions"]["section"] if extra else None,
                                   "rows": extra},
        "docs_no_resource_level_permissions": full.lower() in {a.lower() for a in nrl["actions"]},
        "sections": links.get("sections", []),
        "sections_by_pattern": links.get("sections_by_pattern", []),
        "examples": links.get("examples", []),
        "managed_policies": links.get("managed_policies", []),
        "drift": _drift_for(full),
    }


def _print_action(ans: dict) -> None:
    rec = ans["reference"]
    print(f"{rec['id'].removeprefix('action:')}  [{rec['access_level']}]  {rec['description']}")
    for rt in rec["resource_types"]:
        req = "required" if rt["required"] else "optional"
        keys = f"  keys: {', '.join(rt['condition_keys'])}" if rt["condition_keys"] else ""
        print(f"  resource type {rt['name']} ({req}){keys}")
    if not rec["resource_types"]:
        print("  no resource types: use \"Resource\": \"*\"")
    for label, values in (("condition keys", rec["condition_keys"]), ("dependent actions", rec["dependent_actions"])):
        if values:
            print(f"  {label}: {', '.join(values)}")
    for row in ans["docs_extra_permissions"]["rows"]:
        print(f"  the docs also require {row['permission']}" + (f": {row['why']}" if row["why"] else ""))
    for label in ("managed_policies", "sections", "examples"):
        if ans[label]:
            print(f"  {label.replace('_', ' ')}: {', '.join(ans[label])}")
    for f in ans["drift"]:
        print(f"  drift: {f['message']} ({f['example'] or f['section']})")


# ------------------------------------------------------------------------------------------------ condition key


def condition_key_answer(ref: Reference, key: str) -> dict:
    rec = ref.condition_key(key.strip()) or ref.condition_key_family(key.strip())
    if rec is None:
        service = key.split(":", 1)[0] if ":" in key else ""
        problem = None if service.lower() == "aws" else _service_problem(ref, service, "condition key", key)
        if problem:
            raise problem
        raise InputError(f"unknown condition key '{key}'{_did_you_mean(ref.suggest_condition_keys(key))}")
    low = rec["key"].lower()
    actions = sorted(
        a["id"] for a in ref.actions.values()
        if low in {k.lower() for k in a["condition_keys"] + [c for rt in a["resource_types"]
                                                             for c in rt["condition_keys"]]}
    )
    links = _links("condition_keys", rec["id"])
    return {"id": rec["id"], "reference": rec, "matched": key if key.lower() != low else None,
            "actions": actions, "sections": links.get("sections", []), "examples": links.get("examples", []),
            "drift": _drift_for(rec["key"])}


def _print_condition_key(ans: dict) -> None:
    rec = ans["reference"]
    print(f"{rec['key']}  [{rec['type']}]  {rec['description']}")
    if ans["matched"]:
        print(f"  ({ans['matched']} is an instance of this templated key)")
    for label in ("actions", "sections", "examples"):
        if ans[label]:
            print(f"  {label} ({len(ans[label])}): {', '.join(ans[label][:20])}" + (" ..." if len(ans[label]) > 20 else ""))


# ------------------------------------------------------------------------------------------------ resource type


def resource_type_answer(ref: Reference, name: str) -> dict:
    service, _, rtype = name.strip().partition(":")
    if not rtype:
        raise InputError(f"resource type '{name}' must be written service:type, e.g. autoscaling:autoScalingGroup")
    problem = _service_problem(ref, service, "resource type", name)
    if problem:
        raise problem
    rec = ref.resource_type(service, rtype)
    if rec is None:
        names = sorted(f"{s}:{r['name']}" for (s, _), r in ref.resource_types.items() if s == service.lower())
        raise InputError(f"unknown resource type '{name}'{_did_you_mean(nearest(name, names, 3, 50.0))}")
    actions = sorted(a["id"] for a in ref.actions.values() if a["service"] == rec["service"]
                     and any(rt["name"] == rec["name"] for rt in a["resource_types"]))
    links = _links("resource_types", rec["id"])
    return {"id": rec["id"], "reference": rec, "actions": actions, "sections": links.get("sections", []),
            "examples": links.get("examples", [])}


def _print_resource_type(ans: dict) -> None:
    rec = ans["reference"]
    print(f"{rec['service']}:{rec['name']}  {rec['arn']}")
    for label, values in (("condition keys", rec["condition_keys"]), ("actions", ans["actions"]),
                          ("sections", ans["sections"]), ("examples", ans["examples"])):
        if values:
            print(f"  {label} ({len(values)}): {', '.join(values)}")


# ----------------------------------------------------------------------------------------------- managed policy


def managed_policy_answer(_ref: Reference, name: str) -> dict:
    policies = store.load("managed_policies")
    by_name = {p["name"].lower(): p for p in policies}
    key = name.strip().rsplit("/", 1)[-1].lower()  # accept the ARN too
    pol = by_name.get(key)
    if pol is None:
        near = nearest(name, sorted(p["name"] for p in policies), 3, 50.0)
        raise InputError(f"unknown managed policy '{name}' (the KB holds the Auto Scaling managed policies)"
                         + _did_you_mean(near))
    links = _links("managed_policies", pol["id"])
    return {**pol, "sections": links.get("sections", []), "drift": _drift_for(pol["name"])}


def _print_managed_policy(ans: dict) -> None:
    print(f"{ans['name']}  {ans['arn']}  latest {ans['latest_version']} ({len(ans['versions'])} versions)")
    print(f"  grants {len(ans['grants_autoscaling'])} autoscaling actions; patterns: {', '.join(ans['action_patterns'])}")
    for ver in ans["versions"]:
        diff = ver["diff_from_previous"]
        change = ""
        if diff:
            change = f"  +{len(diff['added_actions'])} -{len(diff['removed_actions'])} action entries"
        print(f"  {ver['version']}  {ver['created'] or ''}{change}")
        for line in (diff or {}).get("unified", [])[2:]:
            if line.startswith(("+", "-")):
                print(f"      {line}")
    if ans["sections"]:
        print(f"  sections: {', '.join(ans['sections'])}")


# ------------------------------------------------------------------------------------------------------- CLI

Answer = Callable[[Reference, str], dict]


def _add(parser: argparse.ArgumentParser, what: str, example: str) -> None:
    parser.add_argument("name", metavar="NAME", help=f"{what}, e.g. {example} (case-insensitive)")
    parser.add_argument("--json", action="store_true", help="print the answer as JSON")


def _run(args: argparse.Namespace, answer: Answer, show: Callable[[dict], None]) -> int:
    ans = answer(load_reference(), args.name)
    if args.json:
        print(json.dumps(ans, indent=2, ensure_ascii=False))
    else:
        show(ans)
    return 0


def add_action_arguments(parser: argparse.ArgumentParser) -> None:
    _add(parser, "action", "autoscaling:CreateAutoScalingGroup")


def run_action(args: argparse.Namespace) -> int:
    return _run(args, action_answer, _print_action)


def add_condition_key_arguments(parser: argparse.ArgumentParser) -> None:
    _add(parser, "condition key", "autoscaling:ResourceTag/environment")


def run_condition_key(args: argparse.Namespace) -> int:
    return _run(args, condition_key_answer, _print_condition_key)


def add_resource_type_arguments(parser: argparse.ArgumentParser) -> None:
    _add(parser, "resource type", "autoscaling:autoScalingGroup")


def run_resource_type(args: argparse.Namespace) -> int:
    return _run(args, resource_type_answer, _print_resource_type)


def add_managed_policy_arguments(parser: argparse.ArgumentParser) -> None:
    _add(parser, "managed policy", "AutoScalingReadOnlyAccess")


def run_managed_policy(args: argparse.Namespace) -> int:
    return _run(args, managed_policy_answer, _print_managed_policy)


# ------------------------------------------------------------------------------------------------ sections


def add_topics_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--page", help="only this page (id such as autoscaling/security-iam, or its file name)")
    parser.add_argument("--json", action="store_true")


def run_topics(args: argparse.Namespace) -> int:
    sections = store.load("sections")
    if args.page:
        sections = [s for s in sections if args.page in (s["page"], s["page"].split("/", 1)[1])]
        if not sections:
            raise InputError(f"no page '{args.page}' in the knowledge base", where="--page")
    rows = [{"id": s["id"], "title": s["title"], "level": s["level"], "page": s["page"],
             "examples": len(s["examples"])} for s in sections]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
    else:
        for r in rows:
            print(f"{'  ' * (r['level'] - 1)}{r['title']}  [{r['id']}]")
    return 0


def add_topic_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", help="section id, e.g. autoscaling/security-iam#access-control")
    parser.add_argument("--json", action="store_true")


def run_topic(args: argparse.Namespace) -> int:
    sections = store.load("sections")
    by_id = {s["id"]: s for s in sections}
    section = by_id.get(args.id)
    if section is None:
        near = difflib.get_close_matches(args.id, list(by_id), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(near)}?" if near else ""
        raise InputError(f"no section '{args.id}' in the knowledge base{hint}", where="topic")
    if args.json:
        print(json.dumps(section, ensure_ascii=False, sort_keys=True))
    else:
        print(" > ".join(section["path"]))
        print(f"[{section['id']}]\n")
        print(section["text"])
    return 0
