"""The policy engine's entry points for the site's pages, which run this package under Pyodide (WebAssembly).

The example pages and the "Try a policy" page call `simulate` and `check` through window.iamkb.simulate and
window.iamkb.check. Each takes JSON text and returns JSON text: {"result": what `iamkb simulate --json` or
`iamkb check --json` prints} or {"error": the one-line message the CLI prints with exit 2}. They call the
functions the CLI calls (simulate_text, check_text), so a page and a terminal cannot disagree. Check's name
checks read the reference tables once per page, from $IAMKB_BUILD (where the page unpacks them), as the CLI
reads them from kb/build.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from iamkb.errors import InputError
from iamkb.policy.lint import check_text, default_reference
from iamkb.policy.simulate import simulate_text


@functools.cache
def reference() -> Any:
    """The reference tables, read once: a page lints on every edit, the CLI once per process."""
    return default_reference()


def _answer(run: Callable[[], Any]) -> str:
    try:
        return json.dumps({"result": run()})
    except InputError as err:
        return json.dumps({"error": str(err)})
    except Exception as err:  # a bug, not bad input: one line, as the CLI prints it
        return json.dumps({"error": f"internal error: {type(err).__name__}: {err}"})


def simulate(text: str) -> str:
    """One scenario (or a list) as JSON text -> {"result": decision(s)} or {"error": message}."""
    return _answer(lambda: simulate_text(text, "scenario"))


def check(text: str) -> str:
    """A policy document as JSON text -> {"result": {"findings": [...]}} or {"error": message}."""
    return _answer(lambda: check_text(text, "policy", ref=reference()))
