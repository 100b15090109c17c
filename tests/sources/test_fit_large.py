"""fit_large gives multilevel.fit's answers from every source, and lme4's on hsb."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import multilevel
from multilevel.sources import fit_large
from multilevel.sources.progress import Progress
from refdata import reference
from sources.conftest import MULTI_FORMULAS, NA_CODES

FORMULA = "y ~ x + f + (1 + x | g)"


def in_memory(formula, data, reml=True):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return multilevel.fit(formula, data, reml=reml)


def with_front_door(formula, data, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return multilevel.fit(formula, data, **kw)


def large(formula, data, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit_large(formula, data, **kw)


def assert_same_fit(got: dict, ref: dict):
    assert got.keys() == ref.keys()
    for key in (
        "formula",
        "method",
        "n_obs",
        "n_groups",
        "n_dropped",
        "n_params",
        "theta_names",
        "is_singular",
        "converged",
    ):
        assert got[key] == ref[key], key
    assert got["loglik"] == pytest.approx(ref["loglik"], rel=1e-8)
    np.testing.assert_allclose(got["theta"], ref["theta"], rtol=1e-6, atol=1e-6)
    for a, b in zip(got["fixed_effects"], ref["fixed_effects"], strict=True):
        assert a["name"] == b["name"]
        assert a["estimate"] == pytest.approx(b["estimate"], rel=1e-7, abs=1e-9)
        assert a["std_error"] == pytest.approx(b["std_error"], rel=1e-7)
        assert a["df_satterthwaite"] == pytest.approx(b["df_satterthwaite"], rel=1e-5)
    for a, b in zip(got["random_effects"], ref["random_effects"], strict=True):
        assert (a["group"], a["terms"]) == (b["group"], b["terms"])
        np.testing.assert_allclose(a["variances"], b["variances"], rtol=1e-6)
        np.testing.assert_allclose(a["correlation_matrix"], b["correlation_matrix"], atol=1e-6)
    assert got["sigma"] == pytest.approx(ref["sigma"], rel=1e-7)


def source(kind, frame, files):
    if kind == "pandas":
        return frame
    if kind == "arrow":
        return pa.Table.from_pandas(frame, preserve_index=False)
    if kind == "polars":
        pl = pytest.importorskip("polars")
        return pl.from_pandas(frame)
    return files[kind]


@pytest.mark.parametrize("kind", ["pandas", "arrow", "polars", "parquet", "folder", "csv"])
def test_every_source_gives_the_in_memory_fit(kind, frame, files):
    ref = in_memory(FORMULA, frame).to_dict()
    got = large(FORMULA, source(kind, frame, files), chunk_rows=700).to_dict()
    assert_same_fit(got, ref)
    assert got["n_dropped"] == 8  # rows 5 (x and y), 10, 77, 600, 1200, 1500, 2950, 2999


def test_ml_and_chunk_size(frame):
    ref = in_memory(FORMULA, frame, reml=False).to_dict()
    for chunk_rows in (97, 1000, 1_000_000):
        assert_same_fit(large(FORMULA, frame, reml=False, chunk_rows=chunk_rows).to_dict(), ref)


def test_several_terms_on_one_factor(frame):
    formula = "y ~ x * f + (1 | g) + (0 + x | g)"
    assert_same_fit(
        large(formula, frame, chunk_rows=500).to_dict(), in_memory(formula, frame).to_dict()
    )


def test_modes_and_second_pass_predictions(frame, files):
    ref = in_memory(FORMULA, frame)
    fit = large(FORMULA, files["parquet"], chunk_rows=800)
    got, want = fit.ranef()["g"], ref.ranef()["g"]
    assert list(got.index) == list(want.index)
    np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(fit.modes["g"].cond_var, ref.modes["g"].cond_var, rtol=1e-6)
    pred = pd.concat(list(fit.predict_chunks(files["parquet"], chunk_rows=800)), ignore_index=True)
    kept = ref.design.frame.row_index
    # both at the optimum to ~1e-7 in theta, reached from sums added in a different order
    np.testing.assert_allclose(pred["fitted"].to_numpy()[kept], ref.fitted, rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(
        pred["residual"].to_numpy()[kept], ref.residuals, rtol=1e-6, atol=1e-8
    )
    assert pred["fitted"].isna().sum() == ref.n_dropped


@pytest.mark.parametrize("model", ["hsb_c_intercepts_as_outcomes", "hsb_d_slopes_as_outcomes"])
def test_hsb_against_lme4(model, tmp_path):
    m = next(m for m in reference("hsb")["models"] if m["model_id"] == model)
    path = tmp_path / "hsb.parquet"
    multilevel.datasets.load("hsb").to_parquet(path, row_group_size=1000)
    for method, reml in (("reml", True), ("ml", False)):
        ref = m["fits"][method]
        got = large(m["formula"], path, reml=reml, chunk_rows=1500).to_dict()
        assert got["loglik"] == pytest.approx(ref["loglik"], abs=1e-6)
        np.testing.assert_allclose(got["beta"], ref["beta"], rtol=1e-5)
        for a, b in zip(got["fixed_effects"], ref["fixed_effects"], strict=True):
            assert a["std_error"] == pytest.approx(b["std_error"], rel=1e-4)
            assert a["df_satterthwaite"] == pytest.approx(b["df_satterthwaite"], rel=1e-3)


def test_null_model_icc(frame):
    got = large("y ~ 1 + (1 | g)", frame, chunk_rows=600).to_dict()
    ref = in_memory("y ~ 1 + (1 | g)", frame).to_dict()
    assert got["icc"]["g"] == pytest.approx(ref["icc"]["g"], rel=1e-7)


@pytest.mark.parametrize("model", list(MULTI_FORMULAS))
@pytest.mark.parametrize("kind", ["pandas", "folder", "csv"])
def test_crossed_nested_and_three_level_models_from_chunks(
    model, kind, multi, multi_folder, tmp_path
):
    """Several grouping factors: per-factor blocks and the sparse cross-factor sums, chunk by
    chunk, give the in-memory fit (loglik and beta to 1e-8; theta to the derivative-free
    optimizer's resolution, 1e-6)."""
    formula = MULTI_FORMULAS[model]
    if kind == "csv":
        path = tmp_path / "multi.csv"
        multi.to_csv(path, index=False)
        data = str(path)
    else:
        data = multi if kind == "pandas" else multi_folder
    ref = in_memory(formula, multi)
    got = with_front_door(formula, data, chunk_rows=700)
    assert not got.has_rows
    assert (got.n_obs, got.n_dropped, got.n_groups) == (ref.n_obs, ref.n_dropped, ref.n_groups)
    assert got.theta_names == ref.theta_names and got.fixed_names == ref.fixed_names
    assert got.loglik == pytest.approx(ref.loglik, rel=1e-8)
    np.testing.assert_allclose(got.beta, ref.beta, rtol=1e-8)
    np.testing.assert_allclose(got.theta, ref.theta, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(got.std_errors, ref.std_errors, rtol=1e-6)
    for name, modes in ref.modes.items():
        assert got.ranef()[name].index.tolist() == ref.ranef()[name].index.tolist()
        np.testing.assert_allclose(got.modes[name].b, modes.b, rtol=1e-5, atol=1e-7)
    if model == "three_level":  # second pass: fitted values as in memory
        pred = pd.concat(list(got.predict_chunks(data, chunk_rows=900)))
        kept = pred["fitted"].notna().to_numpy()
        np.testing.assert_allclose(pred["fitted"].to_numpy()[kept], ref.fitted, atol=1e-6)


def test_memory_is_bounded_by_the_chunk_for_a_crossed_model(tmp_path):
    """A crossed model on a Parquet folder 20 times the chunk size: the memory the fit
    allocates (tracemalloc peak, numpy included) stays a fraction of the data's size."""
    import tracemalloc

    from sources.conftest import simulate_multi

    folder = tmp_path / "big"
    folder.mkdir()
    for i in range(8):
        simulate_multi(seed=100 + i, n=50_000).to_parquet(folder / f"p{i}.parquet", index=False)
    data_bytes = 8 * 50_000 * 5 * 8  # rows x columns x 8 bytes, as it would sit in memory
    tracemalloc.start()
    try:
        fit = with_front_door(MULTI_FORMULAS["crossed"], str(folder), chunk_rows=20_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert fit.n_obs > 390_000 and fit.n_groups == {"a": 45, "b": 30}
    assert peak < data_bytes / 4, (peak, data_bytes)


def test_missing_rows_are_reported(frame):
    with pytest.warns(multilevel.FitWarning, match="8 of 3000 rows dropped"):
        fit = fit_large(FORMULA, frame)
    assert fit.dropped_by == {"y": 3, "x": 3, "f": 2, "g": 1}


def test_progress_only_in_a_terminal():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    quiet, loud = io.StringIO(), Tty()
    for stream in (quiet, loud):
        bar = Progress("reading", 1000, stream=stream)
        bar.update(1000)
        bar.close()
    assert quiet.getvalue() == ""
    assert "1,000/1,000 rows" in loud.getvalue() and loud.getvalue().endswith("\n")


def test_same_tables_and_summary_as_the_in_memory_fit(frame, files):
    """Same formula, same result API whatever the source: the tables agree with multilevel.fit
    and the summary differs only where the rows are needed (scaled residuals)."""
    ref = in_memory(FORMULA, frame)
    fit = large(FORMULA, files["parquet"], chunk_rows=800)
    pd.testing.assert_frame_equal(fit.fixed_effects(), ref.fixed_effects(), rtol=1e-6)
    pd.testing.assert_frame_equal(fit.varcorr(), ref.varcorr(), rtol=1e-6)
    got, want = fit.ranef_table(), ref.ranef_table()
    assert list(got["level"]) == list(want["level"])
    np.testing.assert_allclose(got["condsd"], want["condsd"], rtol=1e-6)
    text = str(fit)
    assert "Random effects" in text and "Fixed effects" in text
    assert "Scaled residuals" not in text and "scaled residuals: not shown" in text
    assert "Scaled residuals" in str(ref)
    assert fit.summary().to_markdown().count("|") > 20
    with pytest.raises(ValueError, match="Kenward-Roger needs the rows"):
        fit.fixed_effects("kenward-roger")


def assert_close_fits(got, ref):
    """Same rows and names; the same optimum: loglik to 1e-10; theta to the resolution of the
    derivative-free optimizer on these flat optima (5e-6; the deviance itself agrees to 1e-12,
    tests/sources/test_stats.py), beta and SEs accordingly (1e-7, 1e-6)."""
    assert not got.has_rows
    assert (got.n_obs, got.n_dropped, got.dropped_by) == (ref.n_obs, ref.n_dropped, ref.dropped_by)
    assert got.theta_names == ref.theta_names and got.fixed_names == ref.fixed_names
    assert got.loglik == pytest.approx(ref.loglik, rel=1e-10)
    np.testing.assert_allclose(got.beta, ref.beta, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(got.theta, ref.theta, rtol=5e-6, atol=1e-8)
    np.testing.assert_allclose(got.std_errors, ref.std_errors, rtol=1e-6)


EXTRA_FORMULAS = {
    "crossed": "y ~ x + f + (1 | a) + (1 | b)",
    "nested": "y ~ x + f + (1 | a/c)",
    "three_level": "y ~ x + f + (1 + x | a) + (1 | a:c) + (1 | b)",
}


@pytest.mark.parametrize("model", sorted(EXTRA_FORMULAS))
@pytest.mark.parametrize(
    "options",
    [
        dict(weights="w"),
        dict(offset="o"),
        dict(weights="w", offset="o", contrasts={"f": "sum"}),
        dict(contrasts={"f": "helmert"}),
        dict(contrasts={"f": "poly"}, weights="w"),
    ],
    ids=["weights", "offset", "weights-offset-sum", "helmert", "poly-weights"],
)
def test_weights_offset_contrasts_and_na_values_from_chunks(model, options, extras):
    """Issue 17 item 1 on chunked data: weighted cross-products (1/2 sum log w in the
    log-likelihood), y - offset, contrast codings and missing-value codes in 37-row chunks
    (about 110 chunks) give the in-memory fit: rows dropped (missing weights, codes), names
    and the optimum."""
    formula = EXTRA_FORMULAS[model]
    kw = dict(options, na_values=NA_CODES)
    ref = with_front_door(formula, extras, **kw)
    got = with_front_door(formula, extras, chunk_rows=37, **kw)
    assert_close_fits(got, ref)
    assert got.dropped_by["y"] == 4 and got.dropped_by["x"] == 4  # NaN, "." and -999
    assert got.dropped_by.get("b", 3) == 3 and got.dropped_by.get("w", 2) == 2


def test_weights_contrasts_and_codes_from_a_csv_read_in_chunks(extras, tmp_path):
    """A CSV whose outcome holds "." and -999 and whose rater ids hold ".": declared codes,
    weights, an offset and sum coding read 300 rows at a time give the in-memory fit."""
    path = tmp_path / "extras.csv"
    extras.to_csv(path, index=False)
    formula = EXTRA_FORMULAS["three_level"]
    kw = dict(weights="w", offset="o", contrasts={"f": "sum"}, na_values=NA_CODES)
    ref = with_front_door(formula, extras, **kw)
    got = with_front_door(formula, str(path), chunk_rows=300, **kw)
    assert_close_fits(got, ref)
    assert got.dropped_by == {"y": 4, "x": 4, "w": 2, "b": 3}


def test_offset_in_the_formula_and_weights_from_a_parquet_folder(extras, tmp_path):
    """``offset(expr)`` in the formula, weights read from a Parquet folder (chunks = row groups
    of 300 rows) and the fitted values of a second pass, which add the offset as lme4's do."""
    data = extras.assign(y=pd.to_numeric(extras["y"].replace(".", np.nan)))
    folder = tmp_path / "folder"
    folder.mkdir()
    for i, start in enumerate(range(0, len(data), 1000)):
        data.iloc[start : start + 1000].to_parquet(
            folder / f"p{i}.parquet", index=False, row_group_size=300
        )
    formula = "y ~ x + offset(0.5 * o) + (1 | a/c)"
    kw = dict(weights="w", offset="0.5 * o", na_values=[-999])
    ref = with_front_door(formula, data, **kw)
    got = with_front_door(formula, str(folder), chunk_rows=250, **kw)
    assert_close_fits(got, ref)
    pred = pd.concat(list(got.predict_chunks(str(folder), chunk_rows=400)))
    kept = pred["fitted"].notna().to_numpy()
    assert kept.sum() == ref.n_obs
    np.testing.assert_allclose(pred["fitted"].to_numpy()[kept], ref.fitted, atol=1e-6)


@pytest.mark.parametrize("variant", ["weights", "offset"])
@pytest.mark.parametrize("reml", [True, False])
def test_weighted_and_offset_sleepstudy_chunks_as_lme4(variant, reml):
    """lme4's weighted (1/(1 + Days)) and offset (2 * Days) sleepstudy fits, from 37-row chunks."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1] / "inference"))
    from refcases import data, model

    v = next(x for x in model("sleepstudy")["variants"] if x["variant_id"] == variant)
    ref = v["fits"]["reml" if reml else "ml"]
    got = with_front_door(
        v["formula"],
        data("sleepstudy").assign(w=lambda d: 1 / (1 + d["Days"])),
        reml=reml,
        weights=None if v["weights"] is None else "w",
        offset=v["offset"],
        chunk_rows=37,
    )
    fe = pd.DataFrame(ref["fixed_effects"])
    np.testing.assert_allclose(got.beta, fe.estimate, rtol=1e-6)
    np.testing.assert_allclose(got.std_errors, fe.std_error, rtol=1e-4)
    assert got.sigma == pytest.approx(ref["sigma"], rel=1e-4)
    assert got.loglik == pytest.approx(ref["loglik"], abs=1e-6)  # with 1/2 sum log w


def test_bad_weights_and_arrays_in_chunks_are_refused(extras):
    formula = EXTRA_FORMULAS["crossed"]
    with pytest.raises(multilevel.DataError, match="weights= is an array.*weights='w'"):
        with_front_door(formula, extras, weights=np.ones(len(extras)), chunk_rows=100)
    with pytest.raises(multilevel.DataError, match="offset= is an array"):
        with_front_door(formula, extras, offset=np.zeros(len(extras)), chunk_rows=100)
    negative = extras.assign(w=extras["w"].where(extras.index != 3500, -1.0))
    for chunk_rows in (None, 100):  # in a late chunk: refused as in memory
        with pytest.raises(multilevel.DataError, match="weights must be positive"):
            with_front_door(
                formula, negative, weights="w", na_values=NA_CODES, chunk_rows=chunk_rows
            )
    with pytest.raises(multilevel.DataError, match="correlation= and variance="):
        with_front_door(formula, extras, correlation=multilevel.AR1("x", "a"), chunk_rows=100)


@pytest.mark.parametrize("column", ["x", "y"])
def test_weighted_chunks_about_a_shift(column):
    """Precision weights and a column 1e9 from zero, from 53-row chunks: shifted before the
    rows are scaled by sqrt(w), the fit equals the one on the unshifted column (before: x was
    dropped as collinear with the intercept)."""
    rng = np.random.default_rng(5)
    g = rng.integers(0, 30, 600)
    x = rng.normal(size=600)
    data = pd.DataFrame(
        {
            "y": 0.5 * x + rng.normal(size=30)[g] + rng.normal(size=600),
            "x": x,
            "g": [f"g{k}" for k in g],
            "w": rng.uniform(0.5, 2.0, 600),
        }
    )
    far = data.assign(**{column: data[column] + 1e9})
    near = far.assign(**{column: far[column] - 1e9})  # the values the far column holds
    want = multilevel.fit("y ~ x + (1 | g)", near, weights="w", chunk_rows=53)
    got = multilevel.fit("y ~ x + (1 | g)", far, weights="w", chunk_rows=53)
    assert got.fixed_names == want.fixed_names == ("(Intercept)", "x")
    assert got.loglik == pytest.approx(want.loglik, rel=1e-10)
    assert got.beta[1] == pytest.approx(want.beta[1], rel=1e-8)
    assert got.std_errors[1] == pytest.approx(want.std_errors[1], rel=1e-8)
    assert got.sigma == pytest.approx(want.sigma, rel=1e-8)
