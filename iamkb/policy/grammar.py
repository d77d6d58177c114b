"""Policy grammar: JSON text or object -> typed, immutable model, with every error found at once.

Why a separate pass: the evaluator and lint can then trust the model (no type checks while evaluating), and a
user fixing a policy sees all problems with their JSON paths (`Statement[1].Condition.StringEqualz`) in one run.
The element rules come from iam/reference_policies_elements (one page per element, cited below).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

from iamkb.errors import InputError

MAX_TEXT_BYTES = 1_000_000  # far above any AWS policy quota (the largest, a role trust policy, is 4,096 chars)
MAX_DEPTH = 32  # a valid policy nests at most 6 deep (Statement[i].Condition.Op.Key[j])

VERSIONS = ("2012-10-17", "2008-10-17")  # iam/reference_policies_elements_version
TOP_KEYS = ("Version", "Id", "Statement")
STATEMENT_KEYS = ("Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource",
                  "NotResource", "Condition")
PRINCIPAL_KINDS = ("AWS", "Service", "Federated", "CanonicalUser")  # iam/reference_policies_elements_principal

# iam/reference_policies_elements_condition_operators: the base operators, in the page's order.
OPERATORS = (
    "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "StringLike",
    "StringNotLike", "NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals",
    "NumericGreaterThan", "NumericGreaterThanEquals", "DateEquals", "DateNotEquals", "DateLessThan",
    "DateLessThanEquals", "DateGreaterThan", "DateGreaterThanEquals", "Bool", "BinaryEquals", "IpAddress",
    "NotIpAddress", "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike", "Null",
)
_OPERATOR_BY_LOWER = {op.lower(): op for op in OPERATORS}
SET_OPERATORS = ("ForAllValues", "ForAnyValue")  # iam/reference_policies_multi-value-conditions
_ACTION = re.compile(r"^[A-Za-z0-9-]+:\S+$")
SCALARS = (str, bool, int, float)  # the JSON scalars AWS accepts as condition values (a tuple: isinstance is faster)
_CONTAINERS = (dict, list)
_TOP_KEYS = frozenset(TOP_KEYS)
_STATEMENT_KEYS = frozenset(STATEMENT_KEYS)
_EXCLUSIVE = (("Action", "NotAction"), ("Resource", "NotResource"), ("Principal", "NotPrincipal"))


@dataclass(frozen=True)
class PolicyError:
    """One grammar problem: where (JSON path), what, and the `iamkb check` code it is reported under (the lint
    catalog, iamkb/policy/lint/catalog.py, joins each code to the IAM Access Analyzer check it matches)."""

    path: str
    message: str
    code: str = "MALFORMED"

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


# The model's records are NamedTuples: immutable like frozen dataclasses, and about four times cheaper to make,
# which matters when a batch validates thousands of policies.
class Principal(NamedTuple):
    """One principal value: kind is "*" (anyone), or one of PRINCIPAL_KINDS."""

    kind: str
    value: str


class Condition(NamedTuple):
    """One (operator, key) pair of a Condition block with its values as strings (AWS compares strings)."""

    operator: str  # as written, e.g. "ForAnyValue:StringLikeIfExists"
    base: str  # canonical base operator, e.g. "StringLike"
    set_operator: str | None  # "ForAllValues" | "ForAnyValue" | None
    if_exists: bool
    key: str
    values: tuple[str, ...]
    values_is_list: bool
    path: str


class Statement(NamedTuple):
    index: int
    path: str
    sid: str | None
    effect: str
    actions: tuple[str, ...] | None
    not_actions: tuple[str, ...] | None
    resources: tuple[str, ...] | None
    not_resources: tuple[str, ...] | None
    principals: tuple[Principal, ...] | None
    not_principals: tuple[Principal, ...] | None
    conditions: tuple[Condition, ...]

    @property
    def label(self) -> str:
        """How explanations name the statement: its Sid, else its position."""
        return self.sid if self.sid else f"Statement[{self.index}]"


class Policy(NamedTuple):
    version: str | None
    id: str | None
    statements: tuple[Statement, ...]
    raw: Any = None  # the document it was read from


@lru_cache(maxsize=1024)
def parse_operator(name: str) -> tuple[str | None, str, bool] | None:
    """Split `ForAnyValue:StringLikeIfExists` into (set operator, base, if_exists); None when unknown.

    iam/reference_policies_elements_condition_operators#Conditions_IfExists: any operator but Null takes the
    IfExists suffix; iam/reference_policies_multi-value-conditions: ForAllValues:/ForAnyValue: prefixes.
    """
    set_op = None
    rest = name
    if ":" in name:
        prefix, rest = name.split(":", 1)
        matches = [s for s in SET_OPERATORS if s.lower() == prefix.lower()]
        if not matches:
            return None
        set_op = matches[0]
    if_exists = False
    base = _OPERATOR_BY_LOWER.get(rest.lower())
    if base is None and rest.lower().endswith("ifexists"):
        base = _OPERATOR_BY_LOWER.get(rest[: -len("IfExists")].lower())
        if_exists = True
        if base == "Null":
            return None
    if base is None:
        return None
    return set_op, base, if_exists


def scalar_text(value: Any) -> str:
    """A condition value as the string AWS compares: JSON true -> "true", 10 -> "10", 1.5 -> "1.5"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class _Collector:
    """Accumulates errors while walking a document, so all are reported at once."""

    def __init__(self) -> None:
        self.errors: list[PolicyError] = []

    def add(self, path: str, message: str, code: str = "MALFORMED") -> None:
        self.errors.append(PolicyError(path, message, code))


def _string_list(value: Any, path: str, what: str, out: _Collector,
                 empty: str = "MALFORMED") -> tuple[str, ...] | None:
    """A string or a non-empty list of strings (iam/reference_policies_elements_action et al.); `empty` is the
    code of an empty list (Access Analyzer's "Empty array ..." suggestions: such an element grants nothing)."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        if not value:
            out.add(path, f"{what} must not be an empty list", empty)
            return None
        good = True
        for i, item in enumerate(value):
            if not isinstance(item, str):
                out.add(f"{path}[{i}]", f"{what} entries must be strings, got {type_name(item)}", "DATA_TYPE_MISMATCH")
                good = False
        return tuple(value) if good else None
    out.add(path, f"{what} must be a string or a list of strings, got {type_name(value)}", "DATA_TYPE_MISMATCH")
    return None


def type_name(value: Any) -> str:
    return {dict: "object", list: "list", str: "string", bool: "boolean", type(None): "null",
            int: "number", float: "number"}.get(type(value), type(value).__name__)


def _actions(value: Any, path: str, out: _Collector, empty: str = "MALFORMED") -> tuple[str, ...] | None:
    """iam/reference_policies_elements_action: "*" or `service:action` with `*`/`?` wildcards."""
    items = _string_list(value, path, "action", out, empty)
    if items is None:
        return None
    ok = True
    for i, item in enumerate(items):
        if item != "*" and not _ACTION.match(item):
            where = path if isinstance(value, str) else f"{path}[{i}]"
            out.add(where, f"'{item}' is not an action (expected service:Action or *)")
            ok = False
    return items if ok else None


def _resources(value: Any, path: str, out: _Collector, empty: str = "MALFORMED") -> tuple[str, ...] | None:
    """iam/reference_policies_elements_resource: "*" or an ARN (`arn:partition:service:...`)."""
    items = _string_list(value, path, "resource", out, empty)
    if items is None:
        return None
    ok = True
    for i, item in enumerate(items):
        if item != "*" and not item.startswith("arn:"):
            where = path if isinstance(value, str) else f"{path}[{i}]"
            out.add(where, f"'{item}' is not a resource (expected an ARN starting with arn: or *)", "INVALID_ARN_PREFIX")
            ok = False
    return items if ok else None


def _principals(value: Any, path: str, out: _Collector, empty: bool = True) -> tuple[Principal, ...] | None:
    """iam/reference_policies_elements_principal#Principal_specifying: "*" or {"AWS"|"Service"|...: str|list}.
    `empty`: an empty Principal is Access Analyzer's "Empty ... principal" (a NotPrincipal's is malformed)."""
    if value == "*":
        return (Principal("*", "*"),)
    if not isinstance(value, dict):
        out.add(path, f"principal must be \"*\" or an object, got {type_name(value)}", "INVALID_PRINCIPAL_FORMAT")
        return None
    if not value:
        out.add(path, "principal object must not be empty", "EMPTY_OBJECT_PRINCIPAL" if empty else "MALFORMED")
        return None
    result: list[Principal] = []
    for kind, entries in value.items():
        if kind not in PRINCIPAL_KINDS:
            out.add(f"{path}.{kind}", f"unknown principal type '{kind}' (expected {', '.join(PRINCIPAL_KINDS)})",
                    "INVALID_PRINCIPAL_KEY")
            continue
        items = _string_list(entries, f"{path}.{kind}", "principal", out,
                             "EMPTY_ARRAY_PRINCIPAL" if empty else "MALFORMED")
        for item in items or ():
            # iam/reference_policies_elements_principal#principal-anonymous: {"AWS": "*"} is the same as "*".
            result.append(Principal("*" if (kind == "AWS" and item == "*") else kind, item))
    return tuple(result)


def _conditions(value: Any, path: str, out: _Collector) -> tuple[Condition, ...]:
    """iam/reference_policies_elements_condition#AccessPolicyLanguage_ConditionBlock: {op: {key: value(s)}}."""
    if not isinstance(value, dict):
        out.add(path, f"Condition must be an object, got {type_name(value)}", "DATA_TYPE_MISMATCH")
        return ()
    result: list[Condition] = []
    for op_name, block in value.items():
        op_path = f"{path}.{op_name}"
        parsed = parse_operator(op_name)
        if parsed is None:
            null_if_exists = op_name.rpartition(":")[2].lower() == "nullifexists"
            out.add(op_path, f"unknown condition operator '{op_name}'"
                    + (" (Null takes no IfExists suffix)" if null_if_exists else ""),
                    "NULL_WITH_IF_EXISTS" if null_if_exists else "INVALID_CONDITION_OPERATOR")
            continue
        set_op, base, if_exists = parsed
        if not isinstance(block, dict) or not block:
            out.add(op_path, f"operator block must be a non-empty object of condition keys, got {type_name(block)}",
                    "EMPTY_OBJECT_CONDITION" if block == {} else "DATA_TYPE_MISMATCH")
            continue
        # Access Analyzer's "Empty array condition ..." suggestions differ by what the operator does with no values.
        empty = ("EMPTY_ARRAY_CONDITION_FORALLVALUES" if set_op == "ForAllValues" else
                 "EMPTY_ARRAY_CONDITION_FORANYVALUE" if set_op == "ForAnyValue" else
                 "EMPTY_ARRAY_CONDITION_IFEXISTS" if if_exists else "EMPTY_ARRAY_CONDITION")
        for key, raw in block.items():
            key_path = f"{op_path}.{key}"
            values = _condition_values(raw, key_path, out, empty)
            if values is not None:
                result.append(Condition(op_name, base, set_op, if_exists, key, values, isinstance(raw, list),
                                        key_path))
    return tuple(result)


def _condition_values(raw: Any, path: str, out: _Collector, empty: str = "MALFORMED") -> tuple[str, ...] | None:
    """A value or list of values; strings, numbers and booleans are accepted as AWS accepts them."""
    if type(raw) is str:  # the common case: one string value, already what AWS compares
        return (raw,)
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        out.add(path, "condition values must not be an empty list", empty)
        return None
    good: list[str] = []
    for i, item in enumerate(items):
        if isinstance(item, SCALARS):
            good.append(scalar_text(item))
        else:
            where = f"{path}[{i}]" if isinstance(raw, list) else path
            out.add(where, f"condition value must be a string, number or boolean, got {type_name(item)}",
                    "DATA_TYPE_MISMATCH")
            return None
    return tuple(good)


_ABSENT = object()


def _quick_strings(value: Any, action: bool) -> tuple[str, ...] | None:
    """An Action/Resource value that is plainly well-formed (exact strings, each `*`, `service:action` or an ARN),
    else None."""
    items = (value,) if type(value) is str else value if type(value) is list and value else None
    if items is None:
        return None
    for item in items:
        if type(item) is not str or not (item == "*" or (_ACTION.match(item) if action else item.startswith("arn:"))):
            return None
    return tuple(items)


def _quick_statement(raw: Any, index: int, path: str) -> Statement | None:
    """The statement when it is plainly well-formed (the common case), else None, and `_statement` then checks
    everything and reports each error. It takes only what `_statement` accepts and builds the same Statement
    (tests/test_policy_fast_paths.py compares the two); it exists because a batch validates thousands of
    statements and the full check's per-element bookkeeping costs about twice as much."""
    if type(raw) is not dict or not _STATEMENT_KEYS.issuperset(raw):
        return None
    effect = raw.get("Effect")
    sid = raw.get("Sid")
    if (effect != "Allow" and effect != "Deny") or (sid is not None and type(sid) is not str):
        return None
    action, not_action = raw.get("Action", _ABSENT), raw.get("NotAction", _ABSENT)
    if (action is _ABSENT) == (not_action is _ABSENT):
        return None
    if type(action) is str and (action == "*" or _ACTION.match(action)):
        actions: tuple[str, ...] | None = (action,)
    else:
        actions = _quick_strings(action, True) if action is not _ABSENT else None
    not_actions = _quick_strings(not_action, True) if not_action is not _ABSENT else None
    if actions is None and not_actions is None:
        return None
    resource, not_resource = raw.get("Resource", _ABSENT), raw.get("NotResource", _ABSENT)
    resources = not_resources = None
    if type(resource) is str and (resource == "*" or resource.startswith("arn:")) and not_resource is _ABSENT:
        resources = (resource,)
    elif resource is not _ABSENT:
        if not_resource is not _ABSENT or (resources := _quick_strings(resource, False)) is None:
            return None
    elif not_resource is not _ABSENT and (not_resources := _quick_strings(not_resource, False)) is None:
        return None
    principals = not_principals = None
    if "Principal" in raw or "NotPrincipal" in raw:
        if "Principal" in raw and "NotPrincipal" in raw:
            return None
        out = _Collector()
        if "Principal" in raw:
            principals = _principals(raw["Principal"], path, out)
        else:
            not_principals = _principals(raw["NotPrincipal"], path, out)
        if out.errors:
            return None
    conditions: tuple[Condition, ...] = ()
    if "Condition" in raw:
        block = raw["Condition"]
        if type(block) is not dict:
            return None
        found = []
        for op_name, keys in block.items():
            parsed = parse_operator(op_name)
            if parsed is None or type(keys) is not dict or not keys:
                return None
            set_op, base, if_exists = parsed
            for key, value in keys.items():
                if type(value) is str:
                    values: tuple[str, ...] = (value,)
                elif type(value) is list and value and all(type(v) is str for v in value):
                    values = tuple(value)
                else:
                    return None
                found.append(Condition(op_name, base, set_op, if_exists, key, values, type(value) is list,
                                       f"{path}.Condition.{op_name}.{key}"))
        conditions = tuple(found)
    return Statement(index, path, sid, effect, actions, not_actions, resources, not_resources, principals,
                     not_principals, conditions)


def _statement(raw: Any, index: int, path: str, out: _Collector) -> Statement | None:
    """The full check of one statement: the Statement, or None with every error added to `out`."""
    if not isinstance(raw, dict):
        out.add(path, f"statement must be an object, got {type_name(raw)}", "DATA_TYPE_MISMATCH")
        return None
    start = len(out.errors)
    if not _STATEMENT_KEYS.issuperset(raw):
        for key in raw:
            if key not in _STATEMENT_KEYS:
                out.add(f"{path}.{key}", f"unknown statement element '{key}'", "INVALID_POLICY_ELEMENT")
    sid = raw.get("Sid")
    if sid is not None and not isinstance(sid, str):  # iam/reference_policies_elements_sid
        out.add(f"{path}.Sid", f"Sid must be a string, got {type_name(sid)}", "DATA_TYPE_MISMATCH")
    effect = raw.get("Effect")  # iam/reference_policies_elements_effect: exactly Allow or Deny
    if effect not in ("Allow", "Deny"):
        if effect is None:
            out.add(f"{path}.Effect", "Effect is required and must be \"Allow\" or \"Deny\"", "MISSING_EFFECT")
        else:
            out.add(f"{path}.Effect", f"Effect must be \"Allow\" or \"Deny\", got {json.dumps(effect)}",
                    "INVALID_EFFECT" if isinstance(effect, str) else "DATA_TYPE_MISMATCH")
    for a, b in _EXCLUSIVE:
        if b in raw and a in raw:
            out.add(f"{path}.{b}", f"a statement has {a} or {b}, not both", "UNSUPPORTED_ELEMENT_COMBINATION")
    if "Action" not in raw and "NotAction" not in raw:
        out.add(path, "statement needs Action or NotAction", "MISSING_ACTION")
    # A single well-formed string, the common case, is taken as is; anything else gets the full check.
    value = raw.get("Action")
    if type(value) is str and (value == "*" or _ACTION.match(value)):
        actions: tuple[str, ...] | None = (value,)
    else:
        actions = _actions(value, f"{path}.Action", out, "EMPTY_ARRAY_ACTION") if "Action" in raw else None
    not_actions = _actions(raw["NotAction"], f"{path}.NotAction", out) if "NotAction" in raw else None
    value = raw.get("Resource")
    if type(value) is str and (value == "*" or value.startswith("arn:")):
        resources: tuple[str, ...] | None = (value,)
    else:
        resources = _resources(value, f"{path}.Resource", out, "EMPTY_ARRAY_RESOURCE") if "Resource" in raw else None
    not_resources = _resources(raw["NotResource"], f"{path}.NotResource", out) if "NotResource" in raw else None
    principals = _principals(raw["Principal"], f"{path}.Principal", out) if "Principal" in raw else None
    not_principals = (_principals(raw["NotPrincipal"], f"{path}.NotPrincipal", out, empty=False)
                      if "NotPrincipal" in raw else None)
    conditions = _conditions(raw["Condition"], f"{path}.Condition", out) if "Condition" in raw else ()
    if len(out.errors) > start:
        return None
    return Statement(index, path, sid, effect, actions, not_actions, resources, not_resources, principals,
                     not_principals, conditions)


def _too_deep(value: Any, budget: int) -> bool:
    """Whether containers nest more than `budget` levels below `value` (recursion bounded by the budget)."""
    if budget < 0:
        return True
    if isinstance(value, dict):
        return any(_too_deep(v, budget - 1) for v in value.values() if isinstance(v, _CONTAINERS))
    if isinstance(value, list):
        return any(_too_deep(v, budget - 1) for v in value if isinstance(v, _CONTAINERS))
    return False


def check_depth(value: Any, path: str = "", limit: int = MAX_DEPTH) -> str | None:
    """The path where `value` nests deeper than `limit`, or None; the fast check runs first, the path is only
    searched for when it fails, and neither can overflow the stack."""
    if not _too_deep(value, limit):
        return None
    stack: list[tuple[Any, str, int]] = [(value, path, 0)]
    while stack:
        item, where, depth = stack.pop()
        if depth > limit:
            return where or "(top)"
        if isinstance(item, dict):
            stack.extend((v, f"{where}.{k}" if where else str(k), depth + 1) for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((v, f"{where}[{i}]", depth + 1) for i, v in enumerate(item))
    return None


def validate(doc: Any, prefix: str = "") -> tuple[Policy | None, list[PolicyError]]:
    """Parse a decoded policy document; returns (policy, []) or (None, every error with its path).

    iam/reference_policies_elements_statement: Statement is one object or a list of them.
    """
    out = _Collector()
    dot = f"{prefix}." if prefix else ""
    # Every element below is checked at its own fixed depth, so arbitrarily deep input cannot recurse: a value
    # nested where a string belongs is reported at its path. (Text input is depth-checked in load_json_text.)
    if not isinstance(doc, dict):
        return None, [PolicyError(prefix or "(top)", f"a policy must be a JSON object, got {type_name(doc)}")]
    for key in doc if not _TOP_KEYS.issuperset(doc) else ():
        if key not in _TOP_KEYS:
            out.add(f"{dot}{key}", f"unknown policy element '{key}' (expected {', '.join(TOP_KEYS)})",
                    "INVALID_POLICY_ELEMENT")
    version = doc.get("Version")
    if version is not None and version not in VERSIONS:
        out.add(f"{dot}Version", f"Version must be one of {', '.join(VERSIONS)}, got {json.dumps(version)}",
                "INVALID_VERSION" if isinstance(version, str) else "DATA_TYPE_MISMATCH")
    pid = doc.get("Id")
    if pid is not None and not isinstance(pid, str):  # iam/reference_policies_elements_id
        out.add(f"{dot}Id", f"Id must be a string, got {type_name(pid)}", "DATA_TYPE_MISMATCH")
    raw_statements = doc.get("Statement")
    statements: list[Statement] = []
    if raw_statements is None:
        out.add(f"{dot}Statement", "Statement is required", "MISSING_STATEMENT")
    elif isinstance(raw_statements, dict):
        where = f"{dot}Statement"
        st = _quick_statement(raw_statements, 0, where) or _statement(raw_statements, 0, where, out)
        statements = [st] if st else []
    elif isinstance(raw_statements, list):
        if not raw_statements:
            out.add(f"{dot}Statement", "Statement must not be an empty list", "MISSING_STATEMENT")
        for i, raw in enumerate(raw_statements):
            where = f"{dot}Statement[{i}]"
            st = _quick_statement(raw, i, where) or _statement(raw, i, where, out)
            if st:
                statements.append(st)
    else:
        out.add(f"{dot}Statement", f"Statement must be an object or a list, got {type_name(raw_statements)}",
                "DATA_TYPE_MISMATCH")
    if out.errors:
        return None, out.errors
    return Policy(version, pid, tuple(statements), raw=doc), []


def parse_policy(doc: Any, where: str = "policy") -> Policy:
    """Parse a decoded document or raise InputError naming the first error's path (and how many more)."""
    policy, errors = validate(doc)
    if errors:
        raise InputError(_summary(errors), where=where)
    assert policy is not None
    return policy


def _summary(errors: list[PolicyError]) -> str:
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{errors[0]}{more}"


def load_json_text(text: str, where: str) -> Any:
    """Decode JSON text; malformed, huge or too deep input becomes one InputError with line and column."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_TEXT_BYTES:
        raise InputError(f"document is larger than {MAX_TEXT_BYTES} bytes", where=where)
    depth_at = text_depth_exceeded(text, MAX_DEPTH * 2)
    if depth_at is not None:
        line, col = depth_at
        raise InputError(f"JSON nested deeper than {MAX_DEPTH * 2} levels at line {line}, column {col}",
                         where=where)
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"malformed JSON at line {err.lineno}, column {err.colno}: {err.msg}",
                         where=where) from None


_STRUCT = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def text_depth_exceeded(text: str, limit: int) -> tuple[int, int] | None:
    """Line/column where brackets (outside strings) nest deeper than `limit`; guards json's recursion."""
    depth = 0
    for m in _STRUCT.finditer(text):
        ch = m.group()
        if ch in "[{":
            depth += 1
            if depth > limit:
                pos = m.start()
                line = text.count("\n", 0, pos) + 1
                return line, pos - (text.rfind("\n", 0, pos) + 1) + 1
        elif ch in "]}":
            depth -= 1
    return None


def load_policy_text(text: str, where: str) -> Policy:
    """JSON text -> Policy, or InputError (syntax errors with line/column, grammar errors with JSON path)."""
    return parse_policy(load_json_text(text, where), where)
