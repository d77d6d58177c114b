"""`iamkb can-i [--json] FILE`: can this principal make this Auto Scaling call, as a whole?

A call needs more than its own action: the docs' tables (autoscaling/ec2-auto-scaling-api-permissions, the launch
template and KMS key policy pages, the service-linked role pages) add ec2:RunInstances on each resource of the
launch, iam:PassRole for each role the call hands over, ec2:CreateTags when the template tags on launch,
iam:CreateServiceLinkedRole the first time, and key policies that let the service-linked role use a customer
managed key. The rules are KB data (kb/build/call_rules.json, built from kb/call_rules.yml and the parsed docs by
iamkb.callrules); this package applies them to one call:

    call.py    read and validate the input (JSON paths in every error)
    derive.py  the requirements: who needs which action on which concrete resource, with which context
    fix.py     the smallest statements that grant what is missing, verified by evaluating again
    render.py  the text form

Each requirement is one request evaluated by the policy engine as `iamkb simulate` evaluates a list: one
`Compiler` per check (each policy validated and compiled once, its errors named by their JSON path), `decide` per
request. Output (DESIGN.md): {"verdict", "requirements": [{"principal","action","resource","reason","source",
"decision","explain", ...}], "fix", ...}; exit 0 allowed, 1 denied, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iamkb import store
from iamkb.callcheck.call import Call, read_call
from iamkb.callcheck.derive import Requirement, requirements
from iamkb.callcheck.fix import (
    ALLOWED,
    Fix,
    grant_allows,
    grant_command,
    identity_statement,
    key_statement,
    merge_statements,
    policy,
    with_fix,
)
from iamkb.errors import InputError
from iamkb.policy.evaluate import Compiler, Decision, decide

POLICY_FIELDS = ("permissionBoundaries", "serviceControlPolicies", "sessionPolicy")


def load_rules(build_dir: Path | None = None) -> dict[str, Any]:
    """kb/build/call_rules.json (built by `iamkb build-kb`)."""
    return store.load("call_rules", build_dir)


@dataclass
class Outcome:
    """One requirement with its decision."""

    req: Requirement
    decision: str
    reason: str
    explain: list[dict]
    grant: dict | None = None

    @property
    def allowed(self) -> bool:
        return self.decision == ALLOWED


class Checker:
    """Checks calls against one set of rules; the JSON Schema validators are made once per Checker."""

    def __init__(self, rules: dict[str, Any]) -> None:
        import jsonschema

        self.rules = rules
        self.placeholders = list(rules["placeholders"].values())
        self.input_validator = jsonschema.Draft202012Validator(rules["input_schema"])
        self.validators = {op: jsonschema.Draft202012Validator(spec["input_schema"])
                           for op, spec in rules["operations"].items()}
        self.slr_policy = rules["service_linked_role"]["policy"]["document"]

    # ------------------------------------------------------------------------------------------ check

    def check(self, obj: Any, where: str = "") -> dict[str, Any]:
        """One can-i object -> its result (InputError names the JSON path, prefixed with `where`)."""
        call, outcomes = self.outcomes(obj, where)
        fix = self.propose(call, outcomes) if not all(o.allowed for o in outcomes) else Fix()
        verified = self.verify(call, outcomes, fix) if not fix.empty() else None
        return self.result(call, outcomes, fix, verified)

    def outcomes(self, obj: Any, where: str = "") -> tuple[Call, list[Outcome]]:
        """The call read from its input, and each requirement with its decision (before any fix)."""
        compiler = Compiler()
        try:
            call = read_call(obj, self.input_validator, self.rules["operations"], self.validators)
            _compile_policies(obj, compiler)
        except InputError as err:
            raise InputError(_at(where, str(err))) from None
        call.compiler = compiler
        return call, self.evaluate(call, requirements(call, self.rules))

    def decide(self, call: Call, scenario: dict[str, Any]) -> Decision:
        """One scenario, with the check's Compiler (the input's policies are compiled once per check)."""
        return decide(call.compiler.scenario(scenario))

    def scenario(self, call: Call, req: Requirement) -> dict[str, Any]:
        """The requirement as a simulate scenario: the caller's policies, or the service-linked role's managed
        policy (a service-linked role is not the caller: the caller's boundary, session policy and SCPs do not
        apply to it; SCPs never restrict service-linked roles, AWS Organizations User Guide), plus the key
        policy as the resource-based policy of a KMS key."""
        if req.kind == "caller":
            out = {"request": req.request(), "identityPolicies": call.raw["identityPolicies"]}
            out.update({k: call.raw[k] for k in POLICY_FIELDS if call.raw.get(k) is not None})
        else:
            out = {"request": req.request(), "identityPolicies": [self.slr_policy]}
        if req.resource_policy is not None:
            out["resourcePolicy"] = req.resource_policy
        return out

    def evaluate(self, call: Call, reqs: list[Requirement]) -> list[Outcome]:
        decisions = [self.decide(call, self.scenario(call, r)) for r in reqs]
        out = []
        for req, dec in zip(reqs, decisions, strict=True):
            explain = [e for e in dec.to_json()["explain"] if e["action"]["matches"]]
            outcome = Outcome(req, dec.decision, dec.reason, explain)
            grant = grant_allows(req, call) if dec.decision == "ImplicitlyDenied" else None
            if grant is not None:
                outcome.decision, outcome.grant = ALLOWED, grant
                outcome.reason = f"allowed by the grant {grant.get('GrantId') or 'to ' + req.principal} on the key"
            elif not outcome.allowed and req.kind == "service_linked_role" and \
                    call.key_account(req.target.arn) != call.account:
                outcome.reason += ("; a key in another account is used through a grant to the service-linked role, "
                                   "and keyGrants lists none for this operation")
            out.append(outcome)
        return out

    # -------------------------------------------------------------------------------------------- fix

    def propose(self, call: Call, outcomes: list[Outcome]) -> Fix:
        """For each denied requirement, the smallest of its candidate fixes that the engine allows."""
        fix = Fix()
        for o in outcomes:
            if o.allowed:
                continue
            req = o.req
            where = f"{req.action} on {req.target.arn}"
            if o.decision == "ExplicitlyDenied":
                fix.notes.append(f"{where}: {o.reason}; no Allow overrides an explicit Deny: remove or narrow that "
                                 "statement")
                continue
            if req.kind == "service_linked_role":
                self._service_linked_role_fix(call, req, fix)
                continue
            self._caller_fix(call, o, fix)
        fix.identity = merge_statements(fix.identity)
        fix.key_policies = {k: merge_statements(v) for k, v in sorted(fix.key_policies.items())}
        return fix

    def _service_linked_role_fix(self, call: Call, req: Requirement, fix: Fix) -> None:
        """Its own policy cannot be edited: the key's policy must name it (same account), or a grant must give it
        the operation (key in another account)."""
        key = req.target.arn
        if call.key_account(key) == call.account:
            fix.key_policies.setdefault(key, []).append(key_statement(req, req.principal))
        else:
            grant = fix.grants.setdefault(key, {"KeyId": key, "GranteePrincipal": req.principal, "Operations": []})
            grant["Operations"].append(req.action.split(":", 1)[1])

    def _caller_fix(self, call: Call, o: Outcome, fix: Fix) -> None:
        req = o.req
        base = self.scenario(call, req)
        stmt = identity_statement(req, self.placeholders)
        key_stmt = key_statement(req, f"arn:{call.partition}:iam::{call.principal_account}:root") \
            if req.rule.get("key_policy_statement") and req.resource_policy is not None else None
        trials = [Fix(identity=[stmt])]
        if key_stmt:
            trials += [Fix(key_policies={req.target.arn: [key_stmt]}),
                       Fix(identity=[stmt], key_policies={req.target.arn: [key_stmt]})]
        for trial in trials:
            if self.decide(call, with_fix(base, req, trial, call)).decision == ALLOWED:
                fix.identity += trial.identity
                for k, v in trial.key_policies.items():
                    fix.key_policies.setdefault(k, []).extend(v)
                return
        last = trials[-1]
        identity_only = {k: v for k, v in base.items() if k in ("request", "identityPolicies", "resourcePolicy")}
        if self.decide(call, identity_only).decision != ALLOWED:
            fix.identity.append(stmt)  # needed as well, though not enough
        after = self.decide(call, with_fix(base, req, last, call))
        fix.notes.append(f"{req.action} on {req.target.arn}: {after.reason} even with the fix; {_blocker(after.reason)}")

    def verify(self, call: Call, outcomes: list[Outcome], fix: Fix) -> bool:
        """Every denied requirement evaluated again with the whole fix added: True when all are then allowed."""
        ok = True
        for o in outcomes:
            if o.allowed:
                continue
            after = self.decide(call, with_fix(self.scenario(call, o.req), o.req, fix, call)).decision
            if after != ALLOWED and not (after == "ImplicitlyDenied" and grant_allows(o.req, call, fix)):
                ok = False
        return ok

    # ----------------------------------------------------------------------------------------- output

    def result(self, call: Call, outcomes: list[Outcome], fix: Fix, verified: bool | None) -> dict[str, Any]:
        notes = list(call.notes)
        if call.uses_launch_template() and call.launch_template is None:
            notes.append("launchTemplate not given: what the template names (instance profile, tags on launch, AMI, "
                         "security groups, key pair, KMS keys) is not checked; give its LaunchTemplateData (aws ec2 "
                         "describe-launch-template-versions)")
        if call.action == "autoscaling:CreateAutoScalingGroup" and "serviceLinkedRoleExists" not in call.raw \
                and not call.input.get("ServiceLinkedRoleARN"):
            notes.append("serviceLinkedRoleExists not given: the default service-linked role is taken to exist "
                         "(iam:CreateServiceLinkedRole is not checked)")
        grants = [{**g, "command": grant_command(k, g)} for k, g in sorted(fix.grants.items())]
        return {
            "verdict": ALLOWED if all(o.allowed for o in outcomes) else "Denied",
            "call": {"action": call.action, "region": call.region, "account": call.account,
                     "principal": call.principal, "serviceLinkedRole": call.service_linked_role_arn()},
            "requirements": [requirement_json(o) for o in outcomes],
            "fix": policy(fix.identity) if fix.identity else None,
            "keyPolicyFix": {k: policy(v) for k, v in fix.key_policies.items()} or None,
            "grantFix": grants or None,
            "fixVerified": verified,
            "notes": notes + fix.notes,
        }


def requirement_json(o: Outcome) -> dict[str, Any]:
    rule = o.req.rule
    out = {
        "id": rule["id"], "principal": o.req.principal, "for": rule["principal"], "action": o.req.action,
        "resource": o.req.target.arn, "context": o.req.context, "reason": rule["reason"], "source": rule["source"],
        "sources": rule["sources"], "when": rule["when_text"], "decision": o.decision, "evaluation": o.reason,
        "explain": o.explain,
    }
    if rule["docs_name"]:
        out["docsName"] = rule["docs_name"]
    if o.grant is not None:
        out["grant"] = o.grant
    return out


def _at(where: str, message: str) -> str:
    """A message's JSON path inside a list item: `[2]` + `call.action: ...` -> `[2].call.action: ...`."""
    if message.startswith("(top)"):
        return f"{where or '(top)'}{message[5:]}"
    return f"{where}.{message}" if where else message


def _blocker(reason: str) -> str:
    if "boundary" in reason:
        return "the permissions boundary must allow it too"
    if "service control" in reason:
        return "a service control policy of the organization must allow it (an administrator's change)"
    if "session policy" in reason:
        return "the session policy passed when the role was assumed must allow it too"
    return "see its explain entries"


def _compile_policies(obj: dict[str, Any], compiler: Compiler) -> None:
    """Every policy of the input, validated and compiled once under its own JSON path (evaluating a requirement
    reuses the compiled policy; an error would otherwise be named by the requirement's scenario)."""
    for i, doc in enumerate(obj.get("identityPolicies") or []):
        compiler.policy(doc, f"identityPolicies[{i}]", "identity")
    for i, doc in enumerate(obj.get("permissionBoundaries") or []):
        compiler.policy(doc, f"permissionBoundaries[{i}]", "boundary")
    for i, level in enumerate(obj.get("serviceControlPolicies") or []):
        if not isinstance(level, list):
            raise InputError(f"serviceControlPolicies[{i}]: an SCP level must be a list of policies")
        for j, doc in enumerate(level):
            compiler.policy(doc, f"serviceControlPolicies[{i}][{j}]", "scp")
    if obj.get("sessionPolicy") is not None:
        compiler.policy(obj["sessionPolicy"], "sessionPolicy", "session")
    for key, doc in (obj.get("keyPolicies") or {}).items():
        compiler.policy(doc, f"keyPolicies.{key}", "resource")


def check_text(text: str, where: str, checker: Checker) -> dict[str, Any] | list[dict[str, Any]]:
    """Decode and check one object or a list, mirroring the input."""
    from iamkb.policy.grammar import load_json_text

    data = load_json_text(text, where)
    try:
        if isinstance(data, list):
            return [checker.check(item, f"[{i}]") for i, item in enumerate(data)]
        return checker.check(data)
    except InputError as err:
        raise InputError(str(err), where=where) from None


def verdict_code(result: dict | list) -> int:
    results = result if isinstance(result, list) else [result]
    return 0 if all(r["verdict"] == ALLOWED for r in results) else 1


# ------------------------------------------------------------------------------------------------------- CLI


def add_can_i_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="one call (or a list) with the caller's policies; - reads stdin")
    parser.add_argument("--json", action="store_true", help="print JSON: one result or a list")


def run_can_i(args: argparse.Namespace) -> int:
    from iamkb.callcheck.render import render
    from iamkb.policy.simulate import read_input

    text, where = read_input(args.file)
    result = check_text(text, where, Checker(load_rules()))
    if args.json:
        json.dump(result, sys.stdout, indent=2 if isinstance(result, dict) else None, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        results = result if isinstance(result, list) else [result]
        print("\n\n".join(render(r) for r in results))
    return verdict_code(result)


__all__ = ["Checker", "check_text", "load_rules", "verdict_code"]
