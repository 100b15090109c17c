"""One ``--format`` for every subcommand: text (the result's own rendering), json (its
``to_dict``), and markdown / latex / html / csv (its paste-ready tables from multilevel.report)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

FORMATS = ("text", "markdown", "json", "csv", "latex", "html")


def add_format_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="same as --format json")
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="text (default), json, or the tables as markdown, latex, html or csv (one long "
        "table with a 'table' column)",
    )


def chosen(args: argparse.Namespace) -> str:
    return "json" if getattr(args, "json", False) else args.format


def emit(obj: Any, fmt: str, text: Callable[[], str] | None = None) -> None:
    """Write ``obj`` to standard output in ``fmt``."""
    if fmt == "json":
        json.dump(obj.to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    if fmt == "text":
        sys.stdout.write((text() if text else obj.to_text()) + "\n")
        return
    own = getattr(obj, f"to_{fmt}", None)  # a result's own rendering comes first (e.g. a ladder)
    if fmt in ("markdown", "latex", "html") and callable(own):
        sys.stdout.write(own() + "\n")
        return
    from multilevel.report.tables import long_csv, tables_for

    own_tables = getattr(obj, "tables", None)  # e.g. a ladder: the tables its text shows too
    tables = own_tables() if callable(own_tables) else tables_for(obj)
    if fmt == "csv":  # one loadable table: a column 'table' says which table each row is from
        sys.stdout.write(long_csv(tables))
        return
    parts = [getattr(table, f"to_{fmt}")() for table in tables]
    sys.stdout.write("\n\n".join(p.rstrip("\n") for p in parts) + "\n")
