"""The `iamkb` command: arguments in, JSON or text out.

Each subcommand lives in the stage module that does the work, as two functions: `add_arguments(parser)` and
`run(args) -> int`. Only the chosen subcommand's module is imported, so `iamkb ask` starts fast. Exit codes
(DESIGN.md): 0 success, 1 a check found problems, 2 bad input or usage with a one-line message on stderr.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from dataclasses import dataclass

from iamkb.errors import InputError


@dataclass(frozen=True)
class Command:
    name: str
    module: str  # module holding add_<name>_arguments / run_<name>, see _resolve
    help: str
    example: str


COMMANDS: tuple[Command, ...] = (
    Command("fetch", "iamkb.sources", "fetch the pinned upstream pages and verify their sha256",
            "iamkb fetch --profile default --mirror ../shared/sources"),
    Command("build-kb", "iamkb.pipeline", "parse the fetched pages and write the knowledge base to kb/build/",
            "iamkb build-kb --profile default"),
    Command("topics", "iamkb.lookup", "list the parsed pages and sections", "iamkb topics --json"),
    Command("topic", "iamkb.lookup", "show one parsed section by id",
            "iamkb topic autoscaling/security-iam#access-control --json"),
    Command("action", "iamkb.lookup", "look up an action: reference row, required extra permissions, mentions",
            "iamkb action autoscaling:CreateAutoScalingGroup --json"),
    Command("condition-key", "iamkb.lookup", "look up a condition key", "iamkb condition-key autoscaling:ResourceTag/${TagKey}"),
    Command("resource-type", "iamkb.lookup", "look up a resource type", "iamkb resource-type autoscaling:autoScalingGroup"),
    Command("managed-policy", "iamkb.lookup", "look up an AWS managed policy, its versions and diffs",
            "iamkb managed-policy AutoScalingReadOnlyAccess"),
    Command("drift", "iamkb.drift", "where the docs and the Service Authorization Reference disagree",
            "iamkb drift --json"),
    Command("check", "iamkb.policy.lint", "lint an IAM policy document (exit 1 when any error)",
            "iamkb check --json my-policy.json"),
    Command("simulate", "iamkb.policy.simulate", "evaluate scenario(s): a request against policies",
            "iamkb simulate --json scenario.json"),
    Command("can-i", "iamkb.callcheck", "can a principal make this Auto Scaling call: every permission it needs, "
            "who needs it, the fix (exit 1 when denied)", "iamkb can-i --json call.json"),
    Command("examples", "iamkb.examples", "run the scenarios of every policy example in the docs",
            "iamkb examples --json"),
    Command("index", "iamkb.search", "build the Whoosh full-text index from the knowledge base", "iamkb index"),
    Command("search", "iamkb.search", "full-text search over sections, examples and reference entities",
            "iamkb search --json 'DeletePolicy production'"),
    Command("ask", "iamkb.search", "answer a question with the section it comes from",
            "iamkb ask --json 'how do I stop people deleting scaling policies?'"),
    Command("eval", "iamkb.search.train.evaluate", "score ask and search on the project's question set",
            "iamkb eval"),
    Command("site", "iamkb.site.build", "build the site into site/ (skipped when its inputs are unchanged)",
            "iamkb site --force"),
    Command("serve", "iamkb.serve", "serve the built site and the JSON API on 127.0.0.1",
            "iamkb serve --port 8000"),
)


def _resolve(cmd: Command, what: str):
    """Find `add_<name>_arguments` (what="add") or `run_<name>` (what="run") in the command's module."""
    module = importlib.import_module(cmd.module)
    name = cmd.name.replace("-", "_")
    return getattr(module, f"add_{name}_arguments" if what == "add" else f"run_{name}")


def _top_parser() -> argparse.ArgumentParser:
    lines = [f"  {c.name:<15} {c.help}\n  {'':<15} e.g. {c.example}" for c in COMMANDS]
    return argparse.ArgumentParser(
        prog="iamkb",
        description="An offline knowledge base for IAM in Amazon EC2 Auto Scaling.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="iamkb COMMAND [options]  (iamkb COMMAND --help for one command)",
        epilog="commands:\n" + "\n".join(lines)
        + "\n\nexit codes: 0 success, 1 a check found problems, 2 bad input or usage",
    )


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise InputError(message, where=self.prog)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return _main(argv)
    except InputError as err:
        print(f"iamkb: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("iamkb: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as err:  # a bug, not bad input: one line, the traceback only on request
        if os.environ.get("IAMKB_DEBUG"):
            raise
        print(f"iamkb: internal error: {type(err).__name__}: {err} (IAMKB_DEBUG=1 shows the traceback)",
              file=sys.stderr)
        return 70


def _main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        _top_parser().print_help()
        return 0 if argv else 2
    if argv[0] == "--version":
        from iamkb import __version__

        print(__version__)
        return 0
    by_name = {c.name: c for c in COMMANDS}
    cmd = by_name.get(argv[0])
    if cmd is None:
        import difflib

        near = difflib.get_close_matches(argv[0], list(by_name), n=3)
        hint = f" (did you mean {', '.join(near)}?)" if near else " (iamkb --help lists them)"
        raise InputError(f"unknown command '{argv[0]}'{hint}")
    parser = _Parser(prog=f"iamkb {cmd.name}", description=cmd.help, epilog=f"example: {cmd.example}")
    _resolve(cmd, "add")(parser)
    args = parser.parse_args(argv[1:])
    return int(_resolve(cmd, "run")(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
