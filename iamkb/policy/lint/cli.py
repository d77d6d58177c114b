"""The `iamkb check` command: arguments in, findings out (text or DESIGN.md's JSON), exit 1 on any error."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from iamkb.errors import InputError
from iamkb.policy.lint.catalog import CATALOG, POLICY_TYPES, SEVERITIES
from iamkb.policy.lint.config import Config, load_config, with_flags


def add_check_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("policy", metavar="POLICY", nargs="?", help="policy JSON file; - reads stdin")
    parser.add_argument("--json", action="store_true", help='print {"findings": [...], "policy_type"}')
    parser.add_argument("--policy-type", choices=("auto", *POLICY_TYPES), default=None,
                        help="which checks run (default auto: resource or trust when a statement has a Principal, "
                             "else identity)")
    parser.add_argument("--resource-type", metavar="SERVICE:TYPE", default=None,
                        help="the resource a resource-based policy is attached to (s3:bucket, kms:key)")
    parser.add_argument("--config", metavar="FILE", help="TOML (or .json) file: policy_type, resource_type, and per "
                        "code ignore / ignore_paths / severity (see iamkb/policy/lint/config.py)")
    parser.add_argument("--ignore", action="append", default=[], metavar="CODE[@PATH]",
                        help="ignore a code everywhere, or at a JSON path and below (repeatable)")
    parser.add_argument("--severity", action="append", default=[], metavar="CODE=LEVEL",
                        help=f"change a code's severity ({', '.join(SEVERITIES)}; repeatable)")
    parser.add_argument("--no-evidence", dest="evidence", action="store_false",
                        help="do not attach evidence scenarios to findings")
    parser.add_argument("--list-codes", action="store_true", help="print the catalog of finding codes and exit")


def _list_codes(as_json: bool) -> int:
    rows = [{"code": c.code, "severity": c.severity, "title": c.title, "description": c.description,
             "analyzer": list(c.analyzer), "policy_types": list(c.policy_types)} for c in CATALOG]
    if as_json:
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for r in rows:
            print(f"{r['code']:<50} {r['severity']:<17} {r['title']}")
    return 0


def check_text(text: str, where: str, ref: Any = None, use_reference: bool = True, *, config: Config | None = None,
               evidence: bool = True) -> dict[str, Any]:
    """What `iamkb check --json` prints for a policy's JSON text: {"findings": [...], "policy_type"}. The CLI, the
    API and the site's pages (under Pyodide) all call this, so they report the same findings; bad input (not
    JSON, not an object) is an InputError naming `where`."""
    from iamkb.policy.grammar import load_json_text
    from iamkb.policy.lint.runner import check_document

    config = config or Config()
    doc = load_json_text(text, where)
    try:
        result = check_document(doc, ref, use_reference, policy_type=config.policy_type,
                                resource_type=config.resource_type, config=config, evidence=evidence)
    except InputError as err:
        raise InputError(str(err), where=where) from None
    return result.to_json()


def run_check(args: argparse.Namespace) -> int:
    from iamkb.policy.simulate import read_input

    if args.list_codes:
        return _list_codes(args.json)
    if args.policy is None:
        raise InputError("the POLICY file is required (- reads stdin)", where="iamkb check")
    config = load_config(args.config) if args.config else Config()
    config = with_flags(config, args.ignore, args.severity, args.policy_type, args.resource_type)
    text, where = read_input(args.policy)
    out = check_text(text, where, config=config, evidence=args.evidence)
    if args.json:
        json.dump(out, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for f in out["findings"]:
            print(f"{f['severity']}: {f['code']} at {f['path']}: {f['message']}")
            if "evidence" in f:
                print(f"  evidence ({f['evidence']['decision']}): {f['evidence']['shows']}")
        print(f"{len(out['findings'])} finding(s) (policy type: {out['policy_type']})")
    return 1 if any(f["severity"] == "error" for f in out["findings"]) else 0
