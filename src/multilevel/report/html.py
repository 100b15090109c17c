"""One self-contained HTML report for a fit, a ladder or an estimator comparison.

Everything is inline: CSS in a <style> element, figures as base64 PNG data URIs, no scripts. A
Content-Security-Policy forbids any network access, so the file opens the same offline, in an
e-mail attachment or years later. Sections: data summary, the model (formula, level and
reduced-form equations when :mod:`multilevel.levels` is available), tables, plots, likelihood-
ratio tests (ladder) and plain-language notes (ICC, convergence, singular fits, dropped rows).
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from multilevel.errors import MultilevelError
from multilevel.report import tables as tb

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;max-width:1100px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;border-bottom:2px solid #345;padding-bottom:.2em}
h2{font-size:1.25em;margin-top:1.8em;color:#234;border-bottom:1px solid #ccd}
h3{font-size:1.05em;color:#345}
pre{background:#f5f6f8;border:1px solid #dde;padding:.8em;overflow-x:auto;font-size:.85em}
table.apa{border-collapse:collapse;margin:1em 0 .3em;font-size:.9em}
table.apa caption{text-align:left;font-style:italic;padding-bottom:.4em}
table.apa thead th{border-top:2px solid #222;border-bottom:1px solid #222;padding:.3em .7em}
table.apa tbody tr:last-child td{border-bottom:2px solid #222}
table.apa td{padding:.2em .7em}
.l{text-align:left}.r{text-align:right}
.table-note{font-size:.85em;margin-top:0}
figure{margin:1.2em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.88em;color:#444}
.notes li{margin:.35em 0}.warn{color:#8a3b00}
.meta{color:#666;font-size:.85em}
details{margin:.6em 0}summary{cursor:pointer;font-weight:600}
math{font-size:1.05em}.equations{margin:.6em 0 1em}.equations div{margin:.25em 0}
@media print{body{max-width:none;margin:0;font-size:10.5pt}
h2{break-after:avoid;page-break-after:avoid}
figure,table.apa,.equations{break-inside:avoid;page-break-inside:avoid}
figure img{max-width:100%;border:none}pre{white-space:pre-wrap}
summary{list-style:none}summary::-webkit-details-marker{display:none}}
"""


# ------------------------------------------------------------------ building blocks
def figure_data_uri(fig: Any, dpi: int = 96) -> str:
    """A matplotlib Figure as a ``data:image/png;base64,...`` URI."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _figure(fig: Any, alt: str, caption: str, fid: str) -> str:
    e = html.escape
    return (
        f'<figure id="fig-{e(fid)}"><img src="{figure_data_uri(fig)}" alt="{e(alt)}">'
        f"<figcaption>{e(caption)}</figcaption></figure>"
    )


def _section(sid: str, title: str, body: list[str]) -> str:
    return (
        f'<section id="{sid}">\n<h2>{html.escape(title)}</h2>\n' + "\n".join(body) + "\n</section>"
    )


def _page(title: str, sections: list[str]) -> str:
    e = html.escape
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    from multilevel import __version__ as version

    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="generator" content="multilevel">',
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{e(title)}</title>",
            f"<style>{CSS}</style>",
            "</head>",
            "<body>",
            f"<h1>{e(title)}</h1>",
            f'<p class="meta">Made by multilevel {e(str(version))} on {stamp}.</p>',
            *sections,
            "</body>",
            "</html>",
            "",
        ]
    )


def _plots(fit: Any, kinds: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """Figures for a fit (each kind that applies) and the reasons for those skipped."""
    from multilevel import plots

    captions = {
        "caterpillar": "Each group's conditional mode (its estimated deviation from the "
        "average) with a 95% interval, sorted. Red: interval excludes 0.",
        "spaghetti": "One regression line per group over the data; the thick black line is "
        "the population (fixed-effects) line.",
        "shrinkage": "Each group's own OLS estimate joined to its multilevel estimate (BLUP): "
        "small and noisy groups are pulled furthest toward the population value.",
        "residuals": "Residual checks: points near the red line in the QQ plots mean roughly "
        "normal residuals; residuals vs fitted should show no pattern.",
        "variance": "How the variance of the outcome splits into a part explained by the "
        "predictors, a between-group part and a within-group part.",
    }
    out, skipped = [], []
    for kind in kinds:
        try:
            fig = plots.KINDS[kind](fit)
        except MultilevelError as exc:
            skipped.append(f"{kind} plot not drawn: {exc}")
            continue
        except Exception as exc:  # noqa: BLE001 - one failed figure must not lose the report
            skipped.append(f"{kind} plot not drawn ({type(exc).__name__}): {exc}")
            continue
        out.append(_figure(fig, f"{kind} plot", captions[kind], kind))
    return out, skipped


def _residual_table(fit: Any) -> list[str]:
    """The residual-structure table of a fit with correlation= / variance= (else nothing)."""
    table = tb.residual_structure_table(fit)
    return [] if table is None else [table.to_html()]


def _equations(fit: Any) -> str:
    """Level and reduced-form equations typeset in MathML (no script, no network), or a short
    reason why not."""
    try:
        from multilevel.levels import level_equations
    except ImportError:
        return ""
    try:
        return level_equations(fit).to_mathml()
    except Exception as exc:  # noqa: BLE001 - the report must not fail on an optional section
        why = html.escape(str(exc))
        return f'<p class="meta">Level equations not available for this model ({why}).</p>'


# ------------------------------------------------------------------ plain-language notes
def fit_notes(fit: Any, method: bool = True) -> list[str]:
    """Notes a student understands: ICC, singular fit, convergence, dropped rows, small groups;
    for a GLMM (``method``) how it was fitted and what replaces sigma^2."""
    from multilevel.plots.variance import variance_parts

    notes = []
    g = fit.random_effects[0].grouping_factor
    glmm = fit.is_glmm
    latent = " (on the latent scale)" if glmm else ""
    if glmm and method:
        from multilevel.levels.render import level1_variance_note

        notes.append(
            f"A {fit.family.name} GLMM ({fit.link} link) fitted by maximum likelihood "
            f"({fit.integration}); GLMMs have no REML. Coefficients are on the {fit.link} "
            f"scale, tested by Wald z as in glmer's summary; {level1_variance_note(fit)}."
        )
    if fit.icc is not None:
        for grp, v in fit.icc.items():
            notes.insert(
                0,
                f"ICC = {v:.3f}{latent}: {100 * v:.1f}% of the variance in {fit.response} lies "
                f"between the {grp} groups and {100 * (1 - v):.1f}% within them. Two "
                f"observations from the same {grp} are correlated about {v:.2f}; this is why "
                "their rows cannot be treated as independent.",
            )
    else:
        try:
            parts = variance_parts(fit)
        except MultilevelError:  # a Poisson GLMM with predictors: needs its null model
            parts = None
        if parts is not None:
            cond = parts["between"] / (parts["between"] + parts["within"])
            notes.insert(
                0,
                f"Conditional ICC = {cond:.3f}{latent}: after accounting for the predictors, "
                f"{100 * cond:.1f}% of the remaining (unexplained) variance in {fit.response} "
                f"lies between the {g} groups." + _null_icc(fit),
            )
    if fit.is_singular:
        zero = [
            vc.group
            + ": "
            + ", ".join(
                t
                for t, v in zip(vc.terms, vc.variances, strict=True)
                if v < 1e-6 * max(fit.sigma**2, 1e-300)
            )
            for vc in fit.random_effects
        ]
        which = "; ".join(z for z in zero if not z.endswith(": ")) or "a random effect"
        notes.append(
            "Singular fit: the model estimated a variance as (nearly) zero or a correlation as "
            f"+/-1 ({which}). The data cannot tell that part of the random effects apart from "
            "noise. The other estimates are still usable, but a simpler model without that "
            "random effect fits just as well and is easier to interpret."
        )
    if not fit.converged:
        notes.append(
            "The optimizer did not confirm that it found the best estimates (it did not "
            "converge). Treat the numbers with caution: centring or rescaling the predictors, or "
            "a simpler random part, usually fixes this."
        )
    if fit.n_dropped:
        by = getattr(fit, "dropped_by", None) or getattr(fit.design.frame, "dropped_by", None)
        detail = ", ".join(f"{k}: {v}" for k, v in by.items()) if by else ""
        notes.append(
            f"{fit.n_dropped} rows had missing values in the model's variables and were "
            f"left out" + (f" ({detail})." if detail else ".")
        )
    for name, k in fit.n_groups.items():
        if k < 10:
            notes.append(
                f"Only {k} {name} groups: between-group variances are estimated "
                "imprecisely from so few groups."
            )
    sizes = fit.group_sizes()
    for t in fit.layout.terms:
        singles = int(np.sum(sizes[t.grouping_factor] == 1))
        if singles and t.q > 1:
            notes.append(
                f"{singles} {t.grouping_factor} groups have a single row: they inform "
                "the intercepts but not the random slopes."
            )
    notes += [
        f"Message from the fit: {w}"
        for w in fit.warnings
        if not w.startswith("boundary (singular)")
    ]
    return notes


def _null_icc(fit: Any) -> str:
    """The unconditional ICC from the null model refitted on the same rows ('' if not simple)."""
    from multilevel.api import fit as fit_model

    if not getattr(fit, "has_rows", True):  # a fit from chunks: no rows to refit
        return ""
    glmm = {"family": fit.family, "nagq": fit.nagq} if fit.is_glmm else {}
    if len(fit.design.terms) != 1 or fit.design.terms[0].term_names[0] != "(Intercept)":
        return " The unconditional ICC comes from the null model (random-effects ANOVA)."
    g = fit.design.terms[0].grouping_factor
    try:
        null = fit_model(
            f"{fit.response} ~ 1 + (1 | {g})",
            fit.design.frame.data,
            reml=fit.reml,
            warn=False,
            **glmm,
        )
    except Exception:  # noqa: BLE001 - an optional note must not break the report
        return ""
    if null.icc is None:
        return ""
    v = next(iter(null.icc.values()))
    return (
        f" Without predictors (the null model, same rows) the ICC = {v:.3f}: {100 * v:.1f}% "
        f"of the variance in {fit.response} lies between the {g} groups; two observations "
        f"from the same {g} are correlated about {v:.2f}."
    )


def ladder_notes(ld: Any) -> list[str]:
    """The ICC of the null model, each LRT in words, and variance explained at each level."""
    null = ld.steps[0]
    notes = fit_notes(null.fit)[:1] + list(ld.notes)
    if ld.n_dropped:
        by = ", ".join(f"{c}: {k}" for c, k in ld.dropped_by.items())
        notes.append(
            f"{ld.n_dropped} rows had missing values in the ladder's variables ({by}) and were "
            "left out of every model."
        )
    words = {
        "random_intercept": "adding the level-1 predictors",
        "intercepts_as_outcomes": "adding the level-2 predictors",
        "random_slopes": "letting the level-1 slopes vary between groups",
        "slopes_as_outcomes": "adding cross-level interactions (level-2 predictors of the slopes)",
    }
    for t in ld.tests:
        p = t.p_value_mixture if t.p_value_mixture is not None else t.p_value
        verdict = (
            "improved the fit significantly"
            if p < 0.05
            else "did not improve the fit significantly"
        )
        notes.append(
            f"{words.get(t.model_full, t.model_full).capitalize()} "
            f"({t.model_reduced} -> {t.model_full}) {verdict}: chi-square({t.df}) = "
            f"{t.chisq:.2f}, p {_p_words(p)}"
            + (
                " (50:50 chi-square mixture, because a variance cannot be below 0)."
                if t.p_value_mixture is not None
                else "."
            )
        )
    for s in ld.steps[1:]:
        ve = s.variance_explained
        l1, l2 = ve.get("level1", math.nan), ve.get("level2", math.nan)
        if math.isfinite(l1) and math.isfinite(l2):
            notes.append(
                f"{s.step.replace('_', ' ')}: the predictors explain {100 * l1:.1f}% of "
                f"the within-group (level-1) and {100 * l2:.1f}% of the between-group "
                "(level-2) variance of the null model."
                + (
                    " A negative share means that variance grew when the predictors "
                    "were added; this happens, e.g., when a level-1 predictor differs "
                    "in its mean between groups."
                    if min(l1, l2) < 0
                    else ""
                )
            )
    for s in ld.steps:
        for n in fit_notes(s.fit, method=False)[1:]:
            notes.append(f"{s.step.replace('_', ' ')}: {n}")
    return notes


def _p_words(p: float) -> str:
    return "< .001" if p < 0.001 else f"= {tb.fmt_p(p)}"


def _notes_html(notes: list[str]) -> str:
    e = html.escape
    warn = ("Singular", "The optimizer")
    items = "".join(
        f'<li class="{"warn" if n.startswith(warn) else ""}">{e(n)}</li>' for n in notes
    )
    return f'<ul class="notes">{items}</ul>'


# ------------------------------------------------------------------ the three reports
def fit_report(fit: Any, title: str | None = None, notes: Sequence[str] = ()) -> str:
    """Report for one fit; ``notes`` are added to the plain-language notes."""
    e = html.escape
    summary = tb.data_summary_table(fit)
    model = [f"<p>Formula: <code>{e(fit.formula)}</code> ({fit.method})</p>", _equations(fit)]
    figs, skipped = _plots(fit, ("caterpillar", "spaghetti", "shrinkage", "residuals", "variance"))
    sections = [
        _section("data", "Data", [summary.to_html()]),
        _section("model", "Model", model),
        _section(
            "tables",
            "Tables",
            [tb.fixed_effects_table(fit).to_html(), tb.random_effects_table(fit).to_html()]
            + _residual_table(fit),
        ),
        _section("plots", "Plots", figs + [f'<p class="meta">{e(s)}</p>' for s in skipped]),
        _section("notes", "Notes", [_notes_html(fit_notes(fit) + list(notes))]),
    ]
    return _page(title or f"Multilevel model for {fit.response}", sections)


def ladder_report(ld: Any, title: str | None = None, notes: Sequence[str] = ()) -> str:
    """Report for a ladder: comparison and LRTs, variance partition, each step, last-step plots."""
    from multilevel.plots.variance import variance_partition_plot

    e = html.escape
    last = ld.steps[-1].fit
    steps = []
    for s in ld.steps:
        steps.append(  # every model open: a printout shows them all
            f"<details open><summary>"
            f"{e(s.step.replace('_', ' '))}: <code>{e(s.fit.formula)}</code></summary>"
            + _equations(s.fit)
            + tb.fixed_effects_table(s.fit).to_html()
            + tb.random_effects_table(s.fit).to_html()
            + "".join(_residual_table(s.fit))
            + "</details>"
        )
    figs, skipped = _plots(last, ("caterpillar", "spaghetti", "shrinkage", "residuals"))
    variance = _figure(
        variance_partition_plot(ld),
        "variance partition plot",
        "Variance of the outcome at each step: explained by predictors, between "
        "groups and within groups. The null model's between share is the ICC.",
        "variance",
    )
    sections = [
        _section(
            "data",
            "Data",
            [
                tb.data_summary_table(last, ld.n_dropped, ld.dropped_by).to_html(),
                '<p class="meta">Rows with a missing value in any variable of '
                "the ladder are left out before fitting, so that every model "
                "uses the same rows.</p>",
            ],
        ),
        _section(
            "lrt",
            "Model comparison and likelihood-ratio tests",
            [
                tb.model_comparison_table(ld).to_html(),
                tb.step_summary_table(ld).to_html(),
                tb.estimates_table(ld).to_html(),
            ],
        ),
        _section("model", "Models", steps),
        _section(
            "plots",
            "Plots",
            [variance, f"<h3>Last model: {e(ld.steps[-1].step.replace('_', ' '))}</h3>"]
            + figs
            + [f'<p class="meta">{e(s)}</p>' for s in skipped],
        ),
        _section("notes", "Notes", [_notes_html(ladder_notes(ld) + list(notes))]),
    ]
    return _page(title or f"Model ladder for {ld.outcome} in {ld.group}", sections)


def comparison_report(comp: Any, title: str | None = None, notes: Sequence[str] = ()) -> str:
    """Report for an estimator comparison: the table, the forest plot and what it means."""
    from multilevel.compare.plot import forest_plot

    e = html.escape
    data = f"<p>{comp.n_obs} rows in {comp.n_clusters} clusters ({e(comp.cluster)}).</p>"
    extra, notes = list(notes), []
    if comp.kish_design_effect is not None:
        notes.append(
            f"Kish design effect = {comp.kish_design_effect:.2f}: clustering makes the sampling "
            f"variance of a mean about {comp.kish_design_effect:.2f} times what it would be if "
            "the rows were independent, so naive OLS standard errors of level-2 predictors are "
            "too small. It uses the ICC of this model given its predictors; the null model's "
            "ICC (multilevel icc) gives a different design effect when the predictors explain "
            "between-cluster variance."
        )
    notes += list(getattr(comp, "explanation", ()))
    notes += [f"{r.name}: {n}" for r in comp.results for n in r.notes] + extra
    sections = [
        _section("data", "Data", [data]),
        _section("model", "Model", [f"<p>Mean model: <code>{e(comp.formula)}</code></p>"]),
        _section("tables", "Tables", [tb.estimator_comparison_table(comp).to_html()]),
        _section(
            "plots",
            "Plots",
            [
                _figure(
                    forest_plot(comp),
                    "forest plot",
                    "Each estimator's estimate and confidence interval; "
                    "the multilevel model in red.",
                    "forest",
                )
            ],
        ),
        _section("notes", "Notes", [_notes_html(notes)]),
    ]
    return _page(title or f"Estimators compared: {comp.formula}", sections)


def report_html(obj: Any, title: str | None = None, notes: Sequence[str] = ()) -> str:
    """The report for a fit, a ladder or a comparison, as one HTML string; ``notes`` (e.g.
    warnings met while fitting) are added to its plain-language notes."""
    if hasattr(obj, "steps") and hasattr(obj, "tests"):
        return ladder_report(obj, title, notes)
    if hasattr(obj, "results") and hasattr(obj, "table"):
        return comparison_report(obj, title, notes)
    return fit_report(obj, title, notes)


def write_report(
    obj: Any, path: str | Path, title: str | None = None, notes: Sequence[str] = ()
) -> Path:
    """Write :func:`report_html` of ``obj`` to ``path`` (UTF-8, atomically: a temporary file
    renamed over ``path``) and return the path."""
    from multilevel.report.files import atomic_write

    return atomic_write(path, report_html(obj, title, notes))
