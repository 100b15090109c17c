"""The benchmark's simulator: shapes, seeds, a group-level w, and a truth that a fit recovers."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "simulate.py"
_spec = importlib.util.spec_from_file_location("benchmark_simulate", _PATH)
simulate = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(simulate)


def test_shapes_and_every_group_present():
    df = simulate.simulate(2_000, 50, seed=3)
    assert list(df.columns) == ["g", "x1", "x2", "x3", "w", "y"]
    assert len(df) == 2_000
    assert sorted(df["g"].unique()) == list(range(50))
    assert df.notna().all().all()


def test_same_seed_same_data_other_seed_other_data():
    a = simulate.simulate(1_000, 20, seed=7)
    b = simulate.simulate(1_000, 20, seed=7)
    c = simulate.simulate(1_000, 20, seed=8)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["y"], c["y"])


def test_w_is_constant_within_groups():
    df = simulate.simulate(5_000, 100, seed=1)
    assert df.groupby("g")["w"].nunique().max() == 1
    assert df.groupby("g")["w"].first().std() > 0.5  # it does vary between groups


def test_tau_matrix_has_the_stated_sds_and_correlation():
    T = simulate.tau_matrix("slope")
    sd = np.sqrt(np.diag(T))
    np.testing.assert_allclose(sd, simulate.TAU)
    assert T[0, 1] / (sd[0] * sd[1]) == pytest.approx(simulate.RHO)
    assert simulate.tau_matrix("intercept").shape == (1, 1)
    with pytest.raises(ValueError, match="unknown model"):
        simulate.tau_matrix("quadratic")


def test_csv_and_parquet_hold_the_same_numbers(tmp_path, monkeypatch):
    monkeypatch.setattr(simulate, "OUT", tmp_path)
    monkeypatch.setitem(simulate.SIZES, "T", (500, 10))
    paths = simulate.write("T", "slope", seed=2)
    a = pd.read_parquet(paths["parquet"])
    b = pd.read_csv(paths["csv"])
    pd.testing.assert_frame_equal(a, b)


def test_a_fit_recovers_the_truth():
    """Tolerances are about 4 standard errors: SE(tau0) ~ tau0/sqrt(2G) = 0.05 with G = 200,
    SE(tau1) ~ 0.03, SE(rho) ~ (1 - rho^2)/sqrt(G) = 0.065, SE(sigma) ~ sigma/sqrt(2n) = 0.01;
    for beta the fit's own standard errors."""
    df = simulate.simulate(20_000, 200, model="slope", seed=11)
    m = multilevel.fit(simulate.FORMULAS["slope"], df, reml=True, warn=False)
    se = np.sqrt(np.diag(m.vcov_beta))
    assert np.all(np.abs(m.beta - simulate.BETA) < 4 * se)
    vc = m.random_effects[0]
    assert vc.std_devs[0] == pytest.approx(simulate.TAU[0], abs=0.2)
    assert vc.std_devs[1] == pytest.approx(simulate.TAU[1], abs=0.12)
    assert vc.correlation[0, 1] == pytest.approx(simulate.RHO, abs=0.26)
    assert m.sigma == pytest.approx(simulate.SIGMA, abs=0.04)


def test_the_intercept_variant_has_no_slope_variance():
    df = simulate.simulate(20_000, 200, model="intercept", seed=12)
    m = multilevel.fit(simulate.FORMULAS["slope"], df, reml=True, warn=False)
    vc = m.random_effects[0]
    assert vc.std_devs[0] == pytest.approx(simulate.TAU[0], abs=0.2)
    assert vc.std_devs[1] < 0.1  # SE of a zero slope SD is ~0.03-0.05 here
