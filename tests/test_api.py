"""The front door: one ``multilevel.fit`` for every source, choosing in memory or chunks."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import multilevel
from multilevel import api
from multilevel.errors import DataError, FitWarning
from multilevel.result.fit import LmmFit
from sources.conftest import simulate

FORMULA = "y ~ x + f + (1 + x | g)"


def _quiet(*args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitWarning)
        return multilevel.fit(*args, **kw)


def _same(got: LmmFit, ref: LmmFit, rtol: float = 1e-8) -> None:
    assert got.fixed_names == ref.fixed_names and got.theta_names == ref.theta_names
    assert (got.n_obs, got.n_dropped, got.n_groups) == (ref.n_obs, ref.n_dropped, ref.n_groups)
    assert got.loglik == pytest.approx(ref.loglik, rel=rtol)
    np.testing.assert_allclose(got.beta, ref.beta, rtol=rtol, atol=1e-12)
    np.testing.assert_allclose(got.vcov_beta, ref.vcov_beta, rtol=1e-7)
    np.testing.assert_allclose(got.sigma, ref.sigma, rtol=1e-7)
    np.testing.assert_allclose(got.df_satterthwaite, ref.df_satterthwaite, rtol=1e-5)


@pytest.fixture(scope="module")
def frame():
    return simulate()


@pytest.mark.parametrize("reml", [True, False])
def test_chunk_rows_gives_the_in_memory_fit_as_the_one_result_class(frame, reml):
    ref = _quiet(FORMULA, frame, reml=reml)
    got = _quiet(FORMULA, frame, reml=reml, chunk_rows=400)
    assert type(got) is type(ref) is LmmFit
    assert ref.has_rows and not got.has_rows
    _same(got, ref)
    assert got.warnings == ref.warnings  # rows dropped: the same message from both paths
    pd_ref, pd_got = ref.ranef()["g"], got.ranef()["g"]
    assert list(pd_got.index) == list(pd_ref.index)
    np.testing.assert_allclose(pd_got.to_numpy(), pd_ref.to_numpy(), rtol=1e-6, atol=1e-9)
    with pytest.raises(DataError, match="predict_chunks"):
        got.residuals  # noqa: B018


def test_large_file_is_read_in_chunks(frame, tmp_path, monkeypatch):
    path = tmp_path / "d.parquet"
    frame.to_parquet(path, index=False)
    monkeypatch.setattr(api, "CHUNKED_FILE_BYTES", 10)  # every file counts as large
    got = _quiet(FORMULA, str(path))
    assert not got.has_rows
    _same(got, _quiet(FORMULA, frame))
    crossed = _quiet("y ~ x + (1 | g) + (1 | f)", str(path))
    assert not crossed.has_rows
    _same(crossed, _quiet("y ~ x + (1 | g) + (1 | f)", frame), rtol=1e-7)
    # a model the chunked path cannot fit exactly is read into memory instead
    assert _quiet("y ~ scale(x) + (1 | g)", str(path)).has_rows


def test_aliases_return_the_one_class(frame):
    assert multilevel.LargeFit is LmmFit
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitWarning)
        fit = multilevel.fit_large(FORMULA, frame, chunk_rows=1000)
    assert isinstance(fit, LmmFit)


def test_large_file_with_weights_offset_and_contrasts_is_read_in_chunks(
    frame, tmp_path, monkeypatch
):
    """weights=, offset=, contrasts= and na_values= no longer force a large file into memory;
    weights and offset as arrays (one value per row in memory) still do."""
    data = frame.assign(w=np.exp(frame["z"] / 2), o=frame["z"] / 3)
    path = tmp_path / "d.parquet"
    data.to_parquet(path, index=False)
    monkeypatch.setattr(api, "CHUNKED_FILE_BYTES", 10)  # every file counts as large
    kw = dict(weights="w", offset="o", contrasts={"f": "sum"}, na_values=[-999])
    got = _quiet(FORMULA, str(path), **kw)
    assert not got.has_rows and "f1" in got.fixed_names
    _same(got, _quiet(FORMULA, data, **kw))
    assert _quiet(FORMULA, str(path), weights=data["w"].to_numpy()).has_rows


def test_bad_chunk_rows_and_nagq(frame):
    with pytest.raises(DataError, match="chunk_rows"):
        multilevel.fit(FORMULA, frame, chunk_rows=0)
    with pytest.raises(DataError, match="nagq"):
        multilevel.fit(FORMULA, frame, nagq=5)
    with pytest.raises(DataError, match="GLMM from chunks"):
        multilevel.fit(FORMULA, frame, family="poisson", chunk_rows=100)


def test_a_fits_own_gaussian_family_refits_the_linear_model():
    """Every fit has a family; passing an LMM's back (family=fit.family) is the same LMM."""
    d = multilevel.datasets.load("sleepstudy")
    fit = multilevel.fit("Reaction ~ Days + (Days | Subject)", d)
    again = multilevel.fit("Reaction ~ Days + (Days | Subject)", d, family=fit.family)
    assert not again.is_glmm and again.loglik == fit.loglik
    assert multilevel.fit("Reaction ~ Days + (1 | Subject)", d, family="gaussian").reml
