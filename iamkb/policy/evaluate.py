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
`decide` finds the statements of each policy type that apply (`applying_statements`), then takes the steps of
#policy-eval-denyallow in order (`STEPS`: one function per step, each citing the section it follows); the kinds of
caller the page tells apart come from one function, `principal_type`.
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
# The kinds of caller the evaluation-logic page treats differently (iam/reference_policies_evaluation-logic
# #policy-eval-denyallow, "Resource-based policies"), service principals (iam/reference_policies_elements_principal
# #principal-services) and anonymous callers (#principal-anonymous).
USER, ROLE = "IAM user", "IAM role"
ROLE_SESSION, FEDERATED_SESSION = "IAM role session", "IAM federated user session"
SERVICE, ANONYMOUS, OTHER = "service principal", "anonymous", "other"
SESSIONS = (ROLE_SESSION, FEDERATED_SESSION)  # session principals: a role session or a federated user session
_PRINCIPAL_ARNS = (
    (USER, re.compile(r"^arn:[a-zA-Z-]+:iam::\d{12}:user/.*$")),
    (ROLE, re.compile(r"^arn:[a-zA-Z-]+:iam::\d{12}:role/.*$")),
    (ROLE_SESSION, re.compile(r"^arn:[a-zA-Z-]+:sts::\d{12}:assumed-role/.*$")),
    (FEDERATED_SESSION, re.compile(r"^arn:[a-zA-Z-]+:sts::\d{12}:federated-user/.*$")),
)
_ACCOUNT_ID = re.compile(r"^\d{12}$")
_ACCOUNT_ROOT = re.compile(r"^arn:[^:]*:iam::(\d{12}):root$")


def principal_type(principal: str) -> str:
    """Which kind of principal an ARN (or a service's name) is: USER, ROLE, ROLE_SESSION, FEDERATED_SESSION,
    SERVICE (`service.amazonaws.com`) or OTHER (an account root, another service's ARN)."""
    if not principal.startswith("arn:"):
        return SERVICE if principal.endswith("amazonaws.com") else OTHER
    return next((kind for kind, arn in _PRINCIPAL_ARNS if arn.match(principal)), OTHER)


def account_principal(value: str) -> str | None:
    """The account a Principal entry names as a whole (`111122223333` or `arn:aws:iam::111122223333:root`,
    iam/reference_policies_elements_principal#principal-accounts), else None."""
    if _ACCOUNT_ID.match(value):
        return value
    root = _ACCOUNT_ROOT.match(value)
    return root.group(1) if root else None


class Request(NamedTuple):
    """One request, read once per scenario (a tuple: cheap to make)."""

    principal: str  # "" for an anonymous request
    action: str
    resource: RequestResource
    resource_account: str | None
    context: dict[str, str | list[str]]  # keys lower-cased: condition keys are case-insensitive
    principal_account: str | None
    principal_type: str  # principal_type(principal), or ANONYMOUS
    # An unsigned request: no principal, no identity (iam/reference_policies_evaluation-logic, "Authentication").
    anonymous: bool = False


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
    account = account_principal(p.value)
    if account is not None:  # #principal-accounts: the account delegates to its IAM policies
        return "AccountLevelMatch" if account == req.principal_account else "NoMatch"
    if req.principal_type == ROLE_SESSION and _role_matches_session(p.value, caller):
        return "SessionRoleMatch"  # #principal-roles: the role ARN covers its sessions
    if req.principal_type == FEDERATED_SESSION and p.value == _federating_user(caller):
        return "SessionUserMatch"  # #sts-session-principals
    return "Match" if p.value == caller else "NoMatch"


def _role_matches_session(role_arn: str, session_arn: str) -> bool:
    if principal_type(role_arn) != ROLE:
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
    """Everything about one statement and the request, for explanations (the decision uses `_layer`, which
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


# --- the statements that apply, by policy type --------------------------------------------------------------------
class Hit:
    """A statement that applies to the request: its policy, its place in it, and how it names the caller."""

    __slots__ = ("policy", "index", "cs", "principal")

    def __init__(self, policy: CompiledPolicy, index: int, cs: CompiledStatement, principal: str) -> None:
        self.policy = policy
        self.index = index  # the statement's position in its policy
        self.cs = cs
        self.principal = principal

    @property
    def st(self) -> Statement:
        return self.cs.st

    @property
    def place(self) -> tuple[str, int]:
        """Where the statement sits in the scenario: its policy's place and its position there."""
        return self.policy.name, self.index

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


def _layer(name: str, policies: list[CompiledPolicy], req: Request, has_boundary: bool) -> Layer:
    """The statements of `policies` that apply to the request.

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
                (layer.denies if cs.deny else layer.allows).append(Hit(p, i, cs, principal))
    return layer


class Layers(NamedTuple):
    """The statements that apply to the request, one Layer per policy type (the SCPs one per level)."""

    identity: Layer
    boundary: Layer | None
    session: Layer | None
    resource: Layer | None
    scps: list[Layer]


def applying_statements(sc: CompiledScenario) -> Layers:
    req, has_boundary = sc.request, bool(sc.boundaries)

    def layer(name: str, policies: list[CompiledPolicy]) -> Layer:
        return _layer(name, policies, req, has_boundary)

    return Layers(
        identity=layer("identity", sc.identity),
        boundary=layer("permissions boundary", sc.boundaries) if sc.boundaries else None,
        session=layer("session policy", [sc.session]) if sc.session else None,
        resource=layer("resource-based policy", [sc.resource]) if sc.resource else None,
        scps=[layer(f"SCP level {i}", level) for i, level in enumerate(sc.scps)])


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
        self._decisive = tuple([h.place for h in decisive])
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
            decisive = set(self._decisive)
            results = []
            for p in sc.in_order():
                for i, cs in enumerate(p.statements):
                    result = analyze_statement(cs, p, req, has_boundary)
                    result.decisive = (p.name, i) in decisive
                    results.append(result)
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


class Evaluation(NamedTuple):
    """A scenario being decided: the statements of each policy type that apply, and what the resource-based
    policy says about this caller, which several steps read."""

    sc: CompiledScenario
    layers: Layers
    same_account: bool  # the caller's account owns the resource
    resource: str  # _resource_result of the resource-based policy
    direct_resource_allows: list[Hit]  # its allows that name the caller itself (not only its account)

    @property
    def req(self) -> Request:
        return self.sc.request

    def implicit_deny(self, reason: str) -> Decision:
        return Decision(IMPLICIT, reason, self.sc, [])


def evaluation(sc: CompiledScenario) -> Evaluation:
    layers = applying_statements(sc)
    req, resource = sc.request, layers.resource
    caller_account = req.principal_account
    same_account = caller_account is not None and caller_account == req.resource_account
    direct = [h for h in resource.allows if h.principal in DIRECT] if resource else []
    return Evaluation(sc, layers, same_account, _resource_result(resource), direct)


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


# The steps of iam/reference_policies_evaluation-logic#policy-eval-denyallow, each a function of the Evaluation
# that returns the final Decision when it settles the request, None to go on to the next.

def deny_evaluation(ev: Evaluation) -> Decision | None:
    """Step 1, "Deny evaluation": an explicit deny in any policy that applies overrides any allow."""
    layers = ev.layers
    denies = [h for layer in (layers.identity, layers.boundary, layers.session, *layers.scps) if layer
              for h in layer.denies]
    if layers.resource is not None:
        denies += layers.resource.denies
    return Decision(EXPLICIT, f"explicit Deny in {denies[0].label}", ev.sc, denies) if denies else None


def organizations_scps(ev: Evaluation) -> Decision | None:
    """Step 2, "Organizations SCPs": every level of the organization (root, OUs, the account) must allow the
    action (#policy-eval-basics-id-scp)."""
    for level in ev.layers.scps:
        if level.result != ALLOWED:
            return ev.implicit_deny(f"no Allow in {level.name} of the service control policies")
    return None


def anonymous_request(ev: Evaluation) -> Decision | None:
    """An anonymous caller has no identity, so no identity-based policy, boundary or session policy: only a
    resource-based policy that names every principal ("*", iam/reference_policies_elements_principal
    #principal-anonymous) can grant it access; "For resource-based policies, using a wildcard (*) with an Allow
    effect grants access to all users, including anonymous users (public access)."""
    if not ev.req.anonymous:
        return None
    if ev.resource == ALLOWED:
        grants = ev.direct_resource_allows
        return Decision(ALLOWED, "allowed by the resource-based policy, which grants public access: "
                        + ", ".join(sorted({h.label for h in grants})), ev.sc, grants)
    return ev.implicit_deny("anonymous request: no resource-based policy grants public access (Principal \"*\")")


def no_permission_needed(ev: Evaluation) -> Decision | None:
    """sts:GetCallerIdentity needs no permission (the AWS STS API Reference's GetCallerIdentity page, outside the
    corpus), so no policy has to allow it."""
    if ev.req.action.lower() == "sts:getcalleridentity":
        return Decision(ALLOWED, "sts:GetCallerIdentity needs no permission", ev.sc, [])
    return None


def service_principal(ev: Evaluation) -> Decision | None:
    """A service principal has no identity-based policies: only the resource-based policy can grant it access."""
    if ev.req.principal_type != SERVICE:
        return None
    if ev.resource == ALLOWED:
        return Decision(ALLOWED, "resource-based policy allows the service", ev.sc, ev.direct_resource_allows)
    return ev.implicit_deny("no resource-based policy allows the service principal")


def session_policy(ev: Evaluation) -> Decision | None:
    """Step 6, "Session policies": a session policy that does not allow the action denies it; but within one
    account, a resource-based policy that grants permission to the session principal itself is not limited by it
    (step 3, "Resource-based policies": "Permissions granted directly to a session are not limited by an implicit
    deny in ... session policy"). Checked before steps 3 to 5, so a request both fail names the session policy."""
    session = ev.layers.session
    if session is None or session.result == ALLOWED:
        return None
    req = ev.req
    granted_to_session = req.principal_type in SESSIONS and any(
        any(p.kind == "AWS" and p.value == req.principal for p in h.st.principals or ())
        for h in ev.direct_resource_allows)
    if ev.same_account and granted_to_session:
        return None
    return ev.implicit_deny("the session policy does not allow the action")


def identity_and_resource_policies(ev: Evaluation) -> Decision | None:
    """Steps 3 and 4, "Resource-based policies" and "Identity-based policies": within one account an allow in
    either is enough (#policy-eval-basics-id-rdp), except that a KMS key policy or a role trust policy must allow
    the caller itself (`_trust`); across accounts both must allow, the resource-based policy naming the caller or
    its account (iam/reference_policies_evaluation-logic-cross-account#policy-eval-cross-account)."""
    req, identity = ev.req, ev.layers.identity.result
    if not ev.same_account:
        allowed = ev.resource in (ALLOWED, "AllowedForAccount") and identity == ALLOWED
    elif _trust(req, True, ev.layers.resource) == "None":
        allowed = ev.resource == ALLOWED
    else:
        allowed = ev.resource == ALLOWED or identity == ALLOWED
    if allowed:
        return None
    return ev.implicit_deny(_no_allow_reason(ev.same_account, ev.resource, identity, ev.layers.resource))


def permissions_boundary(ev: Evaluation) -> Decision | None:
    """Step 5, "IAM permissions boundaries": a boundary that does not allow the action denies it
    (#policy-eval-basics-id-bound), unless a resource-based policy grants it directly to a caller a boundary does
    not limit (`_not_limited_by_boundary`)."""
    boundary = ev.layers.boundary
    if boundary is None or boundary.result == ALLOWED or _not_limited_by_boundary(ev):
        return None
    return ev.implicit_deny("the permissions boundary does not allow the action")


def _not_limited_by_boundary(ev: Evaluation) -> list[Hit]:
    """The resource-based allows a permissions boundary does not limit (step 3, "Resource-based policies"): within
    one account, those that name an IAM user or a session principal directly; for an IAM role, whose sessions are
    the callers, only those that name every principal."""
    resource = ev.layers.resource
    if not (ev.same_account and ev.resource == ALLOWED) or resource is None:
        return []
    kind = ev.req.principal_type
    if kind in (USER, *SESSIONS):
        return [h for h in resource.allows if h.principal == "Match"]
    if kind == ROLE:
        return [h for h in resource.allows
                if h.principal == "Match" and any(p.kind == "*" for p in h.st.principals or ())]
    return []


def allowing_statements(ev: Evaluation) -> list[Hit]:
    """The statements an allowed request owes its allow to: the identity-based and resource-based allows that count
    for this caller (or the resource-based ones a boundary does not limit), then those of the boundary, session
    policy and SCP levels that let them through."""
    layers = ev.layers
    if not ev.same_account:
        grants = (layers.resource.allows if layers.resource else []) + layers.identity.allows
    elif _trust(ev.req, True, layers.resource) == "None":
        grants = ev.direct_resource_allows
    else:
        grants = ev.direct_resource_allows + layers.identity.allows
    boundary = layers.boundary
    if boundary is not None:
        grants = grants + boundary.allows if boundary.result == ALLOWED else _not_limited_by_boundary(ev)
    if layers.session is not None:
        grants = grants + layers.session.allows
    for level in layers.scps:
        grants = grants + level.allows
    return grants


STEPS = (deny_evaluation, organizations_scps, anonymous_request, no_permission_needed, service_principal,
         session_policy, identity_and_resource_policies, permissions_boundary)


def decide(sc: CompiledScenario) -> Decision:
    """Find the statements of each policy type that apply, then take the steps of the evaluation-logic page in
    order (STEPS); a request none of them settles is allowed."""
    ev = evaluation(sc)
    for step in STEPS:
        settled = step(ev)
        if settled is not None:
            return settled
    grants = allowing_statements(ev)
    return Decision(ALLOWED, "allowed by " + ", ".join(sorted({h.label for h in grants})), sc, grants)


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
        return Request("", action, resource, account or resource.account, context, None, ANONYMOUS, True)
    principal = raw["principal"]
    principal_account = arn_account(principal)
    return Request(principal, action, resource, account or resource.account or principal_account, context,
                   principal_account, principal_type(principal))


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
