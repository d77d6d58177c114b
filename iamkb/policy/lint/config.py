"""Configuration of `iamkb check`, as parliament's: ignore a code everywhere or at JSON paths, change a code's
severity, and set the policy type; from a TOML (or JSON) file and from flags, flags last.

    policy_type = "identity"            # auto (the default) | identity | resource | boundary | scp | session | trust
    resource_type = "s3:bucket"         # the resource a resource-based policy is attached to (service:type)

    [codes.MISSING_VERSION]
    ignore = true                       # everywhere

    [codes.REDUNDANT_ACTION]
    ignore_paths = ["Statement[2]", "Statement[*].NotAction[*]"]   # the path or anything below it; * any text

    [codes.PASS_ROLE_WITH_STAR_IN_RESOURCE]
    severity = "error"                  # error | security_warning | warning | suggestion

Flags: `--ignore CODE` or `--ignore CODE@PATH`, `--severity CODE=LEVEL`. Standard library only (tomllib, json), so
the playground can read the same file.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from iamkb.errors import InputError
from iamkb.policy.lint.catalog import BY_CODE, POLICY_TYPES, SEVERITIES
from iamkb.policy.lint.core import Finding
from iamkb.policy.wildcards import glob

FILE_KEYS = ("policy_type", "resource_type", "codes")
CODE_KEYS = ("ignore", "ignore_paths", "severity")


def path_matches(pattern: str, path: str) -> bool:
    """A JSON path pattern covers the path itself and everything below it; `*` stands for any text."""
    return any(glob(p).matches(path) for p in (pattern, pattern + ".*", pattern + "[*"))


@dataclass
class Config:
    policy_type: str = "auto"
    resource_type: str | None = None
    ignore: set[str] = field(default_factory=set)
    ignore_paths: dict[str, list[str]] = field(default_factory=dict)
    severity: dict[str, str] = field(default_factory=dict)

    def ignored_everywhere(self, code: str) -> bool:
        return code in self.ignore

    def ignored(self, finding: Finding) -> bool:
        return finding.code in self.ignore or any(path_matches(p, finding.path)
                                                  for p in self.ignore_paths.get(finding.code, ()))

    def apply(self, findings: list[Finding]) -> list[Finding]:
        """Drop what is ignored, give the configured severities."""
        return [replace(f, severity=self.severity[f.code]) if f.code in self.severity else f
                for f in findings if not self.ignored(f)]


def _code(name: Any, where: str) -> str:
    if not isinstance(name, str) or name not in BY_CODE:
        raise InputError(f"unknown finding code {json.dumps(name)} (iamkb check --list-codes lists them)", where=where)
    return name


def _severity(level: Any, where: str) -> str:
    if level not in SEVERITIES:
        raise InputError(f"severity must be one of {', '.join(SEVERITIES)}, got {json.dumps(level)}", where=where)
    return level


def policy_type_value(value: Any, where: str) -> str:
    if value != "auto" and value not in POLICY_TYPES:
        raise InputError(f"policy type must be auto or one of {', '.join(POLICY_TYPES)}, got {json.dumps(value)}",
                         where=where)
    return value


def resource_type_value(value: Any, where: str) -> str:
    if not isinstance(value, str) or value.count(":") != 1 or not all(value.split(":")):
        raise InputError(f"resource type is service:type (s3:bucket, kms:key), got {json.dumps(value)}", where=where)
    return value


def from_data(data: Any, where: str) -> Config:
    """A Config from a decoded file; every error names the file and the key's path."""
    if not isinstance(data, dict):
        raise InputError("a configuration is a table of policy_type, resource_type and codes", where=where)
    for key in data:
        if key not in FILE_KEYS:
            raise InputError(f"unknown key '{key}' (expected {', '.join(FILE_KEYS)})", where=where)
    config = Config()
    if "policy_type" in data:
        config.policy_type = policy_type_value(data["policy_type"], f"{where}: policy_type")
    if "resource_type" in data:
        config.resource_type = resource_type_value(data["resource_type"], f"{where}: resource_type")
    codes = data.get("codes", {})
    if not isinstance(codes, dict):
        raise InputError("codes must be a table of finding codes", where=f"{where}: codes")
    for name, entry in codes.items():
        at = f"{where}: codes.{name}"
        code = _code(name, at)
        if not isinstance(entry, dict):
            raise InputError("expected a table of ignore, ignore_paths, severity", where=at)
        for key, value in entry.items():
            if key not in CODE_KEYS:
                raise InputError(f"unknown key '{key}' (expected {', '.join(CODE_KEYS)})", where=at)
            if key == "ignore":
                if not isinstance(value, bool):
                    raise InputError(f"ignore must be true or false, got {json.dumps(value)}", where=f"{at}.ignore")
                if value:
                    config.ignore.add(code)
            elif key == "ignore_paths":
                if not isinstance(value, list) or not all(isinstance(p, str) and p for p in value):
                    raise InputError("ignore_paths must be a list of JSON paths", where=f"{at}.ignore_paths")
                config.ignore_paths.setdefault(code, []).extend(value)
            else:
                config.severity[code] = _severity(value, f"{at}.severity")
    return config


def load_config(path: str) -> Config:
    """Read a TOML file (or JSON, by its .json suffix); bad input names the file and line or key."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read: {err.strerror if isinstance(err, OSError) else err}", where=path) from None
    if path.endswith(".json"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise InputError(f"malformed JSON at line {err.lineno}, column {err.colno}: {err.msg}", where=path) from None
    else:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise InputError(f"not valid TOML: {err}", where=path) from None
    return from_data(data, path)


def with_flags(config: Config, ignore: list[str], severity: list[str], policy_type: str | None,
               resource_type: str | None) -> Config:
    """The configuration with the command line's flags on top (flags win)."""
    for item in ignore:
        code, at, path = item.partition("@")
        code = _code(code, f"--ignore {item}")
        if at:
            if not path:
                raise InputError("a path follows @ (CODE@Statement[0].Action)", where=f"--ignore {item}")
            config.ignore_paths.setdefault(code, []).append(path)
        else:
            config.ignore.add(code)
    for item in severity:
        code, eq, level = item.partition("=")
        if not eq:
            raise InputError("expected CODE=LEVEL", where=f"--severity {item}")
        config.severity[_code(code, f"--severity {item}")] = _severity(level, f"--severity {item}")
    if policy_type is not None:
        config.policy_type = policy_type_value(policy_type, "--policy-type")
    if resource_type is not None:
        config.resource_type = resource_type_value(resource_type, "--resource-type")
    return config
