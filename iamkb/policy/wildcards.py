"""Wildcard patterns (`*` any run of characters, `?` one character), matched without a regex where possible.

Why not always a regex: a batch of scenarios brings thousands of distinct patterns (actions, ARN segments,
resource ids, condition values), and compiling one regex costs CPython about 100 us, more than all the matching
that pattern will ever do. Most policy patterns are plain text or use `*` only, which `str` methods decide
directly. The meaning is fixed by the regex the pattern stands for (literal text escaped, `*` -> `.*?`,
`?` -> `.`, full match, IGNORECASE when folding case), and that regex, compiled on first use, still decides the
cases the string methods cannot treat exactly like it: `*` and `?` in one pattern, a newline in the text (`.` does not match one) and
non-ASCII text or patterns under case folding (IGNORECASE knows foldings that `str.lower` does not).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

STAR, QMARK = "*", "?"


class Glob:
    """One compiled pattern: literal runs with `*`/`?` between them."""

    __slots__ = ("literals", "wilds", "fold", "_exact", "_any", "_qmarks", "_parts", "_min_len", "_fast", "_regex")

    def __init__(self, literals: tuple[str, ...], wilds: tuple[str, ...], fold: bool) -> None:
        """`literals[0] wilds[0] literals[1] ... wilds[-1] literals[-1]`; len(literals) == len(wilds) + 1."""
        self.literals = literals
        self.wilds = wilds
        self.fold = fold
        self._regex: re.Pattern[str] | None = None
        ascii_ok = all(lit.isascii() for lit in literals)
        # The string fast path: `*` or `?` but not both, and under folding only ASCII patterns (see the module
        # docstring). With `?` only, every literal sits at a fixed offset.
        self._fast = (QMARK not in wilds or STAR not in wilds) and (ascii_ok or not fold)
        self._qmarks = bool(wilds) and STAR not in wilds
        parts = tuple(lit.lower() for lit in literals) if fold else literals
        self._exact = parts[0] if not wilds else None
        self._any = bool(wilds) and QMARK not in wilds and not any(literals)  # `*`: any text without a newline
        self._parts = parts
        self._min_len = sum(len(p) for p in parts)

    @property
    def source(self) -> str:
        """The regex this pattern stands for."""
        out = [re.escape(self.literals[0])]
        for wild, lit in zip(self.wilds, self.literals[1:], strict=True):
            out.append(".*?" if wild == STAR else ".")
            out.append(re.escape(lit))
        return "".join(out)

    def _slow(self, text: str) -> bool:
        if self._regex is None:
            self._regex = re.compile(self.source, re.IGNORECASE if self.fold else 0)
        return self._regex.fullmatch(text) is not None

    def matches(self, text: str) -> bool:
        """Whether the whole of `text` matches."""
        if self._any:
            return "\n" not in text
        if not self._fast or (self.fold and not text.isascii()):
            return self._slow(text)
        if self._exact is not None:
            return (text.lower() if self.fold else text) == self._exact
        if "\n" in text:
            return self._slow(text)
        s = text.lower() if self.fold else text
        parts = self._parts
        if self._qmarks:  # `?` only: same length, and each literal at its place
            if len(s) != self._min_len + len(self.wilds):
                return False
            pos = 0
            for lit in parts:
                if not s.startswith(lit, pos):
                    return False
                pos += len(lit) + 1
            return True
        first, last = parts[0], parts[-1]
        if len(s) < self._min_len or not s.startswith(first) or not s.endswith(last):
            return False
        pos, end = len(first), len(s) - len(last)
        for mid in parts[1:-1]:  # each `*` takes the shortest run that lets the next literal follow
            found = s.find(mid, pos, end)
            if found < 0:
                return False
            pos = found + len(mid)
        return True


def build(pieces: Iterable[tuple[str, str]], fold: bool = False) -> Glob:
    """A Glob from (kind, text) pieces, kind being "lit", STAR or QMARK; adjacent literals are joined."""
    literals: list[str] = []
    wilds: list[str] = []
    run: list[str] = []
    for kind, text in pieces:
        if kind in (STAR, QMARK):
            literals.append("".join(run))
            run.clear()
            wilds.append(kind)
        else:
            run.append(text)
    literals.append("".join(run))
    return Glob(tuple(literals), tuple(wilds), fold)


_WILD = re.compile(r"([*?])")


def glob(pattern: str, fold: bool = False, prefix: str = "") -> Glob:
    """A plain pattern string, every `*` and `?` a wildcard, after a literal `prefix`."""
    if "*" not in pattern and "?" not in pattern:
        return Glob((prefix + pattern,), (), fold)
    split = _WILD.split(pattern)  # literal, wildcard, literal, ..., literal
    literals = split[0::2]
    literals[0] = prefix + literals[0]
    return Glob(tuple(literals), tuple(split[1::2]), fold)
