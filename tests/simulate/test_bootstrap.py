"""Parametric bootstrap: lme4's parameter names, the spread of lme4's bootMer (reference.json,
2000 refits in R) within Monte Carlo error, reproducibility whatever the number of workers,
user statistics, and failed/singular refits counted."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel
from multilevel.errors import MultilevelError
from multilevel.simulate import bootstrap

REFERENCE = json.loads((Path(__file__).parent / "reference.json").read_text())


@pytest.mark.parametrize("case", REFERENCE["confint_names"], ids=lambda c: c["formula"])
def test_parameter_names_as_lme4(case: dict) -> None:
    fit = multilevel.fit(case["formula"], getattr(multilevel.datasets, case["data"])())
    boot = bootstrap(fit, 3, seed=1, workers=1)
    assert list(boot.confint()["parameter"]) == case["names"]
    assert list(boot.t0.index) == case["names"]


@pytest.fixture(scope="module")
def sleep_boot(sleep_fit: multilevel.LmmFit) -> multilevel.simulate.BootstrapResult:
    return bootstrap(sleep_fit, 1000, seed=2026, workers=1)


def test_spread_matches_bootmer(sleep_fit: multilevel.LmmFit, sleep_boot) -> None:
    ref = REFERENCE["bootmer"]
    ours = sleep_boot.replicates
    assert list(ours.columns) == ref["names"]
    np.testing.assert_allclose(sleep_boot.t0.to_numpy(), ref["estimate"], rtol=1e-4, atol=1e-4)
    n_ours = ours.notna().sum().to_numpy()
    sd_ours = ours.std(ddof=1).to_numpy()
    sd_ref = np.array(ref["sd"])
    # the SD of n normal-ish draws has relative SE about 1 / sqrt(2 n); the correlation's
    # distribution is skewed (piled at 1), so it gets twice the allowance
    rel_se = np.sqrt(1 / (2 * n_ours) + 1 / (2 * ref["nsim"]))
    allowance = (
        4 * rel_se * np.where(np.array(ref["names"]) == "cor_Days.(Intercept)|Subject", 2, 1)
    )
    assert np.all(np.abs(sd_ours / sd_ref - 1) < allowance), (sd_ours, sd_ref)
    # means: within 4 SE of the difference of two Monte Carlo means
    se_mean = sd_ref * np.sqrt(1 / n_ours + 1 / ref["nsim"])
    assert np.all(np.abs(ours.mean().to_numpy() - ref["mean"]) < 4 * se_mean)


def test_fixed_effect_spread_is_the_model_standard_error(sleep_fit, sleep_boot) -> None:
    se = np.sqrt(np.diag(sleep_fit.vcov_beta))
    boot_se = sleep_boot.std_errors()[["(Intercept)", "Days"]].to_numpy()
    assert np.all(np.abs(boot_se / se - 1) < 4 / np.sqrt(2 * 1000))


def test_confint_is_percentile(sleep_boot) -> None:
    ci = sleep_boot.confint(0.9)
    assert list(ci.columns) == ["parameter", "lower", "upper"]
    days = sleep_boot.replicates["Days"].to_numpy()
    row = ci.set_index("parameter").loc["Days"]
    # (R + 1) * 0.05 = 50.05: between the 50th and 51st order statistics
    t = np.sort(days)
    assert t[49] <= row["lower"] <= t[50]
    assert t[-51] <= row["upper"] <= t[-50]
    with pytest.raises(MultilevelError, match="level"):
        sleep_boot.confint(95)


def test_same_numbers_whatever_the_workers(sleep_fit) -> None:
    one = bootstrap(sleep_fit, 300, seed=7, workers=1)
    two = bootstrap(sleep_fit, 300, seed=7, workers=2)
    pd.testing.assert_frame_equal(one.replicates, two.replicates, check_exact=True)
    assert one.n_singular == two.n_singular
    other = bootstrap(sleep_fit, 300, seed=8, workers=1)
    assert not one.replicates.equals(other.replicates)


def test_user_statistic(sleep_fit) -> None:
    boot = sleep_fit.bootstrap(
        40, statistic=lambda r: {"days": r.beta[1], "sigma": r.sigma}, seed=3
    )
    assert list(boot.replicates.columns) == ["days", "sigma"]
    assert boot.t0["days"] == pytest.approx(sleep_fit.beta[1])
    # the same seed draws the same responses: the default statistic's columns agree
    default = bootstrap(sleep_fit, 40, seed=3)
    np.testing.assert_allclose(boot.replicates["days"], default.replicates["Days"], rtol=1e-12)
    np.testing.assert_allclose(boot.replicates["sigma"], default.replicates["sigma"], rtol=1e-12)
    # the full refit is available to a statistic (its Satterthwaite df, here)
    full = sleep_fit.bootstrap(
        3, statistic=lambda r: r.fit.fixed_effects().loc["Days", "df"], seed=3, workers=1
    )
    assert full.replicates.shape == (3, 1)
    assert np.all(full.replicates.to_numpy() > 10)


def test_singular_refits_counted() -> None:
    # a tiny slope variance: many refits put it on the boundary (as lme4's bootMer reports)
    data = multilevel.datasets.sleepstudy()
    rng = np.random.default_rng(0)
    subject = pd.factorize(data["Subject"])[0]
    y = 250 + 10 * data["Days"] + rng.normal(0, 30, 18)[subject] + rng.normal(0, 25, len(data))
    fit = multilevel.fit("y ~ Days + (Days | Subject)", data.assign(y=y), warn=False)
    boot = bootstrap(fit, 100, seed=1, workers=1)
    assert boot.n_singular > 10
    assert "singular" in boot.summary()
    assert boot.n_failed == 0


def test_fits_without_their_design_are_refused() -> None:
    data = multilevel.datasets.sleepstudy()
    large = multilevel.fit_large("Reaction ~ Days + (1 | Subject)", data, chunk_rows=60)
    with pytest.raises(MultilevelError, match="in memory"):
        bootstrap(large, 5)
    with pytest.raises(MultilevelError, match="in memory"):
        multilevel.power(large, "Days", nsim=5)


def test_residual_structures_are_refused() -> None:
    data = multilevel.datasets.sleepstudy()
    fit = multilevel.fit(
        "Reaction ~ Days + (1 | Subject)", data, correlation=multilevel.AR1("Days"), warn=False
    )
    with pytest.raises(MultilevelError, match="residual correlation"):
        bootstrap(fit, 5)
    with pytest.raises(MultilevelError, match="residual correlation"):
        multilevel.power(fit, "Days", nsim=5)


def _far_data(seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(20), 8)
    x, w = rng.normal(size=(2, g.size))
    y = 1 + 0.5 * x - 0.3 * w + 0.7 * rng.normal(size=20)[g] + rng.normal(size=g.size)
    x = (x + 1e9) - 1e9  # what x + 1e9 holds (Sterbenz): the far fit's data, exactly
    return pd.DataFrame({"y": y, "x": x, "w": w, "g": [f"g{k}" for k in g]})


@pytest.mark.parametrize("column, offset", [("x", 2000.0), ("x", 1e9), ("y", 1e9)])
def test_far_columns_bootstrap_as_near_ones(column: str, offset: float) -> None:
    """Refits of a fit about a shift (x or y far from zero) draw and refit about it: the same
    seed gives the percentile intervals of the fit on the near data (the intercept's moved by
    the exact map). Before: every refit failed at x + 2000, intervals 1e9 off at y + 1e9."""
    data = _far_data()
    far = data.assign(**{column: data[column] + offset})
    fits = [multilevel.fit("y ~ x + w + (1 | g)", d, warn=False) for d in (data, far)]
    boots = [bootstrap(f, nsim=30, seed=8, workers=1, progress=False) for f in fits]
    assert boots[1].n_failed == boots[0].n_failed == 0
    ci0, ci1 = (b.confint().set_index("parameter") for b in boots)
    rest = [p for p in ci0.index if p != "(Intercept)"]
    np.testing.assert_allclose(ci1.loc[rest], ci0.loc[rest], rtol=1e-6)
    # the intercept: beta_0 + c_y at y + c_y, beta_0 - c beta_x at x + c (each replicate)
    r0, r1 = (b.replicates for b in boots)
    if column == "y":
        np.testing.assert_allclose(r1["(Intercept)"], r0["(Intercept)"] + offset, rtol=1e-12)
    else:
        moved = r0["(Intercept)"] - offset * r0["x"]
        np.testing.assert_allclose(r1["(Intercept)"], moved, rtol=1e-6)


def test_far_statistic_sees_the_model_written() -> None:
    """A statistic of a refit about a shift gets beta and Var(beta) of the model written and
    Satterthwaite df of its contrasts (L T about the shift): as on the near data."""
    data = _far_data()
    far = data.assign(x=data["x"] + 1e9)

    def stat(refit):
        return np.r_[refit.beta[1:], refit.std_errors[1:], refit.satterthwaite_df(np.eye(3)[1:])]

    out = [
        bootstrap(multilevel.fit("y ~ x + w + (1 | g)", d, warn=False), 12, stat, seed=2)
        for d in (data, far)
    ]
    np.testing.assert_allclose(out[1].t0, out[0].t0, rtol=1e-6)
    np.testing.assert_allclose(out[1].replicates, out[0].replicates, rtol=1e-6)
