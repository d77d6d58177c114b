"""From a call and the KB's rules to concrete requests: who needs which action on which resource, with which
request context.

The rules (kb/build/call_rules.json) name their test, resource and context sources; this module holds the small
function behind each name, in three tables: WHEN (does the rule apply to the call), RESOURCES (the concrete
resources, each a `Target` with the ARN filled into the reference's ARN format) and CONTEXT (a condition key's
value). A value that only one resource has (a subnet's id, a volume's type) is a fact of its Target and wins over
the call-wide source of the same name.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from iamkb.callcheck.call import Call, principal_arn

Value = str | list[str] | dict[str, str] | None


@dataclass(frozen=True)
class Target:
    """One concrete resource: the ARN the request names, the ARN a fix names (placeholders as *), facts."""

    arn: str
    pattern: str
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass
class Requirement:
    """One permission the call needs: a rule applied to one resource, as a single request."""

    rule: dict[str, Any]
    principal: str
    action: str
    target: Target
    context: dict[str, str | list[str]]
    resource_policy: dict | None = None

    @property
    def kind(self) -> str:
        return self.rule["principal"]

    def request(self) -> dict[str, Any]:
        out: dict[str, Any] = {"principal": self.principal, "action": self.action, "resource": self.target.arn}
        if self.target.arn == "*":
            out["resourceAccount"] = self.target.facts["account"]
        if self.context:
            out["context"] = self.context
        return out


# ------------------------------------------------------------------------------------------------------ ARNs


def fill(template: str, values: dict[str, str]) -> str:
    """The reference's ARN format with its ${Variables} replaced (KeyError: a variable the caller forgot)."""
    return re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], template)


def _target(call: Call, rule: dict, placeholders: dict[str, str], facts: dict | None = None,
            **values: str) -> Target:
    base = {"Partition": call.partition, "Region": call.region, "Account": call.account}
    new = {k: placeholders[k] for k in placeholders if k in re.findall(r"\$\{(\w+)\}", rule["arn"])
           and k not in values}
    arn = fill(rule["arn"], {**base, **new, **values})
    pattern = fill(rule["arn"], {**base, **{k: "*" for k in new}, **values})
    return Target(arn, pattern, facts or {})


def _given(arn: str, facts: dict | None = None) -> Target:
    return Target(arn, arn, facts or {})


def group_arn(call: Call, rules: dict) -> str:
    """The group's ARN; a new group's (or an unknown) UUID is the placeholder."""
    template = rules["operations"]["autoscaling:CreateAutoScalingGroup"]["operation_rule"]["arn"]
    return fill(template, {"Partition": call.partition, "Region": call.region, "Account": call.account,
                           "GroupId": rules["placeholders"]["GroupId"],
                           "GroupFriendlyName": call.input.get("AutoScalingGroupName", "")})


# ------------------------------------------------------------------------------------------------- WHEN

WHEN: dict[str, Callable[[Call], bool]] = {
    "always": lambda call: True,
    "default_service_linked_role_missing": lambda call: (
        call.raw.get("serviceLinkedRoleExists") is False and not call.input.get("ServiceLinkedRoleARN")),
    "service_linked_role_arn": lambda call: bool(call.input.get("ServiceLinkedRoleARN")),
    "lifecycle_hook_role": lambda call: bool(call.lifecycle_roles()),
    "launch_template": Call.uses_launch_template,
    "launch_template_key_pair": lambda call: bool(call.template_data().get("KeyName")),
    "launch_template_instance_profile": lambda call: bool(call.launch_template and call.instance_profile()),
    "launch_template_tags_instances": lambda call: bool(call.tag_specification("instance")),
    "launch_template_tags_volumes": lambda call: bool(call.tag_specification("volume")),
    "launch_template_ssm_parameter": lambda call: str(call.template_data().get("ImageId", "")).startswith(
        "resolve:ssm:"),
    "launch_template_customer_managed_key": lambda call: bool(call.customer_keys()),
    "key_in_other_account_without_grant": lambda call: bool(_keys_without_grant(call)),
    "launch_configuration_instance_profile": lambda call: bool(call.instance_profile()),
    "vpc_lattice_target_group": lambda call: bool(_lattice_groups(call)),
}


def _keys_without_grant(call: Call) -> list[str]:
    slr = call.service_linked_role_arn()
    return [arn for arn, _ in call.customer_keys()
            if call.key_account(arn) != call.account
            and not any(g.get("GranteePrincipal") == slr for g in call.grants(arn))]


def _lattice_groups(call: Call) -> list[str]:
    return [t["Identifier"] for t in call.input.get("TrafficSources") or []
            if t.get("Type") == "vpc-lattice" or str(t.get("Identifier", "")).startswith("arn:aws:vpc-lattice:")]


# --------------------------------------------------------------------------------------------- RESOURCES

Resources = Callable[[Call, dict, dict[str, str]], list[Target]]


def _instances(call: Call, rule: dict, ph: dict[str, str]) -> list[Target]:
    data = call.template_data()
    meta = data.get("MetadataOptions") or {}
    facts = {"metadata_http_tokens": meta.get("HttpTokens"),
             "metadata_http_put_response_hop_limit": _text(meta.get("HttpPutResponseHopLimit")),
             "metadata_http_endpoint": meta.get("HttpEndpoint"),
             "ebs_optimized": _text(data.get("EbsOptimized")),
             "tenancy": (data.get("Placement") or {}).get("Tenancy"),
             "instance_market_type": (data.get("InstanceMarketOptions") or {}).get("MarketType")}
    types = call.instance_types() or [None]
    return [_target(call, rule, ph, {**facts, "instance_type": t}) for t in types]


def _image(call: Call, rule: dict, ph: dict[str, str]) -> list[Target]:
    image = call.template_data().get("ImageId")
    if not image or image.startswith("resolve:ssm:"):
        return []
    return [_target(call, rule, ph, {"image_id": image}, ImageId=image)]


def _subnets(call: Call, rule: dict, ph: dict[str, str]) -> list[Target]:
    return [_target(call, rule, ph, {"subnet_id": s}, SubnetId=s) for s in call.subnets()]


def _subnet_arn(call: Call, subnet: str) -> str:
    return f"arn:{call.partition}:ec2:{call.region}:{call.account}:subnet/{subnet}"


def _network_interfaces(call: Call, rule: dict, ph: dict[str, str]) -> list[Target]:
    subnets = call.subnets() or [None]
    return [_target(call, rule, ph, {"subnet_arn": _subnet_arn(call, s) if s else None}) for s in subnets]


def _volumes(call: Call, rule: dict, ph: dict[str, str]) -> list[Target]:
    devices = call.block_devices() or [("", {})]  # no mapping: the AMI's root volume
    return [_target(call, rule, ph, {"volume_encrypted": _text(ebs.get("Encrypted")),
                                     "volume_type": ebs.get("VolumeType"), "volume_size": _text(ebs.get("VolumeSize")),
                                     "volume_iops": _text(ebs.get("Iops")),
                                     "volume_throughput": _text(ebs.get("Throughput"))})
            for _, ebs in devices]


def _launch_templates(call: Call, rule: dict, ph: dict[str, str]) -> list[Target]:
    out = []
    for lt in call.launch_template_ids():
        target = _target(call, rule, ph, LaunchTemplateId=lt)
        out.append(Target(target.arn, target.pattern, {"launch_template_arn": target.arn}))
    return out


def _instance_profile_role(call: Call, rule: dict, ph: dict[str, str]) -> list[Target]:
    """The role in the profile: instanceProfileRole, else the role of the profile's name ("the console creates
    an instance profile automatically and gives it the same name as the role": autoscaling/us-iam-role)."""
    if call.raw.get("instanceProfileRole"):
        return [_given(call.raw["instanceProfileRole"])]
    profile = call.instance_profile() or ""
    name = profile.rsplit("/", 1)[-1]
    call.notes.append(f"the role in instance profile {profile} is taken to be the role of the same name (as the "
                      "console creates it); give instanceProfileRole when it is another")
    return [_target(call, rule, ph, RoleNameWithPath=name)]


def _kms_keys(call: Call, rule: dict, ph: dict[str, str]) -> list[Target]:
    return [_given(arn) for arn, _ in call.customer_keys()]


RESOURCES: dict[str, Resources] = {
    "group": lambda call, rule, ph: [_target(call, rule, ph, GroupFriendlyName=call.input["AutoScalingGroupName"])],
    "launch_configuration": lambda call, rule, ph: [
        _target(call, rule, ph, LaunchConfigurationName=call.input["LaunchConfigurationName"])],
    "default_service_linked_role": lambda call, rule, ph: [_given(call.service_linked_role_arn())],
    "service_linked_role_arn": lambda call, rule, ph: [_given(call.input["ServiceLinkedRoleARN"])],
    "lifecycle_hook_roles": lambda call, rule, ph: [_given(arn) for arn in call.lifecycle_roles()],
    "instance_profile_role": _instance_profile_role,
    "launch_template": _launch_templates,
    "instances": _instances,
    "image": _image,
    "subnets": _subnets,
    "security_groups": lambda call, rule, ph: [_target(call, rule, ph, {"security_group_id": sg}, SecurityGroupId=sg)
                                               for sg in call.security_groups()],
    "network_interfaces": _network_interfaces,
    "volumes": _volumes,
    "key_pair": lambda call, rule, ph: [_target(call, rule, ph, {"key_name": call.template_data()["KeyName"]},
                                                KeyPairName=call.template_data()["KeyName"])],
    "tagged_instances": lambda call, rule, ph: [_target(call, rule, ph)],
    "tagged_volumes": lambda call, rule, ph: [_target(call, rule, ph)],
    "ssm_parameter": lambda call, rule, ph: [_target(call, rule, ph, ParameterNameWithoutLeadingSlash=_parameter(
        call.template_data()["ImageId"]))],
    "kms_keys": _kms_keys,
    "kms_keys_without_grant": lambda call, rule, ph: [_given(arn) for arn in _keys_without_grant(call)],
    "vpc_lattice_target_groups": lambda call, rule, ph: [_given(arn) for arn in _lattice_groups(call)],
    "source_instance": lambda call, rule, ph: [
        _target(call, rule, ph, InstanceId=call.input["InstanceId"]) if call.input.get("InstanceId")
        else Target("*", "*", {"account": call.account})],
    "any": lambda call, rule, ph: [Target("*", "*", {"account": call.account})],
}


def _parameter(image_id: str) -> str:
    """resolve:ssm:/golden/ami:3 -> golden/ami (the ARN's name has no leading slash; a version or label is not
    part of it)."""
    name = image_id.removeprefix("resolve:ssm:")
    return re.sub(r":[^:/]+$", "", name).lstrip("/")


# ---------------------------------------------------------------------------------------------- CONTEXT


def _text(value: Any) -> str | None:
    """A context value as IAM compares it: numbers and booleans as their text."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _tags(tags: list[dict] | None) -> dict[str, str]:
    return {t["Key"]: t.get("Value", "") for t in tags or []}


Context = Callable[[Call, Target], Value]

CONTEXT: dict[str, Context] = {
    "requested_tags": lambda call, t: _tags(call.input.get("Tags")),
    "requested_tag_keys": lambda call, t: [x["Key"] for x in call.input.get("Tags") or []] or None,
    "group_tags": lambda call, t: dict(call.raw.get("groupTags") or {}),
    "resource_tags": lambda call, t: dict((call.raw.get("resourceTags") or {}).get(t.arn) or {}),
    "instance_tags": lambda call, t: call.tag_specification("instance"),
    "instance_tag_keys": lambda call, t: list(call.tag_specification("instance")) or None,
    "volume_tags": lambda call, t: call.tag_specification("volume"),
    "volume_tag_keys": lambda call, t: list(call.tag_specification("volume")) or None,
    "launch_template_version_specified": lambda call, t: _text(call.version_specified())
    if call.uses_launch_template() else None,
    "launch_configuration_name": lambda call, t: call.input.get("LaunchConfigurationName"),
    "min_size": lambda call, t: _text(call.input.get("MinSize")),
    "max_size": lambda call, t: _text(call.input.get("MaxSize")),
    "vpc_zone_identifiers": lambda call, t: call.subnets() if call.input.get("VPCZoneIdentifier") else None,
    "load_balancer_names": lambda call, t: call.input.get("LoadBalancerNames") or None,
    "target_group_arns": lambda call, t: call.input.get("TargetGroupARNs") or None,
    "instance_types": lambda call, t: call.instance_types() or None,
    "traffic_source_identifiers": lambda call, t: [s["Identifier"] for s in call.input.get("TrafficSources") or []]
    or None,
    "capacity_reservation_ids": lambda call, t: ((call.input.get("CapacityReservationSpecification") or {})
                                                 .get("CapacityReservationTarget") or {}).get("CapacityReservationIds"),
    "capacity_reservation_resource_group_arns": lambda call, t: (
        ((call.input.get("CapacityReservationSpecification") or {}).get("CapacityReservationTarget") or {})
        .get("CapacityReservationResourceGroupArns")),
    "image_id": lambda call, t: call.input.get("ImageId"),
    "instance_type": lambda call, t: call.input.get("InstanceType"),
    "spot_price": lambda call, t: call.input.get("SpotPrice"),
    "metadata_http_tokens": lambda call, t: (call.input.get("MetadataOptions") or {}).get("HttpTokens"),
    "metadata_http_put_response_hop_limit": lambda call, t: _text(
        (call.input.get("MetadataOptions") or {}).get("HttpPutResponseHopLimit")),
    "metadata_http_endpoint": lambda call, t: (call.input.get("MetadataOptions") or {}).get("HttpEndpoint"),
    "instance_profile_arn": lambda call, t: call.instance_profile_arn(),
    "launch_template_arn": lambda call, t: (
        f"arn:{call.partition}:ec2:{call.region}:{call.account}:launch-template/{call.launch_template_ids()[0]}"
        if call.launch_template_ids() else None),
    "region": lambda call, t: call.region,
    "service_linked_role_account": lambda call, t: call.service_linked_role_arn().split(":")[4],
    "caller_account": lambda call, t: call.principal_account,
    "ec2_via_service": lambda call, t: f"ec2.{call.region}.amazonaws.com",
}
# Values the rules' data gives (the group's ARN is filled into the reference's ARN format): requirements() passes
# them to context_for.
FROM_RULES = frozenset({"group_arn"})
# Values only one resource has: a Target's facts, which the resources above set.
FACTS = frozenset({"instance_type", "metadata_http_tokens", "metadata_http_put_response_hop_limit",
                   "metadata_http_endpoint", "ebs_optimized", "tenancy", "instance_market_type", "image_id",
                   "subnet_id", "subnet_arn", "security_group_id", "key_name", "volume_encrypted", "volume_type",
                   "volume_size", "volume_iops", "volume_throughput", "launch_template_arn"})


def context_for(call: Call, target: Target, sources: dict[str, str], values: dict[str, str],
                from_rules: dict[str, str]) -> dict[str, str | list[str]]:
    """The request context: the rule's literal values and each key's source (a templated key such as
    `aws:RequestTag/${TagKey}` becomes one key per tag): the target's fact, else a value from the rules' data,
    else the call-wide source."""
    out: dict[str, str | list[str]] = dict(values)
    for key, source in sources.items():
        if source in target.facts:
            value = target.facts[source]
        else:
            value = from_rules[source] if source in from_rules else CONTEXT[source](call, target)
        if value is None or value == {} or value == []:
            continue
        if "${" in key:
            stem = key.split("${", 1)[0]
            out.update({f"{stem}{k}": v for k, v in value.items()})  # type: ignore[union-attr]
        else:
            out[key] = value  # type: ignore[assignment]
    return out


def global_context(call: Call, principal: str) -> dict[str, str]:
    """Global keys present in every request (iam/reference_policies_condition-keys): the principal, its account,
    the Region."""
    return {"aws:PrincipalArn": principal_arn(principal), "aws:PrincipalAccount": principal.split(":")[4],
            "aws:RequestedRegion": call.region}


def requirements(call: Call, rules: dict[str, Any]) -> list[Requirement]:
    """Every permission the call needs: the operation's own, then each rule whose test holds, per resource."""
    op = rules["operations"][call.action]
    placeholders = rules["placeholders"]
    from_rules = {"group_arn": group_arn(call, rules)}
    slr = call.service_linked_role_arn()
    out = []
    for rule in [op["operation_rule"], *op["rules"]]:
        if not WHEN[rule["when"]](call):
            continue
        principal = slr if rule["principal"] == "service_linked_role" else call.principal
        targets = RESOURCES[rule["resource"]](call, rule, placeholders)
        if not targets and not (rule["when"] == "launch_template" and call.launch_template is None):
            # (without the template's data, one note says what goes unchecked: Checker.result)
            call.notes.append(f"{rule['action']} on {rule['resource_text']}: not checked, as the input does not "
                              "say which")
        for target in targets:
            context = {**global_context(call, principal),
                       **context_for(call, target, rule["context"], rule["values"], from_rules)}
            key_policy = (call.raw.get("keyPolicies") or {}).get(target.arn) if rule["resource_type"] == \
                "resource_type:kms:key" else None
            out.append(Requirement(rule, principal, rule["action"], target, context, key_policy))
    return out
