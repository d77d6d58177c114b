"""The evaluator: a request against identity, resource, boundary, SCP and session policies -> decision + explain.

It reads like the evaluation-logic pages it implements:
- iam/reference_policies_evaluation-logic#policy-eval-denyallow (deny evaluation, SCPs, resource-based policies,
  identity-based policies, permissions boundaries, session policies, in that order);
- iam/reference_policies_evaluation-logic#policy-eval-basics (how the policy types combine in one account);
- iam/reference_policies_evaluation-logic-cross-account#policy-eval-cross-account (both sides must allow);
- KMS key policies: the key policy must allow, or allow the account (its root), which then delegates to IAM
  policies (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html, linked from
  #policy-eval-denyallow step 3).
Each policy is compiled once (`compile_policy`) and can be reused across a batch of requests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from iamkb.errors import InputError
from iamkb.policy.conditions import CompiledCondition, ConditionResult
from iamkb.policy.grammar import Policy, Principal, Statement, _type_name, scalar_text, validate
from iamkb.policy.matching import RequestResource, ResourceMatcher, action_matcher

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
REQUEST_KEYS = ("principal", "action", "resource", "resourceAccount", "context")


# --- compiled policies ------------------------------------------------------------------------------------------
class CompiledStatement:
    """A Statement with its matchers built once."""

    __slots__ = ("st", "actions", "resources", "conditions")

    def __init__(self, st: Statement, policy_type: str) -> None:
        self.st = st
        self.actions = action_matcher(st.actions if st.actions is not None else st.not_actions or ())
        if st.resources is not None:
            self.resources: ResourceMatcher | None = ResourceMatcher(st.resources, policy_type, negated=False)
        elif st.not_resources is not None:
            self.resources = ResourceMatcher(st.not_resources, policy_type, negated=True)
        else:
            self.resources = None  # trust policies have no Resource: the statement covers the resource itself
        self.conditions = tuple(CompiledCondition(c) for c in st.conditions)


@dataclass
class CompiledPolicy:
    name: str  # where it sits in the scenario, e.g. "identityPolicies[0]"
    type: str  # identity | resource | boundary | scp | session
    statements: tuple[CompiledStatement, ...]


def compile_policy(policy: Policy, name: str, policy_type: str) -> CompiledPolicy:
    return CompiledPolicy(name, policy_type, tuple(CompiledStatement(s, policy_type) for s in policy.statements))


# --- the request ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Request:
    principal: str
    action: str
    resource: RequestResource
    resource_account: str | None
    context: dict[str, str | list[str]]  # keys lower-cased: condition keys are case-insensitive

    @property
    def principal_account(self) -> str | None:
        parts = self.principal.split(":")
        if len(parts) < 6 or parts[0] != "arn":
            return None
        return parts[4] or None

    @property
    def is_service_principal(self) -> bool:
        """iam/reference_policies_elements_principal#principal-services: `service.amazonaws.com`."""
        return not self.principal.startswith("arn:") and self.principal.endswith("amazonaws.com")


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
            "policy": self.policy, "policyType": self.policy_type, "statement": st.label, "path": st.path,
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
    st = cs.st
    action = cs.actions.matches(req.action)
    if st.not_actions is not None:  # iam/reference_policies_elements_notaction
        action = not action
    if not action:  # the statement cannot apply: the rest is not evaluated (explain shows "evaluated": false)
        return StatementResult(policy.name, policy.type, st, False, False, [], "NotEvaluated", [], evaluated=False)
    if cs.resources is None:
        resource, hits = True, []
    else:
        resource, hits = cs.resources.match(req.resource, req.context)
    principal = principal_match(st, req, has_boundary) if policy.type == "resource" else "Match"
    conditions = [c.evaluate(req.context) for c in cs.conditions]
    return StatementResult(policy.name, policy.type, st, action, resource, hits, principal, conditions)


@dataclass
class Layer:
    """The statements of one policy type (or one SCP level) and what they say about the request."""

    name: str
    results: list[StatementResult] = field(default_factory=list)

    def denies(self) -> list[StatementResult]:
        return [r for r in self.results if r.st.effect == "Deny" and r.applies]

    def allows(self) -> list[StatementResult]:
        return [r for r in self.results if r.st.effect == "Allow" and r.applies]

    @property
    def result(self) -> str:
        """iam/reference_policies_evaluation-logic#AccessPolicyLanguage_Interplay: deny wins, then allow,
        else implicit deny."""
        if self.denies():
            return EXPLICIT
        return ALLOWED if self.allows() else IMPLICIT


def _layer(name: str, policies: list[CompiledPolicy], req: Request, has_boundary: bool) -> Layer:
    layer = Layer(name)
    for p in policies:
        layer.results.extend(analyze_statement(cs, p, req, has_boundary) for cs in p.statements)
    return layer


# --- the decision -----------------------------------------------------------------------------------------------
@dataclass
class Decision:
    decision: str
    reason: str
    statements: list[StatementResult]

    def to_json(self) -> dict[str, Any]:
        return {"decision": self.decision, "reason": self.reason,
                "explain": [r.to_json() for r in self.statements]}


@dataclass
class CompiledScenario:
    request: Request
    identity: list[CompiledPolicy]
    resource: CompiledPolicy | None
    boundaries: list[CompiledPolicy]
    scps: list[list[CompiledPolicy]]
    session: CompiledPolicy | None


def _trust(req: Request, same_account: bool, resource: Layer | None) -> str:
    """Does the service let the caller's own IAM policies grant access: Implicit, Explicit or None.

    iam/reference_policies_evaluation-logic#policy-eval-denyallow step 3: for most resources an allow in either
    the identity-based or the resource-based policy is enough; role trust policies and KMS key policies are
    exceptions that must name the principal or its account.
    """
    service = req.action.split(":", 1)[0].lower()
    account_allows = [r for r in resource.allows() if r.principal == "AccountLevelMatch"] if resource else []
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
    denies, allows = layer.denies(), layer.allows()
    if any(r.principal in DIRECT for r in denies):
        return EXPLICIT
    if denies:
        return "DeniedForAccount"
    if any(r.principal in DIRECT for r in allows):
        return ALLOWED
    return "AllowedForAccount" if allows else IMPLICIT


def decide(sc: CompiledScenario) -> Decision:
    """Evaluate every policy that applies, then combine them as the evaluation-logic pages describe."""
    req = sc.request
    has_boundary = bool(sc.boundaries)
    identity = _layer("identity", sc.identity, req, has_boundary)
    boundary = _layer("permissions boundary", sc.boundaries, req, has_boundary) if sc.boundaries else None
    session = _layer("session policy", [sc.session], req, has_boundary) if sc.session else None
    resource = _layer("resource-based policy", [sc.resource], req, has_boundary) if sc.resource else None
    scp_levels = [_layer(f"SCP level {i}", level, req, has_boundary) for i, level in enumerate(sc.scps)]
    every = [r for layer in (identity, boundary, session, resource, *scp_levels) if layer for r in layer.results]

    # 1. Deny evaluation: an explicit deny in any policy overrides any allow (#policy-eval-denyallow step 1).
    denies = [r for layer in (identity, boundary, session, *scp_levels) if layer for r in layer.denies()]
    if resource is not None:
        denies += resource.denies()
    if denies:
        for r in denies:
            r.decisive = True
        first = denies[0]
        return Decision(EXPLICIT, f"explicit Deny in {first.policy} {first.st.label}", every)

    # 2. SCPs: every level of the organization (root, OUs, account) must allow (#policy-eval-basics-id-scp).
    for level in scp_levels:
        if level.result != ALLOWED:
            return Decision(IMPLICIT, f"no Allow in {level.name} of the service control policies", every)

    principal_account = req.principal_account
    resource_account = req.resource_account
    same_account = principal_account is not None and principal_account == resource_account
    res = _resource_result(resource)
    direct_resource_allows = [r for r in resource.allows() if r.principal in DIRECT] if resource else []

    # 3-6. Resource-based, identity-based, boundary, session policies.
    if req.action.lower() == "sts:getcalleridentity":
        return Decision(ALLOWED, "sts:GetCallerIdentity needs no permission", every)
    if req.is_service_principal:
        # A service principal has no identity policies: only the resource-based policy can grant it access.
        return _allowed(direct_resource_allows, every, "resource-based policy allows the service") if res == ALLOWED \
            else Decision(IMPLICIT, "no resource-based policy allows the service principal", every)

    if session is not None and session.result != ALLOWED:
        # #policy-eval-denyallow step 6: a session policy that does not allow the action denies it, except that
        # a resource-based policy naming the session itself (same account) is not limited by it (step 3).
        names_session = bool(_SESSION.match(req.principal) or _FEDERATED.match(req.principal))
        session_direct = [r for r in direct_resource_allows
                          if names_session and any(p.kind == "AWS" and p.value == req.principal
                                                   for p in r.st.principals or ())]
        if not (same_account and session_direct):
            return Decision(IMPLICIT, "the session policy does not allow the action", every)

    if same_account:
        trust = _trust(req, True, resource)
        if trust == "None":
            core = res == ALLOWED  # a KMS key policy or role trust policy must allow the caller itself
            grants = direct_resource_allows
        else:
            core = res == ALLOWED or identity.result == ALLOWED
            grants = direct_resource_allows + identity.allows()
    else:
        # iam/reference_policies_evaluation-logic-cross-account#policy-eval-cross-account: the resource-based
        # policy must allow the caller (or its account) and the caller's identity-based policy must allow too.
        core = res in (ALLOWED, "AllowedForAccount") and identity.result == ALLOWED
        grants = (resource.allows() if resource else []) + identity.allows()
    if not core:
        return Decision(IMPLICIT, _no_allow_reason(same_account, res, identity.result, resource), every)

    if boundary is not None and boundary.result != ALLOWED:
        # #policy-eval-basics-id-bound: the boundary limits identity-based grants; within one account a resource
        # policy that names an IAM user or a session directly is not limited by it (step 3); one that names a role
        # is (the role's sessions are the callers).
        bypass = []
        if same_account and res == ALLOWED:
            if _USER.match(req.principal) or _SESSION.match(req.principal) or _FEDERATED.match(req.principal):
                bypass = [r for r in resource.allows() if r.principal == "Match"] if resource else []
            elif _ROLE.match(req.principal):
                bypass = [r for r in resource.allows() if r.principal == "Match"
                          and any(p.kind == "*" for p in (r.st.principals or ()))] if resource else []
        if not bypass:
            return Decision(IMPLICIT, "the permissions boundary does not allow the action", every)
        grants = bypass
    elif boundary is not None:
        grants = grants + boundary.allows()
    if session is not None:
        grants = grants + session.allows()
    for level in scp_levels:
        grants = grants + level.allows()
    return _allowed(grants, every, "allowed by " + ", ".join(sorted({f"{r.policy} {r.st.label}" for r in grants})))


def _allowed(grants: list[StatementResult], every: list[StatementResult], reason: str) -> Decision:
    for r in grants:
        r.decisive = True
    return Decision(ALLOWED, reason, every)


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
    """Turns scenario objects into CompiledScenarios, compiling each distinct policy object once per batch."""

    def __init__(self) -> None:
        self._cache: dict[tuple[int, str], tuple[Any, CompiledPolicy]] = {}

    def policy(self, doc: Any, path: str, policy_type: str) -> CompiledPolicy:
        key = (id(doc), policy_type)
        hit = self._cache.get(key)
        if hit is not None and hit[0] is doc:
            compiled = hit[1]
            return compiled if compiled.name == path else CompiledPolicy(path, compiled.type, compiled.statements)
        parsed, errors = validate(doc, path)
        if errors:
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            raise InputError(f"{errors[0]}{more}")
        assert parsed is not None
        compiled = compile_policy(parsed, path, policy_type)
        self._cache[key] = (doc, compiled)
        return compiled

    def scenario(self, obj: Any, where: str = "") -> CompiledScenario:
        """Validate a scenario (DESIGN.md's shape) and compile its policies; errors name the JSON path."""
        dot = f"{where}." if where else ""
        if not isinstance(obj, dict):
            raise InputError(f"{where or '(top)'}: a scenario must be an object, got {_type_name(obj)}")
        for key in obj:
            if key not in SCENARIO_KEYS and key not in ANNOTATION_KEYS:
                raise InputError(f"{dot}{key}: unknown scenario key (expected {', '.join(SCENARIO_KEYS)})")
        request = _request(obj.get("request"), f"{dot}request")
        identity_docs = _list(obj, "identityPolicies", dot, required=True)
        identity = [self.policy(d, f"{dot}identityPolicies[{i}]", "identity") for i, d in enumerate(identity_docs)]
        boundaries = [self.policy(d, f"{dot}permissionBoundaries[{i}]", "boundary")
                      for i, d in enumerate(_list(obj, "permissionBoundaries", dot))]
        scps = []
        for i, level in enumerate(_list(obj, "serviceControlPolicies", dot)):
            if not isinstance(level, list):
                raise InputError(f"{dot}serviceControlPolicies[{i}]: an SCP level must be a list of policies, "
                                 f"got {_type_name(level)}")
            scps.append([self.policy(d, f"{dot}serviceControlPolicies[{i}][{j}]", "scp")
                         for j, d in enumerate(level)])
        resource = obj.get("resourcePolicy")
        session = obj.get("sessionPolicy")
        return CompiledScenario(
            request, identity,
            self.policy(resource, f"{dot}resourcePolicy", "resource") if resource is not None else None,
            boundaries, scps,
            self.policy(session, f"{dot}sessionPolicy", "session") if session is not None else None)


def _list(obj: dict, key: str, dot: str, required: bool = False) -> list:
    value = obj.get(key)
    if value is None:
        if required:
            raise InputError(f"{dot}{key}: required (a list of policies, may be empty)")
        return []
    if not isinstance(value, list):
        raise InputError(f"{dot}{key}: must be a list, got {_type_name(value)}")
    return value


def _context_value(value: Any, path: str) -> str | list[str]:
    if isinstance(value, list):
        return [_context_value(v, f"{path}[{i}]") for i, v in enumerate(value)]  # type: ignore[misc]
    if isinstance(value, str | bool | int | float):
        return scalar_text(value)
    raise InputError(f"{path}: context values must be strings, numbers, booleans or lists of them, "
                     f"got {_type_name(value)}")


def _request(raw: Any, path: str) -> Request:
    if not isinstance(raw, dict):
        raise InputError(f"{path}: required object with principal, action and resource")
    for key in raw:
        if key not in REQUEST_KEYS:
            raise InputError(f"{path}.{key}: unknown request key (expected {', '.join(REQUEST_KEYS)})")
    for key in ("principal", "action", "resource"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise InputError(f"{path}.{key}: required non-empty string")
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
        raise InputError(f"{path}.context: must be an object, got {_type_name(context_raw)}")
    context = {k.lower(): _context_value(v, f"{path}.context.{k}") for k, v in context_raw.items()}
    resource = RequestResource.parse(resource_text)
    account = raw.get("resourceAccount")
    if account is not None and not isinstance(account, str):
        raise InputError(f"{path}.resourceAccount: must be a string, got {_type_name(account)}")
    req = Request(raw["principal"], action, resource, None, context)
    default_account = resource.account or req.principal_account
    return Request(raw["principal"], action, resource, account or default_account, context)


def evaluate(scenario: Any, where: str = "") -> Decision:
    """Evaluate one scenario object (DESIGN.md's shape)."""
    return decide(Compiler().scenario(scenario, where))


def evaluate_many(scenarios: list[Any], where: str = "") -> list[Decision]:
    """Evaluate a batch, compiling each distinct policy object once."""
    compiler = Compiler()
    return [decide(compiler.scenario(s, f"{where}[{i}]")) for i, s in enumerate(scenarios)]
