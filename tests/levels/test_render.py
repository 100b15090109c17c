"""Fitted models as level equations: the round trip on every reference model, and the three
renderings (text, Markdown, LaTeX)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import multilevel
from multilevel.levels import center, level_equations, level_text, parse_levels

REF = Path(__file__).resolve().parents[1] / "reference"
CASES = ["hsb", "sleepstudy", "exam", "pastes"]
MODELS = [(c, m) for c in CASES for m in json.loads((REF / f"{c}.json").read_text())["models"]]


@pytest.mark.parametrize("method", ["reml", "ml"])
@pytest.mark.parametrize(("case", "model"), MODELS, ids=[m["model_id"] for _, m in MODELS])
def test_round_trip_formula_fit_levels_formula_fit(case, model, method):
    data = multilevel.datasets.load(case)
    fit = multilevel.fit(model["formula"], data, reml=method == "reml")
    text = level_text(fit)
    again = multilevel.fit(parse_levels(text).formula, data, reml=method == "reml")
    assert abs(again.loglik - fit.loglik) < 1e-8
    assert abs(again.loglik - model["fits"][method]["loglik"]) < 1e-5
    assert set(again.fixed_names) == set(fit.fixed_names)
    assert parse_levels(level_equations(fit).to_text()).formula == parse_levels(text).formula


@pytest.fixture(scope="module")
def hsb_d():
    return multilevel.fit(
        "mathach ~ cses * meanses + cses * catholic + (1 + cses | school)",
        multilevel.datasets.hsb(),
    )


def test_text_shows_the_lecture_equations(hsb_d):
    text = level_equations(hsb_d).to_text()
    assert text.startswith(
        "Level 1: mathach = beta0j + beta1j*cses + r_ij\n"
        "Level 2: beta0j = gamma00 + gamma01*meanses + gamma02*catholic + u0j\n"
        "         beta1j = gamma10 + gamma11*meanses + gamma12*catholic + u1j\n"
        "Groups: school\n"
    )
    assert (
        "mathach_ij = gamma00 + gamma10*cses_ij + gamma01*meanses_j + gamma02*catholic_j"
        " + gamma11*cses_ij*meanses_j + gamma12*cses_ij*catholic_j    (fixed)"
    ) in text
    assert "+ u0j + u1j*cses_ij + r_ij    (random)" in text
    b = dict(zip(hsb_d.fixed_names, hsb_d.beta, strict=True))
    assert f"mathach_ij = {b['(Intercept)']:.4g} + {b['cses']:.4g}*cses_ij" in text
    assert f"- {abs(b['cses:catholic']):.4g}*cses_ij*catholic_j" in text
    assert "tau00      Var(u0j)" in text and "sigma^2    Var(r_ij)" in text


def test_markdown_and_latex(hsb_d):
    md = level_equations(hsb_d).to_markdown()
    assert r"**Level 2:** $\beta_{0j} = \gamma_{00} + \gamma_{01}\,\mathrm{meanses}_{j}" in md
    assert r"\underbrace{u_{0j} + u_{1j}\,\mathrm{cses}_{ij} + r_{ij}}_{\text{random}}" in md
    assert r"| $\gamma_{11}$ | cses:meanses |" in md
    assert r"| $\tau_{01}$ | Cov(u0j, u1j) |" in md
    tex = level_equations(hsb_d).to_latex()
    assert tex.startswith(r"\begin{align*}") and tex.endswith(r"\end{align*}")
    assert r"\underbrace{\gamma_{00}" in tex and r"_{\text{fixed}}" in tex
    assert tex.count(r"\\") == 5  # line breaks after 3 level equations, 2 reduced forms


def test_uncorrelated_and_three_level_text():
    hsb = multilevel.datasets.hsb()
    fit = multilevel.fit("mathach ~ cses + (1 + cses || school)", hsb)
    assert level_text(fit).endswith("Constraints: cov(u0j, u1j) = 0")
    pastes = multilevel.fit("strength ~ 1 + (1 | batch/cask)", multilevel.datasets.pastes())
    assert level_text(pastes) == (
        "Level 1: strength = pi0jk + e_ijk\nLevel 2: pi0jk = beta00k + r0jk\n"
        "Level 3: beta00k = gamma000 + u00k\nGroups: batch/cask"
    )
    md = level_equations(pastes).to_markdown()
    assert r"$\tau_{\pi}{}_{00}$" in md and r"$\tau_{\beta}{}_{00}$" in md


def test_reduced_form_says_which_centering_was_used():
    hsb = center(multilevel.datasets.hsb().drop(columns=["cses", "meanses"]), "ses", "school")
    fit = multilevel.fit("mathach ~ ses + ses_mean + (1 + ses | school)", hsb)
    text = level_equations(fit).to_text()
    assert "Centering:\n  ses is group-mean centred within school" in text
    assert "ses_mean is the school mean of ses" in text
    assert "Level 2: beta0j = gamma00 + gamma01*ses_mean + u0j" in text
    md = level_equations(fit, centering=("ses: group-mean centred",)).to_markdown()
    assert "> Centering: ses: group-mean centred" in md


# ---------------------------------------------------------------------- GLMMs: the link on the left
def test_glmm_level_equations_have_the_link_and_lme4s_estimates():
    from glmmref import fitted, reference, tight

    model = reference("cbpp")["models"][0]
    fit = fitted("cbpp", model["formula"], 1)
    eq = fit.level_equations(digits=8)  # one renderer (levels/) for every fit
    assert isinstance(eq, type(level_equations(fit)))
    text = eq.to_text()
    # a cbind(successes, failures) outcome: the logit of the probability, no r_ij
    assert text.startswith("Level 1: logit(p_ij) = beta0j + beta1j*factor(period)2")
    assert "r_ij" not in text
    assert "Level 2: beta0j = gamma00 + u0j" in text
    assert "no sigma^2: the binomial family fixes the level-1 variance" in text
    exact = tight()["cbpp_period"]  # lme4 with an exact PIRLS
    gammas = {
        line.split()[1]: float(line.split()[2])
        for line in text.split("Fixed effects:\n")[1].split("\n\n")[0].splitlines()
    }
    for name, beta, se in zip(exact["names"], exact["beta"], exact["std_error"], strict=True):
        assert gammas[name] == pytest.approx(beta, abs=1e-4 * se)
    taus = {t.symbol: t.value for t in eq.notation.taus}
    assert set(taus) == {"tau00"}  # no sigma^2 among the variance components
    assert taus["tau00"] == pytest.approx(exact["variances"], rel=3e-3)


def test_poisson_level_equations_use_the_log_of_the_mean():
    from glmmref import fitted, reference

    model = reference("grouseticks")["models"][2]
    fit = fitted("grouseticks", model["formula"], 1)
    text = fit.level_equations().level_text()
    assert text.startswith("Level 1: log(E(TICKS)) = beta0j")
    assert "Groups: BROOD" in text
    ref = model["fits"]["laplace"]["random_effects"][0]["variances"][0]
    assert fit.level_equations().notation.taus[0].value == pytest.approx(ref, rel=3e-3)
