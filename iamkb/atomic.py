"""Swapping in a generated folder that readers use while it is rebuilt: the KB (kb/build), the search index and
the site, each written through `replacing`, the one way the project replaces a generated folder.

The folder's path is a symlink to a generation folder beside it (`site -> site.gen-1a2b3c4d`). A new generation
is written under a temporary name, renamed to a generation name once complete, and the symlink is replaced with
os.replace, which is atomic: a reader resolves either the old generation or the new one, never a missing or
half-written folder. The previous generation is kept (a reader that resolved it just before the swap can
finish); older generations are removed. Only folders named `<link name>.gen-*` are ever removed, so a
user-chosen folder's unrelated siblings are safe; temporary folders of builds still running are not touched.

A real folder found at the link's path (a KB or site built before generations) becomes the previous generation.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from iamkb.errors import InputError

GENERATION = ".gen-"


def generations(link: Path) -> list[Path]:
    """The generation folders beside `link`."""
    pattern = glob.escape(link.name) + GENERATION + "*"
    return sorted(p for p in link.parent.glob(pattern) if p.is_dir() and not p.is_symlink())


def _fresh(link: Path) -> Path:
    while True:
        path = link.parent / f"{link.name}{GENERATION}{secrets.token_hex(4)}"
        if not path.exists() and not path.is_symlink():
            return path


def swap_in(new: Path, link: Path) -> Path:
    """Make `link` point at the complete folder `new` (beside it) atomically; returns the generation's path.

    On any failure `link` is left as it was and `new` is removed.
    """
    if new.parent.resolve() != link.parent.resolve():
        raise ValueError(f"{new} must be beside {link}")  # os.rename needs one file system: a bug, not input
    if link.exists() and not link.is_symlink() and not link.is_dir():
        shutil.rmtree(new, ignore_errors=True)
        raise InputError("exists and is not a folder", where=str(link))
    mode = 0o777 & ~_umask()  # mkdtemp makes 0700 folders; a generation is as readable as any folder
    gen = _fresh(link)
    tmp_link = link.parent / f".{link.name}.link-{os.getpid()}-{secrets.token_hex(4)}"
    legacy: Path | None = None
    try:
        os.chmod(new, mode)
        os.rename(new, gen)
        tmp_link.symlink_to(gen.name)  # relative: the folder and its generations can move together
        if link.is_dir() and not link.is_symlink():
            legacy = _fresh(link)
            os.rename(link, legacy)  # one-time migration: the only moment the path is missing (microseconds)
        previous = link.resolve() if link.is_symlink() else legacy
        os.replace(tmp_link, link)
    except BaseException:
        if tmp_link.is_symlink():
            tmp_link.unlink()
        if legacy is not None and not link.exists() and not link.is_symlink():
            os.rename(legacy, link)
        for leftover in (new, gen):
            shutil.rmtree(leftover, ignore_errors=True)
        raise
    # by name (all are beside the link); the link's target now too: another build may have swapped in since
    keep = {gen.name, link.resolve().name, previous.name if previous is not None else ""}
    for old in generations(link):
        if old.name not in keep:
            shutil.rmtree(old, ignore_errors=True)
    return gen


@contextmanager
def replacing(target: Path) -> Iterator[Path]:
    """A new, empty folder beside `target` for the caller to fill; swapped in for `target` (`swap_in`) when the
    block ends, removed when it raises, so a failed build leaves the previous one as it was and no temporary
    folder behind."""
    target.parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        yield folder
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    swap_in(folder, target)  # removes the folder itself if the swap fails


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
