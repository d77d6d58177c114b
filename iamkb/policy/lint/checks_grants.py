"""Checks of what a policy allows or denies more broadly than it reads: passing any role
(iam/id_roles_use_passrole), creating any service-linked role, tag conditions on actions that never carry the tag
key, and actions or statements that repeat others.

A resource pattern counts as a wildcard for a role when it names a role the author cannot have meant: it matches a
role called `iamkb-any-role` in its account. So "*", "arn:aws:iam::*:role/*" count, and
"arn:aws:iam::*:role/Service*" (a service's naming convention) does not.
"""

from __future__ import annotations

from collections.abc import Iterator

from iamkb.policy.grammar import Statement
from iamkb.policy.lint.checks_arns import ACCOUNT
from iamkb.policy.lint.checks_names import applicable_keys, expanded_actions
from iamkb.policy.lint.core import Context, Finding, arn_fields, emits, is_pattern
from iamkb.policy.matching import action_glob_matches, action_matcher
from iamkb.policy.wildcards import glob

ANY_ROLE_NAME = "iamkb-any-role"
RESOURCE_TAG = "aws:resourcetag/${tagkey}"
# (action, the condition key that limits it as well as naming resources would, code prefix): iam:PassRole to the
# services in iam:PassedToService, iam:CreateServiceLinkedRole to the services in iam:AWSServiceName.
GRANTS = (("iam:PassRole", "iam:passedtoservice", "PASS_ROLE"),
          ("iam:CreateServiceLinkedRole", "iam:awsservicename", "CREATE_SLR"))


def any_role_arn(pattern: str) -> str:
    """The role ARN a resource pattern is tested against: `iamkb-any-role` in the pattern's account."""
    fields = arn_fields(pattern)
    account = fields[4] if len(fields) == 6 and ACCOUNT.match(fields[4]) else "111122223333"
    partition = fields[1] if len(fields) == 6 and fields[1] and not is_pattern(fields[1]) else "aws"
    return f"arn:{partition}:iam::{account}:role/{ANY_ROLE_NAME}"


def wildcard_role_resources(st: Statement) -> list[str]:
    """The statement's Resource entries that match a role the author cannot have meant."""
    return [r for r in st.resources or () if r == "*" or glob(r).matches(any_role_arn(r))]


def _grant_shape(st: Statement, action: str) -> tuple[str, str] | None:
    """How an Allow statement grants `action` broadly: (action part, resource part) of the Access Analyzer check
    name ("STAR_IN_ACTION" / "" / "NOT_ACTION", "STAR_IN_RESOURCE" / "NOT_RESOURCE"), None when it does not."""
    if st.effect != "Allow":
        return None
    if st.actions is not None:
        matching = [a for a in st.actions if a == "*" or action_glob_matches(a, action)]
        if not matching:
            return None
        how = "" if all(a.lower() == action.lower() for a in matching) else "STAR_IN_ACTION"
    elif action_matcher(st.not_actions or ()).matches(action):
        return None
    else:
        how = "NOT_ACTION"
    if st.not_resources is not None:
        return how, "NOT_RESOURCE"
    return (how, "STAR_IN_RESOURCE") if wildcard_role_resources(st) else None


def grant_code(prefix: str, how: str, where: str) -> str:
    """The Access Analyzer check's code for a shape: PASS_ROLE_WITH_STAR_IN_ACTION_AND_NOT_RESOURCE, ..."""
    if how == "NOT_ACTION":
        return (f"{prefix}_WITH_NOT_ACTION_AND_NOT_RESOURCE" if where == "NOT_RESOURCE"
                else f"{prefix}_WITH_STAR_IN_RESOURCE_AND_NOT_ACTION")
    return f"{prefix}_WITH_{how}_AND_{where.removeprefix('STAR_IN_')}" if how else f"{prefix}_WITH_{where}"


@emits(*(grant_code(p, h, w) for _, _, p in GRANTS for h in ("", "STAR_IN_ACTION", "NOT_ACTION")
         for w in ("STAR_IN_RESOURCE", "NOT_RESOURCE")))
def check_broad_grants(ctx: Context) -> Iterator[Finding]:
    for st in ctx.policy.statements:
        for action, limiting_key, prefix in GRANTS:
            shape = _grant_shape(st, action)
            if shape is None:
                continue
            how, where = shape
            if where == "STAR_IN_RESOURCE" and any(c.key.lower() == limiting_key for c in st.conditions):
                continue
            element = "NotAction" if how == "NOT_ACTION" else "Action"
            scope = "every resource but the listed ones" if where == "NOT_RESOURCE" else "any role"
            yield Finding(grant_code(prefix, how, where), f"allows {action} on {scope}", f"{st.path}.{element}")


@emits("AUTOSCALING_FULL_ACCESS")
def check_autoscaling_full_access(ctx: Context) -> Iterator[Finding]:
    for st in ctx.policy.statements:
        if (st.effect == "Allow" and any(a.lower() == "autoscaling:*" for a in st.actions or ())
                and "*" in (st.resources or ()) and not st.conditions):
            yield Finding("AUTOSCALING_FULL_ACCESS", "autoscaling:* is allowed on every resource", f"{st.path}.Action")


def _resource_tag_conditions(st: Statement) -> list:
    return [c for c in st.conditions if c.key.lower().startswith("aws:resourcetag/")]


def untagged_actions(ctx: Context, st: Statement) -> list[str]:
    """Named actions of the statement that never carry aws:ResourceTag (covered services only)."""
    out = []
    for action in st.actions or ():
        record = None if is_pattern(action) else ctx.ref.action(action)
        if record is not None and RESOURCE_TAG not in applicable_keys(ctx.ref, record):
            out.append(record["id"].removeprefix("action:"))
    return sorted(set(out))


@emits("DENY_WITH_UNSUPPORTED_TAG_CONDITION_KEY", "ALLOW_WITH_UNSUPPORTED_TAG_CONDITION_KEY",
       "DENY_NOTACTION_WITH_UNSUPPORTED_TAG_CONDITION_KEY", "ALLOW_NOTACTION_WITH_UNSUPPORTED_TAG_CONDITION_KEY")
def check_tag_keys(ctx: Context) -> Iterator[Finding]:
    for st in ctx.policy.statements:
        for cond in _resource_tag_conditions(st):
            effect = st.effect.upper()
            if st.not_actions is not None:
                yield Finding(f"{effect}_NOTACTION_WITH_UNSUPPORTED_TAG_CONDITION_KEY",
                              f"the {st.effect} reaches every action but the listed ones, and those that never carry "
                              f"'{cond.key}' are not {'denied' if effect == 'DENY' else 'allowed'} by it: list the "
                              "actions in Action", cond.path)
                continue
            missing = untagged_actions(ctx, st) if ctx.ref is not None else []
            if missing:
                services = sorted({a.split(':')[0] for a in missing})
                verb = "denies" if effect == "DENY" else "allows"
                yield Finding(f"{effect}_WITH_UNSUPPORTED_TAG_CONDITION_KEY",
                              f"{', '.join(missing)} ({', '.join(services)}) never carry '{cond.key}', so this statement "
                              f"never {verb} them: move them to a statement without the condition", cond.path)


def _covered(ctx: Context, general: str, specific: str) -> bool | None:
    """Whether Action pattern `general` covers `specific` by the text alone (None: it takes the reference)."""
    if general == "*":
        return True
    if specific == "*" or general.split(":")[0].lower() != specific.split(":")[0].lower():
        return False
    if not is_pattern(specific):
        return action_glob_matches(general, specific)
    return True if action_glob_matches(general, specific) else None


@emits("REDUNDANT_ACTION")
def check_redundant_actions(ctx: Context) -> Iterator[Finding]:
    for st in ctx.policy.statements:
        for name, values in (("Action", st.actions), ("NotAction", st.not_actions)):
            values = values or ()
            for i, action in enumerate(values):
                others = [o for j, o in enumerate(values) if j != i and not (o.lower() == action.lower() and j > i)]
                direct = next((o for o in others if o.lower() == action.lower() or _covered(ctx, o, action)), None)
                if direct is None and is_pattern(action) and ctx.ref is not None:
                    mine = {r["id"] for r in expanded_actions(ctx, (action,))}
                    theirs = {r["id"] for r in expanded_actions(ctx, tuple(others))}
                    direct = ", ".join(o for o in others if o.split(":")[0].lower() == action.split(":")[0].lower()) \
                        if mine and mine <= theirs else None
                if direct:
                    where = f"{st.path}.{name}" if len(values) == 1 else f"{st.path}.{name}[{i}]"
                    yield Finding("REDUNDANT_ACTION", f"'{action}' is already covered by {direct}", where)


@emits("REDUNDANT_STATEMENT")
def check_redundant_statements(ctx: Context) -> Iterator[Finding]:
    """A statement without conditions whose actions and resources another same-effect statement covers."""
    plain = [st for st in ctx.policy.statements if not st.conditions and st.actions and st.resources
             and st.principals is None and st.not_principals is None]
    for st in plain:
        for other in plain:
            if other is st or other.effect != st.effect:
                continue
            acts = action_matcher(other.actions or ())
            covers_actions = all(not is_pattern(a) and acts.matches(a) for a in st.actions or ()) \
                or "*" in (other.actions or ())
            covers_resources = "*" in (other.resources or ()) or set(st.resources or ()) <= set(other.resources or ())
            identical = (st.actions, st.resources) == (other.actions, other.resources)
            if covers_actions and covers_resources and (not identical or other.index < st.index):
                yield Finding("REDUNDANT_STATEMENT", f"{other.path} already covers this statement", st.path)
                break


CHECKS = (check_broad_grants, check_autoscaling_full_access, check_tag_keys, check_redundant_actions,
          check_redundant_statements)
