"""Checks of condition values: does each value fit its operator (iam/reference_policies_elements_condition_operators)
and, for the keys whose values have a known form (Regions, VPC and endpoint IDs, service principals, source IP
addresses), that form.

A value holding a policy variable is not judged (it is only known per request), nor is a pattern of a Like
operator. All standard library: base64, datetime and ipaddress do the parsing.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Iterator
from datetime import datetime

from iamkb.policy.grammar import Condition
from iamkb.policy.lint.checks_arns import REGION
from iamkb.policy.lint.core import Context, Finding, emits, is_pattern

_TRUE_FALSE = ("true", "false")
_NUMBER = re.compile(r"^\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*$")
_EPOCH = re.compile(r"^\d+$")
_VPC = re.compile(r"^vpc-(?:[a-z0-9]{8}|[a-z0-9]{17})$")
_VPCE = re.compile(r"^vpce-(?:[a-z0-9]{8}|[a-z0-9]{17})$")
_SERVICE_PRINCIPAL = re.compile(r"^[a-z0-9][a-z0-9.-]*\.amazonaws\.com(?:\.cn)?$")
_VIA_SERVICE = re.compile(r"^[a-z0-9-]+\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?$")  # kms:ViaService: service.region.
# Keys whose values are service principals (iam/reference_policies_condition-keys, the services' key tables).
SERVICE_PRINCIPAL_KEYS = ("aws:principalservicename", "aws:principalservicenameslist", "aws:calledvia",
                          "aws:calledviafirst", "aws:calledvialast", "iam:passedtoservice", "iam:awsservicename",
                          "kms:viaservice")
# Private address ranges (RFC 1918 and IPv6 unique local addresses): aws:SourceIp never holds them.
PRIVATE = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"))
_EQUALS = ("StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase")
_FAMILIES = {"String": "String", "Numeric": "Numeric", "Date": "Date", "Bool": "Bool", "Arn": "ARN",
             "IpAddress": "IPAddress", "NotIpAddress": "IPAddress", "Binary": "Binary"}


def _conditions(ctx: Context) -> Iterator[Condition]:
    for st in ctx.policy.statements:
        yield from st.conditions


def _plain(value: str) -> bool:
    return "${" not in value


def _judged(cond: Condition) -> list[str]:
    """The values to judge: no policy variables, and no patterns under a Like operator."""
    like = cond.base.endswith("Like")
    return [v for v in cond.values if _plain(v) and not (like and is_pattern(v))]


@emits("OPERATOR_TYPE_MISMATCH")
def check_operator_type(ctx: Context) -> Iterator[Finding]:
    if ctx.ref is None:
        return
    for cond in _conditions(ctx):
        key_record = ctx.ref.condition_key(cond.key)
        if not key_record or cond.base == "Null":
            continue
        key_type = str(key_record.get("type", ""))
        family = next((f for p, f in _FAMILIES.items() if cond.base.startswith(p)), None)
        base_type = key_type.replace("ArrayOf", "")
        if family and base_type and family.lower() != base_type.lower() and not (family == "String"
                                                                                  and base_type == "ARN"):
            yield Finding("OPERATOR_TYPE_MISMATCH", f"{cond.base} on '{cond.key}', whose type is {key_type}", cond.path)


@emits("NULL_NOT_BOOLEAN", "TYPE_MISMATCH_BOOLEAN", "INVALID_CONDITION_MULTIPLE_BOOLEAN")
def check_booleans(ctx: Context) -> Iterator[Finding]:
    for cond in _conditions(ctx):
        if cond.base not in ("Null", "Bool"):
            continue
        bad = [v for v in _judged(cond) if v.lower() not in _TRUE_FALSE]
        if bad:
            code = "NULL_NOT_BOOLEAN" if cond.base == "Null" else "TYPE_MISMATCH_BOOLEAN"
            yield Finding(code, f"{cond.base} takes true or false, got {bad}", cond.path)
        elif cond.base == "Bool" and len({v.lower() for v in cond.values}) > 1:
            yield Finding("INVALID_CONDITION_MULTIPLE_BOOLEAN",
                          f"'{cond.key}' is true or false: {list(cond.values)} matches either", cond.path)


@emits("TYPE_MISMATCH_NUMBER", "REDUNDANT_CONDITION_VALUE_NUM")
def check_numbers(ctx: Context) -> Iterator[Finding]:
    for cond in _conditions(ctx):
        if not cond.base.startswith("Numeric"):
            continue
        bad = [v for v in _judged(cond) if not _NUMBER.match(v)]
        if bad:
            yield Finding("TYPE_MISMATCH_NUMBER", f"{cond.base} takes numbers, got {bad}", cond.path)
            continue
        bound = cond.base.removeprefix("Numeric")
        if bound.startswith(("LessThan", "GreaterThan")) and not cond.set_operator and len(cond.values) > 1:
            loosest = (max if bound.startswith("LessThan") else min)(cond.values, key=float)
            yield Finding("REDUNDANT_CONDITION_VALUE_NUM",
                          f"{cond.base} with {list(cond.values)} says the same as {loosest} alone", cond.path)


def _is_date(text: str) -> bool:
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return False
    return True


@emits("TYPE_MISMATCH_DATE", "INVALID_DATE_VALUE")
def check_dates(ctx: Context) -> Iterator[Finding]:
    for cond in _conditions(ctx):
        if not cond.base.startswith("Date"):
            continue
        values = _judged(cond)
        bad = [v for v in values if not _EPOCH.match(v) and not _is_date(v)]
        epoch = [v for v in values if _EPOCH.match(v)]
        if bad:
            yield Finding("TYPE_MISMATCH_DATE", f"{cond.base} takes ISO 8601 dates, got {bad}", cond.path)
        elif epoch and cond.key.lower() != "aws:epochtime":
            yield Finding("INVALID_DATE_VALUE", f"{epoch} read as epoch seconds: write YYYY-MM-DD or an ISO 8601 "
                          "time", cond.path)


def _network(text: str, strict: bool) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(text.strip(), strict=strict)
    except ValueError:
        return None


@emits("TYPE_MISMATCH_IP_RANGE", "IMPROVE_IP_RANGE", "PRIVATE_IP_ADDRESS", "PRIVATE_NOT_IP_ADDRESS",
       "PRIVATE_IP_ADDRESS_SUBSET", "PRIVATE_NOT_IP_ADDRESS_SUBSET")
def check_ip_addresses(ctx: Context) -> Iterator[Finding]:
    for cond in _conditions(ctx):
        if cond.base not in ("IpAddress", "NotIpAddress"):
            continue
        values = _judged(cond)
        bad = [v for v in values if _network(v, False) is None]
        if bad:
            yield Finding("TYPE_MISMATCH_IP_RANGE", f"{cond.base} takes addresses or CIDR ranges, got {bad}", cond.path)
            continue
        for v in values:
            if _network(v, True) is None:
                yield Finding("IMPROVE_IP_RANGE", f"'{v}' has bits set after its prefix: write {_network(v, False)}",
                              cond.path)
        if cond.key.lower() != "aws:sourceip" or not values:
            continue
        networks = [(v, _network(v, False)) for v in values]
        private = [v for v, n in networks if n is not None and any(n.version == p.version and n.subnet_of(p)
                                                                   for p in PRIVATE)]
        negated = cond.base == "NotIpAddress"
        if len(private) == len(values):
            yield Finding("PRIVATE_NOT_IP_ADDRESS" if negated else "PRIVATE_IP_ADDRESS",
                          f"aws:SourceIp holds public addresses only; {private} never match it", cond.path)
        elif private:
            yield Finding("PRIVATE_NOT_IP_ADDRESS_SUBSET" if negated else "PRIVATE_IP_ADDRESS_SUBSET",
                          f"{private} never match aws:SourceIp: test private addresses with aws:VpcSourceIp",
                          cond.path)


@emits("TYPE_MISMATCH_STRING")
def check_binary(ctx: Context) -> Iterator[Finding]:
    for cond in _conditions(ctx):
        if cond.base != "BinaryEquals":
            continue
        bad = []
        for v in _judged(cond):
            try:
                base64.b64decode(v, validate=True)
            except (binascii.Error, ValueError):
                bad.append(v)
        if bad:
            yield Finding("TYPE_MISMATCH_STRING", f"BinaryEquals takes base64 values, got {bad}", cond.path)


@emits("INVALID_CONDITION_DATA_TYPE")
def check_value_types(ctx: Context) -> Iterator[Finding]:
    """Values of one key written as different JSON types (the model holds them as strings: read the raw)."""
    for st in ctx.policy.statements:
        for cond in st.conditions:
            raw = ctx.raw_condition_value(st, cond)
            if not isinstance(raw, list):
                continue
            kinds = {"boolean" if isinstance(v, bool) else "number" if isinstance(v, (int, float)) else "string"
                     for v in raw}
            if len(kinds) > 1:
                yield Finding("INVALID_CONDITION_DATA_TYPE", f"the values mix {' and '.join(sorted(kinds))}s",
                              cond.path)


@emits("WILDCARD_WITHOUT_LIKE_OPERATOR")
def check_wildcard_without_like(ctx: Context) -> Iterator[Finding]:
    for cond in _conditions(ctx):
        if cond.base in _EQUALS:
            literal = [v for v in cond.values if is_pattern(v.replace("${*}", "").replace("${?}", ""))]
            if literal:
                like = cond.base.replace("Equals", "Like").replace("IgnoreCase", "")
                yield Finding("WILDCARD_WITHOUT_LIKE_OPERATOR",
                              f"{cond.base} compares {literal} literally; use {like} to match a pattern", cond.path)


@emits("INVALID_REGION", "INVALID_VPC_FORMAT", "INVALID_VPCE_FORMAT", "INVALID_SERVICE_PRINCIPAL_FORMAT")
def check_value_forms(ctx: Context) -> Iterator[Finding]:
    for cond in _conditions(ctx):
        if not cond.base.startswith("String"):
            continue
        values = [v for v in cond.values if _plain(v) and not is_pattern(v)]
        low = cond.key.lower()
        if low == "aws:requestedregion" or (low.endswith(":region") and not low.startswith("aws:")):
            bad = [v for v in values if not REGION.match(v)]
            if bad:
                yield Finding("INVALID_REGION", f"{bad} are not Region names", cond.path)
        elif low == "aws:sourcevpc":
            bad = [v for v in values if not _VPC.match(v)]
            if bad:
                yield Finding("INVALID_VPC_FORMAT", f"{bad}: a VPC ID is vpc- and 8 or 17 letters or digits", cond.path)
        elif low == "aws:sourcevpce":
            bad = [v for v in values if not _VPCE.match(v)]
            if bad:
                yield Finding("INVALID_VPCE_FORMAT", f"{bad}: a VPC endpoint ID is vpce- and 8 or 17 letters or digits",
                              cond.path)
        elif low in SERVICE_PRINCIPAL_KEYS:
            form = _VIA_SERVICE if low == "kms:viaservice" else _SERVICE_PRINCIPAL
            bad = [v for v in values if not form.match(v)]
            if bad:
                expected = "service.region.amazonaws.com" if low == "kms:viaservice" else "service.amazonaws.com"
                yield Finding("INVALID_SERVICE_PRINCIPAL_FORMAT", f"{bad}: write {expected} in lower case", cond.path)


def service_principal_ok(value: str) -> bool:
    """A Principal's Service value: service.amazonaws.com in lower case."""
    return bool(_SERVICE_PRINCIPAL.match(value))


CHECKS = (check_operator_type, check_booleans, check_numbers, check_dates, check_ip_addresses, check_binary,
          check_value_types, check_wildcard_without_like, check_value_forms)
