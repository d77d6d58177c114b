"""The site's own search: the data the in-page engine reads (docs/javascripts/search/), written into every build.

Two files under search/ in the built site, each a classic script (a page opened from disk may load scripts but
not fetch JSON):
- iamkb-data.js: ask as data (iamkb.search.static), each document with its page in this site. It needs the
  search index: kb/index when it was built from the current inputs (with its vectors, the page ranks with their
  static token vectors; without, lexically), else a lexical index built for the purpose in a temporary folder
  (seconds). The export runs in a process of
  its own, started when the build starts and collected when MkDocs has written the pages, so that on two cores
  it costs the build little time (`Export`).
- iamkb-cards.js: what the Ask page shows of an entity an answer names (an action's access level, resource
  types, condition keys, what else the docs say the call needs, the managed policies that grant it; a key's
  type; a resource type's ARN; a policy's version), from the KB, with links to the entities' pages here.

    .venv/bin/python -m iamkb.site.search OUT.js      # the data file alone (what the build's process runs)
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from iamkb import paths
from iamkb.errors import InputError
from iamkb.site.pages import Site

FOLDER = "search"  # in the built site
DATA = f"{FOLDER}/iamkb-data.js"
CARDS = f"{FOLDER}/iamkb-cards.js"
CARDS_GLOBAL = "iamkbSearchCards"
MAX_USED_BY = 8  # a condition key's card lists this many of the actions that take it


@contextlib.contextmanager
def export_index() -> Iterator[Path]:
    """kb/index when it was built from today's inputs, else a lexical index of today's KB in a temporary folder
    (removed afterwards): the export must describe the KB the site shows."""
    from iamkb.search.build import build_index, index_state

    if index_state() in ("current", "lexical"):
        yield paths.index_dir()
        return
    tmp = Path(tempfile.mkdtemp(prefix=".search-index-", dir=paths.ROOT / ".cache" if (paths.ROOT / ".cache").is_dir()
                                else None))
    try:
        build_index(target=tmp / "index", vectors=False)
        yield tmp / "index"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_data(out: Path, site: Site | None = None) -> None:
    """The engine's data script, written to a temporary name beside `out` and renamed."""
    from iamkb.search import static
    from iamkb.site.data import load_site_data

    site = site or Site(load_site_data())
    with export_index() as folder:
        data = static.export(static.page_engine(folder), site.site_url)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(static.script(data), encoding="utf-8")
    os.replace(tmp, out)


class Export:
    """The data file made by a process of its own while MkDocs renders the pages (`start`), then moved into the
    built site (`finish`). A failure fails the build with the process's one-line message."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="iamkb-search-"))
        self.out = self.folder / Path(DATA).name
        self.proc = subprocess.Popen([sys.executable, "-m", "iamkb.site.search", str(self.out)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=paths.ROOT)

    def finish(self, site_dir: Path) -> None:
        try:
            _, err = self.proc.communicate()
            if self.proc.returncode != 0:
                lines = [ln for ln in err.splitlines() if ln.strip()]
                raise InputError(lines[-1] if lines else f"exit {self.proc.returncode}", where="search data")
            target = site_dir / DATA
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(self.out), target)
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def cancel(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


# ----------------------------------------------------------------------------------------------------- cards


def _link(site: Site, ident: str, label: str) -> dict[str, str]:
    return {"label": label, "site_url": site.site_url(ident) or ""}


def _action_card(site: Site, rec: dict) -> dict[str, Any]:
    service = rec["service"]
    links = site.data.crosslinks.get("actions", {}).get(rec["id"], {})
    keys = sorted(set(rec.get("condition_keys", [])) | {k for rt in rec.get("resource_types", [])
                                                         for k in rt.get("condition_keys", [])})
    deps = sorted(set(rec.get("dependent_actions", [])) | {d for rt in rec.get("resource_types", [])
                                                           for d in rt.get("dependent_actions", [])})
    card: dict[str, Any] = {
        "access_level": rec.get("access_level") or "unknown",
        "resource_types": [{**_link(site, f"resource_type:{service}:{rt['name']}", rt["name"]),
                            "required": bool(rt.get("required"))} for rt in rec.get("resource_types", [])
                           if rt.get("name")],
        "condition_keys": [_link(site, site.ref.condition_key(k)["id"], k) if site.ref.condition_key(k)
                           else {"label": k, "site_url": ""} for k in keys],
        "dependent_actions": [_action_link(site, d) for d in deps],
        "managed_policies": [_link(site, f"managed_policy:{p}", p) for p in links.get("managed_policies", [])],
    }
    rules = (site.data.call_rules or {}).get("operations", {}).get(rec["id"].removeprefix("action:"))
    if rules:
        seen: dict[str, dict] = {}
        for rule in rules["rules"]:
            entry = seen.setdefault(rule["action"], {**_action_link(site, rule["action"]), "when": []})
            if rule["when_text"] not in entry["when"]:
                entry["when"].append(rule["when_text"])
        card["needs"] = list(seen.values())
    return card


def _action_link(site: Site, name: str) -> dict[str, str]:
    rec = site.ref.action(name)
    return _link(site, rec["id"], name) if rec else {"label": name, "site_url": ""}


def cards(site: Site) -> dict[str, dict[str, Any]]:
    """Entity id -> what the Ask page's card shows of it (every link a page of this site, "" where it has none)."""
    d = site.data
    out: dict[str, dict[str, Any]] = {}
    for rec in d.actions:
        out[rec["id"]] = _action_card(site, rec)
    users: dict[str, list[str]] = {}
    for rec in d.actions:
        for k in set(rec.get("condition_keys", [])) | {k for rt in rec.get("resource_types", [])
                                                        for k in rt.get("condition_keys", [])}:
            users.setdefault(k.lower(), []).append(rec["id"].removeprefix("action:"))
    for rec in d.condition_keys:
        used = sorted(users.get(rec["key"].lower(), []))
        out[rec["id"]] = {"type": rec.get("type") or "unknown", "description": rec.get("description") or "",
                          "used_by": [_action_link(site, a) for a in used[:MAX_USED_BY]],
                          "used_by_count": len(used)}
    for rec in d.resource_types:
        out[rec["id"]] = {"arn": rec.get("arn") or "",
                          "condition_keys": [_link(site, site.ref.condition_key(k)["id"], k)
                                             if site.ref.condition_key(k) else {"label": k, "site_url": ""}
                                             for k in rec.get("condition_keys", [])]}
    for rec in d.managed_policies:
        grants = rec.get("grants_autoscaling") or []
        out[rec["id"]] = {"arn": rec.get("arn") or "", "version": rec.get("latest_version") or "",
                          "grants_autoscaling": len(grants)}
    return out


def cards_script(site: Site) -> str:
    text = json.dumps(cards(site), ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return f"window.{CARDS_GLOBAL}=JSON.parse({json.dumps(text, ensure_ascii=False)});\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m iamkb.site.search OUT.js", file=sys.stderr)
        return 2
    try:
        write_data(Path(args[0]))
    except InputError as err:
        print(f"iamkb: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
