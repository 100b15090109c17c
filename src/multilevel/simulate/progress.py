"""A one-line progress bar on stderr for simulations, shown only in a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class SimulationProgress:
    """Simulations done of the total, rewritten in place at most every 0.2 s."""

    def __init__(
        self, label: str, total: int, enabled: bool | None = None, stream: TextIO | None = None
    ):
        self.stream = stream if stream is not None else sys.stderr
        if enabled is None:
            isatty = getattr(self.stream, "isatty", None)
            enabled = bool(isatty and isatty())
        self.enabled = enabled
        self.label = label
        self.total = total
        self.done = 0
        self.start = time.perf_counter()
        self._last = -1.0

    def update(self, count: int) -> None:
        self.done += count
        now = time.perf_counter()
        if self.enabled and (now - self._last >= 0.2 or self.done >= self.total):
            self._last = now
            self._write()

    def _write(self, end: str = "") -> None:
        elapsed = time.perf_counter() - self.start
        frac = min(1.0, self.done / self.total) if self.total else 1.0
        bar = "#" * int(30 * frac) + "-" * (30 - int(30 * frac))
        self.stream.write(
            f"\r{self.label} [{bar}] {self.done:,}/{self.total:,} simulations, {elapsed:.1f} s"
            + end
        )
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self._write("\n")
