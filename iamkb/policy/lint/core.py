"""What every check shares: the finding, the context a check reads, and small functions over statements.

A check is a small function `check(ctx) -> Iterator[Finding]` marked with the codes it can emit (`emits`), so the
runner can skip a check whose codes do not apply to the policy type or are ignored everywhere. Checks read the
validated model (iamkb.policy.grammar), the raw document where the JSON types matter, and the reference data
through `ctx.ref` (iamkb.refdata.Reference, or None when the knowledge base is not built: name checks then skip).
Everything here is standard library, so the playground can run it in the browser.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from iamkb.policy.grammar import Condition, Policy, Statement
from iamkb.policy.lint.catalog import BY_CODE


@dataclass(frozen=True)
class Finding:
    code: str
    message: str
    path: str
    evidence: dict[str, Any] | None = None  # a scenario that shows what the finding says, checked by the evaluator
    severity: str | None = None  # set by configuration; None = the catalog's

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "severity": self.severity or BY_CODE[self.code].severity,
                               "message": self.message, "path": self.path}
        if self.evidence is not None:
            out["evidence"] = self.evidence
        return out


@dataclass(frozen=True)
class Context:
    """What a check reads: the policy, its raw document, the policy type, the reference (or None)."""

    policy: Policy
    ref: Any
    policy_type: str
    resource_type: str | None = None  # "service:type" a resource-based policy is attached to (--resource-type)
    _raw: tuple[Any, ...] = field(default=(), repr=False)
    _memo: dict[tuple[str, ...], Any] = field(default_factory=dict, repr=False, compare=False)

    @staticmethod
    def of(policy: Policy, ref: Any, policy_type: str, resource_type: str | None = None) -> Context:
        raw = policy.raw.get("Statement") if isinstance(policy.raw, dict) else None
        statements = tuple(raw) if isinstance(raw, list) else (raw,)
        return Context(policy, ref, policy_type, resource_type, statements)

    def actions_matching(self, pattern: str) -> list[str]:
        """ref.actions_matching, asked once per pattern per document (several checks expand the same wildcard)."""
        key = ("actions", pattern)
        if key not in self._memo:
            self._memo[key] = self.ref.actions_matching(pattern)
        return self._memo[key]

    def resource_types_for_arn(self, service: str, arn: str) -> list[dict]:
        """ref.resource_types_for_arn, asked once per ARN per document."""
        key = ("types", service, arn)
        if key not in self._memo:
            self._memo[key] = self.ref.resource_types_for_arn(service, arn)
        return self._memo[key]

    def raw(self, st: Statement) -> dict:
        """The statement as written (JSON types kept: the model holds condition values as strings)."""
        return self._raw[st.index] if st.index < len(self._raw) else {}

    def raw_condition_value(self, st: Statement, cond: Condition) -> Any:
        block = self.raw(st).get("Condition") or {}
        return (block.get(cond.operator) or {}).get(cond.key)


Check = Callable[[Context], Iterator[Finding]]


def emits(*codes: str) -> Callable[[Check], Check]:
    """Mark a check with the codes it can report (each must be in the catalog)."""
    unknown = [c for c in codes if c not in BY_CODE]
    if unknown:
        raise ValueError(f"codes not in the lint catalog: {unknown}")

    def mark(fn: Check) -> Check:
        fn.codes = codes  # type: ignore[attr-defined]
        return fn

    return mark


def element_path(st: Statement, name: str, values: tuple[str, ...], i: int) -> str:
    """JSON path of the i-th value of a statement element (no index when the element is a single string)."""
    return f"{st.path}.{name}" if len(values) == 1 else f"{st.path}.{name}[{i}]"


def actions_and_paths(st: Statement) -> Iterator[tuple[str, str, str]]:
    """(element name, action pattern, path) for Action and NotAction."""
    for name, values in (("Action", st.actions), ("NotAction", st.not_actions)):
        for i, action in enumerate(values or ()):
            yield name, action, element_path(st, name, values or (), i)


def resources_and_paths(st: Statement) -> Iterator[tuple[str, str, str]]:
    """(element name, ARN pattern, path) for Resource and NotResource."""
    for name, values in (("Resource", st.resources), ("NotResource", st.not_resources)):
        for i, arn in enumerate(values or ()):
            yield name, arn, element_path(st, name, values or (), i)


def principal_entries(ctx: Context, st: Statement) -> Iterator[tuple[str, str, str, str]]:
    """(element, kind, value, path) for every Principal/NotPrincipal entry as written: a bare "*" has kind "*",
    {"AWS": "*"} kind "AWS" (the grammar makes both "anyone"; a few checks tell them apart)."""
    raw = ctx.raw(st)
    for name in ("Principal", "NotPrincipal"):
        value = raw.get(name)
        if value == "*":
            yield name, "*", "*", f"{st.path}.{name}"
        elif isinstance(value, dict):
            for kind, entries in value.items():
                items = [entries] if isinstance(entries, str) else list(entries)
                for i, item in enumerate(items):
                    path = f"{st.path}.{name}.{kind}" + ("" if isinstance(entries, str) else f"[{i}]")
                    yield name, kind, item, path


def statement_keys(st: Statement) -> set[str]:
    """Lower-cased condition keys a statement tests."""
    return {c.key.lower() for c in st.conditions}


def is_pattern(text: str) -> bool:
    return "*" in text or "?" in text


VARIABLE = re.compile(r"\$\{[^}]*\}")


def arn_fields(arn: str) -> list[str]:
    """The six fields of an ARN (the resource part keeps its colons); fewer when the ARN is short. Colons inside
    policy variables do not split."""
    masked = VARIABLE.sub(lambda m: "x" * len(m.group(0)), arn)
    cuts = [i for i, ch in enumerate(masked) if ch == ":"][:5]
    out, start = [], 0
    for i in cuts:
        out.append(arn[start:i])
        start = i + 1
    out.append(arn[start:])
    return out


def action_service(action: str) -> str:
    return action.split(":", 1)[0] if ":" in action else ""
