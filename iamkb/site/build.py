"""What the hook generates, and in which navigation; plus building the site (`iamkb site`, tests, bench).

`generate` returns every generated page as {docs path: Markdown}, the Start here path's pages with their
"previous / next"; the navigation tree is iamkb.site.navigation's.

`iamkb site` (what `make site` runs) builds with `mkdocs build --strict` into a temporary folder beside the
target and swaps it in only when MkDocs succeeds (`iamkb.atomic`: the site path is a symlink to a generation, so
`iamkb serve` never sees a missing or half site). It skips the build when the site's inputs are unchanged: a hash
of every input (`site_inputs`) is stored in the built site as `.iamkb-inputs`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from iamkb import paths
from iamkb.errors import InputError
from iamkb.inputs import changed as changed_groups
from iamkb.inputs import digest, read_record, tree, versions
from iamkb.inputs import fingerprint as combine
from iamkb.site import callchain, checks, examples, onboarding, playground, reference, topics
from iamkb.site.navigation import ordered_topics, with_reading_path
from iamkb.site.pages import GUIDE_TABS, Site
from iamkb.site.weight import site_size


def generate(site: Site) -> dict[str, str]:
    out: dict[str, str] = {}
    for guide in GUIDE_TABS:
        ordered = ordered_topics(site, guide)
        if ordered:
            out.update([topics.guide_index(site, guide, ordered)])
        out.update(topics.topic_page(site, p) for p in ordered)
    out.update(reference.reference_pages(site))
    out.update(checks.check_pages(site))
    out.update(callchain.callcheck_pages(site))
    if site.data.drift is not None:
        out.update([onboarding.drift_page(site)])
    out.update(examples.example_pages(site))
    out.update([onboarding.start_here(site), onboarding.glossary(site), playground.try_page(site)])
    return with_reading_path(site, out)


# ------------------------------------------------------------------------------------------------- building

STAMP = ".iamkb-inputs"  # in the built site: the inputs it was built from (see site_inputs)
# Code the hook runs: this package and the iamkb modules it imports (tests/test_site_step.py checks the list).
# callcheck: the worked can-i page runs a check at build time; policy: the engine the playground ships
# (iamkb.site.playground.ENGINE_CODE); extract: the example pages show a fragment as published.
CODE = ("__init__.py", "errors.py", "examples.py", "extract.py", "inputs.py", "model.py", "paths.py", "refdata.py",
        "store.py", "site/*.py", "callcheck/*.py", "policy/*.py", "policy/lint/*.py")
# What renders the pages besides our code: MkDocs, the theme, the Markdown extensions and their template engine.
PACKAGES = ("mkdocs", "mkdocs-material", "mkdocs-material-extensions", "pymdown-extensions", "Markdown",
            "Pygments", "Jinja2", "babel", "PyYAML", "RapidFuzz")  # RapidFuzz: shipped in the playground's engine


def site_inputs(root: Path = paths.ROOT) -> dict[str, str]:
    """{group: sha256} of everything a site build reads: the KB files the hook loads (iamkb.site.data), the
    hand-written KB files it renders, mkdocs.yml, docs/ (pages and theme overrides), the code the hook runs,
    the versions of the packages that render the pages and of the npm packages the playground ships."""
    build, kb = paths.build_dir(), paths.kb_dir()
    code = Path(__file__).resolve().parent.parent
    return {
        "mkdocs.yml": digest([("mkdocs.yml", root / "mkdocs.yml")]),
        "docs": digest(tree(root / "docs")),
        "kb/build": digest(tree(build, "*.json")),  # load_site_data reads build/<name>.json only
        "kb/*.yml": digest([(n, kb / n) for n in ("glossary.yml", "reading_path.yml", "exercises.yml")]),
        "kb/managed_policies.json": digest([("managed_policies.json", kb / "managed_policies.json")]),
        "code": digest([item for pattern in CODE for item in tree(code, pattern)]),
        "packages": versions(PACKAGES),
        "node_modules": playground.package_versions(),  # the playground's engine and editor (npm)
        "search": combine(_search_inputs()),  # the in-page search's data (iamkb.site.search)
    }


def _search_inputs() -> dict[str, str]:
    """What the search data is exported from: what the index is built from (the KB, synonyms, ranker, section
    questions, the search code and packages)."""
    from iamkb.search.build import index_inputs, index_state

    from iamkb.search import params

    kb = paths.kb_dir()
    made = index_inputs(paths.build_dir(), kb / "synonyms.yml", kb / "ranker.json", kb / "section_questions.yml",
                        params.default_path())
    # the page ranks with the static token vectors when kb/index is complete, else lexically (site.search)
    return {**made, "index": "with vectors" if index_state() == "current" else "lexical"}


def fingerprint(root: Path = paths.ROOT, inputs: dict[str, str] | None = None) -> str:
    """One hash of everything the site is built from (site_inputs)."""
    return combine(site_inputs(root) if inputs is None else inputs)


def mkdocs_complaint(output: str) -> str:
    """MkDocs's reason for failing, as one line: the exception of a traceback, else its ERROR and WARNING lines
    (strict mode fails on warnings), else its last line."""
    lines = [ln.rstrip() for ln in output.splitlines() if ln.strip()]
    if any(ln.startswith("Traceback (most recent call last)") for ln in lines):
        last = next((ln for ln in reversed(lines) if not ln[0].isspace()), lines[-1])
        name, colon, message = last.partition(": ")
        if colon and re.fullmatch(r"[\w.]+", name):
            short = name.rpartition(".")[2]
            return message if short == "InputError" else f"{short}: {message}"
        return last
    problems = [re.sub(r"^(ERROR|WARNING)\s*-\s*", "", ln) for ln in lines if re.match(r"(ERROR|WARNING)\s*-", ln)]
    if problems:
        return problems[0] + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
    return lines[-1] if lines else ""


def build_site(site_dir: Path, *, strict: bool = True, root: Path = paths.ROOT) -> Path:
    """Run `mkdocs build` into site_dir; raise InputError with MkDocs's complaint when it fails.

    Not --quiet: MkDocs 1.6's --quiet hides warnings from the strict-mode counter, so `--strict --quiet`
    passes a build with warnings. The output is captured, and only read when the build fails.
    """
    cmd = [sys.executable, "-m", "mkdocs", "build", "--site-dir", str(site_dir)]
    if strict:
        cmd.append("--strict")
    env = {**os.environ}
    env.setdefault("NO_MKDOCS_2_WARNING", "1")  # Material's end-of-life banner
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        complaint = mkdocs_complaint(proc.stderr + "\n" + proc.stdout)
        raise InputError(complaint or f"exit {proc.returncode}", where="mkdocs build")
    return site_dir


def read_stamp(site_dir: Path) -> dict:
    return read_record(site_dir / STAMP)


def update_site(site_dir: Path | None = None, *, strict: bool = True, force: bool = False,
                root: Path = paths.ROOT, progress: Callable[[str], None] | None = None) -> dict:
    """Build the site into site_dir unless it was built from the same inputs; swap it in atomically.

    Returns {"site", "built", "fingerprint", "changed": [input groups], "seconds"}. On failure (InputError with
    MkDocs's complaint) the previous site is untouched and no temporary folder is left.
    """
    started = time.monotonic()
    site_dir = site_dir or paths.site_dir()
    inputs = site_inputs(root)
    stamp = {"fingerprint": fingerprint(root, inputs), "strict": strict, "inputs": inputs}
    old = read_stamp(site_dir) if (site_dir / "index.html").is_file() else {}
    changed = changed_groups(inputs, old)
    if strict and old and not old.get("strict"):
        changed.append("strict")
    result = {"site": str(site_dir), "built": False, "fingerprint": stamp["fingerprint"], "changed": changed}
    if not force and not changed and old.get("fingerprint") == stamp["fingerprint"]:
        return {**result, "seconds": round(time.monotonic() - started, 2)}
    if progress:
        if old:
            why = "changed: " + ", ".join(changed) if changed else "--force"
        else:
            why = "no record of its inputs" if (site_dir / "index.html").is_file() else "no built site"
        progress(f"building {site_dir} ({why}) ...")
    from iamkb import atomic  # here, not at the top: the hook imports this module, and only rendering code

    with atomic.replacing(site_dir) as tmp:
        build_site(tmp, strict=strict, root=root)
        (tmp / STAMP).write_text(json.dumps(stamp, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return {**result, "built": True, "seconds": round(time.monotonic() - started, 2)}


def cached_site(cache: Path | None = None) -> Path:
    """The site built from the current inputs, reused while they are unchanged (tests and benchmarks share it):
    `update_site` into .cache/site, so it is rebuilt and swapped in the same way as the real one."""
    site = (cache or paths.ROOT / ".cache") / "site"
    update_site(site)
    return site


# ---------------------------------------------------------------------------------------------------- CLI


def add_site_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--site-dir", type=Path, default=None,
                        help="where the site goes (default $IAMKB_SITE or site/; a symlink to its generation)")
    parser.add_argument("--force", action="store_true", help="rebuild even when the inputs are unchanged")
    parser.add_argument("--no-strict", dest="strict", action="store_false",
                        help="do not fail on MkDocs warnings (strict is the default)")
    parser.add_argument("--json", action="store_true",
                        help='print {"site", "built", "fingerprint", "changed", "seconds", "size"} as JSON')


def run_site(args: argparse.Namespace) -> int:
    site_dir = args.site_dir or paths.site_dir()
    say = None if args.json else (lambda line: print(line, flush=True))
    result = update_site(site_dir, strict=args.strict, force=args.force, progress=say)
    if args.json:
        print(json.dumps({**result, "size": site_size(site_dir).to_json()}, sort_keys=True))
    elif result["built"]:
        print(f"built {site_dir} in {result['seconds']:.0f} s")
        print("\n".join(site_size(site_dir).lines()))
    else:
        print(f"{site_dir} is up to date (its inputs are unchanged; --force rebuilds)")
    return 0
