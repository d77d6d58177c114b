"""The smallest change that lets a denied call through, and its proof.

For each denied requirement the fix proposes what the docs would write, scoped to the concrete resource (a
wildcard only where AWS assigns the id when the call runs) and keeping the conditions of the docs' example:
  - the caller: an identity-based policy statement (`fix`);
  - a KMS key's policy: the docs' key policy statement for the principal that needs it (`keyPolicyFix`: the
    service-linked role in the key's own account, autoscaling/key-policy-requirements-EBS-encryption
    #policy-example-cmk-access; the caller's account for a key in another account, #policy-example-cmk-cross-
    account-access);
  - a key in another account: a grant to the service-linked role (`grantFix`, with the docs' create-grant command),
    since the role's own policy cannot be edited.
Which of these a requirement needs is found by evaluating it with each (the smallest first); the whole fix is then
verified by evaluating every denied requirement again with all of it added. What no Allow can fix (an explicit
Deny, a boundary, an SCP, a session policy that does not allow it) is said in `notes`.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from typing import Any

from iamkb.callcheck.call import Call
from iamkb.callcheck.derive import Requirement

ALLOWED = "Allowed"
LIKE = {"StringEquals": "StringLike", "ArnEquals": "ArnLike"}


@dataclass
class Fix:
    """What to add, by where it goes."""

    identity: list[dict] = field(default_factory=list)
    key_policies: dict[str, list[dict]] = field(default_factory=dict)
    grants: dict[str, dict] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def empty(self) -> bool:
        return not (self.identity or self.key_policies or self.grants)


def _lookup(context: dict[str, Any], key: str) -> Any:
    low = key.lower()
    return next((v for k, v in context.items() if k.lower() == low), None)


def _unplaceheld(value: Any, placeholders: list[str]) -> tuple[Any, bool]:
    """A context value with the ids AWS assigns at run time replaced by `*` (and whether any was)."""
    if isinstance(value, list):
        parts = [_unplaceheld(v, placeholders) for v in value]
        return [p[0] for p in parts], any(p[1] for p in parts)
    text = str(value)
    out = text
    for ph in placeholders:
        out = out.replace(ph, "*")
    return out, out != text


def identity_statement(req: Requirement, placeholders: list[str]) -> dict:
    """Allow the action on the requirement's resource, with the docs' example's conditions and the request's
    values (a value holding a run-time id becomes a pattern, under the operator's Like form)."""
    stmt: dict[str, Any] = {"Effect": "Allow", "Action": req.action, "Resource": req.target.pattern}
    condition: dict[str, dict[str, Any]] = {}
    for operator, keys in req.rule["fix_conditions"].items():
        for key in keys:
            value = _lookup(req.context, key)
            if value is None:
                continue
            value, wild = _unplaceheld(value, placeholders)
            op = LIKE.get(operator, operator) if wild else operator
            condition.setdefault(op, {})[key] = value
    if condition:
        stmt["Condition"] = condition
    return stmt


def key_statement(req: Requirement, principal: str) -> dict:
    """The docs' key policy statement for this operation, for `principal`, narrowed to the operation."""
    stmt = copy.deepcopy(req.rule["key_policy_statement"])
    stmt["Principal"] = {"AWS": principal}
    stmt["Action"] = [req.action]
    stmt["Resource"] = "*"  # in a key policy, "*" is the key the policy is attached to
    if re.search(r"\d{12}", stmt.get("Sid", "")):
        del stmt["Sid"]  # it names the docs' example account
    return {k: stmt[k] for k in ("Sid", "Effect", "Principal", "Action", "Resource", "Condition") if k in stmt}


def merge_statements(statements: list[dict]) -> list[dict]:
    """Fewer, equivalent statements: one action's statements that differ only in the value of a single condition
    key join their values; then statements with the same resources and condition join their actions, and those
    with the same actions and condition join their resources."""
    by_shape: dict[tuple, dict] = {}
    for st in statements:
        cond = st.get("Condition") or {}
        single = len(cond) == 1 and len(next(iter(cond.values()))) == 1
        op, key = (next(iter(cond)), next(iter(next(iter(cond.values()))))) if single else (None, None)
        shape = (json.dumps({k: v for k, v in st.items() if k != "Condition"}, sort_keys=True),
                 op, key, None if single else json.dumps(cond, sort_keys=True))
        kept = by_shape.get(shape)
        if kept is None or not single:
            by_shape[shape] = copy.deepcopy(st)
            continue
        values = kept["Condition"][op][key]
        values = values if isinstance(values, list) else [values]
        new = st["Condition"][op][key]
        joined = sorted(set(values) | set(new if isinstance(new, list) else [new]))
        kept["Condition"][op][key] = joined[0] if len(joined) == 1 else joined
    return _join(_join(list(by_shape.values()), "Action", "Resource"), "Resource", "Action")


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _join(statements: list[dict], joined: str, same: str) -> list[dict]:
    groups: dict[str, dict] = {}
    for st in statements:
        key = json.dumps({k: v for k, v in st.items() if k != joined}, sort_keys=True)
        if key in groups:
            values = sorted(set(_as_list(groups[key][joined])) | set(_as_list(st[joined])))
            groups[key][joined] = values[0] if len(values) == 1 else values
        else:
            groups[key] = copy.deepcopy(st)
    return [groups[k] for k in sorted(groups)]


def grant_command(key_arn: str, grant: dict) -> str:
    """The docs' create-grant command (#policy-example-cmk-cross-account-access) for this key and grant."""
    ops = " ".join(f'"{op}"' for op in grant["Operations"])
    return (f"aws kms create-grant --region {key_arn.split(':')[3]} --key-id {key_arn} "
            f"--grantee-principal {grant['GranteePrincipal']} --operations {ops}")


def policy(statements: list[dict]) -> dict:
    return {"Version": "2012-10-17", "Statement": statements}


def with_fix(scenario: dict, req: Requirement, fix: Fix, call: Call) -> dict:
    """The requirement's scenario with the fix added where it applies (identity statements to the caller's
    identity-based policies, key policy statements to the key's policy)."""
    out = dict(scenario)
    if req.kind == "caller" and fix.identity:
        out["identityPolicies"] = [*scenario["identityPolicies"], policy(fix.identity)]
    added = fix.key_policies.get(req.target.arn)
    if added and scenario.get("resourcePolicy") is not None:
        base = scenario["resourcePolicy"]
        statements = base.get("Statement", [])
        out["resourcePolicy"] = {**base, "Statement": [*_as_list(statements), *added]}
    return out


def grant_allows(req: Requirement, call: Call, fix: Fix | None = None) -> dict | None:
    """The grant that lets a principal use a key for the requirement's operation: one the input lists
    (keyGrants), or one the fix proposes. Grants give the grantee the operations they list, in any account
    (autoscaling/key-policy-requirements-EBS-encryption#policy-example-cmk-cross-account-access)."""
    if req.rule["resource_type"] != "resource_type:kms:key":
        return None
    found = call.granted(req.target.arn, req.principal, req.action)
    if found is None and fix is not None:
        grant = fix.grants.get(req.target.arn)
        op = req.action.split(":", 1)[1]
        if grant and grant["GranteePrincipal"] == req.principal and op in grant["Operations"]:
            found = grant
    return found
