"""The ``discrete-choice`` command: fit and compare choice models from the shell."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from discrete_choice.cli._fit import add_fit_parser

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with one subcommand per task."""
    parser = argparse.ArgumentParser(
        prog="discrete-choice",
        description="Fit discrete-choice models (logit, probit, heteroscedastic) to survey data.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_fit_parser(subparsers)
    try:
        from discrete_choice.cli._compare import add_compare_parser
    except ImportError:  # the comparison command is optional while its models are absent
        pass
    else:
        add_compare_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (0 on success, 2 on a user error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
