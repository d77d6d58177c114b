"""Condition operators: one small unit per operator behind one interface, plus the set-operator and IfExists rules.

A unit compiles each policy value once (`compile`) and tests one request value against it (`test`), returning
whether that policy value "matches" in the operator's own sense: for a negated operator (StringNotEquals, ...)
"matches" already means "differs". Positive operators need any value to match, negated ones all
(iam/reference_policies_elements_condition#Condition-multiple-conditions: values of one key are ORed; for a
negated operator that reads as "none of the values").
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from iamkb.policy.grammar import Condition, parse_operator
from iamkb.policy.variables import Template, template

Context = dict[str, "str | list[str]"]


@dataclass(frozen=True)
class Unit:
    """One base operator: compile a policy value once, test a request value against it."""

    name: str
    negative: bool
    compile: Callable[[str], Any]
    test: Callable[[Any, str, Context], bool]


# --- String (iam/reference_policies_elements_condition_operators#Conditions_String) --------------------------
def _string_unit(name: str, *, like: bool, fold: bool, negative: bool) -> Unit:
    def compile_(text: str) -> Template:
        return template(text, wildcards=like, ignore_case=fold)

    # iam/reference_policies_variables#policy-vars-no-value: a variable with no value is "effectively null":
    # "Condition operators like StringEquals or StringLike do not match", and "Inverted condition operators like
    # StringNotEquals or StringNotLike do match against a null value".
    def test_equals(t: Template, value: str, ctx: Context) -> bool:
        want = t.resolved(ctx)
        if want is None:
            return negative
        same = want.lower() == value.lower() if fold else want == value
        return same != negative

    def test_like(t: Template, value: str, ctx: Context) -> bool:
        pattern = t.pattern(ctx)
        if pattern is None:
            return negative
        return pattern.matches(value) != negative

    return Unit(name, negative, compile_, test_like if like else test_equals)


# --- Numeric (#Conditions_Numeric) -----------------------------------------------------------------------------
_INT = re.compile(r"\s*([+-]?\d+)")
_FLOAT = re.compile(r"\s*([+-]?(?:Infinity|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?))")


def parse_number(text: str) -> float | None:
    """A number as IAM reads it: the leading integer, or the leading decimal when the text has a dot."""
    m = (_FLOAT if "." in text else _INT).match(text)
    if m is None:
        return None
    return float(m.group(1).replace("Infinity", "inf"))


def _numeric_unit(name: str, compare: Callable[[float, float], bool], negative: bool = False) -> Unit:
    def test(policy: float | None, value: str, ctx: Context) -> bool:
        number = parse_number(value)
        if policy is None or number is None:
            return False
        return compare(number, policy)

    return Unit(name, negative, parse_number, test)


# --- Date (#Conditions_Date): ISO 8601 or epoch seconds, compared as instants ----------------------------------
def parse_date(text: str) -> float | None:
    """Milliseconds since the epoch; an all-digit value is epoch seconds (iam/reference_policies_elements_datatypes)."""
    try:
        if str(int(text)) == text:
            return int(text) * 1000.0
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp() * 1000.0


def _date_unit(name: str, compare: Callable[[float, float], bool], negative: bool = False) -> Unit:
    def test(policy: float | None, value: str, ctx: Context) -> bool:
        moment = parse_date(value)
        if policy is None or moment is None:
            return False
        return compare(moment, policy)

    return Unit(name, negative, parse_date, test)


# --- Bool (#Conditions_Boolean) and Binary (#Conditions_BinaryEquals) ------------------------------------------
def _bool_test(t: Template, value: str, ctx: Context) -> bool:
    want = t.resolved(ctx)
    if want is None or want.lower() not in ("true", "false") or value.lower() not in ("true", "false"):
        return False
    return want.lower() == value.lower()


def _binary_test(text: str, value: str, ctx: Context) -> bool:
    """Base-64 values compared byte for byte, as written."""
    return text == value


# --- IP address (#Conditions_IPAddress): IPv4 and IPv6 addresses and CIDR blocks ------------------------------
def _ip_compile(text: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, bool] | None:
    """(network, written as a CIDR block?) or None when the text is neither an address nor a block."""
    try:
        return ipaddress.ip_network(text, strict=False), "/" in text
    except ValueError:
        return None


def _parse_ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _ip_unit(name: str, inside: bool) -> Unit:
    def test(compiled: Any, value: str, ctx: Context) -> bool:
        address = _parse_ip(value)
        if compiled is None or address is None:
            return False
        network, is_block = compiled
        if address.version != network.version:
            # A request address of the other family is outside any block (so NotIpAddress holds), but it is
            # never "the same address" as a single address in the policy.
            return (not inside) if is_block else False
        return (address in network) == inside

    return Unit(name, not inside, _ip_compile, test)


# --- ARN (#Conditions_ARN): field by field, wildcards within a field, case-sensitive --------------------------
def _arn_compile(text: str) -> tuple[Template, ...] | None:
    parts = text.split(":")
    if len(parts) < 5:
        return None
    return tuple(template(p, wildcards=True) for p in (*parts[1:5], ":".join(parts[5:])))


def _arn_unit(name: str, negative: bool) -> Unit:
    def test(fields: tuple[Template, ...] | None, value: str, ctx: Context) -> bool:
        if fields is None:
            return False
        parts = value.split(":")
        if len(parts) < 5:
            return False
        for field_template, part in zip(fields, (*parts[1:5], ":".join(parts[5:])), strict=True):
            pattern = field_template.pattern(ctx)
            if pattern is None:
                return negative  # #policy-vars-no-value: null is like no ARN, so only the inverted operators match
            if not pattern.matches(part):
                return negative
        return not negative

    return Unit(name, negative, _arn_compile, test)


UNITS: dict[str, Unit] = {u.name: u for u in (
    _string_unit("StringEquals", like=False, fold=False, negative=False),
    _string_unit("StringNotEquals", like=False, fold=False, negative=True),
    _string_unit("StringEqualsIgnoreCase", like=False, fold=True, negative=False),
    _string_unit("StringNotEqualsIgnoreCase", like=False, fold=True, negative=True),
    _string_unit("StringLike", like=True, fold=False, negative=False),
    _string_unit("StringNotLike", like=True, fold=False, negative=True),
    _numeric_unit("NumericEquals", lambda v, p: v == p),
    _numeric_unit("NumericNotEquals", lambda v, p: v != p, negative=True),
    _numeric_unit("NumericLessThan", lambda v, p: v < p),
    _numeric_unit("NumericLessThanEquals", lambda v, p: v <= p),
    _numeric_unit("NumericGreaterThan", lambda v, p: v > p),
    _numeric_unit("NumericGreaterThanEquals", lambda v, p: v >= p),
    _date_unit("DateEquals", lambda v, p: v == p),
    _date_unit("DateNotEquals", lambda v, p: v != p, negative=True),
    _date_unit("DateLessThan", lambda v, p: v < p),
    _date_unit("DateLessThanEquals", lambda v, p: v <= p),
    _date_unit("DateGreaterThan", lambda v, p: v > p),
    _date_unit("DateGreaterThanEquals", lambda v, p: v >= p),
    Unit("Bool", False, lambda text: template(text, wildcards=False), _bool_test),
    Unit("BinaryEquals", False, lambda text: text, _binary_test),
    _ip_unit("IpAddress", inside=True),
    _ip_unit("NotIpAddress", inside=False),
    _arn_unit("ArnEquals", negative=False),
    _arn_unit("ArnLike", negative=False),
    _arn_unit("ArnNotEquals", negative=True),
    _arn_unit("ArnNotLike", negative=True),
)}


@dataclass(frozen=True)
class ConditionResult:
    """How one condition was decided, for explanations."""

    matches: bool
    operator: str
    key: str
    values: tuple[str, ...]
    request_value: str | list[str] | None
    reason: str


@lru_cache(maxsize=16384)
def compiled_value(base: str, value: str) -> Any:
    """One policy value compiled by its operator's unit (memoised: batches repeat the same values)."""
    return UNITS[base].compile(value)


def compiled_values(base: str, values: tuple[str, ...]) -> tuple[Any, ...]:
    """A condition's policy values compiled by its unit."""
    return tuple([compiled_value(base, v) for v in values])


_NO_GOALS: frozenset[str] = frozenset()


class CompiledCondition:
    """A Condition with its unit and compiled values.

    `decide` is the one place the matching rules live; it returns a constant reason string, so the decision path
    (`matches`) allocates nothing and the explain path (`evaluate`) reports exactly what the decision used.
    """

    __slots__ = ("cond", "unit", "compiled", "key", "is_null", "null_goals", "absent_result")

    def __init__(self, cond: Condition) -> None:
        self.cond = cond
        self.key = cond.key.lower()  # iam/reference_policies_elements_condition: key names are case-insensitive
        self.is_null = cond.base == "Null"
        self.unit = None if self.is_null else UNITS[cond.base]
        self.compiled = () if self.unit is None else compiled_values(cond.base, cond.values)
        # #Conditions_Null: "true" means the key must be absent, "false" that it must be present.
        self.null_goals = frozenset([v.lower() for v in cond.values]) if self.is_null else _NO_GOALS
        # #Conditions_IfExists: a missing key makes ...IfExists true; a negated operator is also true when the
        # key is missing (the value cannot equal the policy value); any other operator is false.
        self.absent_result = (
            (True, "key absent (IfExists or negated operator)")
            if self.unit is not None and (cond.if_exists or self.unit.negative) else (False, "key absent"))

    def _one(self, value: str, ctx: Context) -> bool:
        unit = self.unit
        assert unit is not None
        test = unit.test
        if unit.negative:
            return all(test(c, value, ctx) for c in self.compiled)
        return any(test(c, value, ctx) for c in self.compiled)

    def decide(self, ctx: Context) -> tuple[bool, str]:
        """(matches, reason) for a request context whose keys are lower-cased."""
        value = ctx.get(self.key)
        present = value is not None or self.key in ctx
        if self.is_null:
            return ("false" in self.null_goals, "key present") if present else ("true" in self.null_goals,
                                                                               "key absent")
        set_operator = self.cond.set_operator
        if set_operator is not None:
            # iam/reference_policies_multi-value-conditions#reference_policies_multi-value-conditions-eval:
            # ForAllValues is true when the key is absent or every request value matches (an empty set too);
            # ForAnyValue is false when the key is absent and true when any request value matches.
            if not present:
                return set_operator == "ForAllValues", "key absent"
            values = [value] if isinstance(value, str) else list(value or [])
            if set_operator == "ForAllValues":
                return all(self._one(v, ctx) for v in values), "every request value tested"
            return any(self._one(v, ctx) for v in values), "any request value tested"
        if not present:
            return self.absent_result
        if not isinstance(value, str):
            # iam/reference_policies_multi-value-conditions: a multivalued key needs ForAllValues/ForAnyValue.
            return False, "multivalued key with a single-valued operator"
        return self._one(value, ctx), "value compared"

    def matches(self, ctx: Context) -> bool:
        return self.decide(ctx)[0]

    def evaluate(self, ctx: Context) -> ConditionResult:
        """The decision with what was compared, for explanations."""
        c = self.cond
        matches, reason = self.decide(ctx)
        return ConditionResult(matches, c.operator, c.key, c.values, ctx.get(self.key), reason)


@lru_cache(maxsize=16384)
def compiled_condition(operator: str, key: str, values: tuple[str, ...]) -> CompiledCondition:
    """A compiled condition shared by every statement with the same operator, key and values (memoised: a batch
    repeats them); it carries no place in a policy, which nothing that evaluates or explains it reads."""
    parsed = parse_operator(operator)
    assert parsed is not None, operator  # only validated conditions get here
    set_op, base, if_exists = parsed
    return CompiledCondition(Condition(operator, base, set_op, if_exists, key, values, len(values) != 1, ""))
