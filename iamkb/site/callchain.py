"""Whole-call pages: the chain of permissions on each Auto Scaling action page, the "Can I make this call?" page
(a form for `iamkb serve`'s /api/can-i) and a worked troubleshooting page whose output is a real check run at
build time.

Everything comes from the KB's call rules (kb/build/call_rules.json); the troubleshooting page runs its call
through `iamkb.callcheck` with the docs' own example policy, so the page shows what the CLI prints.
"""

from __future__ import annotations

import copy
import html
import json
from typing import Any

from iamkb.site import markdown as md
from iamkb.site import urls
from iamkb.site.pages import Site, code, front_matter, heading, table

CAN_I = "reference/can-i.md"
TROUBLESHOOTING = "reference/troubleshooting/launch-template-unauthorized.md"
SAMPLE_POLICY = "example:autoscaling/ec2-auto-scaling-launch-template-permissions#" \
                "ec2-auto-scaling-launch-template-permissions:1"

# The worked example: a role allowed what the launch-template page's sample policy allows creates a group from a
# template that names an instance profile and tags instances on launch. "$SAMPLE_POLICY" is that policy, filled
# in from the KB.
WORKED_CALL: dict[str, Any] = {
    "call": {"action": "autoscaling:CreateAutoScalingGroup", "region": "us-east-1", "account": "111122223333",
             "input": {"AutoScalingGroupName": "web", "MinSize": 1, "MaxSize": 4,
                       "VPCZoneIdentifier": "subnet-0abc1234,subnet-0def5678",
                       "LaunchTemplate": {"LaunchTemplateId": "lt-0abcd1234example", "Version": "1"},
                       "Tags": [{"Key": "environment", "Value": "test", "PropagateAtLaunch": True}]}},
    "launchTemplate": {"ImageId": "ami-04d5cc9b88example", "InstanceType": "t3.micro",
                       "IamInstanceProfile": {"Name": "web-app"}, "SecurityGroupIds": ["sg-903004f88example"],
                       "TagSpecifications": [{"ResourceType": "instance",
                                              "Tags": [{"Key": "team", "Value": "web"}]}],
                       "MetadataOptions": {"HttpTokens": "required"}},
    "serviceLinkedRoleExists": True,
    "principal": "arn:aws:iam::111122223333:role/dev",
    "identityPolicies": ["$SAMPLE_POLICY"],
}


def _rules(site: Site) -> dict | None:
    return site.data.call_rules


def _sources(site: Site, doc: str, ids: list[str]) -> str:
    """The first source by its title; the others as numbered links (their titles on hover), so the column stays
    narrow."""
    found = [i for i in ids if site.entity_path(i)]
    if not found:
        return "—"
    first = site.md_link(doc, found[0], "the reference" if found[0].startswith("action:") else None)
    more = [f'[{n}]({site.link(doc, ident)} "{md.esc_attr(site.label(ident))}")'
            for n, ident in enumerate(found[1:], 2)]
    return first + (" (also " + ", ".join(more) + ")" if more else "")


def _permission(site: Site, doc: str, rule: dict) -> str:
    rec = site.ref.action(rule["action"])
    name = site.md_link(doc, rec["id"], rule["action"], as_code=True) if rec and site.entity_path(rec["id"]) \
        else code(rule["action"])
    return name + (f" (the docs write {code(rule['docs_name'])})" if rule.get("docs_name") else "")


def _resource(site: Site, doc: str, rule: dict) -> str:
    text = md.esc(rule["resource_text"])
    if rule["resource_type"] and site.entity_path(rule["resource_type"]):
        text += f" ({site.md_link(doc, rule['resource_type'], rule['resource_type'].partition(':')[2], as_code=True)})"
    return text


def _whom(site: Site, rule: dict) -> str:
    if rule["principal"] == "caller":
        return "the caller"
    slr = _rules(site)["service_linked_role"]["name"]
    return f"the service-linked role ({code(slr)} or the one ServiceLinkedRoleARN names)"


def chain_rows(site: Site, doc: str, operation: str) -> list[list[str]]:
    """One row per permission of the operation's chain; rules that differ only in the action (the key
    operations of the KMS page) share a row."""
    op = _rules(site)["operations"][operation]
    rows: dict[str, list] = {}
    for rule in [op["operation_rule"], *op["rules"]]:
        shape = json.dumps([rule["when_text"], rule["principal"], rule["resource"], rule["sources"],
                            rule.get("docs_name")])
        if shape in rows:
            rows[shape][0] += ", " + _permission(site, doc, rule)
            continue
        rows[shape] = [_permission(site, doc, rule), md.esc(rule["when_text"]), _whom(site, rule),
                       _resource(site, doc, rule), _sources(site, doc, rule["sources"])]
    return list(rows.values())


def chain_parts(site: Site, doc: str, rec: dict) -> list[str]:
    """The "whole chain" part of an Auto Scaling action page (empty for actions the docs list nothing for)."""
    rules = _rules(site)
    name = rec["id"].removeprefix("action:")
    if not rules or rec["service"] != "autoscaling":
        return []
    if name not in rules["operations"]:
        table_link = site.md_link(doc, rules["table_section"], "table of permissions from other AWS APIs")
        deps = sorted({d for d in rec.get("dependent_actions", [])}
                      | {d for rt in rec.get("resource_types", []) for d in rt.get("dependent_actions", [])})
        also = (" The reference lists its dependent actions: " + ", ".join(code(d) for d in deps) + ".") if deps \
            else " The reference lists no dependent actions for it either."
        return [heading(2, "Every permission the call needs", "call-chain"),
                f"The docs' {table_link} lists nothing for this action: a call needs {code(name)} itself.{also} "
                "`iamkb simulate` checks a request against your policies."]
    return [heading(2, "Every permission the call needs", "call-chain"),
            "What a call of this operation needs: its own permission and what the docs' table of permissions from "
            "other AWS APIs, the launch template and KMS key policy pages, the service-linked role pages and the "
            "reference's dependent actions add. Each row is checked by "
            f"[Can I make this call?]({urls.relative(doc, CAN_I)}), with your policies:",
            table(["Permission", "When it is needed", "For whom", "On which resource", "Source"],
                  chain_rows(site, doc, name), sortable=False),
            f"```bash\niamkb can-i call.json   # the call's input and your policies; --json for the data\n```"]


# ---------------------------------------------------------------------------------------------- worked example


def worked_input(site: Site) -> dict:
    """The worked call with the docs' sample policy filled in from the KB."""
    out = copy.deepcopy(WORKED_CALL)
    example = site.data.example(SAMPLE_POLICY)
    out["identityPolicies"] = [example["policy"]]
    return out


def run_check(site: Site, obj: dict) -> dict:
    from iamkb.callcheck import Checker

    return Checker(_rules(site)).check(obj)


def _decision_rows(site: Site, doc: str, result: dict) -> list[list[str]]:
    rows = []
    for req in result["requirements"]:
        mark = "allowed" if req["decision"] == "Allowed" else f"**{md.esc(req['decision'])}**"
        rows.append([code(req["action"]), code(req["resource"]), "caller" if req["for"] == "caller"
                     else "service-linked role", mark, _sources(site, doc, [req["source"]])])
    return rows


def troubleshooting_page(site: Site) -> tuple[str, str]:
    doc = TROUBLESHOOTING
    obj = worked_input(site)
    result = run_check(site, obj)
    fixed = copy.deepcopy(obj)
    if result["fix"]:
        fixed["identityPolicies"].append(result["fix"])
    after = run_check(site, fixed)
    missing = [r for r in result["requirements"] if r["decision"] != "Allowed"]
    sample = site.md_link(doc, SAMPLE_POLICY, "sample policy of the launch template page")
    parts = [
        front_matter("UnauthorizedOperation when creating a group with a launch template"),
        heading(1, "UnauthorizedOperation when creating a group with a launch template", "troubleshooting"),
        "Creating an Auto Scaling group from a launch template fails with an authorization error although the "
        "role may call `autoscaling:CreateAutoScalingGroup` and `ec2:RunInstances`. The call needs more than "
        "those: what the template names brings permissions of its own. This page runs such a call through "
        f"`iamkb can-i` when the site is built; the role's policy is the {sample}.",
        heading(2, "The call", "call"),
        "The request as `aws autoscaling create-auto-scaling-group --cli-input-json` takes it, the template's "
        "data as `aws ec2 describe-launch-template-versions` prints it, and the role's policies:",
        md.fence(json.dumps(obj, indent=2), "json"),
        heading(2, "What it needs, and what is missing", "requirements"),
        f"Verdict: **{result['verdict']}**, {len(missing)} of {len(result['requirements'])} permissions missing:",
        "\n".join(f"- {code(req['action'])} on {code(req['resource'])}: {md.esc(req['reason'])} "
                  f"({md.esc(req['evaluation'])})" for req in missing),
        "Every permission the call needs, with the engine's decision:",
        table(["Permission", "Resource", "For whom", "Decision", "Source"], _decision_rows(site, doc, result),
              sortable=False),
    ]
    if result["fix"]:
        parts += [heading(2, "The fix", "fix"),
                  "The smallest statements that grant what is missing, scoped to the resources of this call and "
                  "keeping the conditions of the docs' examples:",
                  md.fence(json.dumps(result["fix"], indent=2), "json"),
                  f"With them added to the role's policies the check says **{after['verdict']}**."]
    if result["notes"]:
        parts += [heading(2, "Notes", "notes"), "\n".join(f"- {md.esc(n)}" for n in result["notes"])]
    parts += [heading(2, "Run it yourself", "cli"),
              "Save the JSON above as `call.json` (with your own template and policies) and run:",
              "```bash\niamkb can-i call.json          # the table above, as text\n"
              "iamkb can-i --json call.json   # the same as data\n```",
              f"or paste it into [Can I make this call?]({urls.relative(doc, CAN_I)}) when the site is served by "
              "`iamkb serve`."]
    return doc, "\n\n".join(parts) + "\n"


def can_i_page(site: Site) -> tuple[str, str]:
    doc = CAN_I
    rules = _rules(site)
    ops = sorted(rules["operations"])
    links = []
    for op in ops:
        rec = site.ref.action(op)
        links.append(site.md_link(doc, rec["id"], op, as_code=True) if rec else code(op))
    example = json.dumps(worked_input(site), indent=2)
    parts = [
        front_matter("Can I make this call?"),
        heading(1, "Can I make this call?", "can-i"),
        "Paste an Auto Scaling call (its input as `--cli-input-json` takes it), the launch template's data and "
        "the caller's policies. The check derives every permission the call needs (for the caller and for the "
        "service-linked role), evaluates each with the local policy engine, and proposes the smallest statements "
        "that grant what is missing, checked by evaluating again. It covers " + ", ".join(links) + ".",
        f'<div class="iamkb-can-i" markdown="0">\n<textarea class="iamkb-can-i-input" rows="18" '
        f'aria-label="Call to check (JSON)">{html.escape(example, quote=False)}</textarea>\n</div>',
        heading(2, "From the command line", "cli"),
        "The form needs the site to be served by `iamkb serve` (it asks the server's `/api/can-i`). On a static "
        "copy of the site, run the same check locally:",
        "```bash\niamkb can-i call.json          # text\niamkb can-i --json call.json   # "
        "{\"verdict\", \"requirements\", \"fix\", ...}\niamkb serve --port 8000        # then open "
        "http://127.0.0.1:8000/reference/can-i/\n```",
        f"A worked example: [UnauthorizedOperation when creating a group with a launch template]"
        f"({urls.relative(doc, TROUBLESHOOTING)}).",
    ]
    return doc, "\n\n".join(parts) + "\n"


def callcheck_pages(site: Site) -> dict[str, str]:
    if not _rules(site) or not site.data.has_reference or site.data.example(SAMPLE_POLICY) is None:
        return {}
    return dict([can_i_page(site), troubleshooting_page(site)])
