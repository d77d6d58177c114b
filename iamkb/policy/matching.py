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
from dataclasses import dataclass
from functools import lru_cache

from iamkb.policy.variables import Template, template


@lru_cache(maxsize=8192)
def _glob(pattern: str, flags: int = re.IGNORECASE) -> re.Pattern[str]:
    """A wildcard pattern as a compiled regex (memoised: policies in a batch repeat the same patterns)."""
    source = "".join(".*?" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.compile(source, flags)


class ActionMatcher:
    """All of a statement's Action (or NotAction) patterns as one regex over the lower-cased action name."""

    __slots__ = ("patterns", "any", "_regex")

    def __init__(self, patterns: tuple[str, ...]) -> None:
        self.patterns = patterns
        self.any = "*" in patterns
        alternatives = []
        for p in patterns:
            if p == "*":
                continue
            service, name = p.split(":", 1)
            alternatives.append(re.escape(service.lower() + ":") + _glob(name).pattern)
        self._regex = re.compile("(?:" + "|".join(alternatives) + ")", re.IGNORECASE) if alternatives else None

    def matches(self, action: str) -> bool:
        """`action` as sent ("autoscaling:DeletePolicy"); the service prefix compares case-insensitively."""
        if self.any:
            return True
        if self._regex is None:
            return False
        service, _, name = action.partition(":")
        return self._regex.fullmatch(service.lower() + ":" + name) is not None

    def matching_patterns(self, action: str) -> list[str]:
        """Which patterns match (for explanations)."""
        return [p for p in self.patterns if ActionMatcher((p,)).matches(action)]


@dataclass(frozen=True)
class RequestResource:
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
    masked = _VARIABLE.sub(lambda m: "x" * len(m.group(0)), text)
    return [i for i, c in enumerate(masked) if c in chars]


def split_arn(text: str) -> list[str]:
    """Split an ARN pattern at its colons, keeping colons inside policy variables."""
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

    __slots__ = ("text", "kind", "_segments", "_product", "_id", "_expanded")

    def __init__(self, text: str, policy_type: str = "identity") -> None:
        self.text = text
        self._expanded = False
        self._segments: tuple[re.Pattern[str], ...] = ()
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
        self._segments = tuple(_glob(seg) for seg in parts[1:5])
        resource = ":".join(parts[5:])
        self._product, ident = _product_split(parts[2], parts[3], parts[4], resource)
        self._id = template(ident, wildcards=True)

    def match(self, request: RequestResource, context: dict[str, str | list[str]]) -> bool | None:
        """True/False, or None when the answer is unknown (an unresolved variable, an expanded short ARN that
        missed): NotResource never treats an unknown as "outside the set"."""
        if self.kind == "all":
            return True
        if self.kind == "never":
            return False
        if request.is_all:
            return None if self._expanded else False
        seg = self._segments
        if not (seg[0].fullmatch(request.partition) and seg[1].fullmatch(request.service)
                and seg[2].fullmatch(request.region) and seg[3].fullmatch(request.account)):
            return None if self._expanded else False
        if not request.resource.startswith(self._product):
            return None if self._expanded else False
        assert self._id is not None
        pattern = self._id.pattern(context)
        if pattern is None:
            return None
        if pattern.fullmatch(request.resource, len(self._product)) is None:
            return None if self._expanded else False
        return True


@lru_cache(maxsize=8192)
def action_matcher(patterns: tuple[str, ...]) -> ActionMatcher:
    """Memoised constructor: matchers are immutable, so equal pattern lists share one."""
    return ActionMatcher(patterns)


@lru_cache(maxsize=8192)
def resource_pattern(text: str, policy_type: str) -> ResourcePattern:
    return ResourcePattern(text, policy_type)


class ResourceMatcher:
    """A statement's Resource or NotResource list."""

    __slots__ = ("patterns", "negated")

    def __init__(self, texts: tuple[str, ...], policy_type: str, negated: bool) -> None:
        self.patterns = tuple(resource_pattern(t, policy_type) for t in texts)
        self.negated = negated

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
