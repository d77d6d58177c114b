"""Policy examples in the docs' code blocks: find them, parse them, say what kind of policy each one is.

A code block holds policy content when it has an `Effect` key. It may be a whole policy document, one statement
(the key-policy pages show statements to add to a key policy), a CLI output that embeds a policy (a role's trust
policy inside `get-role`-style output), or a CLI output that prints a statement as a JSON string (Lambda's
add-permission). A block that does not parse is kept with its error and position, never dropped; where the
published text is a display artefact with an unambiguous reading (a JSON string wrapped over lines) the example
also carries the corrected policy, marked as corrected.

A fragment is a piece of a policy the docs show to make a point: the elements of one statement without its
braces (`"Effect": "Deny", "Condition": {...}`), or several statements without their list. So that every block
runs, a fragment is read as that piece and wrapped in the smallest complete policy: a policy document holding the
statement(s), with `"Action": "*"` and `"Resource": "*"` added only where the fragment names no action or resource
(a trust-policy statement, which names a principal, needs no resource). The example keeps the code as published
and says, in `wrapping`, what was added; a fragment that also needs a correction (a comma missing between two
elements, a `"Condition": {` line left out) is marked corrected as well.
"""

from __future__ import annotations

import json
import re
from typing import Any, NamedTuple

from iamkb.model import Block, Example, Section

EFFECT = re.compile(r'\\?"Effect\\?"\s*:')
# A line that is not JSON but a label the docs put above a fragment ("#####   WARNING: NOT RECOMMENDED   #####").
BANNER = re.compile(r"^[ \t]*#.*$", re.M)
# A condition operator's block (iam/reference_policies_elements_condition_operators, with set-operator prefixes).
OPERATOR_BLOCK = re.compile(r'^([ \t]*)"(?:ForAllValues:|ForAnyValue:)?(?:String|Numeric|Date|Bool|Binary|IpAddress|'
                            r'NotIpAddress|Arn|Null)[A-Za-z]*"\s*:\s*\{', re.M)
CONDITION_KEY = re.compile(r'"Condition"\s*:')
VERSION = "2012-10-17"  # iam/reference_policies_elements_version: the current version, which every example uses


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
    """Parse a policy code block: returns format, policy, error, corrected, correction (and, for a fragment
    read as a piece of a policy, wrapped and wrapping)."""
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
    reading = read_fragment(code)
    if reading is not None:
        return {**reading, "error": error}
    return {"format": "fragment", "policy": None, "error": error, "corrected": False, "correction": None}


# ---------------------------------------------------------------------------------------------- fragments


def _repaired(text: str) -> tuple[Any, list[str]] | None:
    """Parse `text`, repairing the two slips the docs' fragments show, each only where the decoder stops:
    a comma missing at the end of a line before the next element, and a `"Condition": {` line left out before a
    condition operator's block (its closing brace is there, so the braces only balance with it). Returns the
    value and one sentence per repair, or None when the text has no such reading."""
    repairs: list[str] = []
    for _ in range(4):
        try:
            return json.loads(text), repairs
        except json.JSONDecodeError as err:
            before = text[:err.pos].rstrip()
            if (err.msg == "Expecting ',' delimiter" and text.startswith('"', err.pos) and before
                    and "\n" in text[len(before):err.pos]):
                line = text.count("\n", 0, len(before)) + 1
                text = before + "," + text[len(before):]
                repairs.append(f"a comma is missing at the end of line {line} as published")
                continue
            block = OPERATOR_BLOCK.search(text)
            if block and not CONDITION_KEY.search(text) and not any("Condition" in r for r in repairs):
                indent = block.group(1)
                line = text.count("\n", 0, block.start()) + 1
                text = f'{text[:block.start()]}{indent}"Condition": {{ {text[block.start():].lstrip()}'
                repairs.append(f'the "Condition": {{ line before line {line} is missing as published (the condition '
                               "operator sits directly in the statement, and the braces only balance with it)")
                continue
            return None
    return None


def _complete(statement: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The statement with the elements a fragment leaves out added: an Action and, unless it names a principal
    (a trust-policy statement), a Resource; "*" for each, since the fragment limits neither."""
    added: dict[str, Any] = {}
    if "Action" not in statement and "NotAction" not in statement:
        added["Action"] = "*"
    if not any(k in statement for k in ("Resource", "NotResource", "Principal", "NotPrincipal")):
        added["Resource"] = "*"
    if not added:
        return statement, []
    head = {k: v for k, v in statement.items() if k != "Condition"}
    tail = {"Condition": statement["Condition"]} if "Condition" in statement else {}
    return {**head, **added, **tail}, [f'"{k}": "*"' for k in added]


class Reading(NamedTuple):
    """A fragment as published, read: a document or its statements, and what reading it took."""

    shape: str  # "document" | "statements"
    value: Any  # the document (shape "document") or the list of statements as the docs show them
    repairs: list[str]  # corrections of slips in the published text
    banners: list[str]  # label lines left out
    trailing_comma: bool


def _read(code: str) -> Reading | None:
    """A block that is not JSON as published, read as the piece of a policy it shows: a statement's elements
    (read inside braces), several statements (inside a list), or a whole document with a slip. Banner lines and a
    trailing comma are blanked in place, so line numbers stay those of the published block."""
    banners = [m.group().strip() for m in BANNER.finditer(code)]
    text = BANNER.sub("", code).rstrip()
    trailing_comma = text.endswith(",")
    text = text.removesuffix(",")
    candidates = [text, f"[{text}]"] if text.strip().startswith("{") else [f"{{{text}}}"]
    for candidate in candidates:
        got = _repaired(candidate)
        if got is None:
            continue
        value, repairs = got
        if isinstance(value, dict) and "Statement" in value:
            if repairs:
                return Reading("document", value, repairs, banners, trailing_comma)
            continue
        statements = value if isinstance(value, list) else [value]
        if statements and all(isinstance(st, dict) and "Effect" in st for st in statements):
            return Reading("statements", statements, repairs, banners, trailing_comma)
    return None


def read_fragment(code: str) -> dict[str, Any] | None:
    """The policy a fragment runs as (see the module docstring): format, policy, corrected, correction, wrapped,
    wrapping; None when the block has no reading."""
    reading = _read(code)
    if reading is None:
        return None
    correction = "; ".join(reading.repairs) or None
    if reading.shape == "document":
        return {"format": "document", "policy": reading.value, "corrected": True, "correction": correction,
                "wrapped": False, "wrapping": None}
    completed, added = [], []
    for st in reading.value:
        full, extra = _complete(st)
        completed.append(full)
        added.extend(e for e in extra if e not in added)
    return {"format": "fragment", "policy": {"Version": VERSION, "Statement": completed},
            "corrected": correction is not None, "correction": correction, "wrapped": True,
            "wrapping": _wrapping_note(len(completed), added, reading.banners, reading.trailing_comma)}


def as_published(policy: Any, code: str, wrapped: bool) -> Any:
    """The policy content as the docs show it: a wrapped fragment's statements without the elements its
    wrapping added (so mentions, cross-links and action lists name only what the docs name: the added "*" is no
    use of every action), any other example's policy."""
    if not wrapped:
        return policy
    reading = _read(code)
    return {"Statement": reading.value} if reading else None


def published_policy(example: dict[str, Any]) -> Any:
    """`as_published` for an example record of the KB (kb/build/examples.json)."""
    return as_published(example.get("policy"), example.get("code") or "", bool(example.get("wrapped")))


def _wrapping_note(statements: int, added: list[str], banners: list[str], trailing_comma: bool) -> str:
    """What turned the published fragment into the policy the scenarios run, in one sentence."""
    shown = "one statement's elements" if statements == 1 else f"{statements} statements without their list"
    note = (f"the docs show {shown}; the scenarios run them as the "
            f"statement{'s' if statements > 1 else ''} of a policy document (\"Version\": \"{VERSION}\")")
    if added:
        note += f", with {' and '.join(added)} added, as the fragment limits neither"
    left_out = [f"the banner line {b!r}" for b in banners] + (["the trailing comma"] if trailing_comma else [])
    if left_out:
        note += f", without {' and '.join(left_out)}"
    return note


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
            corrected=result["corrected"], correction=result["correction"], wrapped=result.get("wrapped", False),
            wrapping=result.get("wrapping"))
        block["example"] = example.id
        examples.append(example)
    return examples
