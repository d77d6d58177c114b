"""Run the checks on one document: grammar first, then every check that applies to the policy type, then the
evidence and the configuration.

The policy type decides which checks run (`--policy-type`, DESIGN.md's six); "auto" reads it from the document:
a statement with Principal or NotPrincipal makes it resource-based, a role trust policy when every such statement
is about assuming a role (sts:AssumeRole*, sts:TagSession, sts:SetSourceIdentity) and names no resource; otherwise
identity-based.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, replace
from typing import Any

from iamkb.errors import InputError
from iamkb.policy.grammar import Policy, validate
from iamkb.policy.lint import (
    checks_arns,
    checks_conditions,
    checks_grants,
    checks_names,
    checks_principals,
    checks_structure,
    checks_values,
    checks_variables,
)
from iamkb.policy.lint.catalog import BY_CODE, POLICY_TYPES
from iamkb.policy.lint.config import Config
from iamkb.policy.lint.core import Check, Context, Finding
from iamkb.policy.lint.evidence import attach_evidence

CHECKS: tuple[Check, ...] = (checks_structure.CHECKS + checks_names.CHECKS + checks_arns.CHECKS
                             + checks_values.CHECKS + checks_conditions.CHECKS + checks_variables.CHECKS
                             + checks_principals.CHECKS + checks_grants.CHECKS)
# Grammar findings about an element that makes its statement grant nothing: the statement is left out and the other
# checks run on the rest (Access Analyzer rates these suggestions; iamkb's evaluator does not accept them).
# The grammar gives these codes only for Action, Resource and Principal (NotAction: [] is all actions: malformed).
NO_EFFECT = frozenset({"EMPTY_ARRAY_ACTION", "EMPTY_ARRAY_RESOURCE", "EMPTY_ARRAY_PRINCIPAL", "EMPTY_OBJECT_PRINCIPAL"})
_STATEMENT = re.compile(r"^Statement(\[(\d+)\])?")
TRUST_ACTIONS = re.compile(r"^sts:(AssumeRole\w*|TagSession|SetSourceIdentity|SetContext)$", re.IGNORECASE)


def default_reference() -> Any:
    """The reference tables of kb/build (iamkb.refdata.load_reference), or None when the KB is not built. A host
    without the KB (the in-browser playground) passes its own `ref` to lint_document instead."""
    from iamkb.refdata import load_reference

    try:
        return load_reference()
    except InputError:
        return None


def infer_policy_type(policy: Policy) -> str:
    with_principal = [st for st in policy.statements if st.principals is not None or st.not_principals is not None]
    if not with_principal:
        return "identity"
    trust = all(st.actions and all(TRUST_ACTIONS.match(a) for a in st.actions) and st.resources is None
                and st.not_resources is None for st in with_principal)
    return "trust" if trust else "resource"


def _applies(code: str, policy_type: str) -> bool:
    return policy_type in BY_CODE[code].policy_types


def _without_inert_statements(doc: dict, findings: list[Finding]) -> tuple[dict, list[int]] | None:
    """The document without the statements whose empty element makes them grant nothing, and the original index
    of each statement kept; None when other grammar errors remain or nothing is left."""
    inert: set[int] = set()
    for f in findings:
        m = _STATEMENT.match(f.path)
        if f.code not in NO_EFFECT or m is None:
            return None
        inert.add(int(m.group(2) or 0))
    raw = doc.get("Statement")
    statements = raw if isinstance(raw, list) else [raw]
    kept = [i for i in range(len(statements)) if i not in inert]
    if not kept:
        return None
    reduced = copy.copy(doc)
    reduced["Statement"] = [statements[i] for i in kept]
    return reduced, kept


def _renumber(finding: Finding, kept: list[int]) -> Finding:
    m = _STATEMENT.match(finding.path)
    if m is None or m.group(2) is None:
        return finding
    return replace(finding, path=f"Statement[{kept[int(m.group(2))]}]{finding.path[m.end():]}")


def run_checks(ctx: Context, config: Config) -> list[Finding]:
    out: list[Finding] = []
    for check in CHECKS:
        codes = [c for c in check.codes  # type: ignore[attr-defined]
                 if _applies(c, ctx.policy_type) and not config.ignored_everywhere(c)]
        if codes:
            out.extend(f for f in check(ctx) if f.code in codes)
    return out


@dataclass(frozen=True)
class CheckResult:
    findings: list[Finding]
    policy_type: str  # the type the checks ran for ("auto" resolved); "unknown" when the grammar stopped them

    def to_json(self) -> dict[str, Any]:
        return {"findings": [f.to_json() for f in self.findings], "policy_type": self.policy_type}


def lint_document(doc: Any, ref: Any = None, use_reference: bool = True, *, policy_type: str = "auto",
                  resource_type: str | None = None, config: Config | None = None,
                  evidence: bool = True) -> list[Finding]:
    """Every finding for a decoded document, configuration applied (grammar errors are findings too)."""
    return check_document(doc, ref, use_reference, policy_type=policy_type, resource_type=resource_type,
                          config=config, evidence=evidence).findings


def check_document(doc: Any, ref: Any = None, use_reference: bool = True, *, policy_type: str = "auto",
                   resource_type: str | None = None, config: Config | None = None,
                   evidence: bool = True) -> CheckResult:
    """What `iamkb check --json` prints for a decoded document: the findings and the policy type checked."""
    if not isinstance(doc, dict):
        raise InputError(f"a policy must be a JSON object, got {type(doc).__name__}", where="(top)")
    if policy_type != "auto" and policy_type not in POLICY_TYPES:
        raise InputError(f"unknown policy type '{policy_type}' (choose auto or {', '.join(POLICY_TYPES)})",
                         where="--policy-type")
    config = config or Config()
    policy, errors = validate(doc)
    grammar = [Finding(e.code, e.message + (": the statement grants or denies nothing (iamkb's evaluator does not "
                                            "accept it)" if e.code in NO_EFFECT else ""), e.path) for e in errors]
    kept: list[int] | None = None
    if errors:
        reduced = _without_inert_statements(doc, grammar)
        if reduced is None:
            return CheckResult(config.apply(grammar), policy_type if policy_type != "auto" else "unknown")
        doc, kept = reduced
        policy, errors = validate(doc)
        if errors or policy is None:
            return CheckResult(config.apply(grammar), policy_type if policy_type != "auto" else "unknown")
    assert policy is not None
    if ref is None and use_reference:
        ref = default_reference()
    resolved = infer_policy_type(policy) if policy_type == "auto" else policy_type
    ctx = Context.of(policy, ref, resolved, resource_type)
    findings = run_checks(ctx, config)
    if evidence:
        findings = attach_evidence(ctx, findings)
    if kept is not None:
        findings = [_renumber(f, kept) for f in findings]
    if ref is None and use_reference:
        findings.insert(0, Finding("REFERENCE_UNAVAILABLE", "reference data not found; name checks skipped", "(top)"))
    return CheckResult(config.apply(grammar + findings), resolved)
