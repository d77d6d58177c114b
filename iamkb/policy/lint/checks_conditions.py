"""Checks of how conditions use their keys: single- and multivalued keys with the set operators
(iam/reference_policies_multi-value-conditions), Null, keys repeated in one block, keys that need a companion.

Whether a key is multivalued comes from its type in the reference: ArrayOf* types are multivalued (the Service
Authorization Reference, and the IAM guide's "Value type – Multivalued" for the global keys).
"""

from __future__ import annotations

from collections.abc import Iterator

from iamkb.policy.grammar import Condition, Statement
from iamkb.policy.lint.core import Context, Finding, emits

# Keys that say little alone, with the keys that complete them (the Access Analyzer reference: aws:VpcSourceIp
# compares an address that is only unique within a VPC).
PAIRED_KEYS = {"aws:vpcsourceip": ("aws:SourceVpc", "aws:SourceVpce")}


def multivalued(ctx: Context, key: str) -> bool | None:
    """True for an ArrayOf* key, False for a single-valued one, None when the reference does not know the key."""
    record = ctx.ref.condition_key(key) if ctx.ref is not None else None
    if record is None or not record.get("type"):
        return None
    return str(record["type"]).startswith("ArrayOf")


@emits("DUPLICATE_KEYS_WITH_DIFFERENT_CASE")
def check_duplicate_keys(ctx: Context) -> Iterator[Finding]:
    for st in ctx.policy.statements:
        seen: dict[tuple[str, str], str] = {}
        for cond in st.conditions:
            group = (cond.operator, cond.key.lower())
            if group in seen and seen[group] != cond.key:
                yield Finding("DUPLICATE_KEYS_WITH_DIFFERENT_CASE",
                              f"'{cond.key}' and '{seen[group]}' are the same key in {cond.operator}", cond.path)
            seen.setdefault(group, cond.key)


def _null_checked(st: Statement, key: str) -> bool:
    """Whether the statement also requires the key to be present (Null: false)."""
    return any(c.base == "Null" and c.key.lower() == key.lower() and "false" in (v.lower() for v in c.values)
               for c in st.conditions)


@emits("MISSING_QUALIFIER", "FORALLVALUES_WITH_SINGLE_VALUED_KEY", "FORALLVALUES_WITH_ALLOW", "NULL_WITH_QUALIFIER")
def check_set_operators(ctx: Context) -> Iterator[Finding]:
    for st in ctx.policy.statements:
        for cond in st.conditions:
            multi = multivalued(ctx, cond.key)
            if cond.base == "Null":
                if cond.set_operator:
                    always = "true" if cond.set_operator == "ForAllValues" else "false"
                    yield Finding("NULL_WITH_QUALIFIER", f"{cond.operator} is always {always}: use Null", cond.path)
                continue
            if multi and not cond.set_operator:
                yield Finding("MISSING_QUALIFIER", f"'{cond.key}' can hold several values: write "
                              f"ForAnyValue:{cond.operator} or ForAllValues:{cond.operator}", cond.path)
            elif cond.set_operator == "ForAllValues" and multi is False:
                yield Finding("FORALLVALUES_WITH_SINGLE_VALUED_KEY", f"'{cond.key}' holds one value: ForAllValues "
                              "also matches a request without it; drop ForAllValues:", cond.path)
            elif cond.set_operator == "ForAllValues" and st.effect == "Allow" and not _null_checked(st, cond.key):
                yield Finding("FORALLVALUES_WITH_ALLOW", f"{cond.operator} in an Allow is true when '{cond.key}' is "
                              "absent: add a Null check (false) for the key, or use ForAnyValue", cond.path)


@emits("MISSING_PAIRED_CONDITION_KEYS")
def check_paired_keys(ctx: Context) -> Iterator[Finding]:
    for st in ctx.policy.statements:
        present = {c.key.lower() for c in st.conditions}
        for cond in st.conditions:
            pairs = PAIRED_KEYS.get(cond.key.lower(), ())
            if pairs and not any(p.lower() in present for p in pairs):
                yield Finding("MISSING_PAIRED_CONDITION_KEYS",
                              f"'{cond.key}' without {' or '.join(pairs)} matches the address in any VPC", cond.path)


def conditions_on(st: Statement, key: str) -> list[Condition]:
    return [c for c in st.conditions if c.key.lower() == key.lower()]


CHECKS = (check_duplicate_keys, check_set_operators, check_paired_keys)
