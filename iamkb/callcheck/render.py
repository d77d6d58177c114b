"""The text form of a can-i result (the JSON is the data; this only lays it out, so the two cannot disagree)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

MARK = {"Allowed": "ok  ", "ImplicitlyDenied": "MISS", "ExplicitlyDenied": "DENY"}
GLOBAL = ("aws:principalarn", "aws:principalaccount", "aws:requestedregion")


def _telling(req: dict[str, Any], others: list[dict[str, Any]]) -> str:
    """The context that tells apart requests for the same action and resource (one per instance type, per
    subnet): the keys whose values differ among them."""
    keys = sorted(k for k in req["context"] if k.lower() not in GLOBAL
                  and len({json.dumps(o["context"].get(k)) for o in others}) > 1)
    return " (" + ", ".join(f"{k}={req['context'][k]}" for k in keys) + ")" if keys else ""


def requirement_lines(req: dict[str, Any], same: list[dict[str, Any]], said: set[str]) -> list[str]:
    who = "" if req["for"] == "caller" else f" (as {req['principal']})"
    lines = [f"  {MARK.get(req['decision'], '?   ')} {req['action']} on {req['resource']}{_telling(req, same)}{who}"]
    if req["decision"] != "Allowed":
        why = f"needed: {req['reason']} [{req['source']}]"
        if why not in said:
            said.add(why)
            lines.append(f"       {why}")
        if req.get("docsName"):
            lines.append(f"       (the docs write {req['docsName']}; the Service Authorization Reference's name is "
                         f"{req['action']})")
        lines.append(f"       {req['decision']}: {req['evaluation']}")
        for entry in req["explain"]:
            if entry["decisive"] or entry["effect"] == "Deny":
                lines.append(f"       * {entry['path']} ({entry['effect']})")
    return lines


def render(result: dict[str, Any]) -> str:
    call = result["call"]
    reqs = result["requirements"]
    denied = sum(r["decision"] != "Allowed" for r in reqs)
    lines = [f"{result['verdict']}: {call['action']} by {call['principal']} ({call['region']}): "
             f"{len(reqs)} permissions needed, {denied} missing", ""]
    repeated = Counter((r["action"], r["resource"]) for r in reqs)
    said: set[str] = set()
    for req in reqs:
        same = [r for r in reqs if (r["action"], r["resource"]) == (req["action"], req["resource"])] \
            if repeated[(req["action"], req["resource"])] > 1 else [req]
        lines += requirement_lines(req, same, said)
    if result["fix"]:
        lines += ["", "Add to the caller's identity-based policies:", json.dumps(result["fix"], indent=2)]
    for key, pol in (result.get("keyPolicyFix") or {}).items():
        lines += ["", f"Add to the key policy of {key}:", json.dumps(pol["Statement"], indent=2)]
    for grant in result.get("grantFix") or []:
        lines += ["", f"Create a grant on {grant['KeyId']}:", grant["command"]]
    if result.get("fixVerified") is not None:
        lines += ["", "Checked: with these added, every missing permission is allowed." if result["fixVerified"]
                  else "Checked: these alone do not allow every missing permission (see the notes)."]
    if result.get("notes"):
        lines += [""] + [f"note: {n}" for n in result["notes"]]
    return "\n".join(lines)
