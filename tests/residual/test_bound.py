"""Binding structures to rows: predecessors in time, lags, strata, and the checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import multilevel
from multilevel.errors import DataError, FormulaError
from multilevel.residual.bound import bind_correlation, bind_variance
from multilevel.residual.structures import AR1, CAR1, VarIdent, parse_correlation, parse_variance


def test_predecessors_follow_time_within_group():
    codes = np.array([1, 0, 1, 0, 1])
    t = np.array([5.0, 2.0, 1.0, 0.0, 2.0])
    b = bind_correlation(AR1(time="t"), codes, "g", {"t": t})
    pairs = dict(zip(b.rows.tolist(), b.prev.tolist(), strict=True))
    assert pairs == {1: 3, 4: 2, 0: 4}  # group 0: 3 -> 1; group 1: 2 -> 4 -> 0
    assert dict(zip(b.rows.tolist(), b.lag.tolist(), strict=True)) == {1: 2, 4: 1, 0: 3}
    np.testing.assert_allclose(b.rho(np.array([2 * np.arctanh(0.5)])), 0.5**b.lag)


def test_whitener_is_inverse_cholesky():
    from multilevel.residual.whiten import ResidualModel

    codes = np.array([0, 0, 0, 0])
    t = np.array([0.0, 1.5, 4.0, 4.5])
    c = bind_correlation(CAR1(time="t"), codes, "g", {"t": t})
    v = bind_variance(VarIdent(by="s"), {"s": np.array(["a", "b", "a", "b"])}, codes)
    m = ResidualModel(c, v)
    z = np.array([0.3, -0.4])
    w = m.whitener(z)
    phi = c.phi(z[:1])
    g = np.array([1, np.exp(-0.4), 1, np.exp(-0.4)])
    Sigma = g[:, None] * phi ** np.abs(t[:, None] - t[None, :]) * g[None, :]
    a = np.arange(1.0, 5.0)
    np.testing.assert_allclose(w(a), np.linalg.solve(np.linalg.cholesky(Sigma), a))
    np.testing.assert_allclose(w.logdet, np.linalg.slogdet(Sigma)[1])


def test_errors_name_the_column():
    d = pd.DataFrame(
        {"y": np.arange(12.0) % 5, "g": np.repeat(["a", "b", "c"], 4), "t": [0, 1, 1, 2] * 3}
    )
    with pytest.raises(DataError, match="repeats within a level of 'g'"):
        multilevel.fit("y ~ 1 + (1 | g)", d, correlation=AR1(time="t"), warn=False)
    d["t"] = [0, 0.5, 1, 2] * 3
    with pytest.raises(DataError, match="integer times.*CAR1"):
        multilevel.fit("y ~ 1 + (1 | g)", d, correlation=AR1(time="t"), warn=False)
    with pytest.raises(DataError, match="'tt'.*not in the data"):
        multilevel.fit("y ~ 1 + (1 | g)", d, correlation=CAR1(time="tt"), warn=False)
    d["h"] = ["x", "y"] * 6  # crosses g: correlation groups must be nested in g
    with pytest.raises(DataError, match="not nested in the grouping factor 'g'"):
        multilevel.fit("y ~ 1 + (1 | g)", d, correlation=AR1(group="h"), warn=False)
    with pytest.raises(DataError, match="single value"):
        multilevel.fit("y ~ 1 + (1 | g)", d.assign(s="k"), variance=VarIdent(by="s"), warn=False)


def test_cli_forms():
    assert parse_correlation("ar1") == AR1()
    assert parse_correlation("ar1:Days@Subject") == AR1(time="Days", group="Subject")
    assert parse_correlation("car1:age") == CAR1(time="age")
    assert parse_variance("ident:Sex") == VarIdent(by="Sex")
    assert parse_variance("power") == multilevel.VarPower()
    with pytest.raises(FormulaError, match="unknown correlation"):
        parse_correlation("arma")
