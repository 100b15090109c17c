"""One progress bar on stderr for long loops (rows read, simulations run), only in a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Units done so far (of the total when known), rewritten in place at most every 0.2 s."""

    def __init__(
        self,
        label: str,
        total: int | None,
        enabled: bool | None = None,
        stream: TextIO | None = None,
        unit: str = "rows",
    ):
        self.stream = stream if stream is not None else sys.stderr
        if enabled is None:
            isatty = getattr(self.stream, "isatty", None)
            enabled = bool(isatty and isatty())
        self.enabled = enabled
        self.label = label
        self.total = total
        self.unit = unit
        self.done = 0
        self.start = time.perf_counter()
        self._last = -1.0

    @property
    def rows(self) -> int:
        return self.done

    def update(self, count: int) -> None:
        self.done += count
        now = time.perf_counter()
        finished = self.total is not None and self.done >= self.total
        if self.enabled and (now - self._last >= 0.2 or finished):
            self._last = now
            self._write()

    def _write(self, end: str = "") -> None:
        elapsed = time.perf_counter() - self.start
        if self.total:
            frac = min(1.0, self.done / self.total)
            bar = "#" * int(30 * frac) + "-" * (30 - int(30 * frac))
            text = (
                f"{self.label} [{bar}] {self.done:,}/{self.total:,} {self.unit}, {elapsed:.1f} s"
            )
        else:
            text = f"{self.label}: {self.done:,} {self.unit}, {elapsed:.1f} s"
        self.stream.write("\r" + text + end)
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self._write("\n")
