"""Checks of Principal and NotPrincipal (iam/reference_policies_elements_principal,
iam/reference_policies_elements_notprincipal), and of what role trust policies say about the principals they trust:
identity providers (OIDC, SAML, GitHub), IAM Roles Anywhere, sessions beside their role.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from iamkb.policy.grammar import Statement
from iamkb.policy.lint.checks_values import service_principal_ok
from iamkb.policy.lint.core import Context, Finding, emits, is_pattern, principal_entries
from iamkb.policy.matching import action_matcher

_ACCOUNT = re.compile(r"^\d{12}$")
_CANONICAL = re.compile(r"^[0-9a-f]{64}$")
_ROLE_ID, _USER_ID = re.compile(r"^AROA[A-Z0-9]{12,}$"), re.compile(r"^AIDA[A-Z0-9]{12,}$")
_UNIQUE_ID = re.compile(r"^A[A-Z0-9]{3}[A-Z0-9]{12,}$")
SAML_PROVIDER = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:saml-provider/[\w+=,.@-]+$")
OIDC_PROVIDER = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:oidc-provider/(\S+)$")
_DOMAIN = re.compile(r"^[a-z0-9-]+(?:\.[a-z0-9-]+)+(?:/\S*)?$")
_ROLE_ARN = re.compile(r"^arn:(aws[a-z-]*):iam::([^:]+):role/(?:.*/)?([^/]+)$")
# An assumed-role session (the Access Analyzer reference writes its example with iam: for sts:).
_SESSION_ARN = re.compile(r"^arn:(aws[a-z-]*):(?:sts|iam)::([^:]+):assumed-role/([^/]+)/.+$")
GITHUB = "token.actions.githubusercontent.com"
SOURCE_KEYS = ("aws:sourcearn", "aws:sourceaccount", "aws:sourceorgid", "aws:sourceorgpaths")
ROLES_ANYWHERE = "rolesanywhere.amazonaws.com"
ROLES_ANYWHERE_ACTIONS = ("sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession")
WITH_SAML, WITH_WEB_IDENTITY = "sts:assumerolewithsaml", "sts:assumerolewithwebidentity"


def oidc_provider(value: str) -> str | None:
    """The provider an OIDC federated principal names (its domain and path), None for a SAML provider or other."""
    m = OIDC_PROVIDER.match(value)
    if m:
        return m.group(1)
    return value if _DOMAIN.match(value) and not value.startswith("arn:") else None


@emits("INVALID_PRINCIPAL_FORMAT", "INVALID_SERVICE_PRINCIPAL_FORMAT", "UNSUPPORTED_WILDCARD_IN_PRINCIPAL",
       "INVALID_ROLE_REFERENCE", "INVALID_USER_REFERENCE", "FEDERATED_PRINCIPAL_NOT_SUPPORTED",
       "INVALID_FEDERATED_PRINCIPAL_SYNTAX")
def check_principal_values(ctx: Context) -> Iterator[Finding]:
    for st in ctx.policy.statements:
        for _, kind, value, where in principal_entries(ctx, st):
            if value == "*" and kind in ("*", "AWS"):
                continue
            if is_pattern(value):
                yield Finding("UNSUPPORTED_WILDCARD_IN_PRINCIPAL", f"'{value}': a {kind} principal is named exactly; "
                              "only \"*\" alone stands for everyone", where)
            elif kind == "AWS":
                if _ROLE_ID.match(value):
                    yield Finding("INVALID_ROLE_REFERENCE", f"'{value}' is a role's unique ID: name its ARN", where)
                elif _USER_ID.match(value):
                    yield Finding("INVALID_USER_REFERENCE", f"'{value}' is a user's unique ID: name its ARN", where)
                elif not (_ACCOUNT.match(value) or value.startswith("arn:") or _UNIQUE_ID.match(value)):
                    yield Finding("INVALID_PRINCIPAL_FORMAT",
                                  f"'{value}' is not an account ID, an ARN or \"*\"", where)
            elif kind == "CanonicalUser" and not _CANONICAL.match(value):
                yield Finding("INVALID_PRINCIPAL_FORMAT", f"'{value}' is not a canonical user ID (64 hex digits)", where)
            elif kind == "Service" and not service_principal_ok(value):
                yield Finding("INVALID_SERVICE_PRINCIPAL_FORMAT",
                              f"'{value}': a service principal is service.amazonaws.com in lower case", where)
            elif kind == "Federated" and ctx.policy_type != "trust":
                yield Finding("FEDERATED_PRINCIPAL_NOT_SUPPORTED",
                              f"'{value}': only a role trust policy names an identity provider", where)
            elif kind == "Federated" and not (SAML_PROVIDER.match(value) or oidc_provider(value)):
                yield Finding("INVALID_FEDERATED_PRINCIPAL_SYNTAX", f"'{value}' is neither an OIDC provider (domain or "
                              "oidc-provider ARN) nor a SAML provider ARN", where)


@emits("ALLOW_WITH_NOT_PRINCIPAL", "DENY_WITH_NOT_PRINCIPAL")
def check_not_principal(ctx: Context) -> Iterator[Finding]:
    for st in ctx.policy.statements:
        if st.not_principals is None:
            continue
        if st.effect == "Allow":
            yield Finding("ALLOW_WITH_NOT_PRINCIPAL", "Allow with NotPrincipal grants every principal not listed, "
                          "anonymous ones included: name the principals in Principal", f"{st.path}.NotPrincipal")
            continue
        missing = unlisted_accounts(st)
        advice = (f"; list the account ARN of {', '.join(missing)} too" if missing else "")
        yield Finding("DENY_WITH_NOT_PRINCIPAL", "the Deny applies to every principal not listed, your account's "
                      f"administrators and AWS services included: prefer a condition on aws:PrincipalArn{advice}",
                      f"{st.path}.NotPrincipal")


def _account_of(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[4] if len(parts) >= 6 and parts[0] == "arn" and parts[4] else None


def unlisted_accounts(st: Statement) -> list[str]:
    """Accounts of the principals a NotPrincipal names whose account ARN (or ID) it does not name
    (iam/reference_policies_elements_notprincipal#specifying-notprincipal: AWS may validate the account first)."""
    values = [p.value for p in st.not_principals or () if p.kind == "AWS"]
    listed = {v for v in values if v.isdigit()} | {a for v in values if v.endswith(":root") and (a := _account_of(v))}
    return sorted({a for v in values if (a := _account_of(v)) and not v.endswith(":root")} - listed)


def _service_principals(st: Statement) -> list[str]:
    return [p.value for p in st.principals or () if p.kind == "Service"]


@emits("RESTRICT_ACCESS_TO_SERVICE_PRINCIPAL", "RECOMMENDED_CONDITION_KEY_FOR_SERVICE_PRINCIPAL")
def check_service_principal_source(ctx: Context) -> Iterator[Finding]:
    for st in ctx.policy.statements:
        services = _service_principals(st)
        if st.effect != "Allow" or not services:
            continue
        keys = [c for c in st.conditions if c.key.lower().startswith("aws:")]
        if any(c.key.lower() in SOURCE_KEYS for c in keys):
            continue
        if keys:
            for cond in keys:
                yield Finding("RECOMMENDED_CONDITION_KEY_FOR_SERVICE_PRINCIPAL",
                              f"for {', '.join(services)} use aws:SourceArn or aws:SourceAccount rather than "
                              f"'{cond.key}'", cond.path)
        else:
            yield Finding("RESTRICT_ACCESS_TO_SERVICE_PRINCIPAL",
                          f"{', '.join(services)} may act for any account's resources: add aws:SourceArn or "
                          "aws:SourceAccount", f"{st.path}.Principal.Service")


def _federated(st: Statement) -> list[str]:
    return [p.value for p in st.principals or () if p.kind == "Federated"]


@emits("MISSING_CONDITION_KEY_FOR_OIDC_PRINCIPAL", "MISSING_GITHUB_REPO_CONDITION_KEY",
       "SPECIFIC_GITHUB_REPO_AND_BRANCH_RECOMMENDED", "CONFIRM_AUDIENCE_CLAIM_TYPE")
def check_oidc(ctx: Context) -> Iterator[Finding]:
    for st in ctx.policy.statements:
        keys = {c.key.lower() for c in st.conditions}
        if st.effect == "Allow":
            for value in _federated(st):
                provider = oidc_provider(value)
                if provider is None:
                    continue
                where = f"{st.path}.Principal.Federated"
                if provider.lower() == GITHUB:
                    if f"{GITHUB}:sub" not in keys:
                        yield Finding("MISSING_GITHUB_REPO_CONDITION_KEY", f"any GitHub repository can assume the role: "
                                      f"add {GITHUB}:sub with the repository and branch", where)
                elif not any(k.startswith(provider.lower() + ":") for k in keys):
                    yield Finding("MISSING_CONDITION_KEY_FOR_OIDC_PRINCIPAL", f"any identity of {provider} can assume "
                                  f"the role: add conditions on {provider}:aud (and sub)", where)
        for cond in st.conditions:
            low = cond.key.lower()
            if low == f"{GITHUB}:sub" and any(is_pattern(v) for v in cond.values):
                yield Finding("SPECIFIC_GITHUB_REPO_AND_BRANCH_RECOMMENDED",
                              f"{list(cond.values)}: name the repository and branch", cond.path)
            if (low.endswith(":aud") and "." in low.split(":", 1)[0] and cond.set_operator
                    and (ctx.ref is None or ctx.ref.condition_key(cond.key) is None)):
                yield Finding("CONFIRM_AUDIENCE_CLAIM_TYPE", f"{cond.set_operator} on '{cond.key}': is this provider's "
                              "aud claim multivalued? If not, drop the qualifier", cond.path)


@emits("MISMATCHED_ACTION_FOR_PRINCIPAL", "MISSING_ACTION_FOR_ROLES_ANYWHERE_TRUST_POLICY")
def check_trust_actions(ctx: Context) -> Iterator[Finding]:
    for st in ctx.policy.statements:
        if st.actions is None or st.principals is None:
            continue
        named = {a.lower() for a in st.actions}
        for p in st.principals:
            saml = p.kind == "Federated" and bool(SAML_PROVIDER.match(p.value))
            oidc = p.kind == "Federated" and not saml and oidc_provider(p.value) is not None
            wrong = [a for a in (WITH_SAML, WITH_WEB_IDENTITY) if a in named
                     and not ((a == WITH_SAML and saml) or (a == WITH_WEB_IDENTITY and oidc))]
            for action in wrong:
                yield Finding("MISMATCHED_ACTION_FOR_PRINCIPAL", f"{p.value} cannot use {_spelled(st, action)}: SAML "
                              "providers use sts:AssumeRoleWithSAML, OIDC providers sts:AssumeRoleWithWebIdentity",
                              f"{st.path}.Action")
        if st.effect == "Allow" and ROLES_ANYWHERE in _service_principals(st):
            matcher = action_matcher(st.actions)
            missing = [a for a in ROLES_ANYWHERE_ACTIONS if not matcher.matches(a)]
            if missing:
                yield Finding("MISSING_ACTION_FOR_ROLES_ANYWHERE_TRUST_POLICY",
                              f"{ROLES_ANYWHERE} also needs {', '.join(missing)}", f"{st.path}.Action")


def _spelled(st: Statement, low: str) -> str:
    return next(a for a in st.actions or () if a.lower() == low)


@emits("REDUNDANT_PRINCIPAL_IN_TRUST_POLICY")
def check_redundant_sessions(ctx: Context) -> Iterator[Finding]:
    for st in ctx.policy.statements:
        entries = list(principal_entries(ctx, st))
        roles = {(m.group(2), m.group(3).lower()): v for _, k, v, _ in entries if k == "AWS"
                 and (m := _ROLE_ARN.match(v))}
        for element, kind, value, where in entries:
            m = _SESSION_ARN.match(value) if kind == "AWS" and element == "Principal" else None
            if m and (m.group(2), m.group(3).lower()) in roles:
                yield Finding("REDUNDANT_PRINCIPAL_IN_TRUST_POLICY",
                              f"'{value}' is a session of {roles[(m.group(2), m.group(3).lower())]}, which already "
                              "covers it", where)


CHECKS = (check_principal_values, check_not_principal, check_service_principal_source, check_oidc,
          check_trust_actions, check_redundant_sessions)
