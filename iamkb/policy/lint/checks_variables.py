"""Checks of policy variables (iam/reference_policies_variables): where they may stand (#policy-vars-wheretouse:
Resource and the values of String and ARN conditions), how they are written (`${name}`, `${name, 'default'}`,
#policy-vars-default-values) and the Version they need (#policy-vars-intro: 2012-10-17).

The escapes ${*}, ${?} and ${$} (#policy-vars-specialchars) are literal characters, not variables.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from iamkb.policy.grammar import Statement
from iamkb.policy.lint.core import (
    Context,
    Finding,
    actions_and_paths,
    emits,
    principal_entries,
    resources_and_paths,
)

_ESCAPES = ("${*}", "${?}", "${$}")
_OPEN = re.compile(r"\$\{")


def variables(text: str) -> Iterator[str | None]:
    """The inside of every `${...}` of a string (escapes left out); None for a `${` that is never closed."""
    for m in _OPEN.finditer(text):
        end = text.find("}", m.end())
        if end == -1:
            yield None
            continue
        if text[m.start():end + 1] not in _ESCAPES:
            yield text[m.end():end]


def _problem(inside: str | None) -> tuple[str, str] | None:
    """(code, message) for a malformed variable, None when it is well formed."""
    if inside is None:
        return "MISSING_BRACE_IN_VARIABLE", "'${' without its closing '}'"
    name, comma, default = inside.partition(",")
    if not name.strip():
        return "EMPTY_VARIABLE", "'${}' names no value"
    if re.search(r"\s", name):
        return "UNSUPPORTED_SPACE_IN_VARIABLE", f"'${{{inside}}}': no spaces in a variable's name"
    value = default.strip()
    if comma and not (len(value) >= 2 and value[0] == value[-1] == "'"):
        return "MISSING_QUOTE_IN_VARIABLE", f"'${{{inside}}}': write the default in single quotes"
    return None


def _allowed_places(ctx: Context, st: Statement) -> Iterator[tuple[str, str, str]]:
    """(text, path, operator or "") of the strings where variables are allowed: ARNs and condition values."""
    for _, arn, where in resources_and_paths(st):
        yield arn, where, ""
    for cond in st.conditions:
        for value in cond.values:
            yield value, cond.path, cond.base


@emits("MISSING_BRACE_IN_VARIABLE", "EMPTY_VARIABLE", "UNSUPPORTED_SPACE_IN_VARIABLE", "MISSING_QUOTE_IN_VARIABLE",
       "INVALID_VARIABLE_FOR_OPERATOR", "VARIABLE_UNSUPPORTED_IN_VERSION")
def check_variables(ctx: Context) -> Iterator[Finding]:
    used = None
    for st in ctx.policy.statements:
        for text, where, operator in _allowed_places(ctx, st):
            for inside in variables(text):
                problem = _problem(inside)
                if problem:
                    yield Finding(problem[0], problem[1], where)
                    continue
                used = used or f"${{{inside}}}"
                if operator and not operator.startswith(("String", "Arn")):
                    yield Finding("INVALID_VARIABLE_FOR_OPERATOR",
                                  f"'${{{inside}}}' with {operator}: variables work with String and ARN operators",
                                  where)
    if used and ctx.policy.version != "2012-10-17":
        yield Finding("VARIABLE_UNSUPPORTED_IN_VERSION", "policy variables need \"Version\": \"2012-10-17\"; "
                      f"without it '{used}' is read literally", "Version" if ctx.policy.version else "(top)")


@emits("VARIABLE_UNSUPPORTED_IN_ELEMENT")
def check_variable_places(ctx: Context) -> Iterator[Finding]:
    for st in ctx.policy.statements:
        places = [(action, where) for _, action, where in actions_and_paths(st)]
        places += [(value, where) for _, _, value, where in principal_entries(ctx, st)]
        for text, where in places:
            found = [v for v in variables(text) if v is not None]
            if found:
                yield Finding("VARIABLE_UNSUPPORTED_IN_ELEMENT", f"'${{{found[0]}}}' is read literally here: variables "
                              "work in Resource and in condition values", where)


CHECKS = (check_variables, check_variable_places)
