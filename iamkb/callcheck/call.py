"""Reading a can-i input: validate it against the KB's input schemas and turn it into a `Call` the rules read.

Every problem is bad input (InputError, exit 2) named by its JSON path: a wrong type or an unknown parameter (from
the JSON Schemas build-kb writes into call_rules.json), an operation the check does not cover, and the facts that
contradict each other (a role said to be in an instance profile the template does not name, a template named
without the id its ARN needs, a customer managed key whose key policy is not given).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import jsonschema

from iamkb.errors import InputError

REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
ACCOUNT = re.compile(r"^\d{12}$")
PRINCIPAL = re.compile(r"^arn:aws[a-z-]*:(iam|sts)::(\d{12}):\S+$")
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/(?:.*/)?([\w+=,.@-]+)$")
KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:([a-z0-9-]+):(\d{12}):key/[\w-]+$")
KEY_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$|^mrk-[0-9a-f]{32}$")
AWS_MANAGED_EBS_KEY = "alias/aws/ebs"  # "does not need additional authorization" (key-policy page, Note)
SESSION = re.compile(r"^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role/([^/]+)/[^/]+$")


def principal_arn(principal: str) -> str:
    """aws:PrincipalArn: for a role session, the role's ARN (iam/reference_policies_condition-keys
    #condition-keys-principalarn)."""
    match = SESSION.match(principal)
    return f"arn:{match.group(1)}:iam::{match.group(2)}:role/{match.group(3)}" if match else principal


def partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def json_path(parts: Any) -> str:
    """deque(['call', 'input', 'Tags', 0, 'Key']) -> call.input.Tags[0].Key"""
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


def schema_error(validator: jsonschema.protocols.Validator, instance: Any, prefix: str, what: str) -> None:
    """Raise the first problem the schema finds as one line naming its JSON path; return when valid."""
    errors = sorted(validator.iter_errors(instance), key=lambda e: (len(e.absolute_path), json_path(e.absolute_path)))
    if not errors:
        return
    err = errors[0]
    base = json_path([*prefix.split("."), *err.absolute_path]) if prefix else json_path(err.absolute_path)
    if err.validator == "additionalProperties":
        known = sorted(err.schema.get("properties", {}))
        extra = sorted(k for k in err.instance if k not in err.schema.get("properties", {}))
        from iamkb.refdata import nearest

        near = nearest(extra[0], known, limit=1) if known else []
        hint = f" (did you mean {near[0]}?)" if near else ""
        raise InputError(f"{base + '.' if base else ''}{extra[0]}: unknown {what}{hint}")
    if err.validator == "required":
        name = err.message.split("'")[1] if "'" in err.message else err.message
        raise InputError(f"{base or '(top)'}: missing required {what} '{name}'")
    if err.validator == "type":
        wanted = err.validator_value if isinstance(err.validator_value, str) else " or ".join(err.validator_value)
        article = "an" if wanted[0] in "aeiou" else "a"
        raise InputError(f"{base or '(top)'}: must be {article} {wanted}, got {_type_name(err.instance)}")
    raise InputError(f"{base or '(top)'}: {err.message}")


@dataclass
class Call:
    """One can-i input, validated: what the rules' tests, resources and context sources read."""

    action: str
    input: dict[str, Any]
    region: str
    account: str
    principal: str
    raw: dict[str, Any]
    launch_template: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    compiler: Any = None  # the check's policy Compiler (iamkb.policy.evaluate), set by Checker.check

    @property
    def partition(self) -> str:
        return partition(self.region)

    @property
    def principal_account(self) -> str:
        match = PRINCIPAL.match(self.principal)
        return match.group(2) if match else self.account


    # ------------------------------------------------------------------------------------- the template

    def launch_template_specs(self) -> list[tuple[str, dict]]:
        """(JSON path, LaunchTemplateSpecification) of the call: its own, then MixedInstancesPolicy's and the
        overrides' templates."""
        out = []
        if isinstance(self.input.get("LaunchTemplate"), dict):
            out.append(("call.input.LaunchTemplate", self.input["LaunchTemplate"]))
        mip = (self.input.get("MixedInstancesPolicy") or {}).get("LaunchTemplate") or {}
        if isinstance(mip.get("LaunchTemplateSpecification"), dict):
            out.append(("call.input.MixedInstancesPolicy.LaunchTemplate.LaunchTemplateSpecification",
                        mip["LaunchTemplateSpecification"]))
        for i, override in enumerate(mip.get("Overrides") or []):
            if isinstance(override.get("LaunchTemplateSpecification"), dict):
                out.append((f"call.input.MixedInstancesPolicy.LaunchTemplate.Overrides[{i}]"
                            ".LaunchTemplateSpecification", override["LaunchTemplateSpecification"]))
        return out

    def uses_launch_template(self) -> bool:
        return bool(self.launch_template_specs())

    def template_data(self) -> dict[str, Any]:
        return self.launch_template or {}

    def launch_template_ids(self) -> list[str]:
        return list(dict.fromkeys(spec["LaunchTemplateId"] for _, spec in self.launch_template_specs()))

    def version_specified(self) -> bool:
        """A version number, not `$Latest` or `$Default` (autoscaling/ec2-auto-scaling-launch-template-permissions
        #policy-example-launch-template-ex2: omitting it selects one of those)."""
        specs = self.launch_template_specs()
        return bool(specs) and all(str(s.get("Version", "")).strip() not in ("", "$Latest", "$Default")
                                   for _, s in specs)

    def instance_types(self) -> list[str]:
        types = [self.template_data().get("InstanceType")]
        mip = (self.input.get("MixedInstancesPolicy") or {}).get("LaunchTemplate") or {}
        types += [o.get("InstanceType") for o in mip.get("Overrides") or []]
        return list(dict.fromkeys(t for t in types if t))

    def tag_specification(self, resource_type: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for spec in self.template_data().get("TagSpecifications") or []:
            if spec.get("ResourceType") == resource_type:
                out.update({t["Key"]: t.get("Value", "") for t in spec.get("Tags") or []})
        return out

    def instance_profile(self) -> str | None:
        """The instance profile the template or the launch configuration names (name or ARN)."""
        if self.action == "autoscaling:CreateLaunchConfiguration":
            return self.input.get("IamInstanceProfile")
        profile = self.template_data().get("IamInstanceProfile") or {}
        return profile.get("Arn") or profile.get("Name")

    def instance_profile_arn(self) -> str | None:
        profile = self.instance_profile()
        if not profile:
            return None
        if profile.startswith("arn:"):
            return profile
        return f"arn:{self.partition}:iam::{self.account}:instance-profile/{profile}"

    def block_devices(self) -> list[tuple[str, dict]]:
        """(JSON path, Ebs) of the template's (or launch configuration's) EBS block device mappings."""
        if self.action == "autoscaling:CreateLaunchConfiguration":
            base, mappings = "call.input.BlockDeviceMappings", self.input.get("BlockDeviceMappings") or []
        else:
            base, mappings = "launchTemplate.BlockDeviceMappings", self.template_data().get("BlockDeviceMappings") or []
        return [(f"{base}[{i}].Ebs", m["Ebs"]) for i, m in enumerate(mappings) if isinstance(m.get("Ebs"), dict)]

    def key_arn(self, key_id: str, where: str) -> str | None:
        """A KmsKeyId as an ARN; None for the AWS managed key (no authorization needed); bad input for an alias
        the check cannot resolve offline."""
        if key_id in (AWS_MANAGED_EBS_KEY, f"arn:{self.partition}:kms:{self.region}:{self.account}:"
                                              f"{AWS_MANAGED_EBS_KEY}"):
            return None
        if KEY_ARN.match(key_id):
            return key_id
        if KEY_ID.match(key_id):
            return f"arn:{self.partition}:kms:{self.region}:{self.account}:key/{key_id}"
        raise InputError(f"{where}: '{key_id}' is an alias or not a key id; give the key's ARN (aws kms "
                         f"describe-key --key-id {key_id}) so its key policy can be checked")

    def customer_keys(self) -> list[tuple[str, str]]:
        """(key ARN, JSON path) of each customer managed key the volumes are encrypted with, in order."""
        out: dict[str, str] = {}
        for where, ebs in self.block_devices():
            if ebs.get("KmsKeyId"):
                arn = self.key_arn(ebs["KmsKeyId"], f"{where}.KmsKeyId")
                if arn:
                    out.setdefault(arn, f"{where}.KmsKeyId")
        return list(out.items())

    def subnets(self) -> list[str]:
        ids = [s.strip() for s in str(self.input.get("VPCZoneIdentifier") or "").split(",") if s.strip()]
        if not ids:
            ids = [n["SubnetId"] for n in self.template_data().get("NetworkInterfaces") or [] if n.get("SubnetId")]
        return list(dict.fromkeys(ids))

    def security_groups(self) -> list[str]:
        data = self.template_data()
        ids = list(data.get("SecurityGroupIds") or [])
        for nic in data.get("NetworkInterfaces") or []:
            ids += nic.get("Groups") or []
        return list(dict.fromkeys(ids))

    def lifecycle_roles(self) -> list[str]:
        if self.action == "autoscaling:PutLifecycleHook":
            return [self.input["RoleARN"]] if self.input.get("RoleARN") else []
        return list(dict.fromkeys(h["RoleARN"] for h in self.input.get("LifecycleHookSpecificationList") or []
                                  if h.get("RoleARN")))

    def service_linked_role_arn(self) -> str:
        """The role Auto Scaling acts as: ServiceLinkedRoleARN, else the default one of the account."""
        return self.input.get("ServiceLinkedRoleARN") or (
            f"arn:{self.partition}:iam::{self.account}:role/aws-service-role/autoscaling.amazonaws.com/"
            "AWSServiceRoleForAutoScaling")

    def grants(self, key_arn: str) -> list[dict]:
        return list((self.raw.get("keyGrants") or {}).get(key_arn) or [])

    def granted(self, key_arn: str, principal: str, action: str) -> dict | None:
        """The grant (as `aws kms list-grants` prints it) that gives principal the operation on the key."""
        op = action.split(":", 1)[1]
        for grant in self.grants(key_arn):
            if grant.get("GranteePrincipal") == principal and op in (grant.get("Operations") or []):
                return grant
        return None

    def key_account(self, key_arn: str) -> str:
        return key_arn.split(":")[4]


def _checks(call: Call) -> None:
    """The cross-field checks; each raises InputError with the JSON path of the contradiction."""
    raw, data = call.raw, call.launch_template
    if data is not None and not call.uses_launch_template():
        raise InputError("launchTemplate: the call names no launch template (LaunchTemplate or MixedInstancesPolicy)")
    for where, spec in call.launch_template_specs():
        if not spec.get("LaunchTemplateId"):
            name = spec.get("LaunchTemplateName", "NAME")
            raise InputError(f"{where}: names the template by LaunchTemplateName only; the launch template's ARN "
                             "(ec2:RunInstances is checked on it) needs its id: give LaunchTemplateId (aws ec2 "
                             f"describe-launch-templates --launch-template-names {name})")
    if raw.get("instanceProfileRole") is not None:
        if not call.instance_profile():
            where = ("call.input.IamInstanceProfile" if call.action == "autoscaling:CreateLaunchConfiguration"
                     else "launchTemplate.IamInstanceProfile")
            raise InputError(f"instanceProfileRole: the launch template names no instance profile ({where} is "
                             "missing)" if "launchTemplate" in where else
                             f"instanceProfileRole: the launch configuration names no instance profile ({where} is "
                             "missing)")
        if not ROLE_ARN.match(raw["instanceProfileRole"]):
            raise InputError(f"instanceProfileRole: '{raw['instanceProfileRole']}' is not an IAM role ARN")
    for where, arn in [("call.input.ServiceLinkedRoleARN", call.input.get("ServiceLinkedRoleARN")),
                       *[("call.input.RoleARN" if call.action == "autoscaling:PutLifecycleHook" else
                          f"call.input.LifecycleHookSpecificationList[{i}].RoleARN", h.get("RoleARN"))
                         for i, h in enumerate([call.input] if call.action == "autoscaling:PutLifecycleHook"
                                               else call.input.get("LifecycleHookSpecificationList") or [])]]:
        if arn is not None and not ROLE_ARN.match(arn):
            raise InputError(f"{where}: '{arn}' is not an IAM role ARN")
    if call.input.get("ServiceLinkedRoleARN") and "/aws-service-role/autoscaling.amazonaws.com/" not in \
            call.input["ServiceLinkedRoleARN"]:
        raise InputError(f"call.input.ServiceLinkedRoleARN: '{call.input['ServiceLinkedRoleARN']}' is not an Auto "
                         "Scaling service-linked role (role/aws-service-role/autoscaling.amazonaws.com/...)")
    for key in list(raw.get("keyPolicies") or {}) + list(raw.get("keyGrants") or {}):
        if not KEY_ARN.match(key):
            field_name = "keyPolicies" if key in (raw.get("keyPolicies") or {}) else "keyGrants"
            raise InputError(f"{field_name}.{key}: not a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)")
    for arn in raw.get("resourceTags") or {}:
        if not arn.startswith("arn:"):
            raise InputError(f"resourceTags.{arn}: keys are resource ARNs")
    for arn, where in call.customer_keys():
        if arn not in (raw.get("keyPolicies") or {}):
            raise InputError(f"keyPolicies: the volumes are encrypted with {arn} ({where}); give that key's policy "
                             f"under keyPolicies (aws kms get-key-policy --key-id {arn} --policy-name default)")


def read_call(obj: Any, input_validator: Any, operations: dict[str, Any], validators: dict[str, Any]) -> Call:
    """Validate one can-i object (the KB's input schema, then the operation's parameters) and read it."""
    schema_error(input_validator, obj, "", "field")
    call_obj = obj["call"]
    action = call_obj["action"]
    if action not in operations:
        known = sorted(operations)
        from iamkb.refdata import nearest

        near = nearest(action, known, limit=1)
        hint = f"did you mean {near[0]}? " if near else ""
        raise InputError(f"call.action: '{action}' is not an operation the check covers ({hint}it covers "
                         f"{', '.join(known)}: the operations whose other permissions the docs list; check any "
                         "other single action with `iamkb simulate`)")
    schema_error(validators[action], call_obj["input"], "call.input", f"parameter of {action.split(':')[1]}")
    region = call_obj["region"]
    if not REGION.match(region):
        raise InputError(f"call.region: '{region}' is not a Region code (such as us-east-1)")
    if not PRINCIPAL.match(obj["principal"]):
        raise InputError(f"principal: '{obj['principal']}' is not an IAM or STS principal ARN")
    account = call_obj.get("account") or PRINCIPAL.match(obj["principal"]).group(2)
    if not ACCOUNT.match(account):
        raise InputError(f"call.account: '{account}' is not a 12-digit account id")
    call = Call(action=action, input=call_obj["input"], region=region, account=account, principal=obj["principal"],
                raw=obj, launch_template=obj.get("launchTemplate"))
    _checks(call)
    return call
