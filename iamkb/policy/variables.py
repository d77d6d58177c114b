"""Policy variables: `${aws:username}`, `${aws:PrincipalTag/team, 'default'}`, and the `${*}` `${?}` `${$}` escapes.

A string from a policy is tokenised once (compile time); each request then resolves the variable tokens against
its context. Rules from iam/reference_policies_variables:
- #policy-vars-resourceelement, #policy-vars-conditionelement: variables work in Resource and in string/ARN/Bool
  condition values;
- #policy-vars-no-value: a variable with no value in the request context (and no default) makes that value fail
  to match;
- #policy-vars-specialchars: `${*}`, `${?}`, `${$}` stand for the literal characters;
- #policy-vars-default-values: `${key, 'default'}` uses the default when the key is absent.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from iamkb.policy.wildcards import Glob, build

# Token kinds: a literal run, the `*` and `?` wildcards, a variable.
LIT, STAR, QMARK, VAR = "lit", "*", "?", "var"
_ESCAPES = {"${*}": "*", "${?}": "?", "${$}": "$"}


@dataclass(frozen=True)
class Token:
    kind: str
    text: str = ""  # literal text, or the variable's key
    default: str | None = None


def tokenize(value: str) -> tuple[Token, ...]:
    """Split a policy string into literal runs, wildcards and variables (escapes become literals)."""
    tokens: list[Token] = []
    lit: list[str] = []
    i = 0

    def flush() -> None:
        if lit:
            tokens.append(Token(LIT, "".join(lit)))
            lit.clear()

    while i < len(value):
        ch = value[i]
        if ch in "*?":
            flush()
            tokens.append(Token(STAR if ch == "*" else QMARK))
            i += 1
        elif ch == "$" and value.startswith("${", i) and value.find("}", i + 2) != -1:
            end = value.find("}", i + 2)
            whole = value[i:end + 1]
            if whole in _ESCAPES:
                lit.append(_ESCAPES[whole])
            else:
                flush()
                tokens.append(_variable(whole[2:-1]))
            i = end + 1
        else:
            lit.append(ch)
            i += 1
    flush()
    return tuple(tokens)


def _variable(inner: str) -> Token:
    """`aws:PrincipalTag/team, 'company-wide'` -> Token(VAR, key, default) (#policy-vars-default-values)."""
    default = None
    parts = inner.split(", ")
    if len(parts) == 2 and len(parts[1]) >= 2 and parts[1].startswith("'") and parts[1].endswith("'"):
        default = parts[1][1:-1]
    return Token(VAR, parts[0].strip(), default)


def has_variables(tokens: tuple[Token, ...]) -> bool:
    return any(t.kind == VAR for t in tokens)


def variable_value(token: Token, context: dict[str, str | list[str]]) -> str | None:
    """The value a variable stands for, or None when it cannot be resolved (#policy-vars-no-value).

    A multivalued key cannot be substituted into a string; an empty value counts as absent.
    """
    value = context.get(token.text.lower())
    if isinstance(value, str) and value:
        return value
    if token.default:
        return token.default
    return None


def resolve_literal(tokens: tuple[Token, ...], context: dict[str, str | list[str]]) -> str | None:
    """The string with variables substituted and wildcards kept as characters; None if a variable is unresolved."""
    out: list[str] = []
    for t in tokens:
        if t.kind == LIT:
            out.append(t.text)
        elif t.kind == VAR:
            value = variable_value(t, context)
            if value is None:
                return None
            out.append(value)
        else:
            out.append(t.kind)
    return "".join(out)


def to_glob(tokens: tuple[Token, ...], context: dict[str, str | list[str]] | None, wildcards: bool = True,
            fold: bool = False) -> Glob | None:
    """The tokens as a wildcard pattern (`*`/`?` wildcards only when `wildcards`); None if a variable is
    unresolved. A substituted value is literal text, so a `*` inside a tag value never acts as a wildcard."""
    pieces: list[tuple[str, str]] = []
    for t in tokens:
        if t.kind == LIT:
            pieces.append((LIT, t.text))
        elif t.kind == VAR:
            value = variable_value(t, context or {})
            if value is None:
                return None
            pieces.append((LIT, value))
        else:
            pieces.append((t.kind, "") if wildcards else (LIT, t.kind))
    return build(pieces, fold)


class Template:
    """A policy string compiled once: a fixed pattern when it has no variables, else resolved per request."""

    __slots__ = ("text", "tokens", "variables", "fold", "wildcards", "_fixed", "_literal")

    def __init__(self, text: str, *, wildcards: bool = True, ignore_case: bool = False) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.variables = has_variables(self.tokens)
        self.fold = ignore_case
        self.wildcards = wildcards
        self._fixed = None if self.variables else to_glob(self.tokens, None, wildcards, ignore_case)
        self._literal = None if self.variables else resolve_literal(self.tokens, {})

    def pattern(self, context: dict[str, str | list[str]]) -> Glob | None:
        """The pattern for this request; None when a variable has no value (the value then never matches)."""
        if self._fixed is not None:
            return self._fixed
        return to_glob(self.tokens, context, self.wildcards, self.fold)

    def resolved(self, context: dict[str, str | list[str]]) -> str | None:
        """The string with variables substituted (wildcards kept as characters); None when unresolved."""
        return resolve_literal(self.tokens, context) if self.variables else self._literal


@lru_cache(maxsize=16384)
def template(text: str, *, wildcards: bool = True, ignore_case: bool = False) -> Template:
    """Memoised Template constructor (templates are immutable, so equal strings share one)."""
    return Template(text, wildcards=wildcards, ignore_case=ignore_case)
