"""Everything the site renders, loaded once from kb/build and kb/*.yml.

The reference files and the example catalog come from later build stages: each is optional here (a KB built
with --base-only still renders its topic pages), and the site's tests require them once they exist.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from iamkb import paths, store
from iamkb.errors import InputError


def _read_json(path: Path, required: bool) -> Any:
    """A KB file through iamkb.store (the one reader of kb/build); an optional one is None when not built."""
    return store.load(path.stem, path.parent) if required else store.load_if_built(path.stem, path.parent)


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f"line {mark.line + 1}: " if mark else ""
        raise InputError(f"{line}malformed YAML", where=str(path)) from None


@dataclass
class SiteData:
    """The KB as the site sees it: lists as built, plus lookups by id."""

    pages: list[dict]
    sections: dict[str, dict]
    examples: list[dict]
    manifest: list[dict]
    actions: list[dict] = field(default_factory=list)
    condition_keys: list[dict] = field(default_factory=list)
    resource_types: list[dict] = field(default_factory=list)
    services: list[dict] = field(default_factory=list)
    managed_policies: list[dict] = field(default_factory=list)
    crosslinks: dict = field(default_factory=dict)
    drift: dict | None = None
    catalog: dict | None = None
    reference_meta: dict | None = None
    analyzer_checks: list[dict] = field(default_factory=list)
    lint_catalog: dict | None = None
    call_rules: dict | None = None
    glossary: list[dict] = field(default_factory=list)
    reading_path: list[dict] = field(default_factory=list)
    exercises: list = field(default_factory=list)

    @property
    def has_reference(self) -> bool:
        return bool(self.actions)

    def example(self, example_id: str) -> dict | None:
        return self._examples_by_id().get(example_id)

    def _examples_by_id(self) -> dict[str, dict]:
        cached = self.__dict__.get("_ex_by_id")
        if cached is None:
            cached = {e["id"]: e for e in self.examples}
            self.__dict__["_ex_by_id"] = cached
        return cached


def load_site_data(build_dir: Path | None = None, kb_dir: Path | None = None) -> SiteData:
    """Read kb/build (required base files, optional later stages) and the hand-written glossary, path and
    exercises."""
    build = build_dir or paths.build_dir()
    kb = kb_dir or paths.kb_dir()
    sections = _read_json(build / "sections.json", True)
    glossary = _read_yaml(kb / "glossary.yml") or {}
    reading = _read_yaml(kb / "reading_path.yml") or {}
    return SiteData(
        pages=_read_json(build / "pages.json", True),
        sections={s["id"]: s for s in sections},
        examples=_read_json(build / "examples.json", True),
        manifest=_read_json(build / "manifest.json", False) or [],
        actions=_read_json(build / "actions.json", False) or [],
        condition_keys=_read_json(build / "condition_keys.json", False) or [],
        resource_types=_read_json(build / "resource_types.json", False) or [],
        services=_read_json(build / "services.json", False) or [],
        managed_policies=_read_json(build / "managed_policies.json", False) or [],
        crosslinks=_read_json(build / "crosslinks.json", False) or {},
        drift=_read_json(build / "drift.json", False),
        catalog=_read_json(build / "example_catalog.json", False),
        reference_meta=_read_json(build / "reference_meta.json", False),
        analyzer_checks=_read_json(build / "analyzer_checks.json", False) or [],
        lint_catalog=_read_json(build / "lint_catalog.json", False),
        call_rules=_read_json(build / "call_rules.json", False),
        glossary=list(glossary.get("terms", [])),
        reading_path=list(reading.get("steps", [])),
        exercises=list((_read_yaml(kb / "exercises.yml") or {}).get("exercises") or []),
    )
