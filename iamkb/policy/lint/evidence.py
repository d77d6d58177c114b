"""Evidence: for a finding about what a policy allows or denies, a concrete request that shows it, in DESIGN.md's
scenario shape, run through the evaluator (iamkb.policy.evaluate) before it is attached.

A builder proposes (scenario, expected decision, what it shows); the finding carries it only when the evaluator
reaches that decision, so the evidence is never a claim the engine does not back. The policy goes where its type
puts it (identityPolicies, resourcePolicy, permissionBoundaries, serviceControlPolicies, sessionPolicy); where the
policy alone cannot allow (a boundary, an SCP, a session policy, a Deny) an allow-everything identity policy stands
beside it, so the decision is the policy's. Everything the requests name is made up and says so
(`iamkb-any-role`, account 999988887777).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from iamkb.errors import InputError
from iamkb.policy.grammar import Condition, Statement
from iamkb.policy.lint.checks_grants import GRANTS, any_role_arn, untagged_actions
from iamkb.policy.lint.checks_names import applicable_keys, expanded_actions
from iamkb.policy.lint.checks_principals import GITHUB, oidc_provider
from iamkb.policy.lint.core import VARIABLE, Context, Finding, arn_fields, is_pattern
from iamkb.policy.matching import action_matcher
from iamkb.policy.wildcards import glob

ACCOUNT = "111122223333"  # the account of made-up principals and resources, unless the policy names one
OTHER_ACCOUNT = "999988887777"  # an account the policy does not name
ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
# Actions tried, in order, when a statement's actions are all patterns the reference cannot expand, or NotAction.
FALLBACK_ACTIONS = ("autoscaling:DeleteAutoScalingGroup", "ec2:TerminateInstances", "s3:GetObject", "iam:PassRole")

Evidence = tuple[dict[str, Any], str, str]  # (scenario, expected decision, what it shows)


def _statement(ctx: Context, path: str) -> Statement | None:
    return next((st for st in ctx.policy.statements if path == st.path or path.startswith(st.path + ".")), None)


def _condition(st: Statement, path: str) -> Condition | None:
    return next((c for c in st.conditions if c.path == path), None)


def _account(ctx: Context) -> str:
    """The account the policy's ARNs name (the first concrete one), else ACCOUNT."""
    for st in ctx.policy.statements:
        for arn in st.resources or ():
            fields = arn_fields(arn)
            if len(fields) == 6 and fields[4].isdigit() and len(fields[4]) == 12:
                return fields[4]
    return ACCOUNT


def concrete(pattern: str) -> tuple[str, dict[str, str]]:
    """A text the pattern matches: wildcards filled, each policy variable given a value in the returned context."""
    context: dict[str, str] = {}

    def value(m: Any) -> str:
        key = m.group(0)[2:-1].split(",")[0].strip()
        context[key] = "iamkb-example"
        return "iamkb-example"

    text = VARIABLE.sub(value, pattern)
    return text.replace("*", "iamkb-example").replace("?", "x"), context


def pick_action(ctx: Context, st: Statement) -> str | None:
    """An action the statement's Action covers (or its NotAction leaves out)."""
    if st.actions is not None:
        exact = [a for a in st.actions if not is_pattern(a)]
        if exact:
            return exact[0]
        if ctx.ref is not None:
            for record in expanded_actions(ctx, st.actions):
                return record["id"].removeprefix("action:")
        return next((a for a in FALLBACK_ACTIONS if action_matcher(st.actions).matches(a)), None)
    excluded = action_matcher(st.not_actions or ())
    return next((a for a in FALLBACK_ACTIONS if not excluded.matches(a)), None)


def pick_resource(ctx: Context, st: Statement, action: str) -> tuple[str, dict[str, str]]:
    """A concrete resource the statement covers for the action, and the context its variables need."""
    account = _account(ctx)
    service = action.split(":", 1)[0]
    generic = f"arn:aws:{service}:us-east-1:{account}:iamkb-example"
    if ctx.ref is not None and ctx.ref.action(action):
        types = [rt["name"] for rt in ctx.ref.action(action).get("resource_types", [])]
        if not types:  # no resource-level permissions: its requests name "*"
            return "*", {}
        template = next((ctx.ref.resource_type(service, t) or {} for t in types), {}).get("arn")
        if template:
            generic = VARIABLE.sub(lambda m: {"${Partition}": "aws", "${Region}": "us-east-1",
                                              "${Account}": account}.get(m.group(0), "iamkb-example"), template)
    if st.resources is not None:
        chosen = next((r for r in st.resources if r != "*"), "*")
        return (generic, {}) if chosen == "*" else concrete(chosen)
    return generic, {}


def _satisfying(cond: Condition) -> tuple[str | None, dict[str, str]]:
    """A request value that meets one positive condition (None: leave the key out, which a negated operator and
    Null true accept), with the context its policy variables need."""
    base, first = cond.base, cond.values[0]
    if "Not" in base or (base == "Null" and first.lower() == "true"):
        return None, {}
    if base == "Null":
        return "iamkb-example", {}
    if base.startswith("Arn") or base.endswith("Like"):
        return concrete(first)
    if base.startswith("String"):  # an Equals operator compares * and ? as written
        text, needed = concrete(first.replace("*", "\0").replace("?", "\1"))
        return text.replace("\0", "*").replace("\1", "?"), needed
    if base.startswith("Numeric"):
        shift = 1 if base.endswith("GreaterThan") else -1 if base.endswith("LessThan") else 0
        try:
            return str(float(first) + shift).removesuffix(".0"), {}
        except ValueError:
            return None, {}
    if base.startswith("Date"):
        return ("2001-01-01T00:00:00Z" if "LessThan" in base else "2099-01-01T00:00:00Z"
                if "GreaterThan" in base else first), {}
    if base == "IpAddress":
        return first.split("/")[0], {}
    return first, {}


def satisfying_context(st: Statement, skip: Condition | None = None) -> dict[str, Any]:
    """Context values that meet the statement's conditions other than `skip`, so the request reaches the part the
    evidence is about (a guess the evaluator then confirms or not)."""
    context: dict[str, Any] = {}
    for cond in st.conditions:
        if cond is skip or not cond.values:
            continue
        value, needed = _satisfying(cond)
        context.update(needed)
        if value is not None:
            context[cond.key] = [value] if cond.set_operator else value
    return context


def principal_for(ctx: Context, account: str) -> str:
    if ctx.policy_type == "session":
        return f"arn:aws:sts::{account}:assumed-role/iamkb-role/iamkb-session"
    return f"arn:aws:iam::{account}:user/iamkb-user"


def place(ctx: Context, request: dict[str, Any], companion: bool) -> dict[str, Any]:
    """The scenario with the policy at its type's place; `companion` adds an allow-everything identity policy."""
    doc = ctx.policy.raw
    t = ctx.policy_type
    identity = [ALLOW_ALL] if companion or t in ("boundary", "scp", "session") else []
    scenario: dict[str, Any] = {"request": request, "identityPolicies": [doc] + identity if t == "identity"
                                else identity}
    if t in ("resource", "trust"):
        scenario["resourcePolicy"] = doc
    elif t == "boundary":
        scenario["permissionBoundaries"] = [doc]
    elif t == "scp":
        scenario["serviceControlPolicies"] = [[doc, ALLOW_ALL] if companion else [doc]]
    elif t == "session":
        scenario["sessionPolicy"] = doc
    return scenario


def _request(ctx: Context, st: Statement, action: str, resource: str | None = None,
             context: dict[str, Any] | None = None, principal: str | None = None,
             skip: Condition | None = None) -> dict[str, Any]:
    """A request for `action` the statement's other conditions let through (`skip`: the one the evidence is
    about, left to the builder)."""
    account = _account(ctx)
    res, needed = (resource, {}) if resource else pick_resource(ctx, st, action)
    request: dict[str, Any] = {"principal": principal or principal_for(ctx, account), "action": action,
                               "resource": res}
    if ctx.policy_type in ("resource", "trust") and res.count(":") >= 5 and not arn_fields(res)[4]:
        request["resourceAccount"] = account
    merged = {**satisfying_context(st, skip), **needed, **(context or {})}
    if merged:
        request["context"] = merged
    return request


# --------------------------------------------------------------------------------------------- the builders


def _forallvalues(ctx: Context, f: Finding) -> Evidence | None:
    st = _statement(ctx, f.path)
    cond = _condition(st, f.path) if st else None
    action = pick_action(ctx, st) if st else None
    if st is None or cond is None or action is None:
        return None
    request = _request(ctx, st, action, skip=cond)
    if st.effect == "Allow":
        return place(ctx, request, False), "Allowed", (
            f"a {action} request without {cond.key} is allowed: {cond.set_operator} is true when the key is absent")
    return place(ctx, request, True), "ExplicitlyDenied", (
        f"a {action} request without {cond.key} is denied: {cond.set_operator} is true when the key is absent")


def _unused_account(ctx: Context) -> str:
    text = str(ctx.policy.raw)
    return next(a for a in (OTHER_ACCOUNT, "444455556666", "777788889999") if a not in text)


def _allow_not_principal(ctx: Context, f: Finding) -> Evidence | None:
    st = _statement(ctx, f.path)
    action = pick_action(ctx, st) if st else None
    if st is None or action is None:
        return None
    other = _unused_account(ctx)
    request = _request(ctx, st, action, principal=f"arn:aws:iam::{other}:user/not-listed")
    request["resourceAccount"] = _account(ctx)
    scenario = place(ctx, request, False)
    scenario["identityPolicies"] = [ALLOW_ALL]  # the caller's own account lets it ask; the grant is this policy's
    return scenario, "Allowed", (f"a user of account {other}, which the policy never names, is allowed {action}")


def _deny_not_principal(ctx: Context, f: Finding) -> Evidence | None:
    """An administrator of the resource's account (or, when NotPrincipal exempts that account, an AWS service) is
    denied: the Deny reaches everyone the list leaves out."""
    st = _statement(ctx, f.path)
    action = pick_action(ctx, st) if st else None
    if st is None or action is None:
        return None
    account = _account(ctx)
    named = " ".join(p.value for p in st.not_principals or ())
    if account in named:
        principal, who = "cloudtrail.amazonaws.com", "an AWS service (CloudTrail) acting for your account"
    else:
        principal, who = f"arn:aws:iam::{account}:role/Admin", f"an administrator of account {account}"
    request = _request(ctx, st, action, principal=principal)
    request["resourceAccount"] = account
    return place(ctx, request, True), "ExplicitlyDenied", f"{who} is denied {action} too"


def _broad_grant(ctx: Context, f: Finding) -> Evidence | None:
    st = _statement(ctx, f.path)
    action = next((a for a, _, prefix in GRANTS if f.code.startswith(prefix)), None)
    if st is None or action is None:
        return None
    pattern = next((r for r in st.resources or () if r == "*" or glob(r).matches(any_role_arn(r))), None)
    role = any_role_arn(pattern or f"arn:aws:iam::{_account(ctx)}:role/*")
    if st.not_resources is not None and any(glob(r).matches(role) for r in st.not_resources):
        return None
    request = _request(ctx, st, action, resource=role)
    return place(ctx, request, False), "Allowed", f"{action} on {role}, a role no one listed, is allowed"


def _unsupported_tag(ctx: Context, f: Finding) -> Evidence | None:
    st = _statement(ctx, f.path)
    cond = _condition(st, f.path) if st else None
    if st is None or cond is None or ctx.ref is None:
        return None
    if st.not_actions is not None:
        excluded = action_matcher(st.not_actions)
        action = next((r["id"].removeprefix("action:") for r in sorted(ctx.ref.actions.values(), key=lambda r: r["id"])
                       if not excluded.matches(r["id"].removeprefix("action:"))
                       and "aws:resourcetag/${tagkey}" not in applicable_keys(ctx.ref, r)), None)
    else:
        action = next(iter(untagged_actions(ctx, st)), None)
    if action is None:
        return None
    request = _request(ctx, st, action, skip=cond)
    tag = cond.key.split("/", 1)[1] if "/" in cond.key else "tag"
    if st.effect == "Deny":
        return place(ctx, request, True), "Allowed", (
            f"{action} is not denied, whatever the resource's '{tag}' tag: its requests carry no {cond.key}")
    return place(ctx, request, False), "ImplicitlyDenied", (
        f"{action} is never allowed by the statement, even on a resource tagged as it asks: its requests carry no "
        f"{cond.key}")


def _wildcard_without_like(ctx: Context, f: Finding) -> Evidence | None:
    st = _statement(ctx, f.path)
    cond = _condition(st, f.path) if st else None
    action = pick_action(ctx, st) if st else None
    pattern = next((v for v in cond.values if is_pattern(v)), None) if cond else None
    if st is None or cond is None or action is None or pattern is None:
        return None
    value = pattern.replace("*", "x").replace("?", "x")
    request = _request(ctx, st, action, context={cond.key: value})
    if st.effect == "Allow" and not cond.base.startswith("StringNot"):
        return place(ctx, request, False), "ImplicitlyDenied", (
            f"{cond.key} = '{value}' is not allowed: {cond.base} does not read '{pattern}' as a pattern")
    return None


def _service_principal(ctx: Context, f: Finding) -> Evidence | None:
    st = _statement(ctx, f.path)
    service = next((p.value for p in st.principals or () if p.kind == "Service"), None) if st else None
    action = pick_action(ctx, st) if st else None
    if st is None or service is None or action is None:
        return None
    other = _unused_account(ctx)
    request = _request(ctx, st, action, principal=service,
                       context={"aws:SourceAccount": other, "aws:SourceArn": f"arn:aws:s3:::iamkb-bucket-of-{other}"})
    return place(ctx, request, False), "Allowed", (
        f"{service} acting for account {other}, not yours, is allowed {action}")


def _oidc(ctx: Context, f: Finding) -> Evidence | None:
    st = _statement(ctx, f.path)
    federated = next((p.value for p in st.principals or () if p.kind == "Federated" and oidc_provider(p.value)),
                     None) if st else None
    if st is None or federated is None:
        return None
    provider = oidc_provider(federated) or ""
    context: dict[str, Any] = {}
    for cond in st.conditions:  # keep what the statement asks, change only who the token is for
        if cond.base.startswith("String") and not cond.base.startswith("StringNot") and cond.values:
            context[cond.key] = concrete(cond.values[0])[0]
    sub = f"{provider}:sub"
    if f.code == "SPECIFIC_GITHUB_REPO_AND_BRANCH_RECOMMENDED":
        shows = f"a workflow of {context.get(sub)}, which the wildcard lets in, can assume the role"
    elif provider.lower() == GITHUB:
        context[sub] = "repo:someone-else/their-repo:ref:refs/heads/main"
        shows = "a workflow of someone else's repository can assume the role"
    else:
        shows = f"a token of {provider} for any identity can assume the role"
    role = f"arn:aws:iam::{_account(ctx)}:role/iamkb-role"
    request = _request(ctx, st, "sts:AssumeRoleWithWebIdentity", resource=role, context=context, principal=federated)
    return place(ctx, request, False), "Allowed", shows


def _autoscaling_full_access(ctx: Context, f: Finding) -> Evidence | None:
    st = _statement(ctx, f.path)
    if st is None:
        return None
    action = "autoscaling:DeleteAutoScalingGroup"
    request = _request(ctx, st, action)
    return place(ctx, request, False), "Allowed", f"{action} on any group is allowed"


BUILDERS: dict[str, Callable[[Context, Finding], Evidence | None]] = {
    "FORALLVALUES_WITH_SINGLE_VALUED_KEY": _forallvalues,
    "FORALLVALUES_WITH_ALLOW": _forallvalues,
    "ALLOW_WITH_NOT_PRINCIPAL": _allow_not_principal,
    "DENY_WITH_NOT_PRINCIPAL": _deny_not_principal,
    **{code: _broad_grant for code in (f"{p}_WITH_{s}" for _, _, p in GRANTS for s in (
        "STAR_IN_RESOURCE", "STAR_IN_ACTION_AND_RESOURCE", "NOT_RESOURCE", "STAR_IN_ACTION_AND_NOT_RESOURCE",
        "NOT_ACTION_AND_NOT_RESOURCE", "STAR_IN_RESOURCE_AND_NOT_ACTION"))},
    "DENY_WITH_UNSUPPORTED_TAG_CONDITION_KEY": _unsupported_tag,
    "ALLOW_WITH_UNSUPPORTED_TAG_CONDITION_KEY": _unsupported_tag,
    "DENY_NOTACTION_WITH_UNSUPPORTED_TAG_CONDITION_KEY": _unsupported_tag,
    "ALLOW_NOTACTION_WITH_UNSUPPORTED_TAG_CONDITION_KEY": _unsupported_tag,
    "WILDCARD_WITHOUT_LIKE_OPERATOR": _wildcard_without_like,
    "RESTRICT_ACCESS_TO_SERVICE_PRINCIPAL": _service_principal,
    "MISSING_GITHUB_REPO_CONDITION_KEY": _oidc,
    "MISSING_CONDITION_KEY_FOR_OIDC_PRINCIPAL": _oidc,
    "SPECIFIC_GITHUB_REPO_AND_BRANCH_RECOMMENDED": _oidc,
    "AUTOSCALING_FULL_ACCESS": _autoscaling_full_access,
}


def verified(proposal: Evidence | None) -> dict[str, Any] | None:
    """The evidence as the finding carries it, when the evaluator reaches the expected decision; else None."""
    if proposal is None:
        return None
    from iamkb.policy.evaluate import evaluate

    scenario, expected, shows = proposal
    try:
        decision = evaluate(scenario).decision
    except InputError:
        return None
    return {"scenario": scenario, "decision": decision, "shows": shows} if decision == expected else None


def attach_evidence(ctx: Context, findings: list[Finding]) -> list[Finding]:
    out = []
    for f in findings:
        builder = BUILDERS.get(f.code)
        evidence = verified(builder(ctx, f)) if builder else None
        out.append(replace(f, evidence=evidence) if evidence else f)
    return out
