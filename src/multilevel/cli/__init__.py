"""The ``multilevel`` command: one module per subcommand, each with ``add_parser`` and ``run``.

Errors of our own (:class:`multilevel.errors.MultilevelError`) print one clear line and exit 2;
a traceback is shown only with ``--debug``. Ctrl-C prints one line and exits 130 (128 + SIGINT),
as shells do. A new subcommand is one module here and one line in ``SUBCOMMANDS``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from multilevel.errors import MultilevelError

#: subcommand name -> module (in this package) defining add_parser(subparsers) and run(args)
SUBCOMMANDS = {
    "fit": "fit",
    "ladder": "ladder",
    "compare": "compare",
    "simulate": "simulate",
    "report": "report",
    "plot": "plot",
    "icc": "icc",
    "lrt": "lrt",
    "power": "power",  # power helper (#13)
    "anova": "anova",  # infer helper (#17): anova, emmeans, confint
    "emmeans": "emmeans",
    "confint": "confint",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="multilevel",
        description="Multilevel (mixed-effects) models with lme4 formulas.",
        epilog="Example: multilevel fit hsb.csv 'mathach ~ cses + (1 + cses | school)' --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true", help="show a traceback on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in SUBCOMMANDS.values():
        try:
            mod = importlib.import_module(f"multilevel.cli.{module}")
        except ModuleNotFoundError as exc:
            if exc.name == f"multilevel.cli.{module}":
                continue
            raise
        mod.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except MultilevelError as exc:
        if args.debug:
            raise
        print("error: " + " ".join(str(exc).split()), file=sys.stderr)  # always one line
        return 2
    except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
        if args.debug:
            raise
        print("error: " + " ".join(str(exc).split()), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("interrupted (Ctrl-C); no file was left half-written", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        except OSError:
            pass
        return 0


if __name__ == "__main__":
    sys.exit(main())
