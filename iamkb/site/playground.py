"""The playground: every example page, and the "Try a policy" page (site path try/), let the reader edit a policy
and requests and run them through the project's own policy engine in the page.

What the pages run is `iamkb.policy` itself, under Pyodide (CPython compiled to WebAssembly, from the pinned npm
package `pyodide`): the hook ships the engine's modules, the pure-Python half of RapidFuzz (lint's "did you mean")
and the reference tables lint reads as one zip (`engine-<hash>.zip`), and the Pyodide core files beside it. The
page loads them only when the reader first runs or edits something (docs/javascripts/engine.js). Behind
`iamkb serve` the page asks /api/simulate and /api/check instead. The editor is prism-code-editor (npm, MIT): a
textarea under a highlighted copy, loaded as native ES modules, no bundler. Without node_modules (a build with no
npm) neither is shipped: the page keeps a plain textarea and runs through the API or says how to get the static
version.

Exercises (kb/exercises.yml) are checked in the page by running the reader's policy against hidden scenarios
written from the docs' own examples.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from importlib import util as import_util
from pathlib import Path
from typing import Any

from iamkb import paths
from iamkb.errors import InputError
from iamkb.examples import FRAGMENT, substitute_placeholders
from iamkb.refdata import FILES as REFERENCE_FILES
from iamkb.site import markdown as md
from iamkb.site import urls
from iamkb.site.pages import Site, front_matter, heading

ASSETS = "assets/iamkb"  # in the built site
TRY_PAGE = "try.md"
PYODIDE = "pyodide"
PYODIDE_FILES = ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json")
EDITOR = "prism-code-editor"
# The editor's modules the page imports (docs/javascripts/playground.js); the files they import are added.
EDITOR_ENTRIES = ("index.js", "prism/languages/json.js", "languages/json.js", "extensions/commands/index.js")
EDITOR_FILES = ("layout.css",)
# iamkb files the page imports (iamkb.policy.inpage and what it imports; tests/test_playground.py checks it).
ENGINE_CODE = ("__init__.py", "errors.py", "paths.py", "refdata.py", "store.py", "policy/*.py", "policy/lint/*.py")
ENGINE_PACKAGES = ("rapidfuzz",)  # its pure-Python implementation: lint's "did you mean" (refdata.nearest)
ENGINE_BUILD = "kb/build"  # where the zip holds the reference tables ($IAMKB_BUILD in the page)
DECISIONS = ("Allowed", "ExplicitlyDenied", "ImplicitlyDenied")
EXPECTED = (*DECISIONS, "Denied")  # an exercise may accept either kind of deny
STARTER_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "autoscaling:UpdateAutoScalingGroup", "Resource": "*"}]}
STARTER_PRINCIPAL = "arn:aws:iam::123456789012:user/alice"
# What the request builder fills into a resource type's ARN format; the rest stays for the reader to replace.
ARN_DEFAULTS = {"Partition": "aws", "Region": "us-west-2", "Account": "123456789012"}
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_IMPORT = re.compile(r"""(?:\bfrom|\bimport)\s*\(?\s*["'](\.{1,2}/[^"']+)["']""")


# ------------------------------------------------------------------------------------------------- packages


def node_package(name: str, node_modules: Path | None = None) -> Path | None:
    """The installed npm package's folder, or None (a build with no npm)."""
    folder = (node_modules or paths.node_modules()) / name
    return folder if (folder / "package.json").is_file() else None


def package_versions(node_modules: Path | None = None) -> str:
    """The shipped npm packages and their versions ("absent" when not installed), for the site's input hash."""
    out = []
    for name in (PYODIDE, EDITOR):
        folder = node_package(name, node_modules)
        version = json.loads((folder / "package.json").read_text(encoding="utf-8"))["version"] if folder else "absent"
        out.append(f"{name}=={version}")
    return ";".join(out)


# --------------------------------------------------------------------------------------------------- engine


def _zip(entries: dict[str, bytes]) -> bytes:
    """A zip whose bytes depend only on the entries (fixed times and modes, sorted names)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, entries[name], compresslevel=9)
    return buf.getvalue()


def _package_sources(name: str) -> dict[str, bytes]:
    """An installed Python package's .py files (its compiled extensions left out) and its licence."""
    spec = import_util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise InputError(f"Python package '{name}' is not installed (run `make venv`)", where="site engine")
    folder = Path(next(iter(spec.submodule_search_locations)))
    out = {f"{name}/{p.relative_to(folder).as_posix()}": p.read_bytes() for p in sorted(folder.rglob("*.py"))
           if "__pycache__" not in p.parts and "__pyinstaller" not in p.parts}
    licences = sorted(folder.parent.glob(f"{name}-*.dist-info/licenses/LICENSE*")) or sorted(
        folder.parent.glob(f"{name}-*.dist-info/LICENSE*"))
    for lic in licences[:1]:
        out[f"{name}/LICENSE"] = lic.read_bytes()
    return out


def engine_entries(site: Site) -> dict[str, bytes]:
    """Every file of the page's engine zip: iamkb's engine modules, RapidFuzz's Python code, the reference."""
    package = Path(__file__).resolve().parent.parent
    out = {f"iamkb/{p.relative_to(package).as_posix()}": p.read_bytes()
           for pattern in ENGINE_CODE for p in sorted(package.glob(pattern))}
    for name in ENGINE_PACKAGES:
        out.update(_package_sources(name))
    d = site.data
    for name, records in zip(REFERENCE_FILES, (d.actions, d.condition_keys, d.resource_types, d.services),
                             strict=True):
        out[f"{ENGINE_BUILD}/{name}.json"] = json.dumps(records, separators=(",", ":"), ensure_ascii=False).encode()
    return out


def editor_files(dist: Path) -> list[str]:
    """The editor's entry modules and every module they import (relative imports only), as paths in dist/."""
    seen: set[str] = set()
    todo = list(EDITOR_ENTRIES)
    while todo:
        rel = todo.pop()
        if rel in seen:
            continue
        seen.add(rel)
        base = rel.rpartition("/")[0]
        for target in _IMPORT.findall((dist / rel).read_text(encoding="utf-8")):
            todo.append(_join(base, target))
    return sorted(seen) + list(EDITOR_FILES)


def _join(base: str, target: str) -> str:
    parts = base.split("/") if base else []
    for piece in target.split("/"):
        if piece == "..":
            parts.pop()
        elif piece != ".":
            parts.append(piece)
    return "/".join(parts)


def assets(site: Site, node_modules: Path | None = None) -> dict[str, bytes | Path]:
    """The playground's static files, {site path: content or source file}: the request builder's data always;
    the editor and the engine when their npm packages are installed."""
    out: dict[str, bytes | Path] = {f"{ASSETS}/builder.json": builder_data(site)}
    editor = node_package(EDITOR, node_modules)
    if editor:
        for rel in editor_files(editor / "dist"):
            out[f"{ASSETS}/editor/{rel}"] = editor / "dist" / rel
        out[f"{ASSETS}/editor/LICENSE"] = editor / "LICENSE"
    pyodide = node_package(PYODIDE, node_modules)
    if pyodide:
        version = json.loads((pyodide / "package.json").read_text(encoding="utf-8"))["version"]
        for name in PYODIDE_FILES:
            out[f"{ASSETS}/pyodide/{name}"] = pyodide / name
        engine = _zip(engine_entries(site))
        name = f"engine-{hashlib.sha256(engine).hexdigest()[:12]}.zip"
        out[f"{ASSETS}/{name}"] = engine
        manifest = {"pyodide": version, "engine": name, "build": ENGINE_BUILD, "module": "iamkb.policy.inpage"}
        out[f"{ASSETS}/engine.json"] = (json.dumps(manifest, sort_keys=True) + "\n").encode()
    return out


# -------------------------------------------------------------------------------------------- request builder


def builder_data(site: Site) -> bytes:
    """What the request builder offers: every action of the services the reference covers, with the ARN formats
    of its resource types and the condition keys it supports; the global keys; pages of this site to link."""
    d = site.data
    types = {(r["service"], r["name"]): r for r in d.resource_types}
    type_index: dict[tuple[str, str], int] = {}
    type_rows: list[list[str]] = []
    actions = {}
    for rec in sorted(d.actions, key=lambda r: r["id"]):
        name = rec["id"].removeprefix("action:")
        rts, keys = [], set(rec.get("condition_keys", []))
        for rt in rec.get("resource_types", []):
            key = (rec["service"], rt["name"])
            keys.update(rt.get("condition_keys", []))
            if key in types and types[key].get("arn"):
                if key not in type_index:
                    type_index[key] = len(type_rows)
                    type_rows.append([rt["name"], arn_example(types[key]["arn"])])
                rts.append(type_index[key])
        page = site.action_pages.get(rec["id"])
        actions[name] = {"t": rts, "k": sorted(keys), "a": rec.get("access_level", ""),
                         **({"u": urls.url_of(page)} if page else {})}
    global_keys = sorted(r["key"] for r in d.condition_keys if r["key"].lower().startswith("aws:"))
    data = {"actions": actions, "types": type_rows, "global": global_keys}
    return json.dumps(data, separators=(",", ":"), sort_keys=True).encode()


def arn_example(template: str) -> str:
    """A resource type's ARN format with partition, region and account filled in (the request builder's offer)."""
    return re.sub(r"\$\{(\w+)\}", lambda m: ARN_DEFAULTS.get(m.group(1), m.group(0)), template)


# ------------------------------------------------------------------------------------------------ page parts


def _data_block(kind: str, data: dict[str, Any], extra_class: str = "") -> str:
    """The playground's mount point: its data as JSON in a script element (no blank line, so Markdown keeps the
    block as raw HTML; '<' escaped so no text ends the script element)."""
    text = json.dumps(data, ensure_ascii=False, sort_keys=True).replace("<", "\\u003c")
    cls = f"iamkb-playground {extra_class}".strip()
    return (f'<div class="{cls}" data-kind="{kind}">\n'
            f'<script type="application/json" class="iamkb-playground-data">{text}</script>\n'
            '<p class="iamkb-playground-noscript">The editor needs JavaScript; in a terminal, <code>iamkb check'
            '</code> and <code>iamkb simulate</code> run the same engine.</p>\n</div>')


def editor_text(ex: dict, substitutions: dict[str, str]) -> str:
    """The policy as the editor starts: the docs' own text when it is the policy the scenarios run (so its
    lines are the docs' lines), else that policy, placeholders filled, in the docs' key order when known."""
    policy = substitute_placeholders(ex.get("policy"), substitutions)
    code = ex.get("code") or ""
    try:
        published = json.loads(code)
    except ValueError:
        published = None
    if published == ex.get("policy") and published is not None:
        return code.strip() if not substitutions else json.dumps(
            substitute_placeholders(published, substitutions), indent=4)
    return json.dumps(policy, indent=4)


def _scenario(s: dict) -> dict:
    """One example scenario as the page edits it: the request, the rest of the scenario with the slots the
    edited policy fills, and what the docs' sentence expects."""
    scenario = json.loads(json.dumps(s["scenario"]))
    for slot in s.get("slots") or []:
        _set(scenario, slot, None)
    return {"name": s.get("name"), "doc": s.get("doc"), "expected": s.get("expected"), "status": s.get("status"),
            "reason": s.get("reason"), "scenario": scenario, "slots": s.get("slots") or []}


def _set(value: Any, path: list, new: Any) -> None:
    for key in path[:-1]:
        value = value[key]
    value[path[-1]] = new


def example_section(site: Site, ex: dict, entry: dict) -> str:
    """The "Edit and run it" section of an example page; none for an example with no parsed policy, or for a
    fragment (an Action list, a Condition block) with nothing to run it in."""
    if ex.get("policy") is None or (ex.get("format") == FRAGMENT and not entry.get("scenarios")):
        return ""
    subs = entry.get("substitutions") or {}
    scenarios = [_scenario(s) for s in entry.get("scenarios") or []]
    data = {"id": ex["id"], "policy": editor_text(ex, subs), "scenarios": scenarios,
            "lint": entry.get("lint") or [], "lints": isinstance(ex.get("policy"), dict)}
    if not scenarios:
        data["scenarios"] = [_blank_scenario()]
    parts = [heading(2, "Edit and run it", "playground"),
             "Change the policy or a request and press **Run**: the decisions and their reasons come from the "
             "same Python policy engine as `iamkb simulate`, running in this page; the findings under the editor "
             "are `iamkb check`'s, updated as you type. **Copy link** keeps your edit in the address; **Reset** "
             "brings back the docs' version."]
    if subs:
        filled = ", ".join(f"{code_span(k)} → {code_span(v)}" for k, v in sorted(subs.items()))
        parts.append(f"The docs' placeholders are filled in as the scenarios assume: {filled}.")
    parts.append(_data_block("example", data))
    return "\n\n".join(parts)


def code_span(text: str) -> str:
    return f"<code>{md.esc(text)}</code>"


def _blank_scenario() -> dict:
    return {"name": "Your request", "doc": None, "expected": None, "status": None, "reason": None,
            "scenario": {"request": {"principal": STARTER_PRINCIPAL, "action": "", "resource": "", "context": {}},
                         "identityPolicies": [None]},
            "slots": [["identityPolicies", 0]]}


# --------------------------------------------------------------------------------------------------- exercises


def exercises(site: Site) -> list[dict]:
    """kb/exercises.yml, checked: each names an example of the KB and holds requests with a decision."""
    out = []
    seen: set[str] = set()
    for i, item in enumerate(site.data.exercises):
        where = f"kb/exercises.yml: exercises[{i}]"
        if not isinstance(item, dict):
            raise InputError("an exercise must be a mapping", where=where)
        for key in ("id", "title", "task", "from", "scenarios"):
            if not item.get(key):
                raise InputError(f"'{key}' is required", where=where)
        if item["id"] in seen or not re.fullmatch(r"[a-z0-9-]+", str(item["id"])):
            raise InputError(f"id '{item['id']}' must be unique, lower-case letters, digits and '-'",
                             where=f"{where}.id")
        seen.add(item["id"])
        if site.data.example(item["from"]) is None:
            raise InputError(f"'{item['from']}' is not an example of the knowledge base", where=f"{where}.from")
        scenarios = []
        for j, s in enumerate(item["scenarios"]):
            at = f"{where}.scenarios[{j}]"
            req = s.get("request") if isinstance(s, dict) else None
            if not isinstance(req, dict) or not all(isinstance(req.get(k), str) and req.get(k)
                                                    for k in ("principal", "action", "resource")):
                raise InputError("needs a request with principal, action and resource", where=at)
            if s.get("expected") not in EXPECTED:
                raise InputError(f"expected must be one of {', '.join(EXPECTED)}", where=f"{at}.expected")
            if not s.get("name") or not s.get("doc"):
                raise InputError("needs a name and the docs' sentence it comes from (doc)", where=at)
            scenarios.append({"name": s["name"], "doc": " ".join(str(s["doc"]).split()),
                              "expected": s["expected"], "request": req})
        out.append({"id": item["id"], "title": item["title"], "task": " ".join(str(item["task"]).split()),
                    "from": item["from"], "scenarios": scenarios})
    return out


def exercise_scenario(policy: Any, request: dict) -> dict:
    """The scenario an exercise runs: the reader's policy as the caller's only identity-based policy."""
    return {"request": request, "identityPolicies": [policy]}


def passes(expected: str, decision: str) -> bool:
    """Whether a decision meets an exercise's expectation ("Denied" accepts either kind of deny)."""
    return decision == expected or (expected == "Denied" and decision != "Allowed")


# --------------------------------------------------------------------------------------------------- try page


def try_page(site: Site) -> tuple[str, str]:
    doc = TRY_PAGE
    items = exercises(site)
    from iamkb.policy.lint import check_text

    text = json.dumps(STARTER_POLICY, indent=4)
    data = {"id": "try", "policy": text, "scenarios": [_blank_scenario()], "lints": True,
            "lint": check_text(text, "policy", ref=site.ref)["findings"]}
    parts = [front_matter("Try a policy",
                          "Write an IAM policy for Auto Scaling, build requests and see the decision and why."),
             heading(1, "Try a policy", "try"),
             "Write an identity-based policy, build a request (the action, the resource it acts on, the condition "
             "keys in its context) and press **Run**: the page evaluates it with the project's own policy engine, "
             "the one behind `iamkb simulate` and `iamkb check`, running in your browser. The action, resource "
             "and key fields offer the names of the Service Authorization Reference. "
             f"Every [policy example]({urls.relative(doc, 'examples/index.md')}) of the docs has the same "
             "editor, with its own scenarios.",
             heading(2, "Your policy and request", "playground"), _data_block("try", data)]
    if items:
        parts += [heading(2, "Exercises", "exercises"),
                  "Each exercise comes from an example of the chapter. Write the policy in the editor above and "
                  "press **Check my policy**: the page runs it against requests written from that example's scenarios "
                  "(hidden until one fails) and says which decision differs and why."]
        for n, item in enumerate(items, 1):
            parts += [heading(3, f"{n}. {item['title']}", f"exercise-{item['id']}"), md.esc(item["task"]),
                      f"From the docs: {site.md_link(doc, item['from'])}.",
                      f'<div class="iamkb-exercise" data-exercise="{item["id"]}">\n'
                      '<script type="application/json" class="iamkb-exercise-data">'
                      + json.dumps({"id": item["id"], "title": item["title"], "scenarios": item["scenarios"]},
                                   sort_keys=True).replace("<", "\\u003c")
                      + "</script>\n</div>"]
    return doc, "\n\n".join(parts) + "\n"
