"""The one exception type the CLI turns into a one-line message and exit code 2.

Every stage raises InputError for bad input (a missing or tampered source, malformed JSON, an unknown name),
naming what is wrong and where; anything else escaping to the CLI is a bug.
"""

from __future__ import annotations


class InputError(Exception):
    """Bad input or usage: the message is one line that names what is wrong and where."""

    def __init__(self, message: str, *, where: str | None = None) -> None:
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)
