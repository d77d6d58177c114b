"""Policy examples in the docs' code blocks: find them, parse them, say what kind of policy each one is.

A code block holds policy content when it has an `Effect` key. It may be a whole policy document, one statement
(the key-policy pages show statements to add to a key policy), a CLI output that embeds a policy (a role's trust
policy inside `get-role`-style output), or a CLI output that prints a statement as a JSON string (Lambda's
add-permission). A block that does not parse is kept with its error and position, never dropped; where the
published text is a display artefact with an unambiguous reading (a JSON string wrapped over lines) the example
also carries the corrected policy, marked as corrected.
"""

from __future__ import annotations

import json
import re
from typing import Any

from iamkb.model import Block, Example, Section

EFFECT = re.compile(r'\\?"Effect\\?"\s*:')


def holds_policy(code: str) -> bool:
    return bool(EFFECT.search(code))


def _json(code: str, *, strict: bool = True) -> tuple[Any, dict[str, Any] | None]:
    try:
        return json.loads(code, strict=strict), None
    except json.JSONDecodeError as err:
        return None, {"message": err.msg, "line": err.lineno, "column": err.colno}


def _find_embedded(value: Any) -> Any:
    """The first policy document nested inside a CLI output object (e.g. Role.AssumeRolePolicyDocument)."""
    if isinstance(value, dict):
        if "Statement" in value and isinstance(value.get("Statement"), (list, dict)):
            return value
        for v in value.values():
            found = _find_embedded(v)
            if found is not None:
                return found
    if isinstance(value, list):
        for v in value:
            found = _find_embedded(v)
            if found is not None:
                return found
    return None


def interpret(code: str) -> dict[str, Any]:
    """Parse a policy code block: returns format, policy, error, corrected, correction."""
    data, error = _json(code)
    if error is None:
        if isinstance(data, dict) and isinstance(data.get("Statement"), str):
            inner, inner_error = _json(data["Statement"], strict=False)
            return {"format": "json_string", "policy": inner, "error": inner_error, "corrected": False,
                    "correction": None}
        if isinstance(data, dict) and "Statement" in data and isinstance(data["Statement"], (list, dict)):
            return {"format": "document", "policy": data, "error": None, "corrected": False, "correction": None}
        if isinstance(data, dict) and "Effect" in data:
            return {"format": "statement", "policy": data, "error": None, "corrected": False, "correction": None}
        embedded = _find_embedded(data)
        if embedded is not None:
            return {"format": "cli_output", "policy": embedded, "error": None, "corrected": False,
                    "correction": None}
        return {"format": "fragment", "policy": None, "corrected": False, "correction": None,
                "error": {"message": "JSON without a policy document or statement", "line": 1, "column": 1}}
    # Not JSON as published. A CLI output printing a statement as a JSON string wrapped over several lines is
    # a display artefact: read it with control characters allowed inside strings, then parse the string.
    outer, _ = _json(code, strict=False)
    if isinstance(outer, dict) and isinstance(outer.get("Statement"), str):
        inner, inner_error = _json(outer["Statement"], strict=False)
        if inner_error is None:
            return {"format": "json_string", "policy": inner, "error": error, "corrected": True,
                    "correction": "the Statement string is wrapped over several lines as published (raw line "
                                  "breaks are not allowed in a JSON string); read with the line breaks removed"}
    return {"format": "fragment", "policy": None, "error": error, "corrected": False, "correction": None}


def classify(result: dict[str, Any], section: Section, intro: str) -> str:
    """identity | key_policy | trust_policy | vpc_endpoint | resource_policy | scp."""
    policy = result["policy"]
    statements = []
    if isinstance(policy, dict):
        st = policy.get("Statement", policy)
        statements = [s for s in (st if isinstance(st, list) else [st]) if isinstance(s, dict)]
    actions = []
    for s in statements:
        a = s.get("Action", [])
        actions += [x.lower() for x in (a if isinstance(a, list) else [a]) if isinstance(x, str)]
    has_principal = any("Principal" in s or "NotPrincipal" in s for s in statements)
    context = f"{section.page} {section.title} {intro}".lower()
    if result["format"] == "cli_output" or any(a.startswith("sts:assumerole") for a in actions) and has_principal:
        return "trust_policy"
    if has_principal and (any(a.startswith("kms:") for a in actions) or "key policy" in context):
        return "key_policy"
    if has_principal and ("vpc endpoint" in context or "vpc-endpoint" in context):
        return "vpc_endpoint"
    if has_principal:
        return "resource_policy"
    if "service control polic" in context or re.search(r"\bscps?\b", context):
        return "scp"
    return "identity"


def _walk(blocks: list[Block]):
    """Blocks in document order, nested lists, procedures and callouts included."""
    for block in blocks:
        yield block
        t = block["type"]
        if t in ("callout", "quote"):
            yield from _walk(block["blocks"])
        elif t == "list":
            for item in block["items"]:
                yield from _walk(item)
        elif t == "procedure":
            for step in block["steps"]:
                yield from _walk(step)


def find_examples(section: Section) -> list[Example]:
    """Every policy code block of a section, numbered from 1 in document order; marks each block with its id."""
    examples: list[Example] = []
    last_prose = ""
    for block in _walk(section.blocks):
        if block["type"] == "paragraph" and block["text"]:
            last_prose = block["text"]
        if block["type"] != "code" or not holds_policy(block["code"]):
            continue
        n = len(examples) + 1
        result = interpret(block["code"])
        intro = last_prose or section.text.split("\n", 1)[0]
        example = Example(
            id=f"example:{section.id}:{n}", section=section.id, page=section.page, n=n,
            line=block.get("line", 0), kind=classify(result, section, intro), format=result["format"],
            intro=intro, code=block["code"], policy=result["policy"], error=result["error"],
            corrected=result["corrected"], correction=result["correction"])
        block["example"] = example.id
        examples.append(example)
    return examples
