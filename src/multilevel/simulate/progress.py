"""Simulations run so far: the one progress bar of :mod:`multilevel.progress`, counting
simulations."""

from __future__ import annotations

from typing import TextIO

from multilevel.progress import Progress


class SimulationProgress(Progress):
    """Simulations done of the total."""

    def __init__(
        self, label: str, total: int, enabled: bool | None = None, stream: TextIO | None = None
    ):
        super().__init__(label, total, enabled, stream, unit="simulations")
