"""What the command line may write: never an input, never a user's file without ``--force``.

An output path is refused when it is (or lies inside) a data input, when it is a folder, when its
folder does not exist, and when it exists and was not written by multilevel (see
:func:`multilevel.report.files.written_by_us`) unless ``--force`` is given. The writing itself is
atomic (:mod:`multilevel.report.files`).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterable
from pathlib import Path

from multilevel.errors import DataError


def add_force_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace output files that exist and were not written by multilevel",
    )


def data_inputs(*specs: str | None) -> list[Path]:
    """The arguments that are files or folders on disk (built-in data set names are not)."""
    return [Path(s) for s in specs if s and os.path.exists(s)]


def _is_input(path: Path, inputs: Iterable[Path]) -> Path | None:
    target = path.resolve()
    for inp in inputs:
        src = inp.resolve()
        if target == src or (path.exists() and inp.exists() and os.path.samefile(path, inp)):
            return inp
        if src.is_dir() and src in target.parents:
            return inp
    return None


def check_output(
    path: str | Path, inputs: Iterable[Path], force: bool, what: str = "output"
) -> Path:
    """``path`` if it may be written, else a one-line DataError saying why not."""
    p = Path(path)
    inputs = list(inputs)
    source = _is_input(p, inputs)
    if source is not None:
        where = "is" if source.resolve() == p.resolve() else "is inside"
        raise DataError(
            f"refusing to write the {what} to {p}: it {where} the input data {source}; choose "
            "another file name"
        )
    if p.is_dir():
        raise DataError(f"cannot write the {what} to {p}: it is a folder; give a file name")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise DataError(f"cannot write the {what} to {p}: the folder {parent} does not exist")
    if p.exists() and not force:
        from multilevel.report.files import written_by_us

        if not written_by_us(p):
            raise DataError(
                f"{p} exists and was not written by multilevel; pass --force to replace it"
            )
    return p


def check_csv_folder(
    folder: str | Path, inputs: Iterable[Path], force: bool, headers: dict[str, str]
) -> Path:
    """A folder for ``<name>.csv`` tables: not an input, not a file; an existing table is
    replaced only if its header line is the one we would write (ours) or with ``--force``."""
    d = Path(folder)
    inputs = list(inputs)
    source = _is_input(d, inputs)
    if source is not None:
        raise DataError(
            f"refusing to write tables into {d}: it is the input data {source} (or inside it)"
        )
    if d.exists() and not d.is_dir():
        raise DataError(
            f"--csv needs a folder for the tables, but {d} is a file; give a folder name"
        )
    for name, header in headers.items():
        f = d / f"{name}.csv"
        if f.exists() and not force and _first_line(f) != header:
            raise DataError(
                f"{f} exists and is not a table written by multilevel; pass --force to replace it"
            )
    return d


def _first_line(path: Path) -> str:
    try:
        with path.open(encoding="utf-8", errors="replace") as fh:
            return fh.readline().rstrip("\r\n")
    except OSError:
        return ""
