"""Command line: ``python -m NetZeroAICT <command> …``.

Each concern registers its own sub-commands from a ``register(subparsers)`` function in its own module,
listed in :data:`COMMAND_MODULES`; heavy imports (torch, MONAI) happen inside the command functions so
``--help`` stays fast. Errors the core raises on purpose are printed as one readable line (exit code 2).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__
from .errors import NetZeroAICTError

COMMAND_MODULES = [
    "NetZeroAICT.cli_volume",
    "NetZeroAICT.cli_study",
    "NetZeroAICT.cli_analysis",
    "NetZeroAICT.cli_characterise",
    "NetZeroAICT.cli_synthesis",
    "NetZeroAICT.cli_foundry",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m NetZeroAICT",
        description="NetZeroAICT: synthetic CT angiograms from non-contrast CT, and reader studies that "
                    "validate them. Research use only; not for clinical use.")
    parser.add_argument("--version", action="version", version=f"NetZeroAICT {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except NetZeroAICTError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
