"""A Dask DataFrame on a two-worker LocalCluster gives the in-memory estimates (1e-8 relative)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import multilevel

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("dask.distributed")

from multilevel.sources.dask import fit_dask, tree_reduce  # noqa: E402
from sources.conftest import MULTI_FORMULAS, NA_CODES  # noqa: E402

FORMULA = "y ~ x + f + (1 + x | g)"


@pytest.fixture(scope="module")
def client():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
        c = distributed.Client(cluster.scheduler_address)  # as a remote scheduler
    yield c
    c.close()
    cluster.close()


def _fit(formula, data, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if isinstance(data, dd.DataFrame):
            return fit_dask(formula, data, **kw)
        return multilevel.fit(formula, data, **kw)


def test_cluster_fit_equals_in_memory(client, frame, files):
    assert len(client.scheduler_info()["workers"]) == 2
    for ddf in (dd.from_pandas(frame, npartitions=7), dd.read_parquet(files["folder"])):
        for reml in (True, False):
            got = _fit(FORMULA, ddf, reml=reml, split_every=3).to_dict()
            ref = _fit(FORMULA, frame, reml=reml).to_dict()
            assert got.keys() == ref.keys()
            assert (got["n_obs"], got["n_dropped"]) == (ref["n_obs"], ref["n_dropped"])
            assert got["loglik"] == pytest.approx(ref["loglik"], rel=1e-8)
            np.testing.assert_allclose(got["beta"], ref["beta"], rtol=1e-8, atol=1e-12)
            np.testing.assert_allclose(got["theta"], ref["theta"], rtol=1e-6)
            se = [r["std_error"] for r in got["fixed_effects"]]
            np.testing.assert_allclose(
                se, [r["std_error"] for r in ref["fixed_effects"]], rtol=1e-8
            )
            assert [r["name"] for r in got["fixed_effects"]] == [
                r["name"] for r in ref["fixed_effects"]
            ]


def test_tree_reduce_combines_everything_in_rounds():
    from dask import delayed

    parts = [delayed(k, name=f"part-{k}") for k in range(10)]
    total = tree_reduce(parts, split_every=3, combine=sum)
    assert total.compute(scheduler="sync") == 45
    # 10 -> 4 -> 2 -> 1: three rounds of combine tasks
    combines = [k for k in dict(total.__dask_graph__()) if str(k).startswith("sum")]
    assert len(combines) == 4 + 2 + 1


@pytest.mark.parametrize("model", ["crossed", "nested", "three_level"])
def test_crossed_and_nested_models_on_the_cluster(client, multi, multi_folder, model):
    """multilevel.fit(formula, dask_dataframe) reduces per partition on the LocalCluster and
    equals the in-memory fit (loglik and beta to 1e-8)."""
    formula = MULTI_FORMULAS[model]
    ref = _fit(formula, multi)
    for ddf in (dd.from_pandas(multi, npartitions=5), dd.read_parquet(multi_folder)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = multilevel.fit(formula, ddf)
        assert not got.has_rows and got.n_groups == ref.n_groups
        assert got.loglik == pytest.approx(ref.loglik, rel=1e-8)
        np.testing.assert_allclose(got.beta, ref.beta, rtol=1e-8)
        np.testing.assert_allclose(got.theta, ref.theta, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("model", ["crossed", "nested", "three_level"])
def test_weights_offset_contrasts_and_na_values_on_the_cluster(client, extras, model):
    """Weights, an offset, sum coding and missing-value codes reduced per partition on the
    LocalCluster give the in-memory fit (rows dropped, names, loglik to 1e-10)."""
    from sources.test_fit_large import EXTRA_FORMULAS, assert_close_fits

    formula = EXTRA_FORMULAS[model]
    kw = dict(weights="w", offset="o", contrasts={"f": "sum"}, na_values=NA_CODES)
    data = extras.assign(y=pd.to_numeric(extras["y"].replace(".", -999)))  # Dask: numbers
    ref = _fit(formula, data, **kw)
    got = _fit(formula, dd.from_pandas(data, npartitions=6), **kw)
    assert_close_fits(got, ref)
    assert got.dropped_by["w"] == 2 and "f1" in got.fixed_names
    with pytest.raises(multilevel.DataError, match="weights= is an array"):
        _fit(formula, dd.from_pandas(extras, npartitions=2), weights=np.ones(len(extras)))
