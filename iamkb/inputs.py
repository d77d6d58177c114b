"""A build step's inputs: the one reader of the hand-written YAML files under kb/ (`read_yaml`), and the
content hashes that let a step whose inputs did not change skip its work.

Why: `make serve` and `make test` run every step each time; the site (`iamkb site`) and the search index
(`iamkb index`) each store the hash of what they were built from and rebuild only when it differs. Files are
labelled by their path relative to the folder they were found in, not by location, so a KB copied elsewhere
(IAMKB_KB, IAMKB_BUILD) with the same content has the same hash.
"""

from __future__ import annotations

import hashlib
import json
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from iamkb.errors import InputError


def read_yaml(path: Path, missing: str | None = None) -> Any:
    """A hand-written YAML file's data. Absent: None, or, when `missing` says why it must be there, an
    InputError with that reason. Malformed: one line naming the file and the line."""
    import yaml

    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if missing is None:
            return None
        raise InputError(missing, where=str(path)) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise InputError(f"malformed YAML{f' at line {mark.line + 1}' if mark else ''}", where=str(path)) from None


def digest(files: list[tuple[str, Path]]) -> str:
    """sha256 over (label, content) pairs in label order; a missing file differs from an empty one."""
    h = hashlib.sha256()
    for label, path in sorted(files):
        data = path.read_bytes() if path.is_file() else None
        h.update(f"{label}\0{-1 if data is None else len(data)}\0".encode())
        h.update(data or b"")
    return h.hexdigest()


def tree(folder: Path, pattern: str = "**/*") -> list[tuple[str, Path]]:
    """(path relative to folder, path) of the files under folder that match pattern."""
    return [(p.relative_to(folder).as_posix(), p) for p in folder.glob(pattern)
            if p.is_file() and "__pycache__" not in p.parts]


def versions(packages: tuple[str, ...]) -> str:
    """sha256 of the installed versions of these distributions and of Python's."""
    found = []
    for name in packages:
        try:
            found.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} missing")
    text = " ".join(found) + f" python=={sys.version_info[0]}.{sys.version_info[1]}"
    return hashlib.sha256(text.encode()).hexdigest()


def fingerprint(inputs: dict[str, str]) -> str:
    """One hash of {group: hash}."""
    return hashlib.sha256("".join(f"{k}={v}\n" for k, v in sorted(inputs.items())).encode()).hexdigest()


def read_record(path: Path) -> dict:
    """The JSON object a build step stored beside its output (its inputs' hashes and more); {} when the file is
    missing, unreadable or not an object: a build with no usable record is rebuilt."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def changed(now: dict[str, str], record: dict) -> list[str]:
    """The input groups whose hash differs from the record's "inputs" (all of them when it has none)."""
    before = record.get("inputs") if isinstance(record.get("inputs"), dict) else {}
    return sorted(k for k in now if before.get(k) != now[k])
