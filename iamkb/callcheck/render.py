"""The text form of a can-i result (the JSON is the data; this only lays it out, so the two cannot disagree)."""

from __future__ import annotations

import json
from typing import Any

MARK = {"Allowed": "ok  ", "ImplicitlyDenied": "MISS", "ExplicitlyDenied": "DENY"}


def requirement_lines(req: dict[str, Any]) -> list[str]:
    who = "" if req["for"] == "caller" else f" (as {req['principal']})"
    lines = [f"  {MARK.get(req['decision'], '?   ')} {req['action']} on {req['resource']}{who}"]
    if req["decision"] != "Allowed":
        lines.append(f"       needed: {req['reason']} [{req['source']}]")
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
    denied = sum(r["decision"] != "Allowed" for r in result["requirements"])
    head = (f"{result['verdict']}: {call['action']} by {call['principal']} ({call['region']}): "
            f"{len(result['requirements'])} permissions needed, {denied} missing")
    lines = [head, ""]
    for req in result["requirements"]:
        lines += requirement_lines(req)
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
