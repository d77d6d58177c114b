"""The knowledge base on disk (kb/build/<name>.json): read and written here and nowhere else.

Why one module: every reader gets the same one-line error, naming the file, for a KB that is not built or is
malformed; and the one writer (`iamkb build-kb`, through iamkb.pipeline) replaces the whole folder at once
(`iamkb.atomic.replacing`), so a reader never sees files of two builds and a failed build leaves the previous KB
as it was. Files are written with sorted keys, fixed indentation and no timestamps, so the same inputs give
byte-identical files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from iamkb import paths
from iamkb.errors import InputError


def dump(data: Any) -> str:
    """A KB file's text: sorted keys, one-space indentation, UTF-8 as is, a final newline."""
    return json.dumps(data, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def file_path(name: str, build_dir: Path | None = None) -> Path:
    """Where the KB file `name` (`sections`, `actions`, ...) lives."""
    return (build_dir or paths.build_dir()) / f"{name}.json"


def load(name: str, build_dir: Path | None = None) -> Any:
    """One file of the built KB; InputError naming the file when it is missing or malformed."""
    return _read(file_path(name, build_dir), required=True)


def load_if_built(name: str, build_dir: Path | None = None) -> Any | None:
    """A file of a later build stage; None when the KB was built without it (`build-kb --base-only`)."""
    return _read(file_path(name, build_dir), required=False)


def _read(path: Path, required: bool) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if not required:
            return None
        raise InputError("not built yet (run `iamkb build-kb` or `make kb`)", where=str(path)) from None
    except json.JSONDecodeError as err:
        raise InputError(f"malformed JSON at line {err.lineno}: {err.msg}", where=str(path)) from None


def write(files: dict[str, Any], build_dir: Path | None = None) -> None:
    """Write {name: data} as the whole KB: into a new folder, swapped in for the old one once complete."""
    # here, not at the top: the site's hook and the page's policy engine read the KB with this module and never
    # write it, so they do not load the swap code
    from iamkb.atomic import replacing

    with replacing(build_dir or paths.build_dir()) as folder:
        for name, data in sorted(files.items()):
            (folder / f"{name}.json").write_text(dump(data), encoding="utf-8")
