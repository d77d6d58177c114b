"""Static token vectors: part of the sentence vectors' meaning for the site's in-page engine, with no model.

Why: ask's semantic signals come from MiniLM (`iamkb.search.embed`), a 90 MB transformer the reader's browser
does not have. A bag of static token vectors distilled from the same model carries part of that meaning at a
few hundred kilobytes, so the page can rank with the same stages and features as the full ask (the nearest
sections pooled in, the rerank's semantic factor, the four similarity features) and a ranker fitted for them.

How the space is made (`distil`, at `iamkb index` time, after the sentence vectors; only the KB's own texts
are read, never the questions of kb/questions.yml):
1. Each WordPiece token the index's texts use goes through MiniLM alone ("[CLS] token [SEP]", mean-pooled, as
   model2vec distils a sentence encoder), and the tokens' mean is subtracted (it is the part every token
   shares and says nothing).
2. A text's static vector is the sum of its tokens' vectors weighted by their rarity in the texts (idf).
3. A linear map, fitted by ridge regression on the index's texts, takes those sums to the texts' real MiniLM
   vectors, so that a question's static vector is compared with the documents' real vectors (asymmetric: the
   documents keep what the model says of them in context; only the question is approximated).
4. Both sides are projected on the DIMS leading directions of the documents' vectors and stored as int8 (the
   tokens with one scale each, folded into their weight).

Every number the page computes from these tables is exact: a question's vector is summed token by token in
float64 (the same operations in the same order in both runtimes), rounded to integers, and compared with the
integer rows by integer dot products; a cosine is then one division by the product of two square roots, which
IEEE 754 rounds the same everywhere. So Python and the page find the same neighbours and features, bit for bit.
Figures (held-out and cross-validated, payload): bench/README.md, "A semantic signal in the page".
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iamkb.errors import InputError
from iamkb.search import embed
from iamkb.search.documents import SearchDoc
from iamkb.search.semantic import (
    PASSAGES,
    VECTORS,
    VECTORS_META,
    Semantic,
    document_items,
    passage_items,
    row_ranges,
)

DIMS = 64            # dimensions kept: 64 fits the page's payload (bench/README.md; 96 and 128 were measured)
RIDGE = 1.0          # the map's pull towards zero (the fit is over ~15,000 texts and 384 inputs: barely matters)
QUERY_SCALE = 1024   # a question's vector is rounded to integers of at most this size
TABLES = "static.npz"
META = "static.json"
DISTIL_BATCH = 512   # tokens per forward pass (each is a 3-token sequence)


def token_ids(tokenizer: embed.WordPiece, text: str) -> list[int]:
    """The WordPiece ids of a text, without [CLS] and [SEP], none dropped (no [UNK] unless the vocabulary lacks
    every piece of a word)."""
    return [i for word in embed.pre_tokenize(embed.normalize(text)) for i in tokenizer.word_ids(word)]


def token_vectors(model: embed.MiniLM, ids: list[int]):
    """Each token through the model on its own: [len(ids), 384] float32."""
    import numpy as np

    vocab = model.tokenizer.vocab
    out = np.zeros((len(ids), embed.HIDDEN), dtype=np.float32)
    for s in range(0, len(ids), DISTIL_BATCH):
        chunk = ids[s:s + DISTIL_BATCH]
        batch = np.array([[vocab[model.tokenizer.cls], i, vocab[model.tokenizer.sep]] for i in chunk], np.int64)
        out[s:s + len(chunk)] = model.forward(batch, np.ones_like(batch))
    return out


def _int8_rows(matrix):
    """Rows scaled to at most 127 in absolute value and rounded; returns (int8 rows, each row's scale)."""
    import numpy as np

    scale = np.abs(matrix).max(axis=1) / 127.0
    scale[scale == 0] = 1.0
    return np.floor(matrix / scale[:, None] + 0.5).astype(np.int8), scale


def distil(model: embed.MiniLM, texts: list[str], real) -> dict[str, Any]:
    """The static space of `texts` (the index's document then passage texts, in the rows of `real`, their
    MiniLM vectors): the tokens and their weights, the token table, the document rows (see the module doc)."""
    import numpy as np

    full = model.tokenizer
    encoded = [full.encode(t, embed.MAX_TOKENS)[1:-1] for t in texts]  # what the model read of each text
    df = Counter(i for ids in encoded for i in set(ids))
    used = sorted(df)
    where = {t: k for k, t in enumerate(used)}
    centred = token_vectors(model, used)
    centred -= centred.mean(axis=0)
    idf = np.array([math.log((len(texts) + 1) / (df[t] + 1)) for t in used])
    sums = np.zeros((len(texts), embed.HIDDEN))
    for row, ids in enumerate(encoded):
        for t, n in Counter(ids).items():
            sums[row] += n * idf[where[t]] * centred[where[t]]
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    sums /= np.where(norms > 0, norms, 1.0)
    real = np.asarray(real, dtype=np.float64)
    mapping = np.linalg.solve(sums.T @ sums + RIDGE * np.eye(embed.HIDDEN), sums.T @ real)
    directions = np.linalg.svd(real, full_matrices=False)[2][:DIMS].T  # [384, DIMS]
    tokens, scale = _int8_rows(centred @ mapping @ directions)
    rows, _ = _int8_rows(real @ directions)
    id_to_token = {i: t for t, i in full.vocab.items()}
    return {"tokens": [id_to_token[t] for t in used], "weights": (idf * scale).tolist(), "table": tokens,
            "rows": rows}


def write(folder: Path, docs: list[SearchDoc]) -> dict[str, Any]:
    """Distil the space of an index generation whose sentence vectors are written (`semantic.write_space`, the
    same texts in the same rows): static.npz (the token table, the documents' and the passages' rows, int8) and
    static.json (the tokens and their weights). Returns what the index meta records of it."""
    import numpy as np

    items, owners = document_items(docs), passage_items(docs)
    real = np.concatenate([np.load(folder / VECTORS), np.load(folder / PASSAGES)])
    space = distil(embed.MiniLM.open(folder), [t for _, t in items] + [t for _, t in owners], real)
    with open(folder / TABLES, "wb") as out:
        np.savez(out, table=space["table"], documents=space["rows"][:len(items)],
                 passages=space["rows"][len(items):])
    meta = {"dims": int(space["table"].shape[1]), "query_scale": QUERY_SCALE, "tokens": space["tokens"], "weights": space["weights"]}
    (folder / META).write_text(json.dumps(meta), encoding="utf-8")
    return {"tokens": len(space["tokens"]), "dims": meta["dims"]}


def _lengths(rows):
    """Each int8 row's length: the square root of an exact integer sum, as the page computes it."""
    import numpy as np

    m = np.asarray(rows, dtype=np.int64)
    return np.sqrt((m * m).sum(axis=1).astype(np.float64))


@dataclass
class StaticSpace(Semantic):
    """An index generation's static space: `semantic.Semantic` with a question vector made of token vectors and
    exact integer cosines, so ask's stages (neighbours, similarities, the rerank, the features) run on it
    unchanged. Ranked with its own learned ranker ("space": "static" in kb/ranker.json)."""

    tokenizer: embed.WordPiece | None = None  # WordPiece over the space's tokens only (ids = rows of `table`)
    weights: list[float] | None = None        # per token: its idf times its int8 scale
    table: Any = None                         # int8 [tokens, DIMS]
    query_scale: int = QUERY_SCALE
    norms: Any = None          # each document row's length (float64 square roots of exact integer sums)
    passage_norms: Any = None  # ... and each passage row's
    space = "static"

    @classmethod
    def open(cls, folder: Path) -> StaticSpace | None:
        """None when the generation has no static space (a lexical index, or one built before it existed)."""
        import numpy as np

        if not (folder / META).exists():
            return None
        try:
            meta = json.loads((folder / META).read_text(encoding="utf-8"))
            ids = json.loads((folder / VECTORS_META).read_text(encoding="utf-8"))
            with np.load(folder / TABLES) as z:
                table, vectors, passages = z["table"], z["documents"], z["passages"]
            tokens, weights = meta["tokens"], meta["weights"]
            return cls(embed_question=lambda text: None, vectors=vectors,
                       rows={ident: i for i, ident in enumerate(ids["ids"])}, passages=passages,
                       passage_rows=row_ranges(ids["passage_ids"]), _ids=list(ids["ids"]),
                       tokenizer=embed.WordPiece({**{t: i for i, t in enumerate(tokens)}, "[UNK]": len(tokens)}),
                       weights=weights, table=table, query_scale=int(meta["query_scale"]),
                       norms=_lengths(vectors), passage_norms=_lengths(passages))
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise InputError(f"unreadable static vectors ({type(err).__name__}); run `iamkb index`",
                             where=str(folder / TABLES)) from None

    def question_vector(self, text: str) -> list[int] | None:
        """The question's tokens' weighted sum, summed token by token in float64 (so the page gets the same
        numbers), scaled to at most query_scale and rounded; None when no token of it is in the space."""
        found = [i for i in token_ids(self.tokenizer, text) if i < len(self.weights)]
        total = [0.0] * self.table.shape[1]
        for row in found:
            w = self.weights[row]
            for k, x in enumerate(self.table[row].tolist()):
                total[k] += w * x
        top = max((abs(v) for v in total), default=0.0)
        if top == 0:
            return None
        return [math.floor(v * self.query_scale / top + 0.5) for v in total]

    def scores(self, matrix, rows: list[int] | None, question_vector):
        """Cosines from exact integer products and one division each (see the module doc)."""
        import numpy as np

        norms = self.passage_norms if matrix is self.passages else self.norms
        q = np.asarray(question_vector, dtype=np.int64)
        picked = matrix if rows is None else matrix[rows]
        return (np.asarray(picked, dtype=np.int64) @ q) / (math.sqrt(int(q @ q)) * (norms if rows is None
                                                                                     else norms[rows]))
