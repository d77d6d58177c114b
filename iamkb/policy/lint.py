"""`iamkb check [--json] POLICY`: lint a policy document against the grammar and the reference data.

The catalog of finding codes is data (code, severity, title, description, doc section); each code has one small
check function, as parliament does. Grammar errors are findings too (code MALFORMED, with their JSON paths);
input that is not a policy at all (malformed JSON, not an object) is bad input: exit 2. Exit 1 when any finding
has severity "error". Checks that need names (unknown action, resource types, key types) use
`iamkb.refdata.load_reference()`; if the knowledge base is not built they are skipped with a note.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from iamkb.errors import InputError
from iamkb.policy.grammar import Policy, Statement, load_json_text, validate
from iamkb.policy.matching import action_matcher


@dataclass(frozen=True)
class Code:
    code: str
    severity: str  # error | warning | info
    title: str
    description: str
    section: str  # KB section id of the page that documents the rule


CATALOG: tuple[Code, ...] = (
    Code("MALFORMED", "error", "Malformed policy element",
         "The element does not follow the policy grammar; AWS rejects the policy.",
         "iam/reference_policies_elements#reference_policies_elements"),
    Code("UNKNOWN_SERVICE", "error", "Unknown service prefix",
         "No AWS service has this prefix, so the action never matches a request.",
         "iam/reference_policies_elements_action#reference_policies_elements_action"),
    Code("UNKNOWN_ACTION", "error", "Unknown action",
         "The service has no action of this name.",
         "iam/reference_policies_elements_action#reference_policies_elements_action"),
    Code("WILDCARD_MATCHES_NOTHING", "error", "Action wildcard matches no action",
         "The pattern matches no action of the service.",
         "iam/reference_policies_elements_action#reference_policies_elements_action"),
    Code("CONDITION_KEY_NOT_APPLICABLE", "warning", "Condition key does not apply",
         "No action in the statement supports this condition key, so the key is never in the request context.",
         "iam/reference_policies_elements_condition#AccessPolicyLanguage_RequestContext"),
    Code("RESOURCE_MATCHES_NO_TYPE", "warning", "Resource ARN matches no resource type of the actions",
         "The ARN does not fit any resource type the statement's actions work on.",
         "iam/reference_policies_elements_resource#reference_policies_elements_resource"),
    Code("NO_RESOURCE_LEVEL_PERMISSIONS", "warning", "Action does not support resource-level permissions",
         "The action only works with Resource \"*\"; a specific ARN never matches its requests.",
         "iam/reference_policies_elements_resource#reference_policies_elements_resource"),
    Code("OPERATOR_TYPE_MISMATCH", "warning", "Condition operator does not fit the key's type",
         "The operator family (String, Numeric, Date, Bool, ARN, IP) differs from the condition key's type.",
         "iam/reference_policies_elements_condition_operators#reference_policies_elements_condition_operators"),
    Code("NULL_NOT_BOOLEAN", "error", "Null with a non-boolean value",
         "The Null operator takes true (key absent) or false (key present).",
         "iam/reference_policies_elements_condition_operators#Conditions_Null"),
    Code("FORALLVALUES_WITH_ALLOW", "warning", "ForAllValues in an Allow statement",
         "ForAllValues is true when the key is missing or empty, so the Allow can grant more than intended; "
         "pair it with a Null check or use ForAnyValue.",
         "iam/reference_policies_multi-value-conditions#reference_policies_multi-value-conditions"),
    Code("PASSROLE_ANY_ROLE", "error", "iam:PassRole on any role",
         "Allowing iam:PassRole on \"*\" lets the principal pass any role, including administrator roles.",
         "iam/id_roles_use_passrole#id_roles_use_passrole"),
    Code("AUTOSCALING_FULL_ACCESS", "warning", "autoscaling:* on every resource",
         "Grants every Auto Scaling action, including deletes, on every group.",
         "autoscaling/security-iam#security-iam"),
    Code("DUPLICATE_SID", "error", "Duplicate Sid",
         "Statement ids must be unique within a policy.",
         "iam/reference_policies_elements_sid#reference_policies_elements_sid"),
    Code("REDUNDANT_STATEMENT", "info", "Redundant statement",
         "Another statement with the same effect already covers every action and resource of this one.",
         "iam/reference_policies_elements_statement#reference_policies_elements_statement"),
    Code("REFERENCE_UNAVAILABLE", "info", "Reference data not built",
         "Checks against the Service Authorization Reference were skipped: run `iamkb build-kb`.",
         "iam/reference_policies_elements_action#reference_policies_elements_action"),
)
BY_CODE = {c.code: c for c in CATALOG}


@dataclass(frozen=True)
class Finding:
    code: str
    message: str
    path: str

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "severity": BY_CODE[self.code].severity, "message": self.message,
                "path": self.path}


Check = Callable[[Policy, Any], Iterator[Finding]]


def _actions_of(st: Statement) -> tuple[str, ...]:
    return st.actions or ()


def _element(st: Statement, name: str, values: tuple[str, ...], i: int) -> str:
    return f"{st.path}.{name}" if len(values) == 1 else f"{st.path}.{name}[{i}]"


def check_actions(policy: Policy, ref: Any) -> Iterator[Finding]:
    """UNKNOWN_SERVICE, UNKNOWN_ACTION, WILDCARD_MATCHES_NOTHING."""
    if ref is None:
        return
    for st in policy.statements:
        for name in ("actions", "not_actions"):
            values = getattr(st, name) or ()
            for i, action in enumerate(values):
                if action == "*":
                    continue
                service = action.split(":", 1)[0]
                where = _element(st, "Action" if name == "actions" else "NotAction", values, i)
                if not ref.service_known(service):
                    yield Finding("UNKNOWN_SERVICE", f"unknown service prefix '{service}' in '{action}'", where)
                elif "*" in action or "?" in action:
                    if ref.service_covered(service) and not ref.actions_matching(action):
                        yield Finding("WILDCARD_MATCHES_NOTHING", f"'{action}' matches no action", where)
                elif ref.service_covered(service) and ref.action(action) is None:
                    near = ref.suggest_actions(action)
                    hint = f" (did you mean {', '.join(near)}?)" if near else ""
                    yield Finding("UNKNOWN_ACTION", f"unknown action '{action}'{hint}", where)


def _expanded(st: Statement, ref: Any) -> list[dict]:
    out = []
    for action in _actions_of(st):
        if action == "*":
            continue
        for name in ref.actions_matching(action) if ("*" in action or "?" in action) else [action]:
            record = ref.action(name)
            if record:
                out.append(record)
    return out


def check_condition_keys(policy: Policy, ref: Any) -> Iterator[Finding]:
    """CONDITION_KEY_NOT_APPLICABLE and OPERATOR_TYPE_MISMATCH (global aws: keys apply everywhere)."""
    if ref is None:
        return
    families = {"String": "String", "Numeric": "Numeric", "Date": "Date", "Bool": "Bool", "Arn": "ARN",
                "IpAddress": "IPAddress", "NotIpAddress": "IPAddress", "Binary": "Binary"}
    for st in policy.statements:
        records = _expanded(st, ref)
        for cond in st.conditions:
            key_record = ref.condition_key(cond.key)
            if records and not cond.key.lower().startswith("aws:"):
                applicable = set()
                for r in records:
                    applicable.update(k.lower() for k in r.get("condition_keys", []))
                    for rt in r.get("resource_types", []):
                        applicable.update(k.lower() for k in rt.get("condition_keys", []))
                template = (key_record or {}).get("key", cond.key).lower()
                if template not in applicable and cond.key.lower() not in applicable:
                    yield Finding("CONDITION_KEY_NOT_APPLICABLE",
                                  f"no action in the statement supports condition key '{cond.key}'", cond.path)
            if key_record and cond.base != "Null":
                key_type = str(key_record.get("type", ""))
                family = next((f for p, f in families.items() if cond.base.startswith(p)), None)
                base_type = key_type.replace("ArrayOf", "")
                if family and base_type and family.lower() != base_type.lower() and not (
                        family == "String" and base_type in ("ARN",)):
                    yield Finding("OPERATOR_TYPE_MISMATCH",
                                  f"{cond.base} on '{cond.key}', whose type is {key_type}", cond.path)


def check_resources(policy: Policy, ref: Any) -> Iterator[Finding]:
    """RESOURCE_MATCHES_NO_TYPE and NO_RESOURCE_LEVEL_PERMISSIONS for specific ARNs."""
    if ref is None:
        return
    for st in policy.statements:
        records = _expanded(st, ref)
        for i, arn in enumerate(st.resources or ()):
            if arn == "*" or not records:
                continue
            where = _element(st, "Resource", st.resources or (), i)
            service = arn.split(":")[2] if arn.count(":") >= 2 else ""
            wildcard_only = [r for r in records if not r.get("resource_types")]
            if wildcard_only and len(wildcard_only) == len(records):
                yield Finding("NO_RESOURCE_LEVEL_PERMISSIONS",
                              f"{', '.join(sorted(r['id'] for r in wildcard_only)[:3])} only work with Resource \"*\"",
                              where)
                continue
            if service and "*" not in service and ref.service_covered(service):
                types = {rt["name"] for r in records for rt in r.get("resource_types", [])}
                found = {t["name"] for t in ref.resource_types_for_arn(service, arn)}
                if types and not (types & found):
                    yield Finding("RESOURCE_MATCHES_NO_TYPE",
                                  f"'{arn}' matches none of the resource types {sorted(types)}", where)


def check_null(policy: Policy, ref: Any) -> Iterator[Finding]:
    for st in policy.statements:
        for cond in st.conditions:
            if cond.base == "Null" and any(v.lower() not in ("true", "false") for v in cond.values):
                yield Finding("NULL_NOT_BOOLEAN", f"Null takes true or false, got {list(cond.values)}", cond.path)


def check_forallvalues_allow(policy: Policy, ref: Any) -> Iterator[Finding]:
    for st in policy.statements:
        for cond in st.conditions:
            if st.effect == "Allow" and cond.set_operator == "ForAllValues":
                yield Finding("FORALLVALUES_WITH_ALLOW",
                              f"{cond.operator} in an Allow is true when '{cond.key}' is absent", cond.path)


def _covers_everything(st: Statement) -> bool:
    return st.resources is not None and "*" in st.resources and not st.conditions


def check_broad(policy: Policy, ref: Any) -> Iterator[Finding]:
    """PASSROLE_ANY_ROLE and AUTOSCALING_FULL_ACCESS."""
    for st in policy.statements:
        if st.effect != "Allow" or st.actions is None:
            continue
        matcher = action_matcher(st.actions)
        if st.resources is not None and "*" in st.resources and matcher.matches("iam:PassRole") \
                and any(a.lower().startswith("iam:") for a in st.actions):
            yield Finding("PASSROLE_ANY_ROLE", "iam:PassRole is allowed on every role", f"{st.path}.Action")
        if _covers_everything(st) and any(a.lower() == "autoscaling:*" for a in st.actions):
            yield Finding("AUTOSCALING_FULL_ACCESS", "autoscaling:* is allowed on every resource",
                          f"{st.path}.Action")


def check_sids(policy: Policy, ref: Any) -> Iterator[Finding]:
    seen: dict[str, str] = {}
    for st in policy.statements:
        if st.sid is None:
            continue
        if st.sid in seen:
            yield Finding("DUPLICATE_SID", f"Sid '{st.sid}' is also used by {seen[st.sid]}", f"{st.path}.Sid")
        else:
            seen[st.sid] = st.path


def check_redundant(policy: Policy, ref: Any) -> Iterator[Finding]:
    """A statement without conditions whose actions and resources another same-effect statement covers."""
    plain = [st for st in policy.statements if not st.conditions and st.actions and st.resources
             and st.principals is None and st.not_principals is None]
    for st in plain:
        for other in plain:
            if other is st or other.effect != st.effect:
                continue
            acts = action_matcher(other.actions or ())
            covers_actions = all("*" not in a and "?" not in a and acts.matches(a) for a in st.actions or ()) \
                or "*" in (other.actions or ())
            covers_resources = "*" in (other.resources or ()) or set(st.resources or ()) <= set(other.resources or ())
            if covers_actions and covers_resources and (st.actions, st.resources) != (other.actions,
                                                                                       other.resources):
                yield Finding("REDUNDANT_STATEMENT", f"{other.path} already covers this statement", st.path)
                break


CHECKS: tuple[Check, ...] = (check_actions, check_condition_keys, check_resources, check_null,
                             check_forallvalues_allow, check_broad, check_sids, check_redundant)


def _reference() -> Any:
    try:
        from iamkb.refdata import load_reference

        return load_reference()
    except InputError:
        return None


def lint_document(doc: Any, ref: Any = None, use_reference: bool = True) -> list[Finding]:
    """All findings for a decoded document; grammar errors come back as MALFORMED findings."""
    if not isinstance(doc, dict):
        raise InputError(f"a policy must be a JSON object, got {type(doc).__name__}", where="(top)")
    policy, errors = validate(doc)
    if errors:
        return [Finding("MALFORMED", e.message, e.path) for e in errors]
    assert policy is not None
    if ref is None and use_reference:
        ref = _reference()
    findings = [] if ref is not None or not use_reference else [
        Finding("REFERENCE_UNAVAILABLE", "reference data not found; name checks skipped", "(top)")]
    for check in CHECKS:
        findings.extend(check(policy, ref))
    return findings


def check_text(text: str, where: str, ref: Any = None, use_reference: bool = True) -> dict[str, list[dict[str, str]]]:
    """What `iamkb check --json` prints for a policy's JSON text: {"findings": [...]}.

    The CLI, the API and the site's pages (under Pyodide) all call this, so they report the same findings; bad
    input (not JSON, not an object) is an InputError naming `where`.
    """
    doc = load_json_text(text, where)
    try:
        findings = lint_document(doc, ref=ref, use_reference=use_reference)
    except InputError as err:
        raise InputError(str(err), where=where) from None
    return {"findings": [f.to_json() for f in findings]}


def add_check_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("policy", metavar="POLICY", help="policy JSON file; - reads stdin")
    parser.add_argument("--json", action="store_true", help='print {"findings": [...]}')


def run_check(args: argparse.Namespace) -> int:
    from iamkb.policy.simulate import read_input

    text, where = read_input(args.policy)
    out = check_text(text, where)["findings"]
    if args.json:
        json.dump({"findings": out}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for f in out:
            print(f"{f['severity']}: {f['code']} at {f['path']}: {f['message']}")
        print(f"{len(out)} finding(s)")
    return 1 if any(f["severity"] == "error" for f in out) else 0
