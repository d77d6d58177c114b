"""`iamkb can-i`: every rule of the KB's call rules (each row of the docs' required-permissions table, each case of
the launch-template and KMS key-policy pages) checked as a link of a whole call.

For each rule, a call that needs it is checked with a policy set that grants every requirement exactly (one
statement per request, its context pinned): Allowed. Then without exactly that rule's statements: Denied, the
denied requirements are that rule's, each naming its source; and the fix the check proposes, added, makes the call
allowed. The cases are generated from kb/build/call_rules.json, so a rule added to the data is tested (and a rule
no call below triggers fails the coverage test). The differential test checks every requirement of every case
against @cloud-copilot/iam-simulate on the same single request.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from oracle.oracle import run_oracle

from iamkb.callcheck import Checker, load_rules
from iamkb.cli import main

ACCT, OTHER, REGION = "111122223333", "444455556666", "us-east-1"
CALLER = f"arn:aws:iam::{ACCT}:role/dev"
KEY = f"arn:aws:kms:{REGION}:{ACCT}:key/1a2b3c4d-5e6f-1a2b-3c4d-5e6f1a2b3c4d"
OTHER_KEY = f"arn:aws:kms:{REGION}:{OTHER}:key/0f9e8d7c-6b5a-4f3e-2d1c-0b9a8f7e6d5c"
SLR = f"arn:aws:iam::{ACCT}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
CUSTOM_SLR = f"{SLR}_devteamkeyaccess"
HOOK_ROLE = f"arn:aws:iam::{ACCT}:role/hook-notifications"
LT = "lt-0abcd1234example"
TARGET_GROUP = f"arn:aws:vpc-lattice:{REGION}:{ACCT}:targetgroup/tg-0123456789abcdef0"
KMS_OPS = ["Encrypt", "Decrypt", "ReEncryptFrom", "ReEncryptTo", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
           "DescribeKey", "CreateGrant"]


def template(image: str = "ami-04d5cc9b88example", key: str = KEY) -> dict:
    """LaunchTemplateData naming everything the rules read."""
    return {"ImageId": image, "InstanceType": "t3.micro", "KeyName": "web-key",
            "IamInstanceProfile": {"Name": "web-app"}, "SecurityGroupIds": ["sg-903004f88example"],
            "TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "team", "Value": "web"}]},
                                  {"ResourceType": "volume", "Tags": [{"Key": "team", "Value": "web"}]}],
            "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"Encrypted": True, "KmsKeyId": key,
                                                                       "VolumeSize": 20, "VolumeType": "gp3"}}],
            "MetadataOptions": {"HttpTokens": "required"}}


def call(action: str, params: dict, **extra) -> dict:
    return {"call": {"action": f"autoscaling:{action}", "region": REGION, "account": ACCT, "input": params},
            "principal": CALLER, "identityPolicies": [], **extra}


GROUP = {"AutoScalingGroupName": "web", "MinSize": 1, "MaxSize": 3,
         "VPCZoneIdentifier": "subnet-0abc1234,subnet-0def5678"}
LT_SPEC = {"LaunchTemplateId": LT, "Version": "3"}
MIXED = {"LaunchTemplate": {"LaunchTemplateSpecification": LT_SPEC,
                            "Overrides": [{"InstanceType": "t3.micro"}, {"InstanceType": "t3.small"}]}}
def default_key_policy(key: str) -> dict:
    """A key's default policy: its own account's root may use IAM policies to grant access."""
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
         "Principal": {"AWS": f"arn:aws:iam::{key.split(':')[4]}:root"}, "Action": "kms:*", "Resource": "*"}]}


GRANT = {"GrantId": "0ab1c2d3", "GranteePrincipal": CUSTOM_SLR, "Operations": KMS_OPS}

# Calls that together need every rule (test_every_rule_is_needed_by_a_call checks it).
CALLS = {
    "create: first group, hook role, template": call(
        "CreateAutoScalingGroup", {**GROUP, "LaunchTemplate": LT_SPEC, "Tags": [{"Key": "environment", "Value": "test"}],
                                   "LifecycleHookSpecificationList": [{"LifecycleHookName": "drain",
                                                                       "LifecycleTransition":
                                                                       "autoscaling:EC2_INSTANCE_TERMINATING",
                                                                       "RoleARN": HOOK_ROLE}]},
        launchTemplate=template(), serviceLinkedRoleExists=False, keyPolicies={KEY: default_key_policy(KEY)}),
    "create: custom role, mixed instances, SSM AMI, key in another account with a grant": call(
        "CreateAutoScalingGroup", {**GROUP, "MixedInstancesPolicy": MIXED, "ServiceLinkedRoleARN": CUSTOM_SLR},
        launchTemplate=template("resolve:ssm:/golden/ami:3", OTHER_KEY), keyGrants={OTHER_KEY: [GRANT]},
        keyPolicies={OTHER_KEY: default_key_policy(OTHER_KEY)}),
    "create: key in another account, no grant yet": call(
        "CreateAutoScalingGroup", {**GROUP, "LaunchTemplate": LT_SPEC}, launchTemplate=template(key=OTHER_KEY),
        serviceLinkedRoleExists=True, keyPolicies={OTHER_KEY: default_key_policy(OTHER_KEY)}),
    "update: template, custom role": call(
        "UpdateAutoScalingGroup", {"AutoScalingGroupName": "web", "LaunchTemplate": LT_SPEC,
                                   "VPCZoneIdentifier": "subnet-0abc1234", "ServiceLinkedRoleARN": CUSTOM_SLR}, launchTemplate=template(),
        keyPolicies={KEY: default_key_policy(KEY)}, groupTags={"environment": "test"}),
    "update: SSM AMI, key in another account, no grant yet": call(
        "UpdateAutoScalingGroup", {"AutoScalingGroupName": "web", "MixedInstancesPolicy": MIXED},
        launchTemplate=template("resolve:ssm:golden-ami", OTHER_KEY),
        keyPolicies={OTHER_KEY: default_key_policy(OTHER_KEY)}),
    "launch configuration with an instance profile": call(
        "CreateLaunchConfiguration", {"LaunchConfigurationName": "web-lc", "ImageId": "ami-04d5cc9b88example",
                                      "InstanceType": "t3.micro", "IamInstanceProfile": "web-app",
                                      "InstanceId": "i-0123456789abcdef0"}),
    "lifecycle hook with a role": call(
        "PutLifecycleHook", {"AutoScalingGroupName": "web", "LifecycleHookName": "drain",
                             "LifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING", "RoleARN": HOOK_ROLE}),
    "attach a VPC Lattice target group": call(
        "AttachTrafficSources", {"AutoScalingGroupName": "web",
                                 "TrafficSources": [{"Identifier": TARGET_GROUP, "Type": "vpc-lattice"}]}),
    "detach a VPC Lattice target group": call(
        "DetachTrafficSources", {"AutoScalingGroupName": "web",
                                 "TrafficSources": [{"Identifier": TARGET_GROUP, "Type": "vpc-lattice"}]}),
}


@pytest.fixture(scope="module")
def rules(kb_build: Path) -> dict:
    return load_rules(kb_build)


@pytest.fixture(scope="module")
def checker(rules: dict) -> Checker:
    return Checker(rules)


def all_rule_ids(rules: dict) -> set[str]:
    return {r["id"] for op in rules["operations"].values() for r in [op["operation_rule"], *op["rules"]]}


# ------------------------------------------------------------------------- a policy set granting everything


def _pinned(context: dict) -> dict:
    """A Condition that holds for exactly this request's context."""
    single = {k: v for k, v in context.items() if not isinstance(v, list)}
    multi = {k: v for k, v in context.items() if isinstance(v, list)}
    cond = {"StringEquals": single} if single else {}
    if multi:
        cond["ForAllValues:StringEquals"] = multi
        cond["ForAnyValue:StringEquals"] = multi
    return cond


def grant_everything(obj: dict, requirements: list[dict]) -> tuple[dict, dict[str, list]]:
    """The call with policies that allow each requirement by its own statement (or grant), and for each rule id
    where its statements are: {rule id: [(kind, key, statement)]}."""
    out = copy.deepcopy(obj)
    identity, placed = [], {}
    waiting = any(r["id"].startswith("kms-create-grant-cross-account/") for r in requirements)
    for req in requirements:
        key = req["resource"] if req["resource"].startswith("arn:aws:kms:") else None
        if req["for"] == "service_linked_role" and waiting:
            continue  # no grant yet: that is what this call is about (its own rule)
        links = placed.setdefault(req["id"], [])
        if req["for"] == "service_linked_role":
            if key.split(":")[4] == ACCT:
                stmt = {"Effect": "Allow", "Principal": {"AWS": req["principal"]}, "Action": req["action"],
                        "Resource": "*", "Condition": _pinned(req["context"])}
                links.append(("key", key, stmt))
            else:
                grant = {"GranteePrincipal": req["principal"], "Operations": [req["action"].split(":")[1]]}
                links.append(("grant", key, grant))
            continue
        stmt = {"Effect": "Allow", "Action": req["action"], "Resource": req["resource"],
                "Condition": _pinned(req["context"])}
        links.append(("identity", None, stmt))
        identity.append(stmt)
        if key and key.split(":")[4] != ACCT:  # a key in another account: its policy must allow the caller's account
            links.append(("key", key, {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCT}:root"},
                                       "Action": req["action"], "Resource": "*"}))
    out["identityPolicies"] = [{"Version": "2012-10-17", "Statement": identity}]
    for kind, key, item in (link for links in placed.values() for link in links):
        if kind == "key":
            out["keyPolicies"][key]["Statement"].append(item)
        elif kind == "grant" and key not in (obj.get("keyGrants") or {}):
            out.setdefault("keyGrants", {}).setdefault(key, []).append(item)
    return out, placed


def without(obj: dict, links: list) -> dict:
    """The call without exactly these statements and grants."""
    out = copy.deepcopy(obj)
    for kind, key, item in links:
        if kind == "identity":
            out["identityPolicies"][0]["Statement"].remove(item)
        elif kind == "key":
            out["keyPolicies"][key]["Statement"].remove(item)
        elif item in (out.get("keyGrants") or {}).get(key, []):
            out["keyGrants"][key].remove(item)
        else:  # a grant the call itself lists: drop the operation from it
            for grant in out["keyGrants"][key]:
                grant["Operations"] = [op for op in grant["Operations"] if op not in item["Operations"]]
    return out


def with_fix(obj: dict, result: dict) -> dict:
    """The call with the check's fix added where it says it goes."""
    out = copy.deepcopy(obj)
    if result["fix"]:
        out["identityPolicies"].append(result["fix"])
    for key, pol in (result["keyPolicyFix"] or {}).items():
        out["keyPolicies"][key]["Statement"] += pol["Statement"]
    for grant in result["grantFix"] or []:
        out.setdefault("keyGrants", {}).setdefault(grant["KeyId"], []).append(
            {"GranteePrincipal": grant["GranteePrincipal"], "Operations": grant["Operations"]})
    return out


def waits_for_grant(req: dict, result: dict) -> bool:
    """A service-linked role's use of a key in another account before any grant exists: denied by design (the
    grant is the fix, autoscaling/key-policy-requirements-EBS-encryption#policy-example-cmk-cross-account-access)."""
    return req["for"] == "service_linked_role" and any(r["id"].startswith("kms-create-grant-cross-account/")
                                                        for r in result["requirements"])


@pytest.fixture(scope="module")
def cases(checker: Checker) -> list[dict]:
    """One case per (call, rule the call needs): the full policy set, its result, the result without the rule's
    links, and the result with the check's fix added to that."""
    out = []
    for name, obj in CALLS.items():
        first = checker.check(obj)
        full, placed = grant_everything(obj, first["requirements"])
        full_result = checker.check(full)
        for rule_id, links in placed.items():
            missing = without(full, links)
            missing_result = checker.check(missing)
            fixed = checker.check(with_fix(missing, missing_result))
            out.append({"call": name, "rule": rule_id, "full": full, "full_result": full_result,
                        "missing": missing, "missing_result": missing_result, "fixed_result": fixed})
    return out


def test_every_name_the_rules_use_has_its_function_and_every_function_a_use(rules: dict) -> None:
    """The rules' data names tests, resources and context sources; iamkb/callcheck/derive.py implements them."""
    from iamkb.callcheck.derive import CONTEXT, FACTS, FROM_RULES, RESOURCES, WHEN

    every = [r for op in rules["operations"].values() for r in [op["operation_rule"], *op["rules"]]]
    assert set(rules["conditions"]) == set(WHEN) == {r["when"] for r in every}
    assert set(rules["resources"]) == set(RESOURCES) == {r["resource"] for r in every}
    sources = {s for r in every for s in r["context"].values()}
    assert sources <= set(CONTEXT) | FACTS | FROM_RULES
    assert set(CONTEXT) | FROM_RULES <= sources


def test_every_rule_is_needed_by_a_call(rules: dict, cases: list[dict]) -> None:
    assert {c["rule"] for c in cases} == all_rule_ids(rules)
    assert rules["counts"]["rules"] + len(rules["operations"]) == len(all_rule_ids(rules))


def test_the_full_policy_set_allows_every_requirement(cases: list[dict]) -> None:
    for name in CALLS:
        result = next(c["full_result"] for c in cases if c["call"] == name)
        denied = [(r["id"], r["decision"]) for r in result["requirements"]
                  if r["decision"] != "Allowed" and not waits_for_grant(r, result)]
        assert denied == [], name
        if not any(waits_for_grant(r, result) for r in result["requirements"]):
            assert result["verdict"] == "Allowed" and result["fix"] is None, name


def test_missing_exactly_one_link_denies_it_and_names_its_source(rules: dict, cases: list[dict]) -> None:
    by_id = {r["id"]: r for op in rules["operations"].values() for r in [op["operation_rule"], *op["rules"]]}
    for case in cases:
        result = case["missing_result"]
        denied = [r for r in result["requirements"] if r["decision"] != "Allowed" and not waits_for_grant(r, result)]
        assert result["verdict"] == "Denied", (case["call"], case["rule"])
        assert denied and {r["id"] for r in denied} == {case["rule"]}, (case["call"], case["rule"])
        for r in denied:
            assert r["source"] == by_id[case["rule"]]["source"] and r["reason"] == by_id[case["rule"]]["reason"]


def test_the_fix_makes_the_denied_call_allowed(cases: list[dict]) -> None:
    for case in cases:
        result, fixed = case["missing_result"], case["fixed_result"]
        assert result["fixVerified"] is True, (case["call"], case["rule"], result["notes"])
        assert fixed["verdict"] == "Allowed", (case["call"], case["rule"],
                                              [r["id"] for r in fixed["requirements"] if r["decision"] != "Allowed"])


def test_a_fix_names_the_concrete_resource_wherever_the_action_has_resource_types(rules: dict,
                                                                                 cases: list[dict]) -> None:
    """Never a bare "*" where a resource-level permission exists; a wildcard only in the ids AWS assigns."""
    any_rules = {r["id"] for op in rules["operations"].values() for r in op["rules"] if r["resource_type"] is None}
    for case in cases:
        fix = case["missing_result"]["fix"]
        if not fix:
            continue
        for st in fix["Statement"]:
            for resource in st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]:
                if resource == "*":
                    assert case["rule"] in any_rules or case["rule"].startswith("describe-instance-attribute/")
                else:
                    wild = resource.count("*")
                    assert wild <= 1 and (wild == 0 or resource.endswith(("/*", ":autoScalingGroupName/web"))
                                          or ":*:" in resource), resource


# ------------------------------------------------------------------------------------- iam-simulate agrees


def _engine_scenarios(checker: Checker, obj: dict) -> list[tuple[dict, str]]:
    """(scenario, our decision) of each policy-decided requirement of the call (a grant is not a policy)."""
    call, outcomes = checker.outcomes(obj)
    return [(checker.scenario(call, o.req), o.decision) for o in outcomes if o.grant is None]


def test_each_requirement_agrees_with_iam_simulate(require_node: None, checker: Checker, cases: list[dict]) -> None:
    batch, ours = [], []
    for case in cases:
        for obj in (case["full"], case["missing"]):
            for scenario, decision in _engine_scenarios(checker, obj):
                batch.append(scenario)
                ours.append(decision)
    theirs = run_oracle(batch)
    assert len(theirs) == len(batch) > len(cases)
    rejected = [(s["request"]["action"], t["error"], t["ignoredContextKeys"]) for s, t in zip(batch, theirs, strict=True)
                if t["error"]]
    assert rejected == []
    differ = [(s["request"]["action"], s["request"]["resource"], o, t["decision"])
              for s, o, t in zip(batch, ours, theirs, strict=True) if o != t["decision"]]
    assert differ == []


# ---------------------------------------------------------------------------------- what the pages describe


def _policy(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _decisions(result: dict, action: str) -> dict[str, str]:
    return {r["resource"]: r["decision"] for r in result["requirements"] if r["action"] == action}


def test_the_docs_misspelling_is_checked_under_the_references_name(checker: Checker) -> None:
    """The table says ec2:RunInstance; the check requires ec2:RunInstances and says what the docs wrote."""
    obj = copy.deepcopy(CALLS["create: first group, hook role, template"])
    result = checker.check(obj)
    run = [r for r in result["requirements"] if r["action"] == "ec2:RunInstances"]
    assert run and all(r["docsName"] == "ec2:RunInstance" for r in run)
    assert not [r for r in result["requirements"] if r["action"] == "ec2:RunInstance"]


def test_launch_template_version_and_imdsv2_cases(checker: Checker, kb_build: Path) -> None:
    """#policy-example-launch-template-ex2 (a version number is required) and #instance-metadata-requireIMDSv2
    (RunInstances is denied unless the template requires IMDSv2), with the docs' own example policies."""
    examples = {e["id"]: e["policy"] for e in json.loads((kb_build / "examples.json").read_text())}
    page = "example:autoscaling/ec2-auto-scaling-launch-template-permissions"
    base = call("CreateAutoScalingGroup", {**GROUP, "LaunchTemplate": LT_SPEC}, serviceLinkedRoleExists=True,
                launchTemplate={"ImageId": "ami-04d5cc9b88example", "InstanceType": "t3.micro",
                                "MetadataOptions": {"HttpTokens": "required"}},
                identityPolicies=[examples[f"{page}#policy-example-launch-template-ex2:1"],
                                  examples[f"{page}#instance-metadata-requireIMDSv2:1"],
                                  _policy({"Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "*"})])
    assert checker.check(base)["verdict"] == "Allowed"
    latest = copy.deepcopy(base)
    latest["call"]["input"]["LaunchTemplate"]["Version"] = "$Latest"
    denied = [r for r in checker.check(latest)["requirements"] if r["decision"] != "Allowed"]
    assert [(r["action"], r["context"]["autoscaling:LaunchTemplateVersionSpecified"]) for r in denied] == \
        [("autoscaling:CreateAutoScalingGroup", "false")]
    optional = copy.deepcopy(base)
    optional["launchTemplate"]["MetadataOptions"]["HttpTokens"] = "optional"
    result = checker.check(optional)
    denied = [r for r in result["requirements"] if r["decision"] != "Allowed"]
    assert [(r["action"], r["decision"], r["resource"].split(":")[-1]) for r in denied] == \
        [("ec2:RunInstances", "ExplicitlyDenied", "instance/i-00000000000000000")]
    assert result["fix"] is None and any("explicit Deny" in n for n in result["notes"])


def test_each_instance_type_is_its_own_request(checker: Checker) -> None:
    """#policy-example-launch-template-ex4's second statement allows only t2.micro: a mixed instances group that
    may launch t3.small as well is denied for that type alone, and the fix adds that type."""
    obj = call("CreateAutoScalingGroup", {**GROUP, "MixedInstancesPolicy": MIXED}, serviceLinkedRoleExists=True,
               launchTemplate={"ImageId": "ami-04d5cc9b88example"},
               identityPolicies=[_policy({"Effect": "Allow", "Action": ["autoscaling:CreateAutoScalingGroup",
                                                                        "ec2:RunInstances"],
                                          "NotResource": f"arn:aws:ec2:{REGION}:{ACCT}:instance/*"},
                                         {"Effect": "Allow", "Action": "ec2:RunInstances",
                                          "Resource": f"arn:aws:ec2:{REGION}:{ACCT}:instance/*",
                                          "Condition": {"StringEquals": {"ec2:InstanceType": "t3.micro"}}})])
    result = checker.check(obj)
    denied = [r["context"]["ec2:InstanceType"] for r in result["requirements"] if r["decision"] != "Allowed"]
    assert denied == ["t3.small"]
    assert result["fix"]["Statement"] == [{"Effect": "Allow", "Action": "ec2:RunInstances",
                                           "Resource": f"arn:aws:ec2:{REGION}:{ACCT}:instance/*",
                                           "Condition": {"StringEquals": {"ec2:InstanceType": "t3.small"}}}]


def test_the_key_policy_of_the_docs_lets_the_service_linked_role_use_the_key(checker: Checker,
                                                                            kb_build: Path) -> None:
    """#policy-example-cmk-access: the default key policy (account root) is not enough, because the service-linked
    role's own policy cannot grant KMS; the docs' two statements, for the role, are."""
    examples = {e["id"]: e["policy"] for e in json.loads((kb_build / "examples.json").read_text())}
    cmk = "example:autoscaling/key-policy-requirements-EBS-encryption#policy-example-cmk-access"
    root = {"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCT}:root"},
            "Action": "kms:*", "Resource": "*"}
    docs = [json.loads(json.dumps(examples[f"{cmk}:{n}"]).replace("123456789012", ACCT)) for n in (1, 2)]
    obj = call("CreateAutoScalingGroup", {**GROUP, "LaunchTemplate": LT_SPEC}, serviceLinkedRoleExists=True,
               launchTemplate={"BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"KmsKeyId": KEY}}]},
               identityPolicies=[_policy({"Effect": "Allow", "Action": "*", "Resource": "*"})],
               keyPolicies={KEY: _policy(root)})
    result = checker.check(obj)
    denied = sorted(r["action"] for r in result["requirements"] if r["decision"] != "Allowed")
    assert denied == sorted(f"kms:{op}" for op in KMS_OPS)
    assert result["keyPolicyFix"][KEY]["Statement"][0]["Principal"] == {"AWS": SLR}
    obj["keyPolicies"][KEY]["Statement"] += docs
    assert checker.check(obj)["verdict"] == "Allowed"


def test_the_aws_managed_key_needs_no_key_policy(checker: Checker) -> None:
    obj = call("CreateAutoScalingGroup", {**GROUP, "LaunchTemplate": LT_SPEC}, serviceLinkedRoleExists=True,
               launchTemplate={"BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"KmsKeyId": "alias/aws/ebs"}}]},
               identityPolicies=[_policy({"Effect": "Allow", "Action": "*", "Resource": "*"})])
    result = checker.check(obj)
    assert result["verdict"] == "Allowed" and not [r for r in result["requirements"] if r["action"].startswith("kms:")]


# ------------------------------------------------------------------------------------------------ bad input


BAD = [
    ("unknown action", {"call": {"action": "autoscaling:CreateAutoScalingGroups"}},
     "call.action: 'autoscaling:CreateAutoScalingGroups' is not an operation the check covers (did you mean "
     "autoscaling:CreateAutoScalingGroup?"),
    ("unknown parameter", {"call": {"input": {"LaunchTemplates": {}}}},
     "call.input.LaunchTemplates: unknown parameter of CreateAutoScalingGroup (did you mean LaunchTemplate?)"),
    ("nested unknown parameter", {"call": {"input": {"Tags": [{"Key": "a", "Valeu": "b"}]}}},
     "call.input.Tags[0].Valeu: unknown parameter of CreateAutoScalingGroup (did you mean Value?)"),
    ("wrong type", {"call": {"input": {"MinSize": "one"}}}, "call.input.MinSize: must be an integer, got a string"),
    ("wrong type at the top", {"serviceLinkedRoleExists": "no"}, "serviceLinkedRoleExists: must be a boolean"),
    ("missing parameter", {"call": {"input": {"MaxSize": None}}}, "call.input.MaxSize: must be an integer, got null"),
    ("profile the template does not name", {"instanceProfileRole": f"arn:aws:iam::{ACCT}:role/web-app"},
     "instanceProfileRole: the launch template names no instance profile (launchTemplate.IamInstanceProfile is "
     "missing)"),
    ("template by name only", {"call": {"input": {"LaunchTemplate": {"LaunchTemplateName": "web"}}}},
     "call.input.LaunchTemplate: names the template by LaunchTemplateName only"),
    ("a key whose policy is not given", {"launchTemplate": {"BlockDeviceMappings": [
        {"DeviceName": "/dev/xvda", "Ebs": {"KmsKeyId": KEY}}]}},
     f"keyPolicies: the volumes are encrypted with {KEY} (launchTemplate.BlockDeviceMappings[0].Ebs.KmsKeyId)"),
    ("a policy with a bad element", {"identityPolicies": [{"Version": "2012-10-17", "Statement": [
        {"Effect": "Alow", "Action": "*", "Resource": "*"}]}]}, "identityPolicies[0].Statement[0].Effect: Effect must be \"Allow\" or \"Deny\""),
]


def _bad(patch: dict) -> dict:
    obj = call("CreateAutoScalingGroup", {**GROUP, "LaunchTemplate": LT_SPEC}, launchTemplate={"InstanceType": "t3.micro"})
    for key, value in patch.items():
        if key == "call":
            for k, v in value.items():
                if k == "input":
                    obj["call"]["input"].update(v)
                else:
                    obj["call"][k] = v
        else:
            obj[key] = value
    return obj


@pytest.mark.parametrize(("name", "patch", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_one_line_with_its_json_path(tmp_path: Path, capsys, kb_build: Path, name: str, patch: dict,
                                                  message: str) -> None:
    path = tmp_path / "call.json"
    path.write_text(json.dumps(_bad(patch)))
    assert main(["can-i", "--json", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert f"iamkb: error: {path}: {message}" in captured.err


def test_a_list_names_the_item(tmp_path: Path, capsys, kb_build: Path) -> None:
    path = tmp_path / "calls.json"
    path.write_text(json.dumps([_bad({}), _bad({"call": {"input": {"MinSize": "one"}}})]))
    assert main(["can-i", str(path)]) == 2
    assert f"{path}: [1].call.input.MinSize: must be an integer" in capsys.readouterr().err


def test_exit_codes_follow_the_verdict(tmp_path: Path, capsys, kb_build: Path) -> None:
    allowed = _bad({"identityPolicies": [_policy({"Effect": "Allow", "Action": "*", "Resource": "*"})],
                    "serviceLinkedRoleExists": True})
    path = tmp_path / "call.json"
    path.write_text(json.dumps(allowed))
    assert main(["can-i", "--json", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "Allowed"
    path.write_text(json.dumps([allowed, _bad({})]))
    assert main(["can-i", "--json", str(path)]) == 1
    assert [r["verdict"] for r in json.loads(capsys.readouterr().out)] == ["Allowed", "Denied"]
    assert main(["can-i", str(path)]) == 1
    text = capsys.readouterr().out
    assert text.startswith("Allowed: autoscaling:CreateAutoScalingGroup") and "\nDenied: " in text


def test_the_readme_example_prints_what_the_readme_shows(tmp_path: Path, capsys, kb_build: Path) -> None:
    import re

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    call_text = re.search(r"With this `call.json`:\n\n```json\n(.*?)\n```", readme, re.S).group(1)
    shown = re.search(r"`\.venv/bin/iamkb can-i call\.json` prints .*?\n\n```text\n(.*?)\n```", readme, re.S).group(1)
    (tmp_path / "call.json").write_text(call_text)
    assert main(["can-i", str(tmp_path / "call.json")]) == 1
    assert capsys.readouterr().out.rstrip("\n") == shown
