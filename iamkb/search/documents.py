"""What gets indexed: one search document per section, example, action, condition key, resource type and policy.

Pure functions from KB records to flat dicts of field text. The entity documents carry their direct answer
("autoscaling:DeleteTags: access level Tagging; ...") precomputed, so `ask` answers from the index alone and
never loads the multi-megabyte reference tables at question time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from iamkb.model import is_toc
from iamkb.search.analysis import analyze, split_parts

SAR_BASE = "https://docs.aws.amazon.com/service-authorization/latest/reference"
MANAGED_POLICY_BASE = "https://docs.aws.amazon.com/aws-managed-policy/latest/reference"

KINDS = ("section", "example", "action", "condition_key", "resource_type", "managed_policy")
ENTITY_KINDS = frozenset(KINDS[2:])


@dataclass
class SearchDoc:
    """One document of the index; `data` is stored as JSON for answers (examples of a section, answer text)."""

    id: str
    kind: str
    guide: str
    title: str
    url: str
    path: str = ""
    body: str = ""
    code: str = ""
    names: str = ""
    asks: list[str] = field(default_factory=list)  # questions the section answers (kb/section_questions.yml)
    data: dict[str, Any] = field(default_factory=dict)
    table_rows: dict[str, str] = field(default_factory=dict)  # a table row's line in `body` -> the row with
    # its column headers ("" for a header line); for the passage vectors only, not indexed

    def fields(self) -> dict[str, str]:
        return {"id": self.id, "kind": self.kind, "guide": self.guide, "title": self.title, "url": self.url,
                "path": self.path, "body": self.body, "code": self.code, "names": self.names,
                "asks": "\n".join(self.asks), "data": json.dumps(self.data, sort_keys=True, ensure_ascii=False)}


def sar_url(service_name: str) -> str:
    """The Service Authorization Reference page of a service (its file name is the name's letters, lowercased)."""
    slug = re.sub(r"[^a-z0-9]", "", service_name.lower())
    return f"{SAR_BASE}/list_{slug}.html" if slug else f"{SAR_BASE}/reference_policies_actions-resources-contextkeys.html"


def section_url(page_url: str, section: dict) -> str:
    return page_url if section["level"] == 1 else f"{page_url}#{section['anchor']}"


def _mention_names(mentions: dict) -> list[str]:
    return [n for key in sorted(mentions) for n in mentions[key]]


def _block_code(blocks: list[dict]) -> Iterator[str]:
    for b in blocks:
        if b.get("type") == "code":
            yield b.get("code", "")
        for child in b.get("blocks", []):
            yield from _block_code([child])
        for item in b.get("items", []) + b.get("steps", []):
            yield from _block_code(item)


def _tables(blocks: list[dict]) -> Iterator[dict]:
    for b in blocks:
        if b.get("type") == "table":
            yield b
        for child in b.get("blocks", []):
            yield from _tables([child])
        for item in b.get("items", []) + b.get("steps", []):
            yield from _tables(item)


def table_rows(blocks: list[dict]) -> dict[str, str]:
    """Each table row's line as the section's text writes it ("AWS KMS | Yes | Yes") -> the row with its
    column headers ("Service: AWS KMS; Actions: Yes; ABAC: Yes"), and each header line -> "". Why: a
    passage of two bare rows says "Yes | Yes" without saying to what, so a question such as "does KMS support
    ABAC" finds nothing close in meaning in the table that answers it."""
    out: dict[str, str] = {}
    for table in _tables(blocks):
        header = [c["text"] for c in table["header"]]
        out[" | ".join(header)] = ""
        for row in table["rows"]:
            cells = [c["text"] for c in row]
            out.setdefault(" | ".join(cells), "; ".join(
                f"{h}: {c}" if h else c for h, c in zip(header, cells, strict=False) if c))
    return out


def toc_lines(blocks: list[dict]) -> set[str]:
    """The lines of a section's text that are its table of contents (the list and its "Topics" heading)."""
    out: set[str] = set()
    for i, b in enumerate(blocks):
        if is_toc(b):
            out.update(item[0].get("text", "") for item in b["items"])
            if i and blocks[i - 1].get("type") == "paragraph" and len(blocks[i - 1].get("text", "")) < 20:
                out.add(blocks[i - 1]["text"])
    return out


def section_body(section: dict) -> str:
    """The section's prose: its text without code (indexed in the code field; left in, a policy's JSON makes a
    section long and dilutes the words that say what it is about) and without its table of contents (a
    page's "Topics" list repeats its subsections' titles, so the page would outrank the very subsection a
    question names, "vpc endpoint policy")."""
    text = section.get("text", "")
    for code in sorted(_block_code(section.get("blocks", [])), key=len, reverse=True):
        if code.strip():
            text = text.replace(code, "")
    toc = toc_lines(section.get("blocks", []))
    lines = [line for line in text.split("\n") if line.strip() and line.strip() not in toc]
    return "\n".join(lines)


def ancestors(section: dict, by_id: dict[str, dict]) -> list[str]:
    """Ids of a section's enclosing sections, nearest first (the rerank weighs a section against them)."""
    out: list[str] = []
    parent = section.get("parent")
    while parent and parent in by_id and parent not in out:
        out.append(parent)
        parent = by_id[parent].get("parent")
    return out


def section_docs(pages: list[dict], sections: list[dict], asked: dict[str, list[str]]) -> Iterator[SearchDoc]:
    """A document per section; `asked` holds the questions each section answers (kb/section_questions.yml)."""
    page_by_id = {p["id"]: p for p in pages}
    section_by_id = {s["id"]: s for s in sections}
    for s in sections:
        page = page_by_id[s["page"]]
        names = [s["anchor"], *s.get("aliases", []), *_mention_names(s.get("mentions", {}))]
        heading_above = s["path"][:-1] if s["path"] else []
        yield SearchDoc(
            id=s["id"], kind="section", guide=s["guide"], title=s["title"], url=section_url(page["url"], s),
            path=" / ".join(heading_above), body=section_body(s), code="\n".join(_block_code(s.get("blocks", []))),
            names=" ".join(names), asks=list(asked.get(s["id"], [])),
            data={"page": s["page"], "page_title": page["title"], "level": s["level"],
                  "examples": list(s.get("examples", [])), "path": s["path"],
                  "ancestors": ancestors(s, section_by_id)},
            table_rows=table_rows(s.get("blocks", [])))


def _policy_names(policy: Any) -> list[str]:
    """Actions and condition keys named in a policy document (or statement), for the names field."""
    out: list[str] = []
    if isinstance(policy, dict):
        for key, value in policy.items():
            if key in ("Action", "NotAction"):
                out.extend(value if isinstance(value, list) else [value])
            elif key == "Condition" and isinstance(value, dict):
                for op in value.values():
                    if isinstance(op, dict):
                        out.extend(op)
            else:
                out.extend(_policy_names(value))
    elif isinstance(policy, list):
        for item in policy:
            out.extend(_policy_names(item))
    return [n for n in out if isinstance(n, str)]


def example_docs(sections: list[dict], examples: list[dict], section_urls: dict[str, str]) -> Iterator[SearchDoc]:
    by_id = {s["id"]: s for s in sections}
    for e in examples:
        s = by_id.get(e["section"])
        if s is None:
            continue
        yield SearchDoc(
            id=e["id"], kind="example", guide=s["guide"], title=f"Example policy: {s['title']}",
            url=section_urls[s["id"]], path=" / ".join(s["path"]), body=e.get("intro") or "",
            code=e.get("code", ""), names=" ".join(_policy_names(e.get("policy"))),
            data={"section": e["section"], "kind": e.get("kind"), "code": e.get("code", ""),
                  "corrected": bool(e.get("corrected"))})


_BOILERPLATE = re.compile(r"^(Grants permission to|Filters access (by|based on)|Use this key to compare)\s+", re.I)


def _description(text: str) -> str:
    """A reference description without the lead-in every record shares ("Grants permission to"): left in, it
    makes every one of 2,700 actions match "permission" and "grant"."""
    return _BOILERPLATE.sub("", text or "")


def _join(items: list[str], empty: str = "none") -> str:
    return ", ".join(items) if items else empty


def action_answer(rec: dict, links: dict) -> str:
    """The direct answer for an action, in the words of the Service Authorization Reference."""
    name = rec["id"].removeprefix("action:")
    rts = [f"{rt['name']} ({'required' if rt.get('required') else 'optional'})" for rt in rec.get("resource_types", [])]
    # The reference puts keys on the action and on each resource type; a request is checked against both.
    keys = set(rec.get("condition_keys", [])) | {k for rt in rec.get("resource_types", [])
                                                  for k in rt.get("condition_keys", [])}
    parts = [f"{name}: access level {rec.get('access_level') or 'unknown'}",
             f"resource type{'s' if len(rts) != 1 else ''} {_join(rts, 'none (Resource must be *)')}",
             f"condition keys {_join(sorted(keys))}"]
    deps = sorted({d for rt in rec.get("resource_types", []) for d in rt.get("dependent_actions", [])}
                  | set(rec.get("dependent_actions", [])))
    if deps:
        parts.append(f"dependent actions {_join(deps)}")
    if links.get("managed_policies"):
        parts.append(f"granted by the managed policies {_join(links['managed_policies'])}")
    text = "; ".join(parts) + "."
    if rec.get("description"):
        text += f" {rec['description'].rstrip('.')}."
    return text


def condition_key_answer(rec: dict, used_by: list[str]) -> str:
    text = f"{rec['key']}: type {rec.get('type') or 'unknown'}"
    if rec.get("description"):
        text += f". {rec['description'].rstrip('.')}"
    if used_by:
        more = f" and {len(used_by) - 8} more" if len(used_by) > 8 else ""
        text += f". Used with the actions {_join(used_by[:8])}{more}"
    return text + "."


def resource_type_answer(rec: dict, actions: list[str]) -> str:
    text = f"{rec['service']}:{rec['name']}: ARN {rec.get('arn') or 'unknown'}"
    text += f"; condition keys {_join(rec.get('condition_keys', []))}"
    if actions:
        more = f" and {len(actions) - 8} more" if len(actions) > 8 else ""
        text += f"; actions that take it {_join(actions[:8])}{more}"
    return text + "."


def managed_policy_answer(rec: dict) -> str:
    grants = rec.get("grants_autoscaling") or rec.get("grants") or []
    text = f"AWS managed policy {rec['name']} ({rec.get('arn', '')})"
    if rec.get("latest_version"):
        text += f", version {rec['latest_version']}"
    text += f": allows {_join(rec.get('action_patterns', []))}"
    if grants:
        text += f"; grants {len(grants)} Amazon EC2 Auto Scaling action{'s' if len(grants) != 1 else ''}" \
            if rec.get("grants_autoscaling") else f"; grants {len(grants)} actions"
    return text + "."


def _sources(links: dict, section_urls: dict[str, str], limit: int = 5) -> list[dict]:
    ids = list(links.get("sections", []))  # named outright; a section matching only by wildcard is not about it
    return [{"id": i, "url": section_urls[i]} for i in ids[:limit] if i in section_urls]


def entity_docs(ref: dict[str, Any], section_urls: dict[str, str]) -> Iterator[SearchDoc]:
    """Documents for the reference tables; `ref` holds the loaded reference files (any may be missing)."""
    cross = ref.get("crosslinks") or {}
    services = {s["prefix"]: s["name"] for s in ref.get("services") or []}
    actions_by_key: dict[str, list[str]] = {}
    actions_by_rt: dict[tuple[str, str], list[str]] = {}
    for a in ref.get("actions") or []:
        name = a["id"].removeprefix("action:")
        for k in set(a.get("condition_keys", [])) | {k for rt in a.get("resource_types", [])
                                                   for k in rt.get("condition_keys", [])}:
            actions_by_key.setdefault(k.lower(), []).append(name)
        for rt in a.get("resource_types", []):
            actions_by_rt.setdefault((a["service"], rt["name"]), []).append(name)
    for a in ref.get("actions") or []:
        links = (cross.get("actions") or {}).get(a["id"], {})
        full = a["id"].removeprefix("action:")
        yield SearchDoc(
            id=a["id"], kind="action", guide="reference", title=full, url=sar_url(services.get(a["service"], "")),
            body=_description(a.get("description", "")), names=full,
            data={"answer": action_answer(a, links), "sources": _sources(links, section_urls),
                  "name": full})
    for k in ref.get("condition_keys") or []:
        links = (cross.get("condition_keys") or {}).get(k["id"], {})
        url = section_urls.get(k.get("section") or "", "") or sar_url(services.get(k.get("service", ""), ""))
        yield SearchDoc(
            id=k["id"], kind="condition_key", guide="reference", title=k["key"], url=url,
            body=_description(k.get("description", "")), names=k["key"],
            data={"answer": condition_key_answer(k, sorted(actions_by_key.get(k["key"].lower(), []))),
                  "sources": ([{"id": k["section"], "url": url}] if k.get("section") else [])
                  + _sources(links, section_urls), "name": k["key"]})
    for r in ref.get("resource_types") or []:
        links = (cross.get("resource_types") or {}).get(r["id"], {})
        full = f"{r['service']}:{r['name']}"
        yield SearchDoc(
            id=r["id"], kind="resource_type", guide="reference", title=full,
            url=sar_url(services.get(r["service"], "")),
            body=f"Resource type {r['name']} of {services.get(r['service'], r['service'])}.", names=full,
            data={"answer": resource_type_answer(r, sorted(actions_by_rt.get((r["service"], r["name"]), []))),
                  "sources": _sources(links, section_urls), "name": full})
    for m in ref.get("managed_policies") or []:
        links = (cross.get("managed_policies") or {}).get(m["id"], {})
        yield SearchDoc(
            id=m["id"], kind="managed_policy", guide="reference", title=m["name"],
            url=f"{MANAGED_POLICY_BASE}/{m['name']}.html",
            body=f"AWS managed policy {m['name']}. " + " ".join(m.get("action_patterns", [])),
            names=" ".join([m["name"], m.get("arn", ""), *m.get("action_patterns", [])]),
            data={"answer": managed_policy_answer(m), "sources": _sources(links, section_urls), "name": m["name"]})


def entity_names(ref: dict[str, Any]) -> dict[str, list[str]]:
    """Lowercased names a question may use for an entity -> entity ids (the full name, and short forms).

    Short action names (`SetInstanceProtection`) and resource type names point at every service that has them,
    Auto Scaling first: the KB is about Auto Scaling, so its action is the likely one.
    """
    out: dict[str, list[str]] = {}

    def add(name: str, ident: str) -> None:
        ids = out.setdefault(name.lower(), [])
        if ident not in ids:
            ids.append(ident)

    def order(rec: dict) -> tuple[bool, str]:
        return (rec.get("service") != "autoscaling", rec["id"])

    for a in sorted(ref.get("actions") or [], key=order):
        add(a["id"].removeprefix("action:"), a["id"])
        add(a["name"], a["id"])
    for k in ref.get("condition_keys") or []:
        add(k["key"], k["id"])
        base = re.sub(r"/\$\{[^}]*\}$", "", k["key"])
        if base != k["key"]:
            add(base, k["id"])
    for r in sorted(ref.get("resource_types") or [], key=order):
        add(f"{r['service']}:{r['name']}", r["id"])
        add(r["name"], r["id"])
    for m in ref.get("managed_policies") or []:
        add(m["name"], m["id"])
    return out


def action_words(ref: dict[str, Any]) -> dict[str, list[str]]:
    """Each action's name as the index terms of its words ("DetachInstances" -> detach, instanc), for ask to
    find the action a question describes without naming it ("detach instance from asg iam permission").
    Written into the index meta: working them out when ask starts cost 0.16 s."""
    out: dict[str, list[str]] = {}
    for a in sorted(ref.get("actions") or [], key=lambda rec: rec["id"]):
        words = " ".join(part for part, _ in split_parts(a["name"])) or a["name"]
        out[a["id"]] = sorted(set(analyze(words)))
    return out
