"""APA tables: numbers from the fit, APA formatting, four renderings of the same cells."""

import csv
import io

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import multilevel
from multilevel.report import tables as tb


@pytest.fixture(scope="module")
def fit():
    return multilevel.fit(
        "Reaction ~ Days + (Days | Subject)", multilevel.datasets.sleepstudy(), warn=False
    )


def test_apa_number_formats():
    assert tb.fmt_p(0.0004) == "< .001"
    assert tb.fmt_p(0.0312) == ".031"
    assert tb.fmt_p(0.5) == ".500"
    assert tb.fmt_p(1.0) == "1.000"
    assert tb.fmt_p(float("nan")) == "—"
    assert tb.fmt_r(-0.256) == "-.26" and tb.fmt_r(1.0) == "1.00"
    assert tb.fmt_num(12.345) == "12.35" and tb.fmt_num(3) == "3"
    # two decimals, or more to keep two significant digits; scientific beyond six decimals
    assert tb.fmt_num(0.0001) == "0.00010" and tb.fmt_num(-0.0123) == "-0.012"
    assert tb.fmt_num(1.2e-8) == "1.2e-08" and tb.fmt_num(0.5) == "0.50"
    assert tb.fmt_num(-0.0123, decimals=4) == "-0.0123"


def test_fixed_effects_table_numbers_and_ci(fit):
    t = tb.fixed_effects_table(fit)
    fe = fit.fixed_effects()
    data = t.data.set_index("term")
    np.testing.assert_allclose(data["estimate"], fe["estimate"])
    np.testing.assert_allclose(data["std_error"], fe["std_error"])
    q = stats.t.ppf(0.975, fe["df"])
    np.testing.assert_allclose(data["ci_lower"], fe["estimate"] - q * fe["std_error"])
    np.testing.assert_allclose(data["ci_upper"], fe["estimate"] + q * fe["std_error"])
    row = t.cells()[1]
    assert row[0] == "Days" and row[1] == f"{fe.loc['Days', 'estimate']:.2f}"
    assert row[3] == f"[{data.loc['Days', 'ci_lower']:.2f}, {data.loc['Days', 'ci_upper']:.2f}]"
    assert row[-1] == "< .001"


def test_four_renderings(fit):
    t = tb.fixed_effects_table(fit)
    md = t.to_markdown().splitlines()
    assert md[2] == "| Predictor | b | SE | 95% CI | t | df | p |"
    assert md[3] == "|:--|--:|--:|--:|--:|--:|--:|"
    assert sum(line.startswith("| Days |") for line in md) == 1
    assert md[-1].startswith("*Note.*")
    tex = t.to_latex()
    assert r"\toprule" in tex and r"\bottomrule" in tex and r"95\% CI" in tex
    assert r"\begin{tabular}{lrrrrrr}" in tex and r"$<$ .001" in tex
    html = t.to_html()
    assert html.count("<tr>") == 1 + len(fit.beta) and 'id="table-fixed_effects"' in html
    rows = list(csv.DictReader(io.StringIO(t.to_csv())))
    assert [r["term"] for r in rows] == list(fit.fixed_names)
    assert float(rows[1]["estimate"]) == pytest.approx(fit.beta[1], rel=1e-12)  # full precision


def test_random_effects_table(fit):
    t = tb.random_effects_table(fit)
    T = fit.random_effects[0].covariance
    d = t.data
    assert d["variance"].tolist()[:3] == pytest.approx([T[0, 0], T[1, 1], T[1, 0]])
    assert d["correlation"].iloc[2] == pytest.approx(T[1, 0] / np.sqrt(T[0, 0] * T[1, 1]))
    assert d["variance"].iloc[3] == pytest.approx(fit.sigma**2)
    null = multilevel.fit("mathach ~ 1 + (1 | school)", multilevel.datasets.hsb(), warn=False)
    assert f"ICC = {null.icc['school']:.3f}" in tb.random_effects_table(null).note


def test_latex_escapes_special_characters():
    df = pd.DataFrame({"a": ["x_1 & 50%"]})
    t = tb.ApaTable("t", "T_1", df, (tb.Column("h#", "a", "text", "l"),))
    tex = t.to_latex()
    assert r"x\_1 \& 50\%" in tex and r"h\#" in tex and r"T\_1" in tex


def test_model_comparison_for_fits_and_ladder(fit):
    other = multilevel.fit(
        "Reaction ~ Days + (1 | Subject)", multilevel.datasets.sleepstudy(), warn=False
    )
    t = tb.model_comparison_table([("a", other), ("b", fit)])
    assert t.data["aic"].tolist() == pytest.approx([other.aic, fit.aic])
    assert "χ²" not in t.headers
    ladder_mod = pytest.importorskip("multilevel.ladder")
    ld = ladder_mod.ladder(multilevel.datasets.hsb(), "mathach", "school", ["cses"], ["meanses"])
    t = tb.model_comparison_table(ld)
    assert t.data["model"].tolist() == [s.step for s in ld.steps]
    assert t.data["chisq"].iloc[1:].tolist() == pytest.approx([x.chisq for x in ld.tests])
    assert np.isnan(t.data["chisq"].iloc[0])
    assert "χ²" in t.headers and r"$\chi$$^2$" in t.to_latex()


def test_export_csv(fit, tmp_path):
    paths = tb.export_csv(fit, tmp_path / "out")
    assert sorted(p.name for p in paths) == [
        "data_summary.csv",
        "fixed_effects.csv",
        "random_effects.csv",
    ]
    back = pd.read_csv(tmp_path / "out" / "data_summary.csv")
    assert back.to_dict("records") == [
        {"group": "Subject", "groups": 18, "size_min": 10, "size_median": 10.0, "size_max": 10}
    ]


def test_data_summary_counts_dropped_rows():
    sleep = multilevel.datasets.sleepstudy().copy()
    sleep.loc[[0, 1, 25], "Reaction"] = np.nan
    fit = multilevel.fit("Reaction ~ Days + (1 | Subject)", sleep, warn=False)
    t = tb.data_summary_table(fit)
    assert t.data[["size_min", "size_median", "size_max"]].iloc[0].tolist() == [8, 10, 10]
    assert "177 rows used; 3 of 180 rows dropped for missing values" in t.note
    assert "(missing in Reaction: 3)" in t.note


def test_estimator_comparison_table_is_grouped_by_term():
    from multilevel.compare import compare_estimators

    comp = compare_estimators(
        multilevel.datasets.hsb(),
        "mathach ~ cses + (1 | school)",
        estimators=("ols", "ols_cluster_cr1", "multilevel"),
    )
    t = tb.estimator_comparison_table(comp)
    assert t.data["term"].tolist() == ["(Intercept)"] * 3 + ["cses"] * 3
    merged = t.data.merge(comp.table, on=["estimator", "term"], suffixes=("", "_src"))
    np.testing.assert_allclose(merged["std_error"], merged["std_error_src"])
    assert f"{comp.kish_design_effect:.2f}" in t.note
    assert t.cells()[3][:3] == ["cses", "ols", f"{comp['ols'].estimates[1]:.2f}"]


def test_small_estimates_keep_their_digits():
    """An effect on a fine scale (Days in thousandths): b = 0.01047, SE 0.00080, not 0.01 and
    0.00 as with two decimals."""
    sleep = multilevel.datasets.sleepstudy().assign(ms=lambda d: d["Days"] * 1000)
    fit = multilevel.fit("Reaction ~ ms + (1 | Subject)", sleep, warn=False)
    t = tb.fixed_effects_table(fit)
    row = t.cells()[1]
    b, se = fit.beta[1], np.sqrt(fit.vcov_beta[1, 1])
    assert 0.0001 <= se < 0.001  # so five decimals give two significant digits of the SE
    assert row[1] == f"{b:.5f}" and row[2] == f"{se:.5f}"
    lo, hi = t.data.loc[1, ["ci_lower", "ci_upper"]]
    assert row[3] == f"[{lo:.5f}, {hi:.5f}]"
    assert float(row[1]) != 0 and float(row[2]) != 0


def test_latex_output_escapes_formula_specials(fit):
    """A formula's ~ and | are text in LaTeX (~ is a non-breaking space, | an em dash in OT1)."""
    tex = fit.summary().to_latex()
    assert "Reaction \\textasciitilde{} Days + (Days \\textbar{} Subject)" in tex
    assert " ~ " not in tex
    assert tb.latex_escape("a~b^c$d{e}") == (r"a\textasciitilde{}b\textasciicircum{}c\$d\{e\}")
