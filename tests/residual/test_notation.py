"""The level-1 equation shows the residual structure: r_ij ~ N(0, sigma^2 R_j) with R_j."""

from __future__ import annotations

import multilevel
from multilevel.residual.notation import residual_lines
from residual_cases import data


def test_level_equations_show_r_j():
    fit = multilevel.fit(
        "Reaction ~ Days + (Days | Subject)",
        data("sleepstudy"),
        correlation=multilevel.AR1(time="Days"),
        variance=multilevel.VarIdent(by="Days_group"),
        warn=False,
    )
    r = fit.residual_structure
    lines = residual_lines(fit)
    assert lines[0].startswith("r_ij ~ N(0, sigma^2 R_j): R_j AR(1) within Subject")
    assert f"phi = {r.phi:.4g}" in lines[0]
    assert f"late {r.sd_ratios['late']:.4g}" in lines[1]
    eq = multilevel.level_equations(fit)
    assert "Residual structure (level 1):" in eq.to_text()
    assert r"\sigma^2 R_j" in eq.to_latex() and r"\sigma^2 R_j" in eq.to_markdown()
    # the equations themselves still read back (the structure is not part of them)
    text = eq.level_text()
    assert "R_j" not in text
    assert multilevel.parse_levels(text) is not None


def test_no_lines_without_a_structure():
    fit = multilevel.fit("Reaction ~ Days + (1 | Subject)", data("sleepstudy"), warn=False)
    assert residual_lines(fit) == []
    assert "Residual structure" not in multilevel.level_equations(fit).to_text()
