#!/usr/bin/env python3
"""Regenerate kb/sources.toml from a mirror folder (laid out as awsdocs/<repository>/<commit>/<path>).

The default corpus is chosen by the rules of DESIGN.md, computed from the pages themselves:
  1. the IAM chapter of the Auto Scaling guide: security-iam.md and the pages its Topics list links to;
  2. every other page of that guide with a JSON policy document (a code block holding "Effect");
  3. the IAM User Guide pages that the chapter links to (absolute docs.aws.amazon.com/IAM links);
  4. the IAM policy-language reference (reference_policies_elements*, reference_policies_evaluation-logic*,
     reference_policies_condition-keys, reference_policies_variables, reference_policies_multi-value-conditions,
     id_roles_use_passrole);
  5. the IAM Access Analyzer policy check reference (access-analyzer-reference-policy-checks): the catalog that
     `iamkb check` is held against, parsed into kb/build/analyzer_checks.json.
The full corpus is every page of both guides. Usage: scripts/refresh_manifest.py [MIRROR] [--out kb/sources.toml]
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from iamkb.paths import default_mirror  # noqa: E402

GUIDES = {
    "autoscaling": {
        "repository": "awsdocs/amazon-ec2-auto-scaling-user-guide",
        "commit": "6c46a785bc4f87874fe63c1d002ed11c61f3bef4",
        "license": "CC-BY-SA-4.0 (documentation); MIT-0 (sample code)",
        "docs_url": "https://docs.aws.amazon.com/autoscaling/ec2/userguide/",
        "title": "Amazon EC2 Auto Scaling User Guide",
    },
    "iam": {
        "repository": "awsdocs/iam-user-guide",
        "commit": "e2b8637a825b9f292bb04af61277d067dfcc5676",
        "license": "MIT-0",
        "docs_url": "https://docs.aws.amazon.com/IAM/latest/UserGuide/",
        "title": "AWS Identity and Access Management User Guide",
    },
}
IAM_REFERENCE = re.compile(
    r"^(reference_policies_elements.*|reference_policies_evaluation-logic.*|reference_policies_condition-keys"
    r"|reference_policies_variables|reference_policies_multi-value-conditions|id_roles_use_passrole)$")
POLICY_CHECKS = "access-analyzer-reference-policy-checks"  # rule 5
CHAPTER_ROOT = "security-iam"


def doc_source(mirror: Path, key: str) -> Path:
    g = GUIDES[key]
    return mirror / g["repository"] / g["commit"] / "doc_source"


def chapter_pages(as_dir: Path) -> list[str]:
    text = (as_dir / f"{CHAPTER_ROOT}.md").read_text(encoding="utf-8")
    topics = text.split("**Topics**", 1)[1]
    children = re.findall(r"\]\(([A-Za-z0-9_.-]+)\.md(?:#[^)]*)?\)", topics)
    return [CHAPTER_ROOT] + list(dict.fromkeys(children))


def has_policy(text: str) -> bool:
    return any('"Effect"' in block or '\\"Effect' in block for block in re.findall(r"```.*?```", text, re.S))


def linked_iam_pages(as_dir: Path, pages: list[str], iam_names: set[str]) -> set[str]:
    found = set()
    for page in pages:
        text = (as_dir / f"{page}.md").read_text(encoding="utf-8")
        for name in re.findall(r"docs\.aws\.amazon\.com/IAM/latest/UserGuide/([A-Za-z0-9_.-]+)\.html", text):
            if name in iam_names:
                found.add(name)
    return found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mirror", nargs="?", type=Path, default=default_mirror())
    ap.add_argument("--out", type=Path, default=ROOT / "kb" / "sources.toml")
    args = ap.parse_args(argv)
    if args.mirror is None or not args.mirror.is_dir():
        print(f"refresh_manifest: mirror folder not found: {args.mirror}", file=sys.stderr)
        return 2
    as_dir, iam_dir = doc_source(args.mirror, "autoscaling"), doc_source(args.mirror, "iam")
    as_names = sorted(p.stem for p in as_dir.glob("*.md"))
    iam_names = sorted(p.stem for p in iam_dir.glob("*.md"))
    chapter = chapter_pages(as_dir)
    with_policy = [n for n in as_names if has_policy((as_dir / f"{n}.md").read_text(encoding="utf-8"))]
    default_as = set(chapter) | set(with_policy)
    default_iam = linked_iam_pages(as_dir, chapter, set(iam_names)) | {
        n for n in iam_names if IAM_REFERENCE.match(n) or n == POLICY_CHECKS}

    out = ["# Pinned upstream pages. Regenerate with scripts/refresh_manifest.py [MIRROR]; do not edit by hand.",
           "# profiles: default = the IAM chapter, pages with policies, linked IAM pages and the policy reference;",
           "# full = every page of both guides.", ""]
    for key, g in GUIDES.items():
        out.append(f"[guide.{key}]")
        out.extend(f'{k} = "{v}"' for k, v in g.items())
        out.append("")
    for key, names, default in (("autoscaling", as_names, default_as), ("iam", iam_names, default_iam)):
        base = doc_source(args.mirror, key)
        for name in names:
            digest = hashlib.sha256((base / f"{name}.md").read_bytes()).hexdigest()
            profiles = '["default", "full"]' if name in default else '["full"]'
            out += ["[[page]]", f'guide = "{key}"', f'path = "doc_source/{name}.md"', f'sha256 = "{digest}"',
                    f"profiles = {profiles}", ""]
    args.out.write_text("\n".join(out), encoding="utf-8")
    print(f"{args.out}: {len(as_names) + len(iam_names)} pages, default {len(default_as)} autoscaling + "
          f"{len(default_iam)} iam")
    return 0


if __name__ == "__main__":
    sys.exit(main())
