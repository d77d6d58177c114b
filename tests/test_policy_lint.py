"""Lint: every finding code fires on the situation its documentation describes and goes away when the policy is
fixed as the documentation says; the catalog documents every code (iamkb/policy/lint/).

Each CASES row is (code, policy type, the policy with the problem, the path of the finding, the fixed policy). The
rows follow the Access Analyzer policy check reference section each code implements (kb/build/analyzer_checks.json)
or, for iamkb's own codes, the IAM guide section the catalog cites. tests/test_policy_lint_docs.py drives the same
checks from the snippets the reference page itself shows.
"""

from __future__ import annotations

import copy
import json

import pytest

from iamkb.policy.lint import BY_CODE, CATALOG, CHECKS, lint_document
from iamkb.policy.lint.runner import infer_policy_type

V = "2012-10-17"
ACCT = "111122223333"
ASG = f"arn:aws:autoscaling:us-east-1:{ACCT}:autoScalingGroup:*:autoScalingGroupName/web"
ROLE = f"arn:aws:iam::{ACCT}:role/app"
GITHUB = f"arn:aws:iam::{ACCT}:oidc-provider/token.actions.githubusercontent.com"
SAML = f"arn:aws:iam::{ACCT}:saml-provider/ExampleIdP"
EKS = f"arn:aws:iam::{ACCT}:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"


def doc(*statements: dict, version: str | None = V) -> dict:
    out: dict = {"Statement": list(statements)}
    if version:
        out = {"Version": version, **out}
    return out


def allow(**kw) -> dict:
    """An identity-policy statement on Auto Scaling groups (the project's own service)."""
    return {"Effect": "Allow", "Action": "autoscaling:DeletePolicy", "Resource": ASG, **kw}


def deny(**kw) -> dict:
    return {**allow(**kw), "Effect": "Deny", **kw}


def cond(operator: str, key: str, value) -> dict:
    return {"Condition": {operator: {key: value}}}


def res(**kw) -> dict:
    """A resource-based (bucket policy) statement."""
    return {"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::amzn-s3-demo-bucket/*", **kw}


def trust(**kw) -> dict:
    return {"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "sts:AssumeRole", **kw}


def scp(**kw) -> dict:
    return {"Effect": "Deny", "Action": "autoscaling:DeleteAutoScalingGroup", "Resource": "*", **kw}


def without(statement: dict, *keys: str) -> dict:
    return {k: v for k, v in statement.items() if k not in keys}


def big(n: int) -> list[str]:
    """n distinct action names (the size checks only count characters)."""
    return [f"autoscaling:Describe{i:05d}Things" for i in range(n)]


PASS_CASES = [
    # (code, statement with the problem, statement fixed) for the iam:PassRole and service-linked-role families
    ("PASS_ROLE_WITH_STAR_IN_RESOURCE", allow(Action="iam:PassRole", Resource="*"),
     allow(Action="iam:PassRole", Resource=f"arn:aws:iam::{ACCT}:role/autoscaling-*")),
    ("PASS_ROLE_WITH_STAR_IN_ACTION_AND_RESOURCE", allow(Action="iam:Pass*", Resource="*"),
     allow(Action="iam:Pass*", Resource="*", **cond("StringEquals", "iam:PassedToService", "ec2.amazonaws.com"))),
    ("PASS_ROLE_WITH_NOT_RESOURCE", without(allow(Action="iam:PassRole", NotResource=ROLE), "Resource"),
     allow(Action="iam:PassRole", Resource=ROLE)),
    ("PASS_ROLE_WITH_STAR_IN_ACTION_AND_NOT_RESOURCE", without(allow(Action="iam:*", NotResource=ROLE), "Resource"),
     allow(Action="iam:*", Resource=ROLE)),
    ("PASS_ROLE_WITH_NOT_ACTION_AND_NOT_RESOURCE",
     without(allow(NotAction="s3:*", NotResource=ROLE), "Action", "Resource"),
     without(allow(NotAction=["s3:*", "iam:PassRole", "iam:CreateServiceLinkedRole"], NotResource=ROLE),
             "Action", "Resource")),
    ("PASS_ROLE_WITH_STAR_IN_RESOURCE_AND_NOT_ACTION", without(allow(NotAction="s3:*", Resource="*"), "Action"),
     without(allow(NotAction=["s3:*", "iam:PassRole", "iam:CreateServiceLinkedRole"], Resource="*"), "Action")),
    ("CREATE_SLR_WITH_STAR_IN_RESOURCE", allow(Action="iam:CreateServiceLinkedRole", Resource="*"),
     allow(Action="iam:CreateServiceLinkedRole",
           Resource="arn:aws:iam::*:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling*")),
    ("CREATE_SLR_WITH_STAR_IN_ACTION_AND_RESOURCE", allow(Action="iam:Create*", Resource="*"),
     allow(Action="iam:Create*", Resource="*",
           **cond("StringLike", "iam:AWSServiceName", "autoscaling.amazonaws.com"))),
    ("CREATE_SLR_WITH_NOT_RESOURCE", without(allow(Action="iam:CreateServiceLinkedRole", NotResource=ROLE), "Resource"),
     allow(Action="iam:CreateServiceLinkedRole", Resource=ROLE)),
    ("CREATE_SLR_WITH_STAR_IN_ACTION_AND_NOT_RESOURCE", without(allow(Action="*", NotResource=ROLE), "Resource"),
     allow(Action="*", Resource=ROLE)),
    ("CREATE_SLR_WITH_NOT_ACTION_AND_NOT_RESOURCE",
     without(allow(NotAction="s3:*", NotResource=ROLE), "Action", "Resource"),
     without(allow(NotAction=["s3:*", "iam:PassRole", "iam:CreateServiceLinkedRole"], NotResource=ROLE),
             "Action", "Resource")),
    ("CREATE_SLR_WITH_STAR_IN_RESOURCE_AND_NOT_ACTION", without(allow(NotAction="s3:*", Resource="*"), "Action"),
     without(allow(NotAction=["s3:*", "iam:PassRole", "iam:CreateServiceLinkedRole"], Resource="*"), "Action")),
]

CASES = [
    # --- grammar -------------------------------------------------------------------------------------------
    ("MALFORMED", "identity", doc(allow(Action="autoscaling")), "Statement[0].Action", doc(allow())),
    ("DATA_TYPE_MISMATCH", "identity", doc(allow(Sid=3)), "Statement[0].Sid", doc(allow(Sid="Three"))),
    ("INVALID_POLICY_ELEMENT", "identity", doc(allow(Conditions={})), "Statement[0].Conditions", doc(allow())),
    ("INVALID_VERSION", "identity", doc(allow(), version="2012-10-18"), "Version", doc(allow())),
    ("MISSING_STATEMENT", "identity", {"Version": V}, "Statement", doc(allow())),
    ("MISSING_EFFECT", "identity", doc(without(allow(), "Effect")), "Statement[0].Effect", doc(allow())),
    ("INVALID_EFFECT", "identity", doc(allow(Effect="Allows")), "Statement[0].Effect", doc(allow())),
    ("MISSING_ACTION", "identity", doc(without(allow(), "Action")), "Statement[0]", doc(allow())),
    ("UNSUPPORTED_ELEMENT_COMBINATION", "identity", doc(allow(NotResource=ASG)), "Statement[0].NotResource",
     doc(allow())),
    ("INVALID_CONDITION_OPERATOR", "identity", doc(allow(**cond("StringEqual", "aws:PrincipalTag/team", "a"))),
     "Statement[0].Condition.StringEqual", doc(allow(**cond("StringEquals", "aws:PrincipalTag/team", "a")))),
    ("NULL_WITH_IF_EXISTS", "identity", doc(allow(**cond("NullIfExists", "aws:TagKeys", "true"))),
     "Statement[0].Condition.NullIfExists", doc(allow(**cond("Null", "aws:TagKeys", "true")))),
    ("INVALID_PRINCIPAL_FORMAT", "resource", doc(res(Principal=ROLE)), "Statement[0].Principal",
     doc(res(Principal={"AWS": ACCT}))),
    ("INVALID_PRINCIPAL_KEY", "resource", doc(res(Principal={"IAM": ROLE})), "Statement[0].Principal.IAM", doc(res())),
    ("INVALID_ARN_PREFIX", "identity", doc(allow(Resource="aws:autoscaling:us-east-1")), "Statement[0].Resource",
     doc(allow())),
    ("EMPTY_ARRAY_ACTION", "identity", doc(allow(Action=[]), allow(Sid="Other")), "Statement[0].Action",
     doc(allow(), allow(Sid="Other"))),
    ("EMPTY_ARRAY_RESOURCE", "identity", doc(allow(Resource=[])), "Statement[0].Resource", doc(allow())),
    ("EMPTY_ARRAY_PRINCIPAL", "resource", doc(res(Principal={"AWS": []})), "Statement[0].Principal.AWS", doc(res())),
    ("EMPTY_OBJECT_PRINCIPAL", "resource", doc(res(Principal={})), "Statement[0].Principal", doc(res())),
    ("EMPTY_OBJECT_CONDITION", "identity", doc(allow(Condition={})), "Statement[0].Condition", doc(allow())),
    ("EMPTY_ARRAY_CONDITION", "identity", doc(allow(**cond("StringEquals", "aws:PrincipalTag/team", []))),
     "Statement[0].Condition.StringEquals.aws:PrincipalTag/team",
     doc(allow(**cond("StringEquals", "aws:PrincipalTag/team", ["red"])))),
    ("EMPTY_ARRAY_CONDITION_FORALLVALUES", "identity",
     doc(allow(**cond("ForAllValues:StringEquals", "aws:TagKeys", []))),
     "Statement[0].Condition.ForAllValues:StringEquals.aws:TagKeys", doc(allow(**cond("Null", "aws:TagKeys", "true")))),
    ("EMPTY_ARRAY_CONDITION_FORANYVALUE", "identity",
     doc(allow(**cond("ForAnyValue:StringEquals", "aws:TagKeys", []))),
     "Statement[0].Condition.ForAnyValue:StringEquals.aws:TagKeys",
     doc(allow(**cond("ForAnyValue:StringEquals", "aws:TagKeys", ["team"])))),
    ("EMPTY_ARRAY_CONDITION_IFEXISTS", "identity",
     doc(allow(**cond("StringEqualsIfExists", "aws:PrincipalTag/team", []))),
     "Statement[0].Condition.StringEqualsIfExists.aws:PrincipalTag/team",
     doc(allow(**cond("Null", "aws:PrincipalTag/team", "true")))),
    # --- names ---------------------------------------------------------------------------------------------
    ("UNKNOWN_SERVICE", "identity", doc(allow(Action="autoscalin:DeletePolicy")), "Statement[0].Action", doc(allow())),
    ("UNKNOWN_ACTION", "identity", doc(allow(Action="autoscaling:DeletePolicies")), "Statement[0].Action", doc(allow())),
    ("WILDCARD_MATCHES_NOTHING", "identity", doc(allow(Action="autoscaling:Zz*")), "Statement[0].Action",
     doc(allow(Action="autoscaling:Delete*"))),
    ("WILDCARD_IN_SERVICE_NAME", "identity", doc(allow(Resource="arn:aws:auto*:us-east-1:111122223333:*")),
     "Statement[0].Resource", doc(allow())),
    ("INVALID_CONDITION_KEY_FORMAT", "identity", doc(allow(**cond("StringEquals", "ResourceTag/environment", "dev"))),
     "Statement[0].Condition.StringEquals.ResourceTag/environment",
     doc(allow(**cond("StringEquals", "aws:ResourceTag/environment", "dev")))),
    ("INVALID_GLOBAL_CONDITION_KEY", "identity", doc(allow(**cond("StringEquals", "aws:RequestRegion", "us-east-1"))),
     "Statement[0].Condition.StringEquals.aws:RequestRegion",
     doc(allow(**cond("StringEquals", "aws:RequestedRegion", "us-east-1")))),
    ("INVALID_SERVICE_CONDITION_KEY", "identity",
     doc(allow(Action="autoscaling:CreateAutoScalingGroup", **cond("NumericLessThan", "autoscaling:MaxSizes", 5))),
     "Statement[0].Condition.NumericLessThan.autoscaling:MaxSizes",
     doc(allow(Action="autoscaling:CreateAutoScalingGroup", **cond("NumericLessThan", "autoscaling:MaxSize", 5)))),
    ("UNSUPPORTED_GLOBAL_CONDITION_KEY", "identity", doc(allow(**cond("ArnEquals", "aws:ARN", ROLE))),
     "Statement[0].Condition.ArnEquals.aws:ARN", doc(allow(**cond("ArnEquals", "aws:PrincipalArn", ROLE)))),
    ("MISSING_TAG_KEY_IN_CONDITION", "identity", doc(allow(**cond("StringEquals", "aws:ResourceTag", "dev"))),
     "Statement[0].Condition.StringEquals.aws:ResourceTag",
     doc(allow(**cond("StringEquals", "aws:ResourceTag/environment", "dev")))),
    ("CONDITION_KEY_NOT_APPLICABLE", "identity", doc(allow(**cond("NumericLessThan", "autoscaling:MaxSize", 5))),
     "Statement[0].Condition.NumericLessThan.autoscaling:MaxSize",
     doc(allow(Action="autoscaling:CreateAutoScalingGroup", **cond("NumericLessThan", "autoscaling:MaxSize", 5)))),
    ("UNSUPPORTED_ACTION_FOR_CONDITION_KEY", "identity",
     doc(allow(Action=["autoscaling:CreateAutoScalingGroup", "autoscaling:DeletePolicy"],
               **cond("NumericLessThan", "autoscaling:MaxSize", 5))),
     "Statement[0].Condition.NumericLessThan.autoscaling:MaxSize",
     doc(allow(Action="autoscaling:CreateAutoScalingGroup", **cond("NumericLessThan", "autoscaling:MaxSize", 5)),
         allow(Sid="Delete"))),
    ("MISSING_ACTION_FOR_CONDITION_KEY", "trust", doc(trust(**cond("StringEquals", "aws:RequestTag/team", "red"))),
     "Statement[0].Condition.StringEquals.aws:RequestTag/team",
     doc(trust(Action=["sts:AssumeRole", "sts:TagSession"], **cond("StringEquals", "aws:RequestTag/team", "red")))),
    ("RESOURCE_MATCHES_NO_TYPE", "identity", doc(allow(Resource=f"arn:aws:autoscaling:*:{ACCT}:launchConfiguration:*")),
     "Statement[0].Resource", doc(allow())),
    ("NO_RESOURCE_LEVEL_PERMISSIONS", "identity", doc(allow(Action="autoscaling:DescribePolicies")),
     "Statement[0].Resource", doc(allow(Action="autoscaling:DescribePolicies", Resource="*"))),
    # --- ARNs ----------------------------------------------------------------------------------------------
    ("MISSING_ARN_FIELD", "identity", doc(allow(Resource="arn:aws:autoscaling:us-east-1")), "Statement[0].Resource",
     doc(allow())),
    ("INVALID_PARTITION", "identity", doc(allow(Resource=ASG.replace("arn:aws:", "arn:amazon:"))),
     "Statement[0].Resource", doc(allow())),
    ("INVALID_ARN_SERVICE_CASE", "identity", doc(allow(Resource=ASG.replace(":autoscaling:", ":AutoScaling:"))),
     "Statement[0].Resource", doc(allow())),
    ("INVALID_ARN_REGION", "identity", doc(allow(Resource=ASG.replace("us-east-1", "us-east1"))),
     "Statement[0].Resource", doc(allow())),
    ("INVALID_ARN_ACCOUNT", "identity", doc(allow(Resource=ASG.replace(ACCT, "1111-2222-3333"))),
     "Statement[0].Resource", doc(allow())),
    ("ARN_ACCOUNT_NOT_ALLOWED", "identity",
     doc(allow(Action="s3:ListBucket", Resource=f"arn:aws:s3::{ACCT}:amzn-s3-demo-bucket")), "Statement[0].Resource",
     doc(allow(Action="s3:ListBucket", Resource="arn:aws:s3:::amzn-s3-demo-bucket"))),
    ("ARN_REGION_NOT_ALLOWED", "identity",
     doc(allow(Action="iam:GetRole", Resource=f"arn:aws:iam:us-east-1:{ACCT}:role/app")), "Statement[0].Resource",
     doc(allow(Action="iam:GetRole", Resource=ROLE))),
    ("MISSING_ARN_REGION", "identity", doc(allow(Resource=ASG.replace("us-east-1", ""))), "Statement[0].Resource",
     doc(allow())),
    ("INVALID_ARN_RESOURCE", "identity", doc(allow(Resource=f"arn:aws:autoscaling:us-east-1:{ACCT}:group/web")),
     "Statement[0].Resource", doc(allow())),
    ("REDUNDANT_RESOURCE", "identity", doc(allow(Resource=[ASG, ASG.replace("/web", "/*")])), "Statement[0].Resource[0]",
     doc(allow(Resource=ASG.replace("/web", "/*")))),
    ("REDUNDANT_ACTION", "identity", doc(allow(Action=["autoscaling:Delete*", "autoscaling:DeletePolicy"])),
     "Statement[0].Action[1]", doc(allow(Action=["autoscaling:Delete*"]))),
    ("REDUNDANT_STATEMENT", "identity", doc(allow(), allow()), "Statement[1]", doc(allow())),
    # --- condition values ----------------------------------------------------------------------------------
    ("OPERATOR_TYPE_MISMATCH", "identity", doc(allow(**cond("NumericEquals", "aws:MultiFactorAuthPresent", 1))),
     "Statement[0].Condition.NumericEquals.aws:MultiFactorAuthPresent",
     doc(allow(**cond("Bool", "aws:MultiFactorAuthPresent", "true")))),
    ("NULL_NOT_BOOLEAN", "identity", doc(allow(**cond("Null", "aws:TagKeys", "yes"))),
     "Statement[0].Condition.Null.aws:TagKeys", doc(allow(**cond("Null", "aws:TagKeys", "false")))),
    ("TYPE_MISMATCH_BOOLEAN", "identity", doc(allow(**cond("Bool", "aws:MultiFactorAuthPresent", "yes"))),
     "Statement[0].Condition.Bool.aws:MultiFactorAuthPresent",
     doc(allow(**cond("Bool", "aws:MultiFactorAuthPresent", True)))),
    ("TYPE_MISMATCH_NUMBER", "identity", doc(allow(**cond("NumericLessThan", "aws:MultiFactorAuthAge", "an hour"))),
     "Statement[0].Condition.NumericLessThan.aws:MultiFactorAuthAge",
     doc(allow(**cond("NumericLessThan", "aws:MultiFactorAuthAge", "3600")))),
    ("TYPE_MISMATCH_DATE", "identity", doc(allow(**cond("DateLessThan", "aws:CurrentTime", "next tuesday"))),
     "Statement[0].Condition.DateLessThan.aws:CurrentTime",
     doc(allow(**cond("DateLessThan", "aws:CurrentTime", "2030-01-01T00:00:00Z")))),
    ("INVALID_DATE_VALUE", "identity", doc(allow(**cond("DateLessThan", "aws:CurrentTime", "1893456000"))),
     "Statement[0].Condition.DateLessThan.aws:CurrentTime",
     doc(allow(**cond("DateLessThan", "aws:CurrentTime", "2030-01-01")))),
    ("TYPE_MISMATCH_IP_RANGE", "identity", doc(allow(**cond("IpAddress", "aws:SourceIp", "203.0.113.0/33"))),
     "Statement[0].Condition.IpAddress.aws:SourceIp", doc(allow(**cond("IpAddress", "aws:SourceIp", "203.0.113.0/24")))),
    ("TYPE_MISMATCH_STRING", "identity", doc(allow(**cond("BinaryEquals", "aws:UserAgent", "not base64!"))),
     "Statement[0].Condition.BinaryEquals.aws:UserAgent",
     doc(allow(**cond("BinaryEquals", "aws:UserAgent", "QmluYXJ5VmFsdWVJbkJhc2U2NA==")))),
    ("INVALID_CONDITION_DATA_TYPE", "identity", doc(allow(**cond("StringEquals", "aws:PrincipalTag/level", ["1", 2]))),
     "Statement[0].Condition.StringEquals.aws:PrincipalTag/level",
     doc(allow(**cond("StringEquals", "aws:PrincipalTag/level", ["1", "2"])))),
    ("INVALID_CONDITION_MULTIPLE_BOOLEAN", "identity", doc(allow(**cond("Bool", "aws:SecureTransport", [True, False]))),
     "Statement[0].Condition.Bool.aws:SecureTransport", doc(allow(**cond("Bool", "aws:SecureTransport", True)))),
    ("DUPLICATE_KEYS_WITH_DIFFERENT_CASE", "identity",
     doc(allow(Condition={"StringEquals": {"aws:PrincipalTag/team": "red", "aws:principaltag/team": "blue"}})),
     "Statement[0].Condition.StringEquals.aws:principaltag/team",
     doc(allow(Condition={"StringEquals": {"aws:PrincipalTag/team": ["red", "blue"]}}))),
    ("WILDCARD_WITHOUT_LIKE_OPERATOR", "identity", doc(allow(**cond("StringEquals", "aws:PrincipalTag/job", "admin-*"))),
     "Statement[0].Condition.StringEquals.aws:PrincipalTag/job",
     doc(allow(**cond("StringLike", "aws:PrincipalTag/job", "admin-*")))),
    ("REDUNDANT_CONDITION_VALUE_NUM", "identity",
     doc(allow(**cond("NumericLessThan", "aws:MultiFactorAuthAge", ["2700", "3600"]))),
     "Statement[0].Condition.NumericLessThan.aws:MultiFactorAuthAge",
     doc(allow(**cond("NumericLessThan", "aws:MultiFactorAuthAge", "3600")))),
    ("MISSING_QUALIFIER", "identity",
     doc(allow(Action="autoscaling:CreateOrUpdateTags", **cond("StringEquals", "aws:TagKeys", ["environment"]))),
     "Statement[0].Condition.StringEquals.aws:TagKeys",
     doc(allow(Action="autoscaling:CreateOrUpdateTags", **cond("ForAnyValue:StringEquals", "aws:TagKeys",
                                                              ["environment"])))),
    ("FORALLVALUES_WITH_SINGLE_VALUED_KEY", "identity",
     doc(allow(**cond("ForAllValues:StringEquals", "aws:RequestedRegion", ["us-east-1"]))),
     "Statement[0].Condition.ForAllValues:StringEquals.aws:RequestedRegion",
     doc(allow(**cond("StringEquals", "aws:RequestedRegion", ["us-east-1"])))),
    ("FORALLVALUES_WITH_ALLOW", "identity",
     doc(allow(Action="autoscaling:CreateOrUpdateTags", **cond("ForAllValues:StringEquals", "aws:TagKeys", ["team"]))),
     "Statement[0].Condition.ForAllValues:StringEquals.aws:TagKeys",
     doc(allow(Action="autoscaling:CreateOrUpdateTags", Condition={
         "ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}, "Null": {"aws:TagKeys": "false"}}))),
    ("NULL_WITH_QUALIFIER", "identity", doc(allow(**cond("ForAllValues:Null", "aws:TagKeys", "false"))),
     "Statement[0].Condition.ForAllValues:Null.aws:TagKeys", doc(allow(**cond("Null", "aws:TagKeys", "false")))),
    ("INVALID_REGION", "identity", doc(allow(**cond("StringEquals", "aws:RequestedRegion", "useast1"))),
     "Statement[0].Condition.StringEquals.aws:RequestedRegion",
     doc(allow(**cond("StringEquals", "aws:RequestedRegion", "us-east-1")))),
    ("INVALID_VPC_FORMAT", "identity", doc(allow(**cond("StringEquals", "aws:SourceVpc", "vpc-1234"))),
     "Statement[0].Condition.StringEquals.aws:SourceVpc", doc(allow(**cond("StringEquals", "aws:SourceVpc",
                                                                             "vpc-12345678")))),
    ("INVALID_VPCE_FORMAT", "identity", doc(allow(**cond("StringEquals", "aws:SourceVpce", "vpce-1a2b"))),
     "Statement[0].Condition.StringEquals.aws:SourceVpce",
     doc(allow(**cond("StringEquals", "aws:SourceVpce", "vpce-11223344556677889")))),
    ("INVALID_SERVICE_PRINCIPAL_FORMAT", "identity",
     doc(allow(Action="kms:Decrypt", Resource="*", **cond("StringEquals", "kms:ViaService", "ec2.amazonaws.com"))),
     "Statement[0].Condition.StringEquals.kms:ViaService",
     doc(allow(Action="kms:Decrypt", Resource="*", **cond("StringEquals", "kms:ViaService",
                                                          "ec2.us-east-1.amazonaws.com")))),
    ("PRIVATE_IP_ADDRESS", "identity", doc(allow(**cond("IpAddress", "aws:SourceIp", "10.0.0.0/8"))),
     "Statement[0].Condition.IpAddress.aws:SourceIp", doc(allow(**cond("IpAddress", "aws:SourceIp", "203.0.113.0/24")))),
    ("PRIVATE_NOT_IP_ADDRESS", "identity", doc(deny(**cond("NotIpAddress", "aws:SourceIp", "192.168.0.0/16"))),
     "Statement[0].Condition.NotIpAddress.aws:SourceIp",
     doc(deny(**cond("NotIpAddress", "aws:SourceIp", "203.0.113.0/24")))),
    ("PRIVATE_IP_ADDRESS_SUBSET", "identity",
     doc(allow(**cond("IpAddress", "aws:SourceIp", ["10.0.0.0/8", "203.0.113.0/24"]))),
     "Statement[0].Condition.IpAddress.aws:SourceIp", doc(allow(**cond("IpAddress", "aws:SourceIp", "203.0.113.0/24")))),
    ("PRIVATE_NOT_IP_ADDRESS_SUBSET", "identity",
     doc(deny(**cond("NotIpAddress", "aws:SourceIp", ["172.16.0.0/12", "203.0.113.0/24"]))),
     "Statement[0].Condition.NotIpAddress.aws:SourceIp",
     doc(deny(**cond("NotIpAddress", "aws:SourceIp", "203.0.113.0/24")))),
    ("IMPROVE_IP_RANGE", "identity", doc(allow(**cond("IpAddress", "aws:SourceIp", "203.0.113.5/24"))),
     "Statement[0].Condition.IpAddress.aws:SourceIp", doc(allow(**cond("IpAddress", "aws:SourceIp", "203.0.113.0/24")))),
    ("MISSING_PAIRED_CONDITION_KEYS", "identity", doc(allow(**cond("IpAddress", "aws:VpcSourceIp", "10.0.0.0/16"))),
     "Statement[0].Condition.IpAddress.aws:VpcSourceIp",
     doc(allow(Condition={"IpAddress": {"aws:VpcSourceIp": "10.0.0.0/16"},
                          "StringEquals": {"aws:SourceVpc": "vpc-12345678"}}))),
    # --- policy variables ----------------------------------------------------------------------------------
    ("INVALID_VARIABLE_FOR_OPERATOR", "identity",
     doc(allow(**cond("NumericLessThan", "aws:MultiFactorAuthAge", "${aws:PrincipalTag/age}"))),
     "Statement[0].Condition.NumericLessThan.aws:MultiFactorAuthAge",
     doc(allow(**cond("StringEquals", "aws:ResourceTag/owner", "${aws:username}")))),
    ("MISSING_BRACE_IN_VARIABLE", "identity",
     doc(allow(Action="s3:GetObject", Resource="arn:aws:s3:::amzn-s3-demo-bucket/${aws:username/*")),
     "Statement[0].Resource",
     doc(allow(Action="s3:GetObject", Resource="arn:aws:s3:::amzn-s3-demo-bucket/${aws:username}/*"))),
    ("MISSING_QUOTE_IN_VARIABLE", "identity", doc(allow(**cond("StringEquals", "aws:ResourceTag/team",
                                                               "${aws:PrincipalTag/team, company-wide}"))),
     "Statement[0].Condition.StringEquals.aws:ResourceTag/team",
     doc(allow(**cond("StringEquals", "aws:ResourceTag/team", "${aws:PrincipalTag/team, 'company-wide'}")))),
    ("UNSUPPORTED_SPACE_IN_VARIABLE", "identity", doc(allow(**cond("StringEquals", "aws:ResourceTag/owner",
                                                                   "${aws: username}"))),
     "Statement[0].Condition.StringEquals.aws:ResourceTag/owner",
     doc(allow(**cond("StringEquals", "aws:ResourceTag/owner", "${aws:username}")))),
    ("EMPTY_VARIABLE", "identity", doc(allow(**cond("StringEquals", "aws:ResourceTag/owner", "${}"))),
     "Statement[0].Condition.StringEquals.aws:ResourceTag/owner",
     doc(allow(**cond("StringEquals", "aws:ResourceTag/owner", "${aws:username}")))),
    ("VARIABLE_UNSUPPORTED_IN_ELEMENT", "identity", doc(allow(Action="autoscaling:${aws:PrincipalTag/action}")),
     "Statement[0].Action", doc(allow(**cond("StringEquals", "aws:ResourceTag/owner", "${aws:username}")))),
    ("VARIABLE_UNSUPPORTED_IN_VERSION", "identity",
     doc(allow(**cond("StringEquals", "aws:ResourceTag/owner", "${aws:username}")), version="2008-10-17"), "Version",
     doc(allow(**cond("StringEquals", "aws:ResourceTag/owner", "${aws:username}")))),
    # --- Sid and Version -----------------------------------------------------------------------------------
    ("DUPLICATE_SID", "identity", doc(allow(Sid="A"), allow(Sid="A", Action="autoscaling:DeleteTags")),
     "Statement[1].Sid", doc(allow(Sid="A"), allow(Sid="B", Action="autoscaling:DeleteTags"))),
    ("UNIQUE_SIDS_RECOMMENDED", "resource", doc(res(Sid="A"), res(Sid="A", Action="s3:PutObject")), "Statement[1].Sid",
     doc(res(Sid="A"), res(Sid="B", Action="s3:PutObject"))),
    ("UNSUPPORTED_SID", "identity", doc(allow(Sid="Delete policies")), "Statement[0].Sid",
     doc(allow(Sid="DeletePolicies"))),
    ("EMPTY_SID_VALUE", "identity", doc(allow(Sid="")), "Statement[0].Sid", doc(allow(Sid="DeletePolicies"))),
    ("MISSING_VERSION", "identity", doc(allow(), version=None), "Version", doc(allow())),
    # --- principals ----------------------------------------------------------------------------------------
    ("MISSING_RESOURCE", "identity", doc(without(allow(), "Resource")), "Statement[0]", doc(allow())),
    ("MISSING_PRINCIPAL", "resource", doc(without(res(), "Principal")), "Statement[0]", doc(res())),
    ("UNSUPPORTED_PRINCIPAL", "identity", doc(allow(Principal={"AWS": ROLE})), "Statement[0].Principal", doc(allow())),
    ("UNSUPPORTED_WILDCARD_IN_PRINCIPAL", "resource", doc(res(Principal={"AWS": f"arn:aws:iam::{ACCT}:user/*"})),
     "Statement[0].Principal.AWS", doc(res(Principal={"AWS": f"arn:aws:iam::{ACCT}:user/alice"}))),
    ("FEDERATED_PRINCIPAL_NOT_SUPPORTED", "resource", doc(res(Principal={"Federated": SAML})),
     "Statement[0].Principal.Federated", doc(res())),
    ("INVALID_ROLE_REFERENCE", "resource", doc(res(Principal={"AWS": "AROA1234567890EXAMPLE"})),
     "Statement[0].Principal.AWS", doc(res())),
    ("INVALID_USER_REFERENCE", "resource", doc(res(Principal={"AWS": "AIDA1234567890EXAMPLE"})),
     "Statement[0].Principal.AWS", doc(res(Principal={"AWS": f"arn:aws:iam::{ACCT}:user/alice"}))),
    ("ALLOW_WITH_NOT_PRINCIPAL", "resource", doc(without(res(NotPrincipal={"AWS": ROLE}), "Principal")),
     "Statement[0].NotPrincipal", doc(res())),
    ("DENY_WITH_NOT_PRINCIPAL", "resource", doc(without(res(Effect="Deny", NotPrincipal={"AWS": ROLE}), "Principal")),
     "Statement[0].NotPrincipal",
     doc(res(Effect="Deny", Principal="*", **cond("ArnNotEquals", "aws:PrincipalArn", ROLE)))),
    ("RESTRICT_ACCESS_TO_SERVICE_PRINCIPAL", "resource",
     doc(res(Principal={"Service": "cloudtrail.amazonaws.com"}, Action="s3:PutObject")),
     "Statement[0].Principal.Service",
     doc(res(Principal={"Service": "cloudtrail.amazonaws.com"}, Action="s3:PutObject",
             **cond("StringEquals", "aws:SourceAccount", ACCT)))),
    ("RECOMMENDED_CONDITION_KEY_FOR_SERVICE_PRINCIPAL", "resource",
     doc(res(Principal={"Service": "cloudtrail.amazonaws.com"}, Action="s3:PutObject",
             **cond("StringEquals", "aws:Referer", "audit"))),
     "Statement[0].Condition.StringEquals.aws:Referer",
     doc(res(Principal={"Service": "cloudtrail.amazonaws.com"}, Action="s3:PutObject",
             **cond("StringEquals", "aws:SourceAccount", ACCT)))),
    # --- SCPs, role trust policies, resource-based policies ------------------------------------------------
    ("SCP_SYNTAX_ERROR_ACTION_WILDCARD", "scp", doc(scp(Action="iam:*Role")), "Statement[0].Action",
     doc(scp(Action="iam:Delete*"))),
    ("SCP_SYNTAX_ERROR_ALLOW_CONDITION", "scp",
     doc(scp(Effect="Allow", **cond("StringEquals", "aws:RequestedRegion", "us-east-1"))), "Statement[0].Condition",
     doc(scp(**cond("StringNotEquals", "aws:RequestedRegion", "us-east-1")))),
    ("SCP_SYNTAX_ERROR_ALLOW_NOTACTION", "scp", doc(without(scp(Effect="Allow", NotAction="iam:*"), "Action")),
     "Statement[0].NotAction", doc(without(scp(NotAction="iam:*"), "Action"))),
    ("SCP_SYNTAX_ERROR_ALLOW_RESOURCE", "scp", doc(scp(Effect="Allow", Resource=ASG)), "Statement[0].Resource",
     doc(scp(Effect="Allow"))),
    ("SCP_SYNTAX_ERROR_NOTRESOURCE", "scp", doc(without(scp(NotResource=ASG), "Resource")), "Statement[0].NotResource",
     doc(scp(Resource=ASG))),
    ("SCP_SYNTAX_ERROR_PRINCIPAL", "scp", doc(scp(Principal={"AWS": ROLE})), "Statement[0].Principal",
     doc(scp(**cond("ArnNotEquals", "aws:PrincipalArn", ROLE)))),
    ("TRUST_POLICY_SYNTAX_ERROR_NOTPRINCIPAL", "trust", doc(without(trust(NotPrincipal={"AWS": ROLE}), "Principal")),
     "Statement[0].NotPrincipal", doc(trust())),
    ("TRUST_POLICY_UNSUPPORTED_WILDCARD_IN_PRINCIPAL", "trust", doc(trust(Principal="*")), "Statement[0].Principal",
     doc(trust(Principal={"AWS": f"arn:aws:iam::{ACCT}:root"}))),
    ("TRUST_POLICY_SYNTAX_ERROR_RESOURCE", "trust", doc(trust(Resource=ROLE)), "Statement[0].Resource", doc(trust())),
    ("INVALID_FEDERATED_PRINCIPAL_SYNTAX", "trust",
     doc(trust(Principal={"Federated": "saml-provider/ExampleIdP"}, Action="sts:AssumeRoleWithSAML")),
     "Statement[0].Principal.Federated", doc(trust(Principal={"Federated": SAML}, Action="sts:AssumeRoleWithSAML"))),
    ("MISMATCHED_ACTION_FOR_PRINCIPAL", "trust",
     doc(trust(Principal={"Federated": SAML}, Action="sts:AssumeRoleWithWebIdentity")), "Statement[0].Action",
     doc(trust(Principal={"Federated": SAML}, Action="sts:AssumeRoleWithSAML"))),
    ("MISSING_ACTION_FOR_ROLES_ANYWHERE_TRUST_POLICY", "trust",
     doc(trust(Principal={"Service": "rolesanywhere.amazonaws.com"})), "Statement[0].Action",
     doc(trust(Principal={"Service": "rolesanywhere.amazonaws.com"},
               Action=["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"]))),
    ("MISSING_CONDITION_KEY_FOR_OIDC_PRINCIPAL", "trust",
     doc(trust(Principal={"Federated": EKS}, Action="sts:AssumeRoleWithWebIdentity")),
     "Statement[0].Principal.Federated",
     doc(trust(Principal={"Federated": EKS}, Action="sts:AssumeRoleWithWebIdentity", **cond(
         "StringEquals", f"{EKS.split('/', 1)[1]}:sub", "system:serviceaccount:default:autoscaler")))),
    ("MISSING_GITHUB_REPO_CONDITION_KEY", "trust",
     doc(trust(Principal={"Federated": GITHUB}, Action="sts:AssumeRoleWithWebIdentity",
               **cond("StringEquals", "token.actions.githubusercontent.com:aud", "sts.amazonaws.com"))),
     "Statement[0].Principal.Federated",
     doc(trust(Principal={"Federated": GITHUB}, Action="sts:AssumeRoleWithWebIdentity", Condition={"StringEquals": {
         "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
         "token.actions.githubusercontent.com:sub": "repo:octo-org/octo-repo:ref:refs/heads/main"}}))),
    ("SPECIFIC_GITHUB_REPO_AND_BRANCH_RECOMMENDED", "trust",
     doc(trust(Principal={"Federated": GITHUB}, Action="sts:AssumeRoleWithWebIdentity",
               **cond("StringLike", "token.actions.githubusercontent.com:sub", "repo:octo-org/*"))),
     "Statement[0].Condition.StringLike.token.actions.githubusercontent.com:sub",
     doc(trust(Principal={"Federated": GITHUB}, Action="sts:AssumeRoleWithWebIdentity",
               **cond("StringEquals", "token.actions.githubusercontent.com:sub",
                      "repo:octo-org/octo-repo:ref:refs/heads/main")))),
    ("CONFIRM_AUDIENCE_CLAIM_TYPE", "trust",
     doc(trust(Principal={"Federated": "oidc.example.com"}, Action="sts:AssumeRoleWithWebIdentity",
               **cond("ForAnyValue:StringEquals", "oidc.example.com:aud", ["my-app"]))),
     "Statement[0].Condition.ForAnyValue:StringEquals.oidc.example.com:aud",
     doc(trust(Principal={"Federated": "oidc.example.com"}, Action="sts:AssumeRoleWithWebIdentity",
               **cond("StringEquals", "oidc.example.com:aud", "my-app")))),
    ("REDUNDANT_PRINCIPAL_IN_TRUST_POLICY", "trust",
     doc(trust(Principal={"AWS": [ROLE, f"arn:aws:sts::{ACCT}:assumed-role/app/session"]})), "Statement[0].Principal.AWS[1]",
     doc(trust())),
    ("UNSUPPORTED_ACTION_IN_POLICY", "resource:s3:bucket", doc(res(Action="kms:Decrypt")), "Statement[0].Action",
     doc(res())),
    ("UNSUPPORTED_RESOURCE_ARN_IN_POLICY", "resource:s3:bucket",
     doc(res(Resource=f"arn:aws:kms:us-east-1:{ACCT}:key/1234abcd-12ab-34cd-56ef-1234567890ab")),
     "Statement[0].Resource", doc(res())),
    ("IRRELEVANT_CONDITION_KEY_IN_POLICY", "resource:s3:bucket", doc(res(**cond("StringEquals", "s3:ResourceAccount",
                                                                                  ACCT))),
     "Statement[0].Condition.StringEquals.s3:ResourceAccount",
     doc(res(**cond("StringEquals", "aws:PrincipalAccount", ACCT)))),
    # --- sizes ---------------------------------------------------------------------------------------------
    ("POLICY_SIZE_EXCEEDS_IDENTITY_POLICY_QUOTA", "identity", doc(allow(Action=big(200), Resource="*")), "(top)",
     doc(allow(Action=big(100), Resource="*"))),
    ("POLICY_SIZE_EXCEEDS_SCP_QUOTA", "scp", doc(scp(Action=big(150))), "(top)", doc(scp(Action=big(100)))),
    ("POLICY_SIZE_EXCEEDS_ROLE_TRUST_POLICY_QUOTA", "trust",
     doc(trust(Principal={"AWS": [f"arn:aws:iam::{ACCT}:role/app-{i:03d}" for i in range(60)]})), "(top)",
     doc(trust(Principal={"AWS": [f"arn:aws:iam::{ACCT}:role/app-{i:03d}" for i in range(30)]}))),
    # --- what the policy allows ----------------------------------------------------------------------------
    *[(code, "identity", doc(bad), "Statement[0].NotAction" if "NOT_ACTION" in code else "Statement[0].Action",
       doc(good)) for code, bad, good in PASS_CASES],
    ("DENY_WITH_UNSUPPORTED_TAG_CONDITION_KEY", "identity",
     doc(deny(Action=["autoscaling:DeletePolicy", "autoscaling:DescribeAutoScalingGroups"], Resource="*",
              **cond("StringEquals", "aws:ResourceTag/status", "Confidential"))),
     "Statement[0].Condition.StringEquals.aws:ResourceTag/status",
     doc(deny(Resource="*", **cond("StringEquals", "aws:ResourceTag/status", "Confidential")))),
    ("ALLOW_WITH_UNSUPPORTED_TAG_CONDITION_KEY", "identity",
     doc(allow(Action=["autoscaling:DeletePolicy", "autoscaling:DescribeAutoScalingGroups"], Resource="*",
               **cond("StringEquals", "aws:ResourceTag/team", "BumbleBee"))),
     "Statement[0].Condition.StringEquals.aws:ResourceTag/team",
     doc(allow(Resource="*", **cond("StringEquals", "aws:ResourceTag/team", "BumbleBee")),
         allow(Action="autoscaling:DescribeAutoScalingGroups", Resource="*"))),
    ("DENY_NOTACTION_WITH_UNSUPPORTED_TAG_CONDITION_KEY", "identity",
     doc(without(deny(NotAction="autoscaling:Describe*", Resource="*",
                      **cond("StringEquals", "aws:ResourceTag/status", "Confidential")), "Action")),
     "Statement[0].Condition.StringEquals.aws:ResourceTag/status",
     doc(deny(Action="autoscaling:DeletePolicy", Resource="*",
              **cond("StringEquals", "aws:ResourceTag/status", "Confidential")))),
    ("ALLOW_NOTACTION_WITH_UNSUPPORTED_TAG_CONDITION_KEY", "identity",
     doc(without(allow(NotAction="iam:*", Resource="*", **cond("StringEquals", "aws:ResourceTag/team", "BumbleBee")),
                 "Action")),
     "Statement[0].Condition.StringEquals.aws:ResourceTag/team",
     doc(allow(Resource="*", **cond("StringEquals", "aws:ResourceTag/team", "BumbleBee")))),
    ("AUTOSCALING_FULL_ACCESS", "identity", doc(allow(Action="autoscaling:*", Resource="*")), "Statement[0].Action",
     doc(allow(Action="autoscaling:Describe*", Resource="*"))),
]


def findings(policy: dict, policy_type: str) -> list:
    """Findings for one case; "resource:s3:bucket" is a resource-based policy attached to an S3 bucket."""
    ptype, _, resource_type = policy_type.partition(":")
    return lint_document(copy.deepcopy(policy), policy_type=ptype, resource_type=resource_type or None)


@pytest.mark.parametrize(("code", "policy_type", "bad", "path", "fixed"), CASES, ids=[c[0] for c in CASES])
def test_the_documented_situation_is_found_and_the_fix_clears_it(kb_build, code, policy_type, bad, path, fixed):
    found = findings(bad, policy_type)
    assert (code, path) in {(f.code, f.path) for f in found}, [f.to_json() for f in found]
    after = findings(fixed, policy_type)
    assert code not in {f.code for f in after}, [f.to_json() for f in after if f.code == code]


def test_every_code_has_a_case() -> None:
    """REFERENCE_UNAVAILABLE is tested without a KB below; every other code of the catalog has a CASES row."""
    assert {c[0] for c in CASES} | {"REFERENCE_UNAVAILABLE"} == set(BY_CODE)
    assert len(CASES) == len({c[0] for c in CASES}) == len(CATALOG) - 1


def test_every_code_is_emitted_by_a_check_and_every_check_emits_catalog_codes() -> None:
    emitted = {code for check in CHECKS for code in check.codes}
    grammar = {"MALFORMED", "DATA_TYPE_MISMATCH", "INVALID_POLICY_ELEMENT", "INVALID_VERSION", "MISSING_STATEMENT",
               "MISSING_EFFECT", "INVALID_EFFECT", "MISSING_ACTION", "UNSUPPORTED_ELEMENT_COMBINATION",
               "INVALID_CONDITION_OPERATOR", "NULL_WITH_IF_EXISTS", "INVALID_ARN_PREFIX", "INVALID_PRINCIPAL_KEY",
               "EMPTY_ARRAY_ACTION", "EMPTY_ARRAY_RESOURCE", "EMPTY_ARRAY_PRINCIPAL", "EMPTY_OBJECT_PRINCIPAL",
               "EMPTY_ARRAY_CONDITION", "EMPTY_ARRAY_CONDITION_FORALLVALUES", "EMPTY_ARRAY_CONDITION_FORANYVALUE",
               "EMPTY_ARRAY_CONDITION_IFEXISTS"}  # reported by iamkb.policy.grammar
    assert emitted | grammar | {"REFERENCE_UNAVAILABLE"} == set(BY_CODE)


def test_a_clean_policy_has_no_findings(kb_build) -> None:
    policy = doc(allow(Sid="DeleteDevPolicies", **cond("StringEquals", "autoscaling:ResourceTag/environment", "dev")))
    assert lint_document(policy) == []


def test_an_empty_action_list_leaves_the_rest_of_the_policy_checked(kb_build) -> None:
    """The statement with "Action": [] grants nothing: it is reported, and the others keep their real paths."""
    found = lint_document(doc(allow(Action=[]), allow(Action="autoscaling:Frobnicate")))
    assert {(f.code, f.path) for f in found} == {("EMPTY_ARRAY_ACTION", "Statement[0].Action"),
                                                 ("UNKNOWN_ACTION", "Statement[1].Action")}


def test_unknown_action_suggests_the_closest_real_names(kb_build) -> None:
    found = lint_document(doc({"Effect": "Allow", "Action": "ec2:RunInstance", "Resource": "*"}))
    unknown = [f for f in found if f.code == "UNKNOWN_ACTION"]
    assert len(unknown) == 1 and "did you mean ec2:RunInstances" in unknown[0].message


def test_without_the_knowledge_base_name_checks_are_skipped_with_a_note(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("IAMKB_BUILD", str(tmp_path / "no-kb"))
    found = lint_document(doc(allow(Action="autoscaling:Frobnicate")))
    assert [f.code for f in found] == ["REFERENCE_UNAVAILABLE"]
    assert lint_document(doc(allow(Action="autoscaling:Frobnicate")), use_reference=False) == []


@pytest.mark.parametrize(("policy", "expected"), [
    (doc(allow()), "identity"),
    (doc(res()), "resource"),
    (doc(trust()), "trust"),
    (doc(trust(Principal={"Federated": GITHUB}, Action="sts:AssumeRoleWithWebIdentity")), "trust"),
    (doc(res(Action="sts:AssumeRole")), "resource"),  # names a resource: not a role trust policy
])
def test_auto_reads_the_policy_type_from_the_document(policy, expected) -> None:
    from iamkb.policy.grammar import parse_policy

    assert infer_policy_type(parse_policy(policy)) == expected


def test_policy_type_decides_which_checks_run(kb_build) -> None:
    """The same statement with a Principal: an error in an identity policy, the norm in a resource policy; an SCP
    has its own code for it."""
    policy = doc(allow(Principal={"AWS": ROLE}))
    codes = {t: {f.code for f in lint_document(policy, policy_type=t)} for t in ("identity", "resource", "scp")}
    assert "UNSUPPORTED_PRINCIPAL" in codes["identity"] and "UNSUPPORTED_PRINCIPAL" not in codes["resource"]
    assert "SCP_SYNTAX_ERROR_PRINCIPAL" in codes["scp"] and "UNSUPPORTED_PRINCIPAL" not in codes["scp"]
    for t, found in codes.items():
        assert all(t in BY_CODE[c].policy_types for c in found), t


def test_findings_keep_the_design_contract_fields(kb_build) -> None:
    for f in lint_document(doc(allow(Action="iam:PassRole", Resource="*"), version=None)):
        out = f.to_json()
        assert set(out) >= {"code", "severity", "message", "path"} and set(out) <= {"code", "severity", "message",
                                                                                  "path", "evidence"}
        json.dumps(out)
