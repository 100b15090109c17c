"""How a CSV file is written: separator, encoding, decimal mark, header, found from its first bytes.

Spreadsheet exports are often ``;``-separated with a decimal comma (European locales) or in
Latin-1 / Windows-1252 rather than UTF-8; reading them with the defaults gives one column or a
UnicodeDecodeError. :func:`sniff` looks at the first ``SNIFF_BYTES`` and decides; duplicate column
names are refused here, since pandas would rename them silently (``x``, ``x.1``).
"""

from __future__ import annotations

import csv
import gzip
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from multilevel.errors import DataError

SNIFF_BYTES = 1 << 20
SEPARATORS = (",", ";", "\t", "|")
DECIMAL_COMMA = re.compile(r"^-?\d+,\d+$")


@dataclass(frozen=True)
class CsvDialect:
    """What ``pandas.read_csv`` needs to read a file: ``sep``, ``encoding``, ``decimal``."""

    sep: str = ","
    encoding: str = "utf-8"
    decimal: str = "."
    header: tuple[str, ...] = ()

    def read_options(self) -> dict[str, str]:
        return {"sep": self.sep, "encoding": self.encoding, "decimal": self.decimal}


def _head(path: Path) -> bytes:
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            return fh.read(SNIFF_BYTES)
    except (OSError, EOFError) as exc:
        raise DataError(f"cannot read data file {path}: {exc}") from None


def _decode(raw: bytes) -> tuple[str, str]:
    """The text and its encoding: UTF-8 (with or without BOM), else Windows-1252 / Latin-1."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8", errors="ignore"), "utf-8-sig"
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(raw) - 3 and len(raw) == SNIFF_BYTES:  # a character cut in two
            return raw[: exc.start].decode("utf-8"), "utf-8"
    try:
        return raw.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return raw.decode("latin-1"), "latin-1"


def _fields(lines: list[str], sep: str) -> list[list[str]]:
    return list(csv.reader(lines, delimiter=sep))


def _separator(lines: list[str]) -> str:
    """The candidate giving the most columns, the same number on every line read."""
    best, best_n = ",", 1
    for sep in SEPARATORS:
        if sep not in lines[0]:
            continue
        widths = {len(row) for row in _fields(lines, sep) if row}
        n = len(_fields(lines[:1], sep)[0])
        if len(widths) == 1 and n > best_n:
            best, best_n = sep, n
    return best


def sniff(path: Path) -> CsvDialect:
    """The dialect of a CSV file; DataError for an empty file or duplicate column names."""
    raw = _head(path)
    if not raw.strip():
        raise DataError(f"data file {path} is empty")
    text, encoding = _decode(raw)
    lines = text.splitlines()
    if len(raw) == SNIFF_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut
    lines = [ln for ln in lines[:200] if ln.strip()]
    sep = _separator(lines)
    rows = _fields(lines, sep)
    header = tuple(h.strip() for h in rows[0])
    counts = Counter(header)
    dup = [h for h, k in counts.items() if k > 1]
    if dup:
        raise DataError(
            f"data file {path} has duplicate column names: {', '.join(map(repr, dup))}; "
            "rename them so each column has its own name"
        )
    decimal = "."
    if sep != ",":
        cells = [c.strip() for row in rows[1:] for c in row]
        if any(DECIMAL_COMMA.match(c) for c in cells):
            decimal = ","
    return CsvDialect(sep, encoding, decimal, header)


def header_of(path: Path) -> list[str]:
    return list(sniff(path).header)


def describe(dialect: CsvDialect) -> str:
    """How the file was read, for messages: e.g. "';'-separated, cp1252, decimal comma"."""
    parts = [f"{dialect.sep!r}-separated", dialect.encoding]
    if dialect.decimal == ",":
        parts.append("decimal comma")
    return ", ".join(parts)
