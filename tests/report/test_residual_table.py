"""The residual-structure table of a report (correlation= / variance=): nlme's Phi, SD ratios
and power (tests/residual/nlme_reference), in the HTML report, the CSV export and tables_for."""

from __future__ import annotations

import json

import pytest

import multilevel
import residual_cases as rc
from multilevel.report import report_html
from multilevel.report.tables import residual_structure_table, tables_for


def _model(case: str, model_id: str) -> dict:
    models = json.loads((rc.HERE / f"{case}.json").read_text())["models"]
    return next(m for m in models if m["model_id"] == model_id)


def test_varident_sd_ratios_equal_nlme():
    model = _model("orthodont", "orthodont_varident_sex")
    fit = rc.fit_case("orthodont", model, "reml")
    ref = model["fits"]["reml"]["variance_function"]
    table = residual_structure_table(fit)
    assert table is not None
    d = table.data
    assert list(d["parameter"]) == ref["strata"]
    assert d["estimate"].tolist() == pytest.approx(ref["sd_ratios"], abs=3e-3)
    assert d["formula"][0] == "~1 | Sex" and d["structure"][0] == "Different SDs per stratum"


def test_ar1_phi_equals_nlme_and_is_in_the_report():
    model = _model("sleepstudy", "sleepstudy_ar1")
    fit = rc.fit_case("sleepstudy", model, "reml")
    phi = model["fits"]["reml"]["correlation"]["parameters"]["Phi"]
    table = residual_structure_table(fit)
    assert table is not None
    row = table.data.iloc[0]
    assert (row["structure"], row["formula"], row["parameter"]) == (
        "AR(1)",
        "~Days | Subject",
        "Phi",
    )
    assert row["estimate"] == pytest.approx(phi, abs=2e-3)
    html = report_html(fit)
    assert 'id="table-residual_structure"' in html and "Phi" in html
    assert [t.name for t in tables_for(fit)][-1] == "residual_structure"


def test_varpower_shows_the_power_and_no_table_without_a_structure():
    d = multilevel.datasets.sleepstudy()
    fit = multilevel.fit(
        "Reaction ~ Days + (Days | Subject)", d, variance=multilevel.VarPower(), warn=False
    )
    table = residual_structure_table(fit)
    assert table is not None
    assert table.data["parameter"].tolist() == ["power"]
    assert table.data["estimate"][0] == pytest.approx(fit.residual_structure.power)
    assert "nlme's σ" in table.note
    plain = multilevel.fit("Reaction ~ Days + (Days | Subject)", d, warn=False)
    assert residual_structure_table(plain) is None
    assert "residual_structure" not in report_html(plain)
