"""group_sums equals the sums written out, for any integer code type and block boundary."""

import numpy as np
import pandas as pd
import pytest

from multilevel.design import build_design
from multilevel.design.groupsums import group_sums


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64])
def test_group_sums_match_explicit_sums(dtype):
    rng = np.random.default_rng(5)
    n, G = 200_003, 90  # blocks of 65,536 rows and a short last block
    codes = rng.integers(0, G, n).astype(dtype)
    cols = {"a": rng.standard_normal(n), "b": rng.uniform(1, 2, n), "c": rng.standard_normal(n)}
    keys = [(), ("a",), ("a", "b"), ("a", "b", "c")]
    got = group_sums(codes, G, keys, cols.__getitem__)
    c64 = codes.astype(np.int64)
    for key in keys:
        w = np.ones(n)
        for f in key:
            w = w * cols[f]
        want = np.array([w[c64 == j].sum() for j in range(G)])
        np.testing.assert_allclose(got[key], want, rtol=1e-12, atol=1e-9)


def test_terms_keep_compact_codes_and_give_int64_for_arithmetic():
    rng = np.random.default_rng(1)
    n, G = 30_000, 40_000  # more levels than int16 holds, fewer used
    g = pd.Categorical(rng.integers(0, 300, n), categories=np.arange(G))
    df = pd.DataFrame({"y": rng.standard_normal(n), "g": g})
    term = build_design("y ~ 1 + (1 | g)", df).terms[0]
    assert term.n_levels == len(np.unique(df["g"].cat.codes))  # unused levels dropped
    assert term.codes.dtype == np.int64
    np.testing.assert_array_equal(term.codes, term.index)
    assert (term.codes * 100_000).max() > np.iinfo(np.int16).max  # no overflow in arithmetic
