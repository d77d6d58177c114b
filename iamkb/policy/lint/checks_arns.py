"""Checks of the ARNs in Resource and NotResource: their six fields (iam/reference_policies_elements_resource,
iam/reference_identifiers), the ARN formats of the service's resource types in the Service Authorization Reference,
and whether the statement's actions work on what the ARN names.

A policy variable in an ARN may hold any value, so it is read as a wildcard; a wildcard field is not judged.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from iamkb.policy.grammar import Statement
from iamkb.policy.lint.checks_names import expanded_actions
from iamkb.policy.lint.core import (
    VARIABLE,
    Context,
    Finding,
    action_service,
    actions_and_paths,
    arn_fields,
    emits,
    is_pattern,
    resources_and_paths,
)
from iamkb.policy.wildcards import glob

# The partitions of AWS (iam/reference_identifiers#identifiers-arns names aws, aws-cn, aws-us-gov; the isolated
# and sovereign ones complete the list).
PARTITIONS = ("aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc")
REGION = re.compile(r"^[a-z]{2,4}(?:-(?:gov|iso|isob|isoe|isof))?-(?:north|south|east|west|central|northeast"
                    r"|northwest|southeast|southwest)-\d{1,2}$")
ACCOUNT = re.compile(r"^\d{12}$")


def _concrete(text: str) -> bool:
    """A field to judge: not empty, no wildcard, no policy variable."""
    return bool(text) and not is_pattern(text) and "${" not in text


def _arns_of(st: Statement) -> Iterator[tuple[str, str, list[str]]]:
    """(ARN as written, path, its fields with variables read as '*') for a statement's Resource/NotResource ARNs."""
    for _, arn, where in resources_and_paths(st):
        if arn != "*":
            yield arn, where, arn_fields(VARIABLE.sub("*", arn))


def _arns(ctx: Context) -> Iterator[tuple[str, str, list[str]]]:
    for st in ctx.policy.statements:
        yield from _arns_of(st)


@emits("MISSING_ARN_FIELD", "INVALID_PARTITION", "INVALID_ARN_SERVICE_CASE", "INVALID_ARN_REGION",
       "INVALID_ARN_ACCOUNT")
def check_arn_fields(ctx: Context) -> Iterator[Finding]:
    for arn, where, fields in _arns(ctx):
        if len(fields) < 6:
            yield Finding("MISSING_ARN_FIELD", f"'{arn}' has {len(fields)} of the 6 fields "
                          "arn:partition:service:region:account:resource", where)
            continue
        _, partition, service, region, account, _ = fields
        if _concrete(partition) and partition not in PARTITIONS:
            yield Finding("INVALID_PARTITION", f"'{partition}' is not a partition ({', '.join(PARTITIONS)})", where)
        if _concrete(service) and service != service.lower():
            yield Finding("INVALID_ARN_SERVICE_CASE", f"write the service '{service}' in lower case", where)
        if _concrete(region) and not REGION.match(region):
            yield Finding("INVALID_ARN_REGION", f"'{region}' is not a Region name", where)
        if _concrete(account) and account != "aws" and not ACCOUNT.match(account):
            yield Finding("INVALID_ARN_ACCOUNT", f"'{account}' is not a 12-digit account ID", where)


@emits("ARN_ACCOUNT_NOT_ALLOWED", "ARN_REGION_NOT_ALLOWED", "MISSING_ARN_REGION", "INVALID_ARN_RESOURCE")
def check_arn_formats(ctx: Context) -> Iterator[Finding]:
    """The ARN against the formats of its service's resource types: the types its resource part fits decide
    whether it takes a Region and an account."""
    if ctx.ref is None:
        return
    for arn, where, fields in _arns(ctx):
        if len(fields) < 6 or not _concrete(fields[2]) or not ctx.ref.service_covered(fields[2].lower()):
            continue
        service, region, account = fields[2].lower(), fields[3], fields[4]
        fits = ctx.resource_types_for_arn(service, ":".join([*fields[:3], "*", "*", fields[5]]))
        formats = [arn_fields(rt["arn"]) for rt in fits]
        names = ", ".join(sorted(rt["name"] for rt in fits)[:3]) + (", ..." if len(fits) > 3 else "")
        if not fits:
            yield Finding("INVALID_ARN_RESOURCE", f"the resource part of '{arn}' fits no resource type of {service}",
                          where)
        elif account and account != "*" and all(not f[4] for f in formats):
            yield Finding("ARN_ACCOUNT_NOT_ALLOWED", f"{names} ARNs have no account: remove '{account}'", where)
        elif region and region != "*" and all(not f[3] for f in formats):
            yield Finding("ARN_REGION_NOT_ALLOWED", f"{names} ARNs have no Region: remove '{region}'", where)
        elif not region and all(f[3] for f in formats):
            yield Finding("MISSING_ARN_REGION", f"{names} ARNs name a Region (or *)", where)


@emits("RESOURCE_MATCHES_NO_TYPE", "NO_RESOURCE_LEVEL_PERMISSIONS")
def check_resources(ctx: Context) -> Iterator[Finding]:
    """A specific ARN for actions without resource-level permissions, or of a type none of the actions takes."""
    if ctx.ref is None:
        return
    for st in ctx.policy.statements:
        records = expanded_actions(ctx, st.actions or ())
        if not records:
            continue
        for i, arn in enumerate(st.resources or ()):
            if arn == "*":
                continue
            where = f"{st.path}.Resource" if len(st.resources or ()) == 1 else f"{st.path}.Resource[{i}]"
            fields = arn_fields(VARIABLE.sub("*", arn))
            service = fields[2] if len(fields) >= 3 else ""
            wildcard_only = [r for r in records if not r.get("resource_types")]
            if len(wildcard_only) == len(records):
                names = ", ".join(sorted(r["id"].removeprefix("action:") for r in wildcard_only)[:3])
                yield Finding("NO_RESOURCE_LEVEL_PERMISSIONS", f"{names} only work with Resource \"*\"", where)
                continue
            if len(fields) == 6 and _concrete(service) and ctx.ref.service_covered(service):
                types = {rt["name"] for r in records for rt in r.get("resource_types", [])}
                found = {t["name"] for t in ctx.resource_types_for_arn(service, ":".join(fields))}
                if types and found and not types & found:
                    yield Finding("RESOURCE_MATCHES_NO_TYPE",
                                  f"'{arn}' matches none of the resource types {sorted(types)}", where)


def covers(general: str, specific: str) -> bool:
    """Whether ARN pattern `general` matches everything `specific` does (read literally: exact for an ARN without
    wildcards, and for a pattern whose wildcards `general`'s own `*` absorb)."""
    if general == "*":
        return True
    if "?" in general and is_pattern(specific):
        return False
    return glob(general).matches(specific)


def redundant_entries(values: tuple[str, ...], covered_by=covers) -> Iterator[tuple[int, str]]:
    """(index, covering entry) for each entry another entry of the list covers; of two equal entries the later."""
    for i, value in enumerate(values):
        for j, other in enumerate(values):
            if i == j or (other == value and j > i):
                continue
            if other == value or covered_by(other, value):
                yield i, other
                break


@emits("REDUNDANT_RESOURCE")
def check_redundant_resources(ctx: Context) -> Iterator[Finding]:
    for st in ctx.policy.statements:
        for name, values in (("Resource", st.resources), ("NotResource", st.not_resources)):
            for i, other in redundant_entries(values or ()):
                yield Finding("REDUNDANT_RESOURCE", f"'{other}' already covers '{(values or ())[i]}'",
                              f"{st.path}.{name}[{i}]")


@emits("UNSUPPORTED_ACTION_IN_POLICY", "UNSUPPORTED_RESOURCE_ARN_IN_POLICY")
def check_attached_service(ctx: Context) -> Iterator[Finding]:
    """With --resource-type, a resource-based policy's actions and ARNs of other services."""
    if not ctx.resource_type:
        return
    service = ctx.resource_type.split(":", 1)[0].lower()
    for st in ctx.policy.statements:
        for _, action, where in actions_and_paths(st):
            if action != "*" and action_service(action).lower() != service:
                yield Finding("UNSUPPORTED_ACTION_IN_POLICY",
                              f"'{action}' never applies to a {ctx.resource_type} resource", where)
        for arn, where, fields in _arns_of(st):
            if len(fields) >= 3 and _concrete(fields[2]) and fields[2].lower() != service:
                yield Finding("UNSUPPORTED_RESOURCE_ARN_IN_POLICY",
                              f"'{arn}' is not a {service} resource, so it never names the {ctx.resource_type} "
                              "the policy is attached to", where)


@emits("IRRELEVANT_CONDITION_KEY_IN_POLICY")
def check_irrelevant_keys(ctx: Context) -> Iterator[Finding]:
    irrelevant = {"aws:resourceaccount"}
    if ctx.resource_type:
        irrelevant.add(f"{ctx.resource_type.split(':', 1)[0].lower()}:resourceaccount")
    for st in ctx.policy.statements:
        for cond in st.conditions:
            if cond.key.lower() in irrelevant:
                yield Finding("IRRELEVANT_CONDITION_KEY_IN_POLICY", f"'{cond.key}' is always the policy's own account "
                              "in a resource-based policy: use it in an identity-based policy", cond.path)


CHECKS = (check_arn_fields, check_arn_formats, check_resources, check_redundant_resources, check_attached_service,
          check_irrelevant_keys)
