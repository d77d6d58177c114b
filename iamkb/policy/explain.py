"""Readable text for a decision: the verdict, why, and for each statement why it did or did not apply.

The data form is `Decision.to_json()` (what `iamkb simulate --json` prints); this module only renders it, so the
text and the JSON can never disagree.
"""

from __future__ import annotations

from typing import Any


def _mark(ok: bool) -> str:
    return "yes" if ok else "no"


def statement_lines(entry: dict[str, Any]) -> list[str]:
    """One statement's explanation: header, then action, resource, principal and each condition."""
    head = f"{'*' if entry['decisive'] else '-'} {entry['policy']} {entry['statement']} ({entry['effect']}): " + (
        "applies" if entry["applies"] else "does not apply")
    action = entry["action"]
    lines = [head, f"    {action['element']} {', '.join(action['patterns'])}: matches {_mark(action['matches'])}"]
    if not entry["evaluated"]:
        return lines
    res = entry["resource"]
    if res["element"]:
        lines.append(f"    {res['element']} {', '.join(res['patterns'])}: matches {_mark(res['matches'])}")
    if entry["policyType"] == "resource":
        lines.append(f"    Principal: {entry['principal']}")
    for c in entry["conditions"]:
        got = "absent" if c["requestValue"] is None else c["requestValue"]
        lines.append(f"    {c['operator']} {c['key']} {c['values']} vs request {got}: "
                     f"{_mark(c['matches'])} ({c['reason']})")
    return lines


def render(result: dict[str, Any]) -> str:
    """The whole decision as text ('*' marks the statements that decided it)."""
    lines = [f"{result['decision']}: {result['reason']}"]
    for entry in result["explain"]:
        lines.extend(statement_lines(entry))
    return "\n".join(lines)
