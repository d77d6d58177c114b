"""Checks of a policy's shape for its policy type: which elements a statement has, its Sid and Version, its size.

The grammar accepts any element a policy of some type may hold; which elements a given type takes is here:
identity-side policies name resources and no principal, resource-based ones a principal
(iam/reference_policies_elements_principal), SCPs their own subset (AWS Organizations' SCP syntax, as the Access
Analyzer reference states it), role trust policies a principal and no resource.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from iamkb.policy.lint.core import Context, Finding, emits

_SID = re.compile(r"^[A-Za-z0-9]*$")  # iam/reference_policies_elements_sid: IAM policies take letters and digits
# Quotas in characters, white space not counted (iam/reference_iam-quotas, as the Access Analyzer reference
# restates them): a managed policy 6,144, a role trust policy 2,048 by default, an SCP 5,120.
IDENTITY_QUOTA, TRUST_QUOTA, SCP_QUOTA = 6144, 2048, 5120


@emits("MISSING_RESOURCE")
def check_missing_resource(ctx: Context) -> Iterator[Finding]:
    for st in ctx.policy.statements:
        if st.resources is None and st.not_resources is None:
            yield Finding("MISSING_RESOURCE", "the statement names no Resource or NotResource", st.path)


@emits("MISSING_PRINCIPAL")
def check_missing_principal(ctx: Context) -> Iterator[Finding]:
    for st in ctx.policy.statements:
        if st.principals is None and st.not_principals is None:
            yield Finding("MISSING_PRINCIPAL", f"a {ctx.policy_type} policy statement names its principal", st.path)


@emits("UNSUPPORTED_PRINCIPAL", "SCP_SYNTAX_ERROR_PRINCIPAL", "TRUST_POLICY_SYNTAX_ERROR_NOTPRINCIPAL")
def check_principal_element(ctx: Context) -> Iterator[Finding]:
    """Principal/NotPrincipal where the policy type takes none (or takes only Principal)."""
    for st in ctx.policy.statements:
        for name, present in (("Principal", st.principals is not None), ("NotPrincipal", st.not_principals is not None)):
            if not present:
                continue
            where = f"{st.path}.{name}"
            if ctx.policy_type == "scp":
                yield Finding("SCP_SYNTAX_ERROR_PRINCIPAL", f"an SCP takes no {name}", where)
            elif ctx.policy_type == "trust" and name == "NotPrincipal":
                yield Finding("TRUST_POLICY_SYNTAX_ERROR_NOTPRINCIPAL", "a role trust policy takes no NotPrincipal",
                              where)
            else:
                yield Finding("UNSUPPORTED_PRINCIPAL", f"a {ctx.policy_type} policy takes no {name}", where)


@emits("SCP_SYNTAX_ERROR_ACTION_WILDCARD", "SCP_SYNTAX_ERROR_ALLOW_CONDITION", "SCP_SYNTAX_ERROR_ALLOW_NOTACTION",
       "SCP_SYNTAX_ERROR_ALLOW_RESOURCE", "SCP_SYNTAX_ERROR_NOTRESOURCE")
def check_scp_syntax(ctx: Context) -> Iterator[Finding]:
    for st in ctx.policy.statements:
        for name, values in (("Action", st.actions), ("NotAction", st.not_actions)):
            for i, action in enumerate(values or ()):
                name_part = action.split(":", 1)[-1]
                if action != "*" and ("*" in name_part.rstrip("*") or "?" in name_part):
                    where = f"{st.path}.{name}" if len(values or ()) == 1 else f"{st.path}.{name}[{i}]"
                    yield Finding("SCP_SYNTAX_ERROR_ACTION_WILDCARD",
                                  f"'{action}': an SCP action takes a wildcard only at its end", where)
        if st.effect == "Allow" and st.conditions:
            yield Finding("SCP_SYNTAX_ERROR_ALLOW_CONDITION", "an SCP Allow takes no Condition", f"{st.path}.Condition")
        if st.effect == "Allow" and st.not_actions is not None:
            yield Finding("SCP_SYNTAX_ERROR_ALLOW_NOTACTION", "an SCP Allow takes no NotAction", f"{st.path}.NotAction")
        if st.effect == "Allow" and st.resources is not None and st.resources != ("*",):
            yield Finding("SCP_SYNTAX_ERROR_ALLOW_RESOURCE", "an SCP Allow applies to \"Resource\": \"*\"",
                          f"{st.path}.Resource")
        if st.not_resources is not None:
            yield Finding("SCP_SYNTAX_ERROR_NOTRESOURCE", "an SCP takes no NotResource", f"{st.path}.NotResource")


@emits("TRUST_POLICY_SYNTAX_ERROR_RESOURCE", "TRUST_POLICY_UNSUPPORTED_WILDCARD_IN_PRINCIPAL")
def check_trust_syntax(ctx: Context) -> Iterator[Finding]:
    for st in ctx.policy.statements:
        for name, present in (("Resource", st.resources is not None), ("NotResource", st.not_resources is not None)):
            if present:
                yield Finding("TRUST_POLICY_SYNTAX_ERROR_RESOURCE", f"a role trust policy takes no {name}",
                              f"{st.path}.{name}")
        raw = ctx.raw(st).get("Principal")
        if raw == "*" or (isinstance(raw, dict) and raw.get("AWS") in ("*", ["*"])):
            yield Finding("TRUST_POLICY_UNSUPPORTED_WILDCARD_IN_PRINCIPAL",
                          "a role trust policy cannot trust \"*\"; name the principals that may assume the role",
                          f"{st.path}.Principal" if raw == "*" else f"{st.path}.Principal.AWS")


@emits("DUPLICATE_SID", "UNIQUE_SIDS_RECOMMENDED")
def check_sids(ctx: Context) -> Iterator[Finding]:
    code = "UNIQUE_SIDS_RECOMMENDED" if ctx.policy_type == "resource" else "DUPLICATE_SID"
    seen: dict[str, str] = {}
    for st in ctx.policy.statements:
        if st.sid is None:
            continue
        if st.sid in seen:
            yield Finding(code, f"Sid '{st.sid}' is also used by {seen[st.sid]}", f"{st.path}.Sid")
        else:
            seen[st.sid] = st.path


@emits("UNSUPPORTED_SID", "EMPTY_SID_VALUE")
def check_sid_text(ctx: Context) -> Iterator[Finding]:
    for st in ctx.policy.statements:
        if st.sid == "":
            yield Finding("EMPTY_SID_VALUE", "the Sid is an empty string", f"{st.path}.Sid")
        elif st.sid is not None and not _SID.match(st.sid):
            bad = sorted({ch for ch in st.sid if not ch.isascii() or not ch.isalnum()})
            yield Finding("UNSUPPORTED_SID", f"Sid '{st.sid}' holds {' '.join(repr(c) for c in bad)}: IAM takes "
                          "letters A-Z, a-z and digits only", f"{st.path}.Sid")


@emits("MISSING_VERSION")
def check_version(ctx: Context) -> Iterator[Finding]:
    if ctx.policy.version is None:
        yield Finding("MISSING_VERSION", "no Version element: add \"Version\": \"2012-10-17\"", "Version")


@emits("EMPTY_OBJECT_CONDITION")
def check_empty_condition(ctx: Context) -> Iterator[Finding]:
    """`"Condition": {}` (the grammar accepts it; an empty operator block is a grammar finding)."""
    for st in ctx.policy.statements:
        if ctx.raw(st).get("Condition") == {}:
            yield Finding("EMPTY_OBJECT_CONDITION", "the Condition block is empty", f"{st.path}.Condition")


def size_without_whitespace(doc: object) -> int:
    """Characters of a policy as IAM counts them against its quotas: the JSON without white space."""
    return sum(1 for ch in json.dumps(doc, ensure_ascii=False, separators=(",", ":")) if not ch.isspace())


@emits("POLICY_SIZE_EXCEEDS_IDENTITY_POLICY_QUOTA", "POLICY_SIZE_EXCEEDS_SCP_QUOTA",
       "POLICY_SIZE_EXCEEDS_ROLE_TRUST_POLICY_QUOTA")
def check_size(ctx: Context) -> Iterator[Finding]:
    code, quota, what = {
        "identity": ("POLICY_SIZE_EXCEEDS_IDENTITY_POLICY_QUOTA", IDENTITY_QUOTA, "managed policy"),
        "boundary": ("POLICY_SIZE_EXCEEDS_IDENTITY_POLICY_QUOTA", IDENTITY_QUOTA, "managed policy"),
        "scp": ("POLICY_SIZE_EXCEEDS_SCP_QUOTA", SCP_QUOTA, "SCP"),
        "trust": ("POLICY_SIZE_EXCEEDS_ROLE_TRUST_POLICY_QUOTA", TRUST_QUOTA, "role trust policy"),
    }.get(ctx.policy_type, ("", 0, ""))
    if not code:
        return
    size = size_without_whitespace(ctx.policy.raw)
    if size > quota:
        yield Finding(code, f"{size} characters (white space not counted) exceed the {quota} of a {what}", "(top)")


CHECKS = (check_missing_resource, check_missing_principal, check_principal_element, check_scp_syntax,
          check_trust_syntax, check_sids, check_sid_text, check_version, check_empty_condition, check_size)
