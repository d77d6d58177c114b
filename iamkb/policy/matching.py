"""Action and resource matching, compiled once per statement.

- Actions (iam/reference_policies_elements_action): `service:Action` with `*`/`?` wildcards in the action name,
  matched case-insensitively; the service prefix is compared as written (no wildcards there).
- Resources (iam/reference_policies_elements_resource#reference_policies_elements_resource_wildcards): ARN
  segments are matched one by one, so a wildcard never spans a `:` between partition, service, region and
  account; the resource part is case-sensitive and may hold policy variables
  (#reference_policies_elements_resource_policy-variables).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from iamkb.policy.variables import Template, template
from iamkb.policy.wildcards import Glob, glob

# Matchers are shared (memoised constructors) and remember up to MEMO_LIMIT answers for the request texts they
# have seen: a batch asks about the same few actions and resources again and again, and the answer depends only
# on that text (the context-dependent part of a resource pattern is never remembered).
MEMO_LIMIT = 256
_UNSEEN = object()
_DEPENDS_ON_CONTEXT = object()


@lru_cache(maxsize=8192)
def glob_ignoring_case(pattern: str) -> Glob:
    """A case-insensitive wildcard pattern (memoised: policies in a batch repeat the same patterns)."""
    return glob(pattern, fold=True)


@lru_cache(maxsize=8192)
def action_glob(pattern: str) -> Glob:
    """One Action/NotAction pattern over the whole `service:action` name, ignoring case; the service prefix is
    literal (a `*` there is not a wildcard)."""
    service, name = pattern.split(":", 1)
    return glob(name, fold=True, prefix=service + ":")


@lru_cache(maxsize=16384)
def action_glob_matches(pattern: str, action: str) -> bool:
    """Whether one Action pattern covers `action` (memoised: statements share patterns, batches share actions)."""
    return action_glob(pattern).matches(action)


class ActionMatcher:
    """A statement's Action (or NotAction) patterns."""

    __slots__ = ("patterns", "any", "_memo")

    def __init__(self, patterns: tuple[str, ...]) -> None:
        self.patterns = patterns
        self.any = "*" in patterns
        self._memo: dict[str, bool] = {}

    def matches(self, action: str) -> bool:
        """`action` as sent ("autoscaling:DeletePolicy"); the service prefix compares case-insensitively."""
        known = self._memo.get(action)
        if known is None:
            if self.any:
                return True
            known = any(action_glob_matches(p, action) for p in self.patterns)
            if len(self._memo) < MEMO_LIMIT:
                self._memo[action] = known
        return known

    def matching_patterns(self, action: str) -> list[str]:
        """Which patterns match (for explanations)."""
        return [p for p in self.patterns if ActionMatcher((p,)).matches(action)]


class RequestResource(NamedTuple):
    """The request's resource, split once: "*" or the six ARN fields (resource part keeps its colons)."""

    text: str
    is_all: bool
    partition: str = ""
    service: str = ""
    region: str = ""
    account: str = ""
    resource: str = ""

    @staticmethod
    def parse(text: str) -> RequestResource:
        if text == "*":
            return RequestResource(text, True)
        parts = text.split(":")
        while len(parts) < 6:
            parts.append("")
        return RequestResource(text, False, parts[1], parts[2], parts[3], parts[4], ":".join(parts[5:]))


# Short ARNs (fewer than six fields) are padded with `*` in identity-side policies; a resource policy only
# expands them when they hold a wildcard; an SCP only when the last field ends with one.
_SHORT_ARN = {
    "identity": "expand", "session": "expand", "boundary": "expand",
    "resource": "expand-if-wildcard", "scp": "expand-if-trailing-wildcard",
}


_VARIABLE = re.compile(r"\$\{[^}]*\}")


def _outside_variables(text: str, chars: str) -> list[int]:
    """Positions of `chars` in text that are not inside a policy variable: the colon of `${aws:username}` does
    not separate ARN segments, since variables are replaced before matching (iam/reference_policies_variables#
    policy-vars-resourceelement)."""
    masked = _VARIABLE.sub(lambda m: "x" * len(m.group(0)), text) if "${" in text else text
    return [i for i, c in enumerate(masked) if c in chars]


def split_arn(text: str) -> list[str]:
    """Split an ARN pattern at its colons, keeping colons inside policy variables."""
    if "${" not in text:
        return text.split(":")
    parts, start = [], 0
    for i in _outside_variables(text, ":"):
        parts.append(text[start:i])
        start = i + 1
    parts.append(text[start:])
    return parts


def _product_split(service: str, region: str, account: str, resource: str) -> tuple[str, str]:
    """Split an ARN's resource part into its resource-type prefix (kept literal) and the id (may hold wildcards).

    Wildcards are not honoured in the resource-type prefix (`autoScalingGroup:`, `role/`); S3 bucket and object
    ARNs have no prefix.
    """
    if service == "s3" and account == "" and region == "":
        return "", resource
    if "${" not in resource:
        slash, colon = resource.find("/"), resource.find(":")
    else:
        slashes, colons = _outside_variables(resource, "/"), _outside_variables(resource, ":")
        slash, colon = (slashes[0] if slashes else -1), (colons[0] if colons else -1)
    if slash != -1 and colon != -1:
        cut = min(slash, colon) + 1
    elif colon == -1:
        cut = slash + 1
    else:
        cut = colon + 1
    return resource[:cut], resource[cut:]


class ResourcePattern:
    """One Resource/NotResource entry, compiled: "*", an ARN pattern, or a pattern that never matches."""

    __slots__ = ("text", "kind", "_segments", "_product", "_id", "_expanded", "_memo")

    def __init__(self, text: str, policy_type: str = "identity") -> None:
        self.text = text
        self._memo: dict[str, object] = {}  # request ARN -> `_static` answer (patterns are shared and reused)
        self._expanded = False
        self._segments: tuple[Glob, ...] = ()
        self._product = ""
        self._id: Template | None = None
        if text == "*":
            self.kind = "all"
            return
        parts = split_arn(text)
        if len(parts) < 6:
            rule = _SHORT_ARN.get(policy_type, "expand")
            wildcard = parts[-1].endswith("*") if rule == "expand-if-trailing-wildcard" else "*" in text
            if rule != "expand" and not wildcard:
                self.kind = "never"
                return
            parts = parts + ["*"] * (6 - len(parts))
            self._expanded = True
        self.kind = "arn"
        self._segments = tuple(glob_ignoring_case(seg) for seg in parts[1:5])
        resource = ":".join(parts[5:])
        self._product, ident = _product_split(parts[2], parts[3], parts[4], resource)
        self._id = template(ident, wildcards=True)

    @property
    def variables(self) -> bool:
        """Whether the answer can depend on the request context (a policy variable in the id part)."""
        return self._id is not None and self._id.variables

    def match(self, request: RequestResource, context: dict[str, str | list[str]]) -> bool | None:
        """True/False, or None when the answer is unknown (an unresolved variable, an expanded short ARN that
        missed): NotResource never treats an unknown as "outside the set"."""
        if self.kind == "all":
            return True
        if self.kind == "never":
            return False
        known = self._memo.get(request.text, _UNSEEN)
        if known is _UNSEEN:
            known = self._static(request)
            if len(self._memo) < MEMO_LIMIT:
                self._memo[request.text] = known
        if known is not _DEPENDS_ON_CONTEXT:
            return known  # type: ignore[return-value]
        assert self._id is not None
        pattern = self._id.pattern(context)
        if pattern is None:
            return None
        if not pattern.matches(request.resource[len(self._product):]):
            return None if self._expanded else False
        return True

    def _static(self, request: RequestResource) -> object:
        """The answer as far as it does not depend on the request context: a miss, a match, or
        _DEPENDS_ON_CONTEXT when only the id part (which holds policy variables) is left to check."""
        miss = None if self._expanded else False
        if request.is_all:
            return miss
        seg = self._segments
        if not (seg[0].matches(request.partition) and seg[1].matches(request.service)
                and seg[2].matches(request.region) and seg[3].matches(request.account)):
            return miss
        if not request.resource.startswith(self._product):
            return miss
        assert self._id is not None
        if self._id.variables:
            return _DEPENDS_ON_CONTEXT
        return True if self._id.pattern({}).matches(request.resource[len(self._product):]) else miss  # type: ignore[union-attr]


@lru_cache(maxsize=8192)
def action_matcher(patterns: tuple[str, ...]) -> ActionMatcher:
    """Memoised constructor: matchers are immutable, so equal pattern lists share one."""
    return ActionMatcher(patterns)


@lru_cache(maxsize=8192)
def resource_pattern(text: str, policy_type: str) -> ResourcePattern:
    return ResourcePattern(text, policy_type)


@lru_cache(maxsize=8192)
def resource_matcher(texts: tuple[str, ...], policy_type: str, negated: bool) -> ResourceMatcher:
    """Memoised constructor: a batch's statements repeat the same few Resource lists."""
    return ResourceMatcher(texts, policy_type, negated)


class ResourceMatcher:
    """A statement's Resource or NotResource list. Shared by every statement with the same list (see
    `resource_matcher`); when no entry holds a policy variable, the answer depends on the request's resource
    alone and is remembered per resource."""

    __slots__ = ("patterns", "negated", "_memo")

    def __init__(self, texts: tuple[str, ...], policy_type: str, negated: bool) -> None:
        self.patterns = tuple([resource_pattern(t, policy_type) for t in texts])
        self.negated = negated
        context_free = not any(p.kind == "arn" and p.variables for p in self.patterns)
        self._memo: dict[str, bool] | None = {} if context_free else None

    def applies(self, request: RequestResource, context: dict[str, str | list[str]]) -> bool:
        """`match(...)[0]` without collecting the entries: stops at the first entry that settles it."""
        memo = self._memo
        if memo is not None:
            known = memo.get(request.text)
            if known is not None:
                return known
        if self.negated:
            known = all(p.match(request, context) is False for p in self.patterns)
        else:
            known = any(p.match(request, context) for p in self.patterns)
        if memo is not None and len(memo) < MEMO_LIMIT:
            memo[request.text] = known
        return known

    def match(self, request: RequestResource, context: dict[str, str | list[str]]) -> tuple[bool, list[str]]:
        """(applies, the entries that matched the request); NotResource applies when none matched for sure.

        iam/reference_policies_elements_notresource: NotResource matches everything except the listed ARNs.
        """
        hits = []
        unknown = False
        for p in self.patterns:
            m = p.match(request, context)
            if m:
                hits.append(p.text)
            elif m is None:
                unknown = True
        if self.negated:
            return (not hits and not unknown), hits
        return bool(hits), hits
