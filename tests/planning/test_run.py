"""Power by simulation against the closed form, the nominal Type I error under a true null,
reproducibility whatever the number of workers, and the tests' agreement with each other."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import multilevel
from multilevel.errors import MultilevelError


def closed_form_power(delta: float, G: int, m: int, tau2: float, sigma2: float, alpha: float):
    """Two-sided t test on the G cluster means, G/2 per arm: noncentral t with G - 2 df and
    noncentrality delta / sqrt(4 (tau2 + sigma2 / m) / G)."""
    df = G - 2
    ncp = delta / np.sqrt(4 * (tau2 + sigma2 / m) / G)
    crit = stats.t.isf(alpha / 2, df)
    return stats.nct.sf(crit, df, ncp) + stats.nct.cdf(-crit, df, ncp)


def test_level2_treatment_matches_the_closed_form() -> None:
    G, m, tau2, sigma2, delta, nsim = 20, 10, 0.2, 0.8, 0.55, 800
    planned = multilevel.plan(G, m, fixed={"treat": delta}, tau2=tau2, sigma2=sigma2)
    res = multilevel.power(planned, "treat", nsim=nsim, seed=11)
    row = res.table().iloc[0]
    exact = closed_form_power(delta, G, m, tau2, sigma2, 0.05)
    assert 0.4 < exact < 0.8  # where the Monte Carlo check has teeth
    se = np.sqrt(exact * (1 - exact) / nsim)
    assert abs(row["power"] - exact) < 4 * se, (row["power"], exact)
    assert row["n_failed"] == 0


@pytest.mark.parametrize("treatment", ["group", "individual"])
def test_type1_error_is_nominal(treatment: str) -> None:
    nsim, alpha = 1000, 0.05
    planned = multilevel.plan(
        16, 8, fixed={"treat": 0.0, "x": 0.3}, icc=0.2, treatment=treatment, level1=["x"]
    )
    res = multilevel.power(planned, "treat", nsim=nsim, alpha=alpha, seed=3)
    rate = res.table()["power"].iloc[0]
    assert abs(rate - alpha) < 3.5 * np.sqrt(alpha * (1 - alpha) / nsim), rate


def test_z_test_is_liberal_with_few_groups() -> None:
    """The Wald z test ignores the df of the 8 group means: its Type I error exceeds alpha,
    which the Satterthwaite t test keeps (same simulations)."""
    planned = multilevel.plan(8, 10, fixed={"treat": 0.0}, icc=0.3)
    z = multilevel.power(planned, nsim=600, seed=5, method="z").table()["power"].iloc[0]
    t = multilevel.power(planned, nsim=600, seed=5).table()["power"].iloc[0]
    assert z > 0.08 and t < z


@pytest.fixture(scope="module")
def pilot() -> multilevel.LmmFit:
    rng = np.random.default_rng(20261202)
    G, m = 24, 8
    g = np.repeat(np.arange(G), m)
    treat = (g % 2).astype(float)
    x = rng.standard_normal(G * m)
    y = 0.4 * treat + 0.3 * x + 0.6 * rng.standard_normal(G)[g] + rng.standard_normal(G * m)
    return multilevel.fit(
        "y ~ treat + x + (1 | g)", pd.DataFrame({"y": y, "g": g, "treat": treat, "x": x})
    )


def test_same_numbers_whatever_the_workers(pilot) -> None:
    kw = dict(nsim=600, seed=42, along="n_groups", values=[12, 24])
    one = multilevel.power(pilot, "treat", workers=1, **kw)
    two = multilevel.power(pilot, "treat", workers=2, **kw)
    for a, b in zip(one.p_values, two.p_values, strict=True):
        np.testing.assert_array_equal(a, b)
    pd.testing.assert_frame_equal(one.table(), two.table())
    other = multilevel.power(pilot, "treat", workers=1, **{**kw, "seed": 43})
    assert not np.array_equal(one.p_values[0], other.p_values[0])


def test_lrt_by_name_equals_lrt_against_the_reduced_formula(pilot) -> None:
    by_name = multilevel.power(pilot, "treat", nsim=60, seed=1, method="lrt", workers=1)
    by_formula = multilevel.power(
        pilot, "lrt", reduced="y ~ x + (1 | g)", nsim=60, seed=1, workers=1
    )
    np.testing.assert_allclose(by_name.p_values[0], by_formula.p_values[0], rtol=1e-6)
    # the LRT and the Wald test agree closely on this design (same simulations)
    z = multilevel.power(pilot, "treat", nsim=60, seed=1, method="z", workers=1)
    np.testing.assert_allclose(by_name.p_values[0], z.p_values[0], rtol=0.15, atol=0.01)


def test_kenward_roger_equals_satterthwaite_on_a_balanced_design() -> None:
    planned = multilevel.plan(10, 6, fixed={"treat": 0.5}, icc=0.3)
    kr = multilevel.power(planned, nsim=30, seed=2, method="kenward-roger", workers=1)
    sw = multilevel.power(planned, nsim=30, seed=2, workers=1)
    ok = ~kr.singular[0]
    np.testing.assert_allclose(kr.p_values[0][ok], sw.p_values[0][ok], rtol=1e-3)


def test_a_function_as_the_test(pilot) -> None:
    fn = multilevel.power(
        pilot,
        lambda r: abs(r.beta[1] / r.std_errors[1]) > stats.norm.isf(0.025),
        nsim=80,
        seed=9,
        workers=1,
    )
    z = multilevel.power(pilot, "treat", nsim=80, seed=9, method="z", workers=1)
    assert fn.table()["power"].iloc[0] == z.table()["power"].iloc[0]


def test_effect_override_and_default_test(pilot) -> None:
    null = multilevel.power(pilot, nsim=200, seed=4, fixed={"treat": 0.0}, workers=1)
    assert null.test == "treat"
    assert null.table()["power"].iloc[0] < 0.12
    with pytest.raises(MultilevelError, match="no such fixed effect"):
        multilevel.power(pilot, nsim=5, fixed={"dose": 1.0})


def test_grid_and_smallest_design() -> None:
    planned = multilevel.plan(20, 10, fixed={"treat": 0.5}, icc=0.1)
    res = multilevel.power(
        planned, nsim=200, seed=1, along=["n_groups", "group_size"], values=[[10, 30], [5, 20]]
    )
    t = res.table()
    assert len(t) == 4 and list(t["n_obs"]) == [50, 200, 150, 600]
    # power grows with both sizes
    p = t.set_index(["n_groups", "group_size"])["power"]
    assert p[(30, 20)] > p[(10, 20)] > p[(10, 5)]
    best = res.smallest(0.5)
    assert best is not None and best["power"] >= 0.5
    assert best["n_obs"] == t[t["power"] >= 0.5]["n_obs"].min()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"test": "dose"}, "not a fixed effect"),
        ({"method": "wald"}, "method must be"),
        ({"test": "lrt"}, "reduced"),
        ({"values": [3]}, "along"),
        ({"along": "n_groups"}, "values"),
        ({"nsim": 0}, "nsim"),
        ({"alpha": 5}, "alpha"),
        ({"along": "school", "values": [3]}, "grouping factor"),
    ],
)
def test_bad_requests(pilot, kwargs: dict, match: str) -> None:
    with pytest.raises(MultilevelError, match=match):
        multilevel.power(pilot, **{"nsim": 5, **kwargs})
