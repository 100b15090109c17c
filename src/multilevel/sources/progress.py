"""Rows read so far in a pass over the data: the one progress bar of :mod:`multilevel.progress`."""

from multilevel.progress import Progress

__all__ = ["Progress"]
