"""The design's data checks, made once for the in-memory design and the chunked statistics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import multilevel
from multilevel.errors import DataError


def _data(G: int = 12, m: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(2)
    g = np.repeat(np.arange(G), m)
    return pd.DataFrame({"y": rng.normal(size=G * m), "x": rng.normal(size=G * m), "g": g})


@pytest.mark.parametrize("chunk_rows", [None, 7])
def test_constant_outcome_is_refused_naming_its_value(chunk_rows):
    df = _data()
    df["y"] = 2.5
    df.loc[3, "y"] = np.nan  # the only other value is missing: constant in the rows used
    df.loc[4, "y"] = 9.0
    df.loc[4, "x"] = np.nan
    with pytest.raises(DataError, match=r"outcome 'y' is constant \(2.5\) in every row used"):
        multilevel.fit("y ~ x + (1 | g)", df, chunk_rows=chunk_rows)


@pytest.mark.parametrize("chunk_rows", [None, 7])
def test_no_rows_left_names_the_columns_with_missing_values(chunk_rows):
    df = _data()
    df.loc[::2, "x"] = np.nan
    df.loc[1::2, "y"] = np.nan
    with pytest.raises(DataError, match=r"no rows left after dropping rows with missing values in"):
        multilevel.fit("y ~ x + (1 | g)", df, chunk_rows=chunk_rows)
    if chunk_rows is None:  # the whole frame is in memory: the rows are counted
        with pytest.raises(DataError, match=r"in y, x \(60 rows, all with a missing value\)"):
            multilevel.fit("y ~ x + (1 | g)", df)
