"""Entry point of the ``evflow`` command.

Each subcommand is a module ``evflow.cli.<name>`` exposing ``HELP`` (one line), ``add_arguments(parser)``
and ``run(args) -> int``. Modules import their heavy dependencies (torch, h5py...) inside ``run`` so that
``evflow --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from evflow import __version__
from evflow.errors import EvflowError

# Explicit list (no discovery magic). A name whose module does not exist yet is skipped.
SUBCOMMANDS = ("info", "convert", "precompute", "synth", "train", "pseudolabel", "infer", "export", "eval")


def _load(name: str):
    try:
        return importlib.import_module(f"evflow.cli.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"evflow.cli.{name}":
            return None
        raise


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with one sub-parser per available subcommand."""
    parser = argparse.ArgumentParser(prog="evflow", description="Self-supervised optical flow from event cameras.")
    parser.add_argument("--version", action="version", version=f"evflow {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        mod = _load(name)
        if mod is None:
            continue
        p = sub.add_parser(name, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``evflow`` command; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except EvflowError as exc:
        print(f"evflow {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
