"""Writing output files without losing anything: atomic replacement and a mark of authorship.

Every file is first written to a temporary file in the same folder and then moved over the
target with :func:`os.replace`, which is atomic on POSIX and Windows: a reader (or a crash, or
Ctrl-C) sees either the old file or the complete new one, never half of either. Reports and
figures carry the word ``multilevel`` (HTML ``<meta name="generator">``, PNG/PDF/SVG metadata)
so that the command line can tell its own earlier output from a user's file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from multilevel.errors import DataError

#: byte strings that mark a file as written by this package (searched in its first and last
#: 64 KiB): the HTML generator tag, and matplotlib's creator metadata in PNG, PDF, SVG and EPS
MARKS = (
    b'<meta name="generator" content="multilevel">',
    b"Software\x00multilevel",
    b"/Creator (multilevel)",
    b"<dc:title>multilevel</dc:title>",
    b"%%Creator: multilevel",
)

#: matplotlib's metadata key for the creating software, per output format
_META_KEY = {
    "png": "Software",
    "pdf": "Creator",
    "svg": "Creator",
    "eps": "Creator",
    "ps": "Creator",
}


def atomic_write(path: str | Path, content: str | bytes) -> Path:
    """Write ``content`` to ``path`` through a temporary file and an atomic rename."""
    p = Path(path)
    data = content.encode("utf-8") if isinstance(content, str) else content
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent or ".")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, p)
    except BaseException:  # also KeyboardInterrupt: never leave the temporary file behind
        Path(tmp).unlink(missing_ok=True)
        raise
    return p


def figure_format(path: str | Path) -> str:
    """The image format from a file name's extension, or a one-line error listing the choices."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ext = Path(path).suffix.lower().lstrip(".")
    supported = FigureCanvasAgg(Figure()).get_supported_filetypes()
    if ext not in supported:
        what = f"extension '.{ext}'" if ext else "no extension"
        raise DataError(
            f"cannot write a figure to {path}: {what}; use one of "
            + ", ".join(f".{k}" for k in sorted(supported))
        )
    return ext


def save_figure(fig: Any, path: str | Path, dpi: float = 120) -> Path:
    """Save a matplotlib figure atomically, marked as ours, in the format of the extension."""
    import io

    if not dpi or dpi <= 0:
        raise DataError(f"the resolution must be a positive number of dots per inch, not {dpi}")
    fmt = figure_format(path)
    key = _META_KEY.get(fmt)
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi, metadata={key: "multilevel"} if key else None)
    return atomic_write(path, buf.getvalue())


def written_by_us(path: str | Path) -> bool:
    """True if the file carries one of our marks near its start or end (reports, figures)."""
    p = Path(path)
    try:
        size = p.stat().st_size
        with p.open("rb") as fh:
            head = fh.read(65536)
            if size > 65536:
                fh.seek(max(size - 65536, 65536))
                head += fh.read()
    except OSError:
        return False
    return any(m in head for m in MARKS)
