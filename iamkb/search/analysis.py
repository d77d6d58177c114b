"""Text analysis for the index: IAM identifiers kept whole *and* split, prose stemmed.

`autoscaling:CreateAutoScalingGroup` must be found by the exact name, by `CreateAutoScalingGroup` and by
"create auto scaling group"; `aws:RequestTag/${TagKey}` by `RequestTag`. So the tokenizer emits, for one
compound token, the whole token, each part between separators (`:`, `/`, `-`, `.`, `${}`), and the camel-case
pieces of each part. Index and query go through the same analyzer, so whatever form a user types meets one of
the forms the docs were indexed under. The classes live in a module (not a closure) because Whoosh pickles the
schema, analyzers included, into the index.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

from whoosh.analysis import STOP_WORDS, Analyzer, LowercaseFilter, StemFilter, StopFilter, Token, Tokenizer

# A compound token: word characters joined by the separators IAM names use. `*` and `?` stay inside (patterns).
COMPOUND = re.compile(r"[\w$*?{}]+(?:[:/.\-][\w$*?{}]+)*", re.UNICODE)
_PART = re.compile(r"[^\W_]+", re.UNICODE)
# Camel-case pieces. An acronym's plural or version stays one piece: "ARNs" split as "AR" + "Ns" and "IMDSv2" as
# "IMD" + "Sv" + "2" gave every question that typed them two junk terms ("TargetGroupARNs" -> ... ar, ns).
_CAMEL = re.compile(r"[A-Z]{2,}s(?![a-z])|[A-Z]{2,}(?=v\d)|[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")

# Whoosh's English stop list minus "not" (NotAction, "not allowed" matter here).
STOPS = frozenset(STOP_WORDS) - {"not"}
MIN_TOKEN_CHARS = 2  # shorter tokens are dropped with the stop words


def split_parts(word: str) -> list[tuple[str, int]]:
    """The pieces of a compound token with their offsets: separator parts, then camel-case pieces of each."""
    out: list[tuple[str, int]] = []
    parts = [(m.group(), m.start()) for m in _PART.finditer(word)]
    for part, start in parts:
        if len(parts) > 1:
            out.append((part, start))
        if not part.isascii():
            continue
        camel = [(m.group(), start + m.start()) for m in _CAMEL.finditer(part)]
        if len(camel) > 1:
            out.extend(camel)
    return out


def surface_forms(text: str) -> Iterator[str]:
    """Every lowercased form the tokenizer emits, unstemmed: the vocabulary spelling correction draws on."""
    for word in compounds(text):
        yield word.lower()
        for part, _ in split_parts(word):
            yield part.lower()


def compounds(text: str) -> list[str]:
    """The compound tokens of a text as typed (a trailing '?' is punctuation, not a wildcard)."""
    return [w for w in (m.group().rstrip("?") for m in COMPOUND.finditer(text)) if w]


class IamTokenizer(Tokenizer):
    """Emit each compound token whole, then its parts (same position, so phrases over prose still work)."""

    def __eq__(self, other):
        return other.__class__ is self.__class__

    def __call__(self, value, positions=False, chars=False, keeporiginal=False, removestops=True,
                 start_pos=0, start_char=0, tokenize=True, mode="", **kwargs):
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if not tokenize:
            t.original = t.text = value
            t.boost = 1.0
            if positions:
                t.pos = start_pos
            if chars:
                t.startchar, t.endchar = start_char, start_char + len(value)
            yield t
            return
        pos = start_pos
        for m in COMPOUND.finditer(value):
            word = m.group().rstrip("?")
            if not word:
                continue
            forms = [(word, 0)] + [(p, off) for p, off in split_parts(word) if p.lower() != word.lower()]
            seen: set[str] = set()
            for form, off in forms:
                key = form.lower()
                if key in seen:
                    continue
                seen.add(key)
                t.text = form
                t.boost = 1.0
                t.stopped = False
                if keeporiginal:
                    t.original = form
                if positions:
                    t.pos = pos
                if chars:
                    t.startchar = start_char + m.start() + off
                    t.endchar = t.startchar + len(form)
                yield t
            pos += 1


def iam_analyzer():
    """Identifier-aware analysis with stemming: the analyzer of every text field of the index."""
    return IamTokenizer() | LowercaseFilter() | StopFilter(stoplist=STOPS, minsize=MIN_TOKEN_CHARS) | StemFilter(cachesize=-1)


@lru_cache(maxsize=1)
def _shared() -> Analyzer:
    """One analyzer per process for query-time analysis, so its stemming cache is reused."""
    return iam_analyzer()


@lru_cache(maxsize=1 << 17)
def analyze(text: str) -> tuple[str, ...]:
    """The distinct index terms of a text, in order (what a query for it looks up)."""
    seen: dict[str, None] = {}
    for tok in _shared()(text):
        seen.setdefault(tok.text, None)
    return tuple(seen)


_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


def sentences(text: str) -> list[str]:
    """A text's sentences and lines (a table row or list item is a line of its own), stripped, non-empty."""
    return [s.strip() for s in _SENTENCE.split(text) if s and s.strip() and s.strip() != "|"]
