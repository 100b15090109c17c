"""The one progress bar: rows or simulations, with or without a known total."""

import io

from multilevel.progress import Progress
from multilevel.simulate.progress import SimulationProgress


def test_counts_and_total_in_the_unit_given():
    stream = io.StringIO()
    bar = SimulationProgress("power", 40, enabled=True, stream=stream)
    bar.update(15)
    bar.update(25)  # the last update is always written
    bar.close()
    assert "40/40 simulations" in stream.getvalue() and "[" + "#" * 30 + "]" in stream.getvalue()
    assert stream.getvalue().endswith("\n")


def test_rows_without_a_total_and_silent_when_disabled():
    stream = io.StringIO()
    bar = Progress("reading", None, enabled=True, stream=stream)
    bar.update(1200)
    assert "reading: 1,200 rows" in stream.getvalue() and bar.rows == 1200
    quiet = io.StringIO()
    off = Progress("reading", 10, enabled=False, stream=quiet)
    off.update(10)
    off.close()
    assert quiet.getvalue() == ""
