"""The IAM Access Analyzer policy check reference as data: one record per check of the IAM User Guide page
access-analyzer-reference-policy-checks, for kb/build/analyzer_checks.json (kb/schema/analyzer_checks.schema.json).

Why: `iamkb check` is held against Access Analyzer's policy validation, which AWS documents check by check. The lint
catalog (iamkb.policy.lint.catalog) joins each iamkb finding code to the checks it implements by the ids made here,
and the site shows both texts side by side, so the checks come from the pinned page and not from a copy typed
into the code.

Each level-2 section of the page is one check, titled "<severity> – <name>". Its blocks, as the parse stage left
them, are read in order: the console and API messages (the code blocks after "In the AWS Management Console ..." and
"In programmatic calls ..."), then the resolution (everything after the bold "Resolving the ..." paragraph up to the
related terms, a list whose items are single links), with the policy snippets it shows. A level-3 child ("AWS
managed policies with this ...") gives the managed policies the page names for the check. Nothing here re-reads
Markdown.
"""

from __future__ import annotations

import json
import re
from typing import Any

from iamkb.errors import InputError

PAGE = "iam/access-analyzer-reference-policy-checks"
ANCHOR_PREFIX = "access-analyzer-reference-policy-checks-"
# The page's four severities (the headings say "General Warning" for the one Access Analyzer's API calls WARNING).
SEVERITIES = {"error": "Error", "security warning": "Security warning", "general warning": "Warning",
              "suggestion": "Suggestion"}
POLICY_TYPES = ("identity", "resource", "boundary", "scp", "session", "trust")

# Where the page says which policy types a check is about: (pattern over the title, messages and resolution,
# policy types). Only statements of applicability are read, never a passing mention: "You cannot use the
# Principal element in an IAM identity-based policy" makes "Unsupported principal" an identity-policy check, but
# "You can use it in ... resource-based policies" in the same paragraph does not make it a resource-policy one.
_APPLIES = (
    (re.compile(r"^SCP |service control policy \(SCP\)|service control policies \(SCPs\) (?:do not|support)"),
     ("scp",)),
    (re.compile(r"[Rr]ole trust polic(?:y|ies) (?:do not|apply|syntax|unsupported)|in role trust policy"
                r"|^Role trust policy|roles anywhere trust policy|role trust policy quota"), ("trust",)),
    (re.compile(r"Resource-based policies must include|in the Principal element of a resource-based policy"
                r"|resource-based policy attached to|aren't relevant for resource-based policies"
                r"|resource policy quota|characters in the resource policy"), ("resource",)),
    (re.compile(r"Identity-based policies must include|cannot use the Principal element in an IAM identity-based"
                r"|identity policy quota|characters in the identity policy"), ("identity",)),
    (re.compile(r"Identity policies and other resource-based policies don't support a federated"),
     ("identity", "resource")),
)
_CONSOLE_INTRO = "In the AWS Management Console"
_API_INTRO = "In programmatic calls"
_FINDING_DETAILS = re.compile(r'^"findingDetails":\s*"(.*)"\s*$', re.S)


def check_id(anchor: str) -> str:
    """A check's id: its section anchor without the page's prefix (`error-invalid-action`); the second of two
    checks the page gives the same heading keeps the parse stage's numbered anchor (`error-json-syntax-error-2`)."""
    return anchor.removeprefix(ANCHOR_PREFIX)


def split_title(title: str) -> tuple[str, str]:
    """'Security Warning – Pass role with NotResource' -> ('Security warning', 'Pass role with NotResource')."""
    head, sep, name = title.partition(" – ")
    severity = SEVERITIES.get(head.strip().lower())
    if not sep or severity is None:
        raise ValueError(f"not a check heading: {title!r}")
    return severity, name.strip()


def _is_related_terms(block: dict) -> bool:
    """A list whose every item is one paragraph holding a single link: the page's "Related terms"."""
    if block.get("type") != "list" or not block.get("items"):
        return False
    for item in block["items"]:
        if len(item) != 1 or item[0].get("type") != "paragraph":
            return False
        spans = [s for s in item[0].get("inlines", []) if not (s.get("t") == "text" and not s.get("v", "").strip())]
        if len(spans) != 1 or spans[0].get("t") != "link":
            return False
    return True


def _strong_only(block: dict) -> str | None:
    """The text of a paragraph that is one bold span ("Resolving the error", "Related terms"), else None."""
    spans = block.get("inlines", []) if block.get("type") == "paragraph" else []
    return block.get("text") if len(spans) == 1 and spans[0].get("t") == "strong" else None


def _block_text(block: dict) -> str:
    """Plain text of a resolution block: paragraphs as they are, list items one a line, callouts with their label."""
    t = block.get("type")
    if t == "paragraph":
        return block.get("text", "")
    if t == "list":
        return "\n".join("- " + " ".join(_block_text(b) for b in item) for item in block.get("items", []))
    if t == "callout":
        inner = "\n".join(_block_text(b) for b in block.get("blocks", []))
        return f"{block.get('kind', 'note').capitalize()}: {inner}"
    if t == "code":
        return block.get("code", "")
    return block.get("text", "")


def _unclosed(code: str) -> str:
    """The closing brackets a JSON text lacks (outside strings), innermost first; "" when balanced or broken."""
    stack = []
    for m in re.finditer(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', code):
        ch = m.group()
        if ch in "[{":
            stack.append("]" if ch == "[" else "}")
        elif ch in "]}" and (not stack or stack.pop() != ch):
            return ""
    return "".join(reversed(stack))


def parse_snippet(code: str) -> dict[str, Any]:
    """A resolution's code block as data: a whole policy ("document"), one statement, a policy element as written
    inside a statement ("element": `"Action": [...],` read as {"Action": [...]}), or plain text (an ARN, a
    message). A snippet that lacks only its closing brackets as published is read with them added, and says so."""
    text = code.strip()
    attempts = [(text, None)]
    if text.startswith('"'):
        attempts.append(("{" + text.rstrip(",").rstrip() + "}", None))
        missing = _unclosed(text.rstrip(","))
        if missing:
            attempts.append(("{" + text.rstrip(",").rstrip() + missing + "}",
                             f"the snippet lacks its closing {' '.join(repr(c) for c in missing)} as published; "
                             "read with it added"))
    for candidate, correction in attempts:
        try:
            data = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if not isinstance(data, dict):
            continue
        if candidate is text:
            fmt = "document" if "Statement" in data else "statement" if "Effect" in data else "element"
        else:
            fmt = "element"
        return {"format": fmt, "json": data, "corrected": correction}
    return {"format": "text", "json": None, "corrected": None}


def _policy_types(texts: list[str]) -> list[str]:
    found: set[str] = set()
    for text in texts:
        for pattern, types in _APPLIES:
            if pattern.search(text):
                found.update(types)
    return [t for t in POLICY_TYPES if t in found]


def _managed_policies(child: dict) -> list[str]:
    """Policy names a "AWS managed policies with this ..." section lists: each item starts with the name, as a
    link to the console or as plain text, sometimes followed by a note."""
    names = []
    for block in child.get("blocks", []):
        for item in block.get("items", []) if block.get("type") == "list" else []:
            first = item[0] if item and item[0].get("type") == "paragraph" else {}
            spans = first.get("inlines", [])
            head = spans[0] if spans else {}
            text = (" ".join(s.get("v", "") for s in head.get("c", [])) if head.get("t") == "link"
                    else first.get("text", "")).strip()
            if re.fullmatch(r"[A-Za-z0-9_+=,.@-]+", text):
                names.append(text)
    return list(dict.fromkeys(names))


def check_record(section: dict, children: list[dict]) -> dict[str, Any]:
    """One check from its section (and its "AWS managed policies with this ..." children)."""
    severity, name = split_title(section["title"])
    console = api = None
    resolution: list[dict] = []
    snippets: list[dict] = []
    related: list[dict] = []
    where = "start"
    intro = ""
    for block in section.get("blocks", []):
        strong = _strong_only(block)
        if strong and strong.startswith("Resolving the"):
            where = "resolution"
            continue
        if strong == "Related terms" or _is_related_terms(block):
            where = "related"
            if block.get("type") == "list":
                related += [{"title": item[0]["text"], "href": item[0]["inlines"][0].get("href"),
                             "target": item[0]["inlines"][0].get("target")}
                            for item in block["items"]]
            continue
        if where == "start":
            if block.get("type") == "paragraph":
                intro = block.get("text", "")
            elif block.get("type") == "code":
                if intro.startswith(_CONSOLE_INTRO):
                    console = block["code"].strip()
                elif intro.startswith(_API_INTRO):
                    m = _FINDING_DETAILS.match(block["code"].strip())
                    api = m.group(1) if m else block["code"].strip()
        elif where == "resolution":
            resolution.append(block)
            if block.get("type") == "code":
                before = next((_block_text(b) for b in reversed(resolution[:-1]) if b.get("type") == "paragraph"), "")
                snippets.append({"code": block["code"], "line": block.get("line", 0), "intro": before,
                                 **parse_snippet(block["code"])})
    resolution_text = "\n".join(_block_text(b) for b in resolution if b.get("type") != "code").strip()
    managed = [n for c in children for n in _managed_policies(c)]
    return {
        "id": check_id(section["anchor"]),
        "section": section["id"],
        "title": name,
        "severity": severity,
        "console_message": console,
        "finding_details": api,
        "resolution": resolution_text,
        "policy_types": _policy_types([name, console or "", api or "", resolution_text]),
        "snippets": snippets,
        "managed_policies": managed,
        "related": related,
    }


def build_analyzer_checks(sections: list[dict]) -> list[dict[str, Any]]:
    """Every check of the page, in the page's order (empty when the page is not in the corpus)."""
    on_page = [s for s in sections if s.get("page") == PAGE]
    children: dict[str, list[dict]] = {}
    for s in on_page:
        if s.get("level") == 3 and s.get("parent"):
            children.setdefault(s["parent"], []).append(s)
    out = []
    for s in on_page:
        if s.get("level") != 2:
            continue
        try:
            out.append(check_record(s, children.get(s["id"], [])))
        except ValueError as err:
            raise InputError(str(err), where=s["id"]) from None
    return out


def by_id(checks: list[dict]) -> dict[str, dict]:
    return {c["id"]: c for c in checks}


def lint_coverage(checks: list[dict]) -> dict[str, Any]:
    """kb/build/lint_catalog.json: iamkb's finding codes and, for every check of the page, the codes that implement
    it or why none can (iamkb.policy.lint.catalog); a catalog that names a check the page lacks, or leaves one of
    the page's checks unaccounted for, stops the build."""
    from iamkb.policy.lint.catalog import coverage

    try:
        return coverage(checks)
    except ValueError as err:
        raise InputError(str(err), where="iamkb/policy/lint/catalog.py") from None
