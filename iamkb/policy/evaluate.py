"""The evaluator: a request against identity, resource, boundary, SCP and session policies -> decision + explain.

It reads like the evaluation-logic pages it implements:
- iam/reference_policies_evaluation-logic#policy-eval-denyallow (deny evaluation, SCPs, resource-based policies,
  identity-based policies, permissions boundaries, session policies, in that order);
- iam/reference_policies_evaluation-logic#policy-eval-basics (how the policy types combine in one account);
- iam/reference_policies_evaluation-logic-cross-account#policy-eval-cross-account (both sides must allow);
- KMS key policies: the key policy must allow, or allow the account (its root), which then delegates to IAM
  policies (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html, linked from
  #policy-eval-denyallow step 3).
- anonymous requests (`"anonymous": true` in the request, no principal): iam/reference_policies_evaluation-logic
  ("Authentication ... is not necessary for a few services, such as Amazon S3, that allow some requests from
  anonymous users") and iam/reference_policies_elements_principal#principal-anonymous (only a wildcard principal
  names them).
Speed (bench/README.md, "Policy engine"): a batch (`evaluate_many`) validates and compiles each distinct policy
document once (`Compiler`: by identity, then by content); matchers are shared between statements with the same
Action list, Resource list or condition and remember their answers per request text; the decision is taken with
the cheapest checks first, and the per-statement explanation is built only when asked for (`Decision.statements`),
by the same matchers, so `iamkb simulate --json` prints exactly what it printed when everything was eager.
"""

from __future__ import annotations

import gc
import marshal
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple

from iamkb.errors import InputError
from iamkb.policy.conditions import CompiledCondition, ConditionResult, compiled_condition, compiled_value
from iamkb.policy.grammar import SCALARS, Policy, Principal, Statement, scalar_text, type_name, validate
from iamkb.policy.matching import (
    RequestResource,
    ResourceMatcher,
    action_glob,
    action_glob_matches,
    action_matcher,
    glob_ignoring_case,
    resource_matcher,
    resource_pattern,
)
from iamkb.policy.variables import template

ALLOWED, EXPLICIT, IMPLICIT = "Allowed", "ExplicitlyDenied", "ImplicitlyDenied"
DIRECT = ("Match", "SessionRoleMatch", "SessionUserMatch")  # principal matches that name the caller itself

_ACCOUNT_ID = re.compile(r"^\d{12}$")
_ACCOUNT_ROOT = re.compile(r"^arn:[^:]*:iam::(\d{12}):root$")
_ROLE = re.compile(r"^arn:[a-zA-Z-]+:iam::\d{12}:role/.*$")
_USER = re.compile(r"^arn:[a-zA-Z-]+:iam::\d{12}:user/.*$")
_SESSION = re.compile(r"^arn:[a-zA-Z-]+:sts::\d{12}:assumed-role/.*$")
_FEDERATED = re.compile(r"^arn:[a-zA-Z-]+:sts::\d{12}:federated-user/.*$")
SCENARIO_KEYS = ("request", "identityPolicies", "resourcePolicy", "permissionBoundaries",
                 "serviceControlPolicies", "sessionPolicy")
ANNOTATION_KEYS = ("id", "name", "description", "expect", "note")  # carried by scenario files, not evaluated
REQUEST_KEYS = ("principal", "action", "resource", "resourceAccount", "context", "anonymous")
_REQUEST_KEYS = frozenset(REQUEST_KEYS)
_SCENARIO_AND_ANNOTATION_KEYS = frozenset(SCENARIO_KEYS + ANNOTATION_KEYS)


# --- compiled policies ------------------------------------------------------------------------------------------
class CompiledStatement:
    """A Statement with its matchers built once. The action matcher is built at once (every request asks it);
    the resource matcher and the conditions only when a request first gets past the action, since many
    statements of a batch never do."""

    __slots__ = ("st", "policy_type", "actions", "not_action", "deny", "_resources", "_conditions")

    def __init__(self, st: Statement, policy_type: str) -> None:
        self.st = st
        self.policy_type = policy_type
        self.deny = st.effect == "Deny"
        self.not_action = st.not_actions is not None  # iam/reference_policies_elements_notaction
        self.actions = action_matcher(st.actions if st.actions is not None else st.not_actions or ())
        self._resources: ResourceMatcher | None | bool = False  # False: not built yet
        self._conditions: tuple[CompiledCondition, ...] | None = None

    @property
    def resources(self) -> ResourceMatcher | None:
        """The Resource/NotResource matcher; None for trust policies without Resource (the statement covers the
        resource itself)."""
        if self._resources is False:
            st = self.st
            if st.resources is not None:
                self._resources = resource_matcher(st.resources, self.policy_type, False)
            elif st.not_resources is not None:
                self._resources = resource_matcher(st.not_resources, self.policy_type, True)
            else:
                self._resources = None
        return self._resources  # type: ignore[return-value]

    @property
    def conditions(self) -> tuple[CompiledCondition, ...]:
        if self._conditions is None:
            self._conditions = tuple([compiled_condition(c.operator, c.key, c.values) for c in self.st.conditions])
        return self._conditions

    def action_matches(self, action: str) -> bool:
        return self.actions.matches(action) != self.not_action


class PolicyCode:
    """A validated policy compiled for one policy type: shared by every place the same document appears.

    Statement paths are relative to the policy (`Statement[1]`); explanations prefix the policy's place. Which
    statements cover an action is a dictionary lookup per statement: each ActionMatcher remembers its answer
    per action, and matchers are shared by every statement with the same Action list.
    """

    __slots__ = ("type", "statements")

    def __init__(self, policy: Policy, policy_type: str) -> None:
        self.type = policy_type
        self.statements = tuple([CompiledStatement(s, policy_type) for s in policy.statements])


class CompiledPolicy(NamedTuple):
    """A compiled policy at its place in a scenario (a tuple: made once per policy per scenario, so cheap)."""

    name: str  # where it sits in the scenario, e.g. "identityPolicies[0]"
    code: PolicyCode

    @property
    def type(self) -> str:  # identity | resource | boundary | scp | session
        return self.code.type

    @property
    def statements(self) -> tuple[CompiledStatement, ...]:
        return self.code.statements


def compile_policy(policy: Policy, name: str, policy_type: str) -> CompiledPolicy:
    return CompiledPolicy(name, PolicyCode(policy, policy_type))


# --- the request ------------------------------------------------------------------------------------------------
class Request(NamedTuple):
    """One request, read once per scenario (a tuple: cheap to make)."""

    principal: str  # "" for an anonymous request
    action: str
    resource: RequestResource
    resource_account: str | None
    context: dict[str, str | list[str]]  # keys lower-cased: condition keys are case-insensitive
    principal_account: str | None
    # An unsigned request: no principal, no identity (iam/reference_policies_evaluation-logic, "Authentication").
    anonymous: bool = False

    @property
    def is_service_principal(self) -> bool:
        """iam/reference_policies_elements_principal#principal-services: `service.amazonaws.com`."""
        return not self.principal.startswith("arn:") and self.principal.endswith("amazonaws.com")


def arn_account(arn: str) -> str | None:
    """The account field of an ARN, or None (not an ARN, or no account)."""
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return None
    return parts[4] or None


@dataclass
class StatementResult:
    policy: str
    policy_type: str
    st: Statement
    action: bool
    resource: bool
    resource_hits: list[str]
    principal: str  # Match | SessionRoleMatch | SessionUserMatch | AccountLevelMatch | NoMatch
    conditions: list[ConditionResult]
    evaluated: bool = True
    decisive: bool = False

    @property
    def condition(self) -> bool:
        return all(c.matches for c in self.conditions)

    @property
    def applies(self) -> bool:
        return self.action and self.resource and self.condition and self.principal not in ("NoMatch", "NotEvaluated")

    def to_json(self) -> dict[str, Any]:
        st = self.st
        return {
            "policy": self.policy, "policyType": self.policy_type, "statement": st.label,
            "path": f"{self.policy}.{st.path}",
            "effect": st.effect, "applies": self.applies, "decisive": self.decisive, "evaluated": self.evaluated,
            "action": {"element": "Action" if st.actions is not None else "NotAction",
                       "patterns": list(st.actions or st.not_actions or ()), "matches": self.action},
            "resource": {"element": "Resource" if st.resources is not None else
                         "NotResource" if st.not_resources is not None else None,
                         "patterns": list(st.resources or st.not_resources or ()), "matched": self.resource_hits,
                         "matches": self.resource},
            "principal": self.principal,
            "conditions": [{"operator": c.operator, "key": c.key, "values": list(c.values),
                            "requestValue": c.request_value, "matches": c.matches, "reason": c.reason}
                           for c in self.conditions],
        }


def _principal_one(p: Principal, req: Request) -> str:
    """How one Principal entry relates to the caller (iam/reference_policies_elements_principal)."""
    caller = req.principal
    if p.kind == "*":  # #principal-anonymous
        return "Match"
    if req.anonymous:  # #principal-anonymous: "*" and {"AWS": "*"} are the only names of anonymous users
        return "NoMatch"
    if p.kind != "AWS":  # Service, Federated, CanonicalUser: the exact identifier
        return "Match" if p.value == caller else "NoMatch"
    root = _ACCOUNT_ROOT.match(p.value)
    if root or _ACCOUNT_ID.match(p.value):  # #principal-accounts: the account delegates to its IAM policies
        account = root.group(1) if root else p.value
        return "AccountLevelMatch" if account == req.principal_account else "NoMatch"
    if _SESSION.match(caller) and _role_matches_session(p.value, caller):
        return "SessionRoleMatch"  # #principal-roles: the role ARN covers its sessions
    if _FEDERATED.match(caller) and p.value == _federating_user(caller):
        return "SessionUserMatch"  # #sts-session-principals
    return "Match" if p.value == caller else "NoMatch"


def _role_matches_session(role_arn: str, session_arn: str) -> bool:
    if not _ROLE.match(role_arn):
        return False
    r, s = role_arn.split(":"), session_arn.split(":")
    if r[1] != s[1] or r[4] != s[4]:
        return False
    role_name = r[5].rsplit("/", 1)[-1]
    session_path = ":".join(s[5:])[len("assumed-role/"):]
    return "/" in session_path and session_path.split("/", 1)[0].lower() == role_name.lower()


def _federating_user(federated_arn: str) -> str:
    parts = federated_arn.split(":")
    name = parts[-1].split("/", 1)[1]
    return f"arn:{parts[1]}:iam::{parts[4]}:user/{name}"


_PRINCIPAL_ORDER = ("Match", "SessionUserMatch", "SessionRoleMatch", "AccountLevelMatch")


def principal_match(st: Statement, req: Request, has_boundary: bool) -> str:
    """The strongest way a resource-policy statement names the caller; NotPrincipal inverts
    (iam/reference_policies_elements_notprincipal#specifying-notprincipal)."""
    if st.principals is not None:
        found = {_principal_one(p, req) for p in st.principals}
        return next((m for m in _PRINCIPAL_ORDER if m in found), "NoMatch")
    if st.not_principals is not None:
        # access_policies_boundaries: a Deny with NotPrincipal always denies a principal that has a boundary.
        if has_boundary and st.effect == "Deny":
            return "Match"
        return "NoMatch" if any(_principal_one(p, req) != "NoMatch" for p in st.not_principals) else "Match"
    return "NoMatch"  # a resource-based policy statement must name a principal


def analyze_statement(cs: CompiledStatement, policy: CompiledPolicy, req: Request,
                      has_boundary: bool) -> StatementResult:
    """Everything about one statement and the request, for explanations (the decision uses `_hits`, which
    applies the same matchers and stops at the first that fails)."""
    st = cs.st
    if not cs.action_matches(req.action):
        # the statement cannot apply: the rest is not evaluated (explain shows "evaluated": false)
        return StatementResult(policy.name, policy.type, st, False, False, [], "NotEvaluated", [], evaluated=False)
    if cs.resources is None:
        resource, hits = True, []
    else:
        resource, hits = cs.resources.match(req.resource, req.context)
    principal = principal_match(st, req, has_boundary) if policy.type == "resource" else "Match"
    conditions = [c.evaluate(req.context) for c in cs.conditions]
    return StatementResult(policy.name, policy.type, st, True, resource, hits, principal, conditions)


class Hit:
    """A statement that applies to the request: where it sits in the explanation and how it names the caller."""

    __slots__ = ("position", "cs", "policy", "principal")

    def __init__(self, position: int, cs: CompiledStatement, policy: CompiledPolicy, principal: str) -> None:
        self.position = position
        self.cs = cs
        self.policy = policy
        self.principal = principal

    @property
    def st(self) -> Statement:
        return self.cs.st

    @property
    def label(self) -> str:
        return f"{self.policy.name} {self.cs.st.label}"


class Layer:
    """The statements of one policy type (or one SCP level) that apply to the request, split by effect."""

    __slots__ = ("name", "denies", "allows")

    def __init__(self, name: str) -> None:
        self.name = name
        self.denies: list[Hit] = []
        self.allows: list[Hit] = []

    @property
    def result(self) -> str:
        """iam/reference_policies_evaluation-logic#AccessPolicyLanguage_Interplay: deny wins, then allow,
        else implicit deny."""
        if self.denies:
            return EXPLICIT
        return ALLOWED if self.allows else IMPLICIT


def _layer(name: str, policies: list[CompiledPolicy], req: Request, has_boundary: bool, start: int) -> Layer:
    """The statements of `policies` that apply to the request, whose explanation entries begin at `start`.

    The same checks as `analyze_statement` (action, resource, principal, conditions), cheapest first, each
    statement stopping at the first that fails.
    """
    layer = Layer(name)
    action, resource, ctx = req.action, req.resource, req.context
    for p in policies:
        code = p.code
        resource_policy = code.type == "resource"
        for i, cs in enumerate(code.statements):
            if cs.actions.matches(action) == cs.not_action:
                continue
            resources = cs.resources
            if resources is not None and not resources.applies(resource, ctx):
                continue
            principal = principal_match(cs.st, req, has_boundary) if resource_policy else "Match"
            if principal == "NoMatch":
                continue
            for c in cs.conditions:
                if not c.decide(ctx)[0]:
                    break
            else:
                (layer.denies if cs.deny else layer.allows).append(Hit(start + i, cs, p, principal))
        start += len(code.statements)
    return layer


# --- the decision -----------------------------------------------------------------------------------------------
class Decision:
    """The decision and its reason; the per-statement explanation is built only when asked for (`statements`,
    `to_json`), with the same matchers, so a batch that needs only decisions does not pay for it.

    A decision from `evaluate_many` keeps the scenario object (and its place in the batch) rather than its
    compiled form, and compiles it again if an explanation is asked for: a batch then leaves behind only small
    decisions, not a heap of compiled policies for the cycle collector to walk. Change a scenario after
    evaluating it and its explanation follows the change: evaluate it again instead.
    """

    __slots__ = ("decision", "reason", "_scenario", "_source", "_where", "_decisive", "_statements")

    def __init__(self, decision: str, reason: str, scenario: CompiledScenario, decisive: list[Hit]) -> None:
        self.decision = decision
        self.reason = reason
        self._scenario: CompiledScenario | None = scenario
        self._source: Any = None
        self._where = ""
        self._decisive = tuple([h.position for h in decisive])
        self._statements: list[StatementResult] | None = None

    def __repr__(self) -> str:
        return f"Decision({self.decision!r}, {self.reason!r})"

    def keep_source(self, scenario: Any, where: str) -> Decision:
        """Drop the compiled scenario, keeping the scenario object to compile again for an explanation."""
        self._scenario = None
        self._source = scenario
        self._where = where
        return self

    @property
    def statements(self) -> list[StatementResult]:
        """Every statement of every policy in explanation order (identity, boundary, session, resource, SCPs)."""
        if self._statements is None:
            sc = self._scenario
            if sc is None:
                sc = Compiler().scenario(self._source, self._where)
            req, has_boundary = sc.request, bool(sc.boundaries)
            results = [analyze_statement(cs, p, req, has_boundary) for p in sc.in_order() for cs in p.statements]
            for position in self._decisive:
                results[position].decisive = True
            self._statements = results
        return self._statements

    def to_json(self) -> dict[str, Any]:
        return {"decision": self.decision, "reason": self.reason,
                "explain": [r.to_json() for r in self.statements]}


class CompiledScenario(NamedTuple):
    """A scenario with its request read and its policies compiled."""

    request: Request
    identity: list[CompiledPolicy]
    resource: CompiledPolicy | None
    boundaries: list[CompiledPolicy]
    scps: list[list[CompiledPolicy]]
    session: CompiledPolicy | None

    def in_order(self) -> list[CompiledPolicy]:
        """The policies in the order explanations list them."""
        out = self.identity + self.boundaries
        if self.session is not None:
            out.append(self.session)
        if self.resource is not None:
            out.append(self.resource)
        for level in self.scps:
            out.extend(level)
        return out


def _trust(req: Request, same_account: bool, resource: Layer | None) -> str:
    """Does the service let the caller's own IAM policies grant access: Implicit, Explicit or None.

    iam/reference_policies_evaluation-logic#policy-eval-denyallow step 3: for most resources an allow in either
    the identity-based or the resource-based policy is enough; role trust policies and KMS key policies are
    exceptions that must name the principal or its account.
    """
    service = req.action.split(":", 1)[0].lower()
    account_allows = [r for r in resource.allows if r.principal == "AccountLevelMatch"] if resource else []
    if service == "kms" and (req.resource.is_all or req.resource.resource.lower().startswith("key/")):
        if same_account and req.resource.is_all:
            return "Implicit"
        return "Explicit" if account_allows else "None"
    if service == "sts" and resource is not None:  # a role trust policy must allow the caller or its account
        return "Explicit" if account_allows else "None"
    return "Implicit" if same_account else ("Explicit" if account_allows else "None")


def _resource_result(layer: Layer | None) -> str:
    """NotApplicable | ExplicitlyDenied | DeniedForAccount | Allowed | AllowedForAccount | ImplicitlyDenied."""
    if layer is None:
        return "NotApplicable"
    denies, allows = layer.denies, layer.allows
    if any(r.principal in DIRECT for r in denies):
        return EXPLICIT
    if denies:
        return "DeniedForAccount"
    if any(r.principal in DIRECT for r in allows):
        return ALLOWED
    return "AllowedForAccount" if allows else IMPLICIT


def _count(policies: list[CompiledPolicy]) -> int:
    n = 0
    for p in policies:
        n += len(p.code.statements)
    return n


def decide(sc: CompiledScenario) -> Decision:
    """Evaluate every policy that applies, then combine them as the evaluation-logic pages describe."""
    req = sc.request
    has_boundary = bool(sc.boundaries)
    # Layers in explanation order (identity, boundary, session, resource, SCP levels), each knowing where its
    # statements start in the explanation.
    at = 0
    identity = _layer("identity", sc.identity, req, has_boundary, at)
    at += _count(sc.identity)
    boundary = _layer("permissions boundary", sc.boundaries, req, has_boundary, at) if sc.boundaries else None
    at += _count(sc.boundaries)
    session = _layer("session policy", [sc.session], req, has_boundary, at) if sc.session else None
    at += _count([sc.session]) if sc.session else 0
    resource = _layer("resource-based policy", [sc.resource], req, has_boundary, at) if sc.resource else None
    at += _count([sc.resource]) if sc.resource else 0
    scp_levels = []
    for i, level in enumerate(sc.scps):
        scp_levels.append(_layer(f"SCP level {i}", level, req, has_boundary, at))
        at += _count(level)

    # 1. Deny evaluation: an explicit deny in any policy overrides any allow (#policy-eval-denyallow step 1).
    denies = [r for layer in (identity, boundary, session, *scp_levels) if layer for r in layer.denies]
    if resource is not None:
        denies += resource.denies
    if denies:
        return Decision(EXPLICIT, f"explicit Deny in {denies[0].label}", sc, denies)

    # 2. SCPs: every level of the organization (root, OUs, account) must allow (#policy-eval-basics-id-scp).
    for level in scp_levels:
        if level.result != ALLOWED:
            return Decision(IMPLICIT, f"no Allow in {level.name} of the service control policies", sc, [])

    principal_account = req.principal_account
    resource_account = req.resource_account
    same_account = principal_account is not None and principal_account == resource_account
    res = _resource_result(resource)
    direct_resource_allows = [r for r in resource.allows if r.principal in DIRECT] if resource else []

    # 3-6. Resource-based, identity-based, boundary, session policies.
    if req.anonymous:
        # An anonymous caller has no identity, so no identity-based policy, boundary or session policy: only a
        # resource-based policy that names every principal ("*", #principal-anonymous) can grant it access; "For
        # resource-based policies, using a wildcard (*) with an Allow effect grants access to all users, including
        # anonymous users (public access)."
        if res == ALLOWED:
            return Decision(ALLOWED, "allowed by the resource-based policy, which grants public access: "
                            + ", ".join(sorted({r.label for r in direct_resource_allows})), sc, direct_resource_allows)
        return Decision(IMPLICIT, "anonymous request: no resource-based policy grants public access "
                        "(Principal \"*\")", sc, [])
    if req.action.lower() == "sts:getcalleridentity":
        return Decision(ALLOWED, "sts:GetCallerIdentity needs no permission", sc, [])
    if req.is_service_principal:
        # A service principal has no identity policies: only the resource-based policy can grant it access.
        if res == ALLOWED:
            return Decision(ALLOWED, "resource-based policy allows the service", sc, direct_resource_allows)
        return Decision(IMPLICIT, "no resource-based policy allows the service principal", sc, [])

    if session is not None and session.result != ALLOWED:
        # #policy-eval-denyallow step 6: a session policy that does not allow the action denies it, except that
        # a resource-based policy naming the session itself (same account) is not limited by it (step 3).
        names_session = bool(_SESSION.match(req.principal) or _FEDERATED.match(req.principal))
        session_direct = [r for r in direct_resource_allows
                          if names_session and any(p.kind == "AWS" and p.value == req.principal
                                                   for p in r.st.principals or ())]
        if not (same_account and session_direct):
            return Decision(IMPLICIT, "the session policy does not allow the action", sc, [])

    if same_account:
        trust = _trust(req, True, resource)
        if trust == "None":
            core = res == ALLOWED  # a KMS key policy or role trust policy must allow the caller itself
            grants = direct_resource_allows
        else:
            core = res == ALLOWED or identity.result == ALLOWED
            grants = direct_resource_allows + identity.allows
    else:
        # iam/reference_policies_evaluation-logic-cross-account#policy-eval-cross-account: the resource-based
        # policy must allow the caller (or its account) and the caller's identity-based policy must allow too.
        core = res in (ALLOWED, "AllowedForAccount") and identity.result == ALLOWED
        grants = (resource.allows if resource else []) + identity.allows
    if not core:
        return Decision(IMPLICIT, _no_allow_reason(same_account, res, identity.result, resource), sc, [])

    if boundary is not None and boundary.result != ALLOWED:
        # #policy-eval-basics-id-bound: the boundary limits identity-based grants; within one account a resource
        # policy that names an IAM user or a session directly is not limited by it (step 3); one that names a role
        # is (the role's sessions are the callers).
        bypass = []
        if same_account and res == ALLOWED:
            if _USER.match(req.principal) or _SESSION.match(req.principal) or _FEDERATED.match(req.principal):
                bypass = [r for r in resource.allows if r.principal == "Match"] if resource else []
            elif _ROLE.match(req.principal):
                bypass = [r for r in resource.allows if r.principal == "Match"
                          and any(p.kind == "*" for p in (r.st.principals or ()))] if resource else []
        if not bypass:
            return Decision(IMPLICIT, "the permissions boundary does not allow the action", sc, [])
        grants = bypass
    elif boundary is not None:
        grants = grants + boundary.allows
    if session is not None:
        grants = grants + session.allows
    for level in scp_levels:
        grants = grants + level.allows
    return Decision(ALLOWED, "allowed by " + ", ".join(sorted({r.label for r in grants})), sc, grants)


def _no_allow_reason(same_account: bool, res: str, identity: str, resource: Layer | None) -> str:
    if not same_account and identity == ALLOWED:
        return "cross-account request: the resource-based policy does not allow the caller or its account"
    if not same_account and res in (ALLOWED, "AllowedForAccount"):
        return "cross-account request: no identity-based policy allows the action"
    if resource is not None and identity == ALLOWED:
        return "the resource policy (key policy or trust policy) must allow the caller or delegate to its account"
    return "no policy allows the action (implicit deny)"


# --- scenario input ---------------------------------------------------------------------------------------------
class Compiler:
    """Turns scenario objects into CompiledScenarios, validating and compiling each distinct policy once.

    Two lookups before any work: the same object (by identity), then an equal document (by its marshal
    serialisation, format 2: it keeps key order, accepts only the exact JSON types, and tells lists from tuples
    and 1 from 1.0 from True, so equal bytes mean the validator would see the same thing; anything else, such as
    a dict subclass, is simply not shared). A batch of scenarios built around the same few policies, as tools and
    benchmarks send, pays for each policy once. The cache lives as long as the Compiler (one batch); a stream of
    any length bounds it (`max_documents`), starting afresh when it is full, so its memory stays flat.
    """

    def __init__(self, max_documents: int | None = None) -> None:
        self._by_id: dict[tuple[int, str], tuple[Any, PolicyCode]] = {}
        self._by_text: dict[str, dict[bytes, PolicyCode]] = {}
        self._max = max_documents

    def policy(self, doc: Any, path: str, policy_type: str) -> CompiledPolicy:
        key = (id(doc), policy_type)
        hit = self._by_id.get(key)
        if hit is not None and hit[0] is doc:
            return CompiledPolicy(path, hit[1])
        if self._max is not None and len(self._by_id) >= self._max:
            self._by_id.clear()  # the documents it holds stay alive through it: forget them all at once
            self._by_text.clear()
        try:
            text: bytes | None = marshal.dumps(doc, 2)
        except ValueError:  # not plain JSON data, or nested too deep: validated on its own
            text = None
        same_type = self._by_text.get(policy_type)
        if same_type is None:
            same_type = self._by_text[policy_type] = {}
        code = same_type.get(text) if text is not None else None
        if code is None:
            code = self._compile(doc, path, policy_type)
            if text is not None:
                same_type[text] = code
        self._by_id[key] = (doc, code)
        return CompiledPolicy(path, code)

    @staticmethod
    def _compile(doc: Any, path: str, policy_type: str) -> PolicyCode:
        """Validate with paths relative to the policy (so the result can be shared); on error, validate again
        with the policy's place so every message names the full path."""
        parsed, errors = validate(doc)
        if errors:
            _, errors = validate(doc, path)
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            raise InputError(f"{errors[0]}{more}")
        assert parsed is not None
        return PolicyCode(parsed, policy_type)

    def scenario(self, obj: Any, where: str = "") -> CompiledScenario:
        """Validate a scenario (DESIGN.md's shape) and compile its policies; errors name the JSON path."""
        dot = f"{where}." if where else ""
        if not isinstance(obj, dict):
            raise InputError(f"{where or '(top)'}: a scenario must be an object, got {type_name(obj)}")
        for key in obj if not _SCENARIO_AND_ANNOTATION_KEYS.issuperset(obj) else ():
            if key not in SCENARIO_KEYS and key not in ANNOTATION_KEYS:
                raise InputError(f"{dot}{key}: unknown scenario key (expected {', '.join(SCENARIO_KEYS)})")
        request = _request(obj.get("request"), f"{dot}request")
        if request.anonymous:
            _no_identity(obj, dot)
        identity_docs = _list(obj, "identityPolicies", dot, required=not request.anonymous)
        identity = [self.policy(d, f"{dot}identityPolicies[{i}]", "identity") for i, d in enumerate(identity_docs)]
        boundaries = [self.policy(d, f"{dot}permissionBoundaries[{i}]", "boundary")
                      for i, d in enumerate(_list(obj, "permissionBoundaries", dot))]
        scps = []
        for i, level in enumerate(_list(obj, "serviceControlPolicies", dot)):
            if not isinstance(level, list):
                raise InputError(f"{dot}serviceControlPolicies[{i}]: an SCP level must be a list of policies, "
                                 f"got {type_name(level)}")
            scps.append([self.policy(d, f"{dot}serviceControlPolicies[{i}][{j}]", "scp")
                         for j, d in enumerate(level)])
        resource = obj.get("resourcePolicy")
        session = obj.get("sessionPolicy")
        return CompiledScenario(
            request, identity,
            self.policy(resource, f"{dot}resourcePolicy", "resource") if resource is not None else None,
            boundaries, scps,
            self.policy(session, f"{dot}sessionPolicy", "session") if session is not None else None)


# The policies that belong to a caller's identity or session; an anonymous request has none of them.
PRINCIPAL_SIDE = ("identityPolicies", "permissionBoundaries", "serviceControlPolicies", "sessionPolicy")


def _no_identity(obj: dict, dot: str) -> None:
    """An anonymous request carries no principal-side policy (iam/reference_policies_evaluation-logic: there is no
    authenticated principal whose identity, boundary, session or organization could hold one): a scenario that
    gives one is a mistake in the scenario, not something to evaluate silently."""
    for key in PRINCIPAL_SIDE:
        value = obj.get(key)
        if value not in (None, []):
            raise InputError(f"{dot}{key}: an anonymous request has no identity, so no {key} apply "
                             "(leave it out or empty; only the resourcePolicy can grant public access)")


def _list(obj: dict, key: str, dot: str, required: bool = False) -> list:
    value = obj.get(key)
    if value is None:
        if required:
            raise InputError(f"{dot}{key}: required (a list of policies, may be empty)")
        return []
    if not isinstance(value, list):
        raise InputError(f"{dot}{key}: must be a list, got {type_name(value)}")
    return value


def _context_value(value: Any, path: str) -> str | list[str]:
    if isinstance(value, list):
        return [v if type(v) is str else _context_value(v, f"{path}[{i}]")  # type: ignore[misc]
                for i, v in enumerate(value)]
    if isinstance(value, SCALARS):
        return scalar_text(value)
    raise InputError(f"{path}: context values must be strings, numbers, booleans or lists of them, "
                     f"got {type_name(value)}")


def _request(raw: Any, path: str) -> Request:
    if not isinstance(raw, dict):
        raise InputError(f"{path}: required object with principal, action and resource")
    for key in raw if not _REQUEST_KEYS.issuperset(raw) else ():
        if key not in REQUEST_KEYS:
            raise InputError(f"{path}.{key}: unknown request key (expected {', '.join(REQUEST_KEYS)})")
    anonymous = raw.get("anonymous", False)
    if type(anonymous) is not bool:
        raise InputError(f"{path}.anonymous: must be true or false, got {type_name(anonymous)}")
    if anonymous and "principal" in raw:
        raise InputError(f"{path}.principal: an anonymous request has no principal (give one or the other)")
    for key in ("action", "resource") if anonymous else ("principal", "action", "resource"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            hint = ' (or "anonymous": true for an unauthenticated request)' if key == "principal" else ""
            raise InputError(f"{path}.{key}: required non-empty string{hint}")
    action = raw["action"]
    if action.count(":") != 1 or not all(action.split(":")):
        raise InputError(f"{path}.action: '{action}' is not service:Action")
    resource_text = raw["resource"]
    if resource_text != "*" and (not resource_text.startswith("arn:") or resource_text.count(":") < 5):
        raise InputError(f"{path}.resource: '{resource_text}' is neither * nor an ARN (arn:partition:service:"
                         "region:account:resource)")
    if resource_text != "*" and ("*" in resource_text or "?" in resource_text):
        raise InputError(f"{path}.resource: a request resource is concrete (no wildcards)")
    context_raw = raw.get("context") or {}
    if not isinstance(context_raw, dict):
        raise InputError(f"{path}.context: must be an object, got {type_name(context_raw)}")
    context = {k.lower(): v if type(v) is str else _context_value(v, f"{path}.context.{k}")
               for k, v in context_raw.items()}
    resource = RequestResource.parse(resource_text)
    account = raw.get("resourceAccount")
    if account is not None and not isinstance(account, str):
        raise InputError(f"{path}.resourceAccount: must be a string, got {type_name(account)}")
    if anonymous:
        return Request("", action, resource, account or resource.account, context, None, True)
    principal_account = arn_account(raw["principal"])
    return Request(raw["principal"], action, resource, account or resource.account or principal_account, context,
                   principal_account)


def clear_caches() -> None:
    """Forget every memoised pattern, matcher and template, so the next batch starts cold (benchmarks)."""
    for cached in (action_matcher, action_glob, action_glob_matches, resource_matcher, resource_pattern,
                   glob_ignoring_case, template, compiled_value, compiled_condition):
        cached.cache_clear()


def evaluate(scenario: Any, where: str = "") -> Decision:
    """Evaluate one scenario object (DESIGN.md's shape)."""
    return decide(Compiler().scenario(scenario, where))


@contextmanager
def batch_allocation() -> Iterator[None]:
    """Pause CPython's cycle collector for a batch, restoring it after.

    Why: a batch allocates many small objects and keeps them (the decisions), so the collector's full passes
    walk the whole growing heap, the caller's scenarios included, again and again: about a third of the batch's
    time. Evaluation builds no reference cycles, so reference counting frees everything it does not keep, and
    any cycle of the caller's is collected as usual once the batch is done.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if gc.get_freeze_count() == 0:
            # What the batch keeps (decisions, memoised matchers) is long-lived: move it to the oldest generation
            # at once (freeze + unfreeze splice the generation lists, without a scan) rather than have the first
            # young collection walk all of it. Skipped when the host has frozen objects of its own.
            gc.freeze()
            gc.unfreeze()
        if was_enabled:
            gc.enable()


def evaluate_many(scenarios: list[Any], where: str = "") -> list[Decision]:
    """Evaluate a batch, validating and compiling each distinct policy once."""
    with batch_allocation():
        return _evaluate_batch(scenarios, where)


def _evaluate_batch(scenarios: list[Any], where: str) -> list[Decision]:
    """The batch with one Compiler, which is freed on return (inside `batch_allocation`), so the compiled
    policies go back to the allocator before the cycle collector runs again."""
    compiler = Compiler()
    out = []
    for i, s in enumerate(scenarios):
        place = f"{where}[{i}]"
        out.append(decide(compiler.scenario(s, place)).keep_source(s, place))
    return out
