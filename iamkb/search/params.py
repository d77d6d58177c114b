"""Search's tuned numbers, from kb/search.yml: one file, read once, compiled into the index's meta.json.

Why one file: the ranking's numbers used to be spread over four modules, with the history of their choice in
comments; the learned rankers are fitted on features those numbers shape, so changing one silently invalidated
kb/ranker.json. Now every stage reads them from the `Params` its Engine carries (`engine.params`), the rankers
record the digest of the file they were fitted with (`digest`), and the site's in-browser engine reads the same
values from the index's export. Limits that are not tuned (query length, term count) stay in the code.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from iamkb import paths
from iamkb.errors import InputError
from iamkb.inputs import read_yaml

FILE = "search.yml"  # under kb/


@dataclass(frozen=True)
class Weights:
    """The rerank's knobs (kb/search.yml ask.weights; what each does is said there)."""

    entity: float
    cover_base: float
    heading_cover: float
    title_precision: float
    synonym: float
    idf: bool
    bm25_power: float
    specific_top: int
    partial: float
    definition: float
    semantic: float


@dataclass(frozen=True)
class Pools:
    """How many candidates each source adds to ask's pool (kb/search.yml ask.pools)."""

    retrieve: int
    retrieve_entities: int
    depth: int
    neighbours: int
    said_actions: int
    proximity_depth: int


@dataclass(frozen=True)
class Rules:
    """The thresholds of ask's hand-written rules (kb/search.yml ask.rules)."""

    min_coverage: float
    entity_centric_extra: int
    entity_says_the_rest: float
    example_share: float
    named_lift: float
    named_below_best: float
    quote_beside_entity: float


@dataclass(frozen=True)
class QueryRules:
    """Turning a question into terms (kb/search.yml query)."""

    max_df_share: float
    min_correct_len: int
    short_word_min_df: int
    question_words: frozenset[str]


@dataclass(frozen=True)
class Params:
    search_boosts: dict[str, float]
    ask_boosts: dict[str, float]
    pools: Pools
    weights: Weights
    lexical_weights: Weights  # `weights` with kb/search.yml's ask.lexical on top: ask without vectors
    rules: Rules
    query: QueryRules
    l2: float
    digest: str  # of the values: what kb/ranker.json's rankers were fitted with (`digest_of`)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["query"]["question_words"] = sorted(self.query.question_words)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Params:
        """The params an index carries (its meta.json)."""
        query = dict(data["query"], question_words=frozenset(data["query"]["question_words"]))
        return cls(dict(data["search_boosts"]), dict(data["ask_boosts"]), Pools(**data["pools"]),
                   Weights(**data["weights"]), Weights(**data["lexical_weights"]), Rules(**data["rules"]),
                   QueryRules(**query), float(data["l2"]), data["digest"])


def default_path() -> Path:
    """kb/search.yml of the KB folder in use ($IAMKB_KB), else the project's own: the tuned values ship with
    the code, and a test's toy KB need not copy them."""
    here = paths.kb_dir() / FILE
    return here if here.exists() else paths.ROOT / "kb" / FILE


def _group(cls: type, data: Any, where: str) -> Any:
    """A dataclass from one mapping of the file, every field present and nothing else ("chosen" aside)."""
    if not isinstance(data, dict):
        raise InputError("expected a mapping", where=where)
    data = {k: v for k, v in data.items() if k != "chosen"}
    names = {f.name for f in fields(cls)}
    missing, unknown = sorted(names - set(data)), sorted(set(data) - names)
    if missing or unknown:
        raise InputError(f"missing {missing or 'nothing'}, unknown {unknown or 'nothing'}", where=where)
    return cls(**data)


def _boosts(data: Any, where: str) -> dict[str, float]:
    if not isinstance(data, dict) or not all(isinstance(v, int | float) for v in data.values()):
        raise InputError("expected a mapping of field name to number", where=where)
    return {str(k): float(v) for k, v in data.items()}


def load(path: Path | None = None) -> Params:
    """kb/search.yml as Params; a missing or malformed file is one line naming it and the key."""
    path = path or default_path()
    data = read_yaml(path, missing="the search parameters are missing")
    try:
        ask, query = data["ask"], dict(data["query"])
        query.pop("chosen", None)
        words = query.pop("question_words")
        weights = _group(Weights, ask["weights"], f"{path}: ask.weights")
        lexical = {k: v for k, v in (ask.get("lexical") or {}).items() if k != "chosen"}
        unknown = sorted(set(lexical) - {f.name for f in fields(Weights)})
        if unknown:
            raise InputError(f"unknown {unknown} (ask.lexical overrides ask.weights)", where=f"{path}: ask.lexical")
        params = Params(
            search_boosts=_boosts(data["search"]["field_boosts"], f"{path}: search.field_boosts"),
            ask_boosts=_boosts(ask["field_boosts"], f"{path}: ask.field_boosts"),
            pools=_group(Pools, ask["pools"], f"{path}: ask.pools"),
            weights=weights,
            lexical_weights=replace(weights, **lexical),
            rules=_group(Rules, ask["rules"], f"{path}: ask.rules"),
            query=_group(QueryRules, {**query, "question_words": frozenset(str(w).lower() for w in words)},
                         f"{path}: query"),
            l2=float(ask["train"]["l2"]),
            digest="")
    except (KeyError, TypeError) as err:
        raise InputError(f"missing or malformed entry {err}", where=str(path)) from None
    return replace(params, digest=digest_of(params))


def digest_of(params: Params) -> str:
    """A digest of the values (not of the file's text: a comment changes nothing the rankers learned from)."""
    values = {k: v for k, v in params.to_json().items() if k != "digest"}
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode("utf-8")).hexdigest()[:16]
