"""The ``consensus-lab`` command.

Each sub-command lives in its own module with a ``register(subparsers)``
function that adds its parser and sets ``func`` to a callable taking the parsed
arguments and returning an exit code.  Bad input raises :class:`UsageError`,
which becomes a one-line message on stderr and exit code 2 (never a traceback).
"""

from __future__ import annotations

import argparse
import importlib
import sys

__all__ = ["main", "UsageError"]

# Sub-command modules, in the order ``--help`` lists them.
_COMMANDS = ("run", "check", "explore", "serve", "jepsen", "release", "grade")


class UsageError(Exception):
    """Bad input from the user: reported in one line with exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would print usage and exit 2
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="consensus-lab", description="Run, check and explore consensus protocols.")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")
    for name in _COMMANDS:
        try:
            module = importlib.import_module(f"consensus_lab.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"consensus_lab.cli.{name}":
                continue  # that command has not landed yet
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help(sys.stderr)
            return 2
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"consensus-lab: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("consensus-lab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
