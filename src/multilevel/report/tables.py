"""APA-style tables to paste into papers: fixed effects, random effects, model comparison.

Each table is one :class:`ApaTable` (raw numbers plus how to format each column) rendered four
ways from the same cells: Markdown, LaTeX (booktabs), HTML and CSV. CSV keeps the raw numbers at
full precision; the other renderings follow APA style (two decimals, p without a leading zero,
"< .001", 95% CI in brackets, a "Note." line under the table).
"""

from __future__ import annotations

import html
import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats


# ------------------------------------------------------------------ formatting
def fmt_num(x: Any, digits: int = 2) -> str:
    """A number with ``digits`` decimals; '—' for missing; scientific for tiny or huge."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    x = float(x)
    if x != 0 and (abs(x) < 10 ** (-digits) / 2 or abs(x) >= 1e6):
        return f"{x:.{max(digits - 1, 1)}e}"
    return f"{x:.{digits}f}"


def fmt_p(p: Any) -> str:
    """APA p-value: three decimals without the leading zero, '< .001' below that."""
    if p is None or not math.isfinite(float(p)):
        return "—"
    p = float(p)
    if p < 0.001:
        return "< .001"
    return f"{p:.3f}".lstrip("0") if p < 1 else "1.000"


def fmt_r(r: Any) -> str:
    """A correlation: two decimals, no leading zero (bounded by 1)."""
    if r is None or not math.isfinite(float(r)):
        return "—"
    s = f"{float(r):.2f}"
    return s.replace("0.", ".", 1) if abs(float(r)) < 1 else s


FORMATS: dict[str, Callable[[Any], str]] = {
    "text": lambda v: "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v),
    "num": fmt_num,
    "num3": lambda v: fmt_num(v, 3),
    "int": lambda v: "—" if v is None or (isinstance(v, float) and math.isnan(v)) else str(int(v)),
    "size": lambda v: fmt_num(v) if v is None or not math.isfinite(float(v)) else f"{float(v):g}",
    "p": fmt_p,
    "r": fmt_r,
}


@dataclass(frozen=True)
class Column:
    """A displayed column: header and cells made from one or two raw columns."""

    header: str
    key: str
    kind: str = "num"  # text | num | num3 | int | size | p | r | ci (key = "low,high")
    align: str = "r"


@dataclass(frozen=True)
class ApaTable:
    """Raw rows (``data``, exported as CSV) and the formatted columns shown in a paper."""

    name: str  # short name, used for file names: fixed_effects, random_effects, ...
    title: str
    data: pd.DataFrame
    columns: tuple[Column, ...]
    note: str = ""

    def cells(self) -> list[list[str]]:
        out = []
        for _, row in self.data.iterrows():
            cells = []
            for c in self.columns:
                if c.kind == "ci":
                    lo, hi = (row[k] for k in c.key.split(","))
                    ok = all(v is not None and math.isfinite(float(v)) for v in (lo, hi))
                    cells.append(f"[{fmt_num(lo)}, {fmt_num(hi)}]" if ok else "—")
                else:
                    cells.append(FORMATS[c.kind](row[c.key]))
            out.append(cells)
        return out

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]

    def to_markdown(self) -> str:
        def esc(s: str) -> str:
            return s.replace("|", "\\|")

        lines = [
            f"**{self.title}**",
            "",
            "| " + " | ".join(map(esc, self.headers)) + " |",
            "|" + "|".join(":--" if c.align == "l" else "--:" for c in self.columns) + "|",
        ]
        lines += ["| " + " | ".join(map(esc, r)) + " |" for r in self.cells()]
        if self.note:
            lines += ["", f"*Note.* {self.note}"]
        return "\n".join(lines)

    def to_latex(self) -> str:
        align = "".join(c.align for c in self.columns)
        lines = [
            r"\begin{table}[ht]",
            r"\centering",
            rf"\caption{{{latex_escape(self.title)}}}",
            rf"\begin{{tabular}}{{{align}}}",
            r"\toprule",
            " & ".join(latex_escape(h) for h in self.headers) + r" \\",
            r"\midrule",
        ]
        lines += [" & ".join(latex_escape(c) for c in r) + r" \\" for r in self.cells()]
        lines += [r"\bottomrule", r"\end{tabular}"]
        if self.note:
            lines.append(
                rf"\par\smallskip{{\footnotesize\textit{{Note.}} "
                rf"{latex_escape(self.note)}}}"
            )
        lines.append(r"\end{table}")
        return "\n".join(lines)

    def to_html(self) -> str:
        e = html.escape
        out = [
            f'<table class="apa" id="table-{e(self.name)}">',
            f"<caption>{e(self.title)}</caption>",
            "<thead><tr>",
        ]
        out.append("".join(f'<th class="{c.align}">{e(c.header)}</th>' for c in self.columns))
        out.append("</tr></thead><tbody>")
        for r in self.cells():
            out.append(
                "<tr>"
                + "".join(
                    f'<td class="{c.align}">{e(v)}</td>'
                    for c, v in zip(self.columns, r, strict=True)
                )
                + "</tr>"
            )
        out.append("</tbody></table>")
        if self.note:
            out.append(f'<p class="table-note"><em>Note.</em> {e(self.note)}</p>')
        return "\n".join(out)

    def to_csv(self, path: str | Path | None = None) -> str:
        """The raw rows as CSV (full precision); also written to ``path`` if given."""
        buf = io.StringIO()
        self.data.to_csv(buf, index=False, lineterminator="\n")
        if path is not None:
            Path(path).write_text(buf.getvalue(), encoding="utf-8")
        return buf.getvalue()

    def render(self, fmt: str) -> str:
        return {
            "markdown": self.to_markdown,
            "latex": self.to_latex,
            "html": self.to_html,
            "csv": self.to_csv,
        }[fmt]()


def latex_escape(s: str) -> str:
    out = []
    for ch in s:
        out.append(
            {
                "\\": r"\textbackslash{}",
                "_": r"\_",
                "%": r"\%",
                "&": r"\&",
                "#": r"\#",
                "^": r"\^{}",
                "$": r"\$",
                "{": r"\{",
                "}": r"\}",
                "~": r"\~{}",
                "<": r"$<$",
                ">": r"$>$",
                "—": "---",
                "χ": r"$\chi$",
                "²": r"$^2$",
            }.get(ch, ch)
        )
    return "".join(out)


# ------------------------------------------------------------------ the tables
def fixed_effects_table(fit: Any, ddf: str = "satterthwaite", level: float = 0.95) -> ApaTable:
    """b, SE, CI (t-based with the chosen denominator df), t, df, p for each fixed effect."""
    fe = fit.fixed_effects(ddf).reset_index()
    q = stats.t.ppf(0.5 + level / 2, fe["df"].to_numpy())
    fe["ci_lower"] = fe["estimate"] - q * fe["std_error"]
    fe["ci_upper"] = fe["estimate"] + q * fe["std_error"]
    fe = fe[["term", "estimate", "std_error", "ci_lower", "ci_upper", "t_value", "df", "p_value"]]
    pct = f"{100 * level:g}%"
    ddf_name = "Kenward-Roger" if ddf.lower().startswith("k") else "Satterthwaite"
    return ApaTable(
        "fixed_effects",
        f"Fixed effects for {fit.response}",
        fe,
        (
            Column("Predictor", "term", "text", "l"),
            Column("b", "estimate"),
            Column("SE", "std_error"),
            Column(f"{pct} CI", "ci_lower,ci_upper", "ci"),
            Column("t", "t_value"),
            Column("df", "df"),
            Column("p", "p_value", "p"),
        ),
        f"{fit.method} estimates; N = {fit.n_obs}. df and p by {ddf_name}'s method.",
    )


def random_effects_table(fit: Any) -> ApaTable:
    """Variance and SD of each random effect and the residual; correlations between them."""
    vc = fit.varcorr()
    rows = []
    for _, r in vc.iterrows():
        if r["group"] == "Residual":
            rows.append(
                {
                    "group": "Residual",
                    "term": "",
                    "variance": r["vcov"],
                    "sd": r["sdcor"],
                    "correlation": np.nan,
                }
            )
        elif pd.isna(r["var2"]):
            rows.append(
                {
                    "group": r["group"],
                    "term": r["var1"],
                    "variance": r["vcov"],
                    "sd": r["sdcor"],
                    "correlation": np.nan,
                }
            )
        else:
            rows.append(
                {
                    "group": r["group"],
                    "term": f"{r['var1']} with {r['var2']}",
                    "variance": r["vcov"],
                    "sd": np.nan,
                    "correlation": r["sdcor"],
                }
            )
    data = pd.DataFrame(rows, columns=["group", "term", "variance", "sd", "correlation"])
    groups = "; ".join(f"{g}: {k} groups" for g, k in fit.n_groups.items())
    note = f"Rows 'a with b' give the covariance and correlation. {groups}."
    if fit.icc is not None:
        note += " ICC = " + ", ".join(f"{v:.3f} ({g})" for g, v in fit.icc.items()) + "."
    return ApaTable(
        "random_effects",
        f"Random effects for {fit.response}",
        data,
        (
            Column("Group", "group", "text", "l"),
            Column("Effect", "term", "text", "l"),
            Column("Variance", "variance"),
            Column("SD", "sd"),
            Column("r", "correlation", "r"),
        ),
        note,
    )


def model_comparison_table(models: Any) -> ApaTable:
    """Fit statistics per model with the LRT against the previous one (a ladder), or fit
    statistics alone (a list of (label, fit))."""
    if hasattr(models, "steps"):
        pairs = [(s.step, s.fit) for s in models.steps]
        tests = {t.model_full: t for t in models.tests}
    else:
        pairs, tests = [(str(a), f) for a, f in models], {}
    rows = []
    for label, f in pairs:
        t = tests.get(label)
        rows.append(
            {
                "model": label,
                "formula": f.formula,
                "npar": f.n_params,
                "loglik": f.loglik,
                "aic": f.aic,
                "bic": f.bic,
                "chisq": t.chisq if t else np.nan,
                "df": t.df if t else np.nan,
                "p_value": t.p_value if t else np.nan,
                "p_value_mixture": t.p_value_mixture
                if t and t.p_value_mixture is not None
                else np.nan,
            }
        )
    data = pd.DataFrame(rows)
    cols = [
        Column("Model", "model", "text", "l"),
        Column("k", "npar", "int"),
        Column("logLik", "loglik"),
        Column("AIC", "aic"),
        Column("BIC", "bic"),
    ]
    note = "k = number of parameters. "
    if tests:
        cols += [Column("χ²", "chisq"), Column("df", "df", "int"), Column("p", "p_value", "p")]
        if data["p_value_mixture"].notna().any():
            cols.append(Column("p (boundary)", "p_value_mixture", "p"))
            note += (
                "p (boundary): 50:50 chi-square mixture p-value for tests of a variance "
                "on the boundary of its parameter space. "
            )
        fits_used = {t.fits_used for t in tests.values()}
        note += (
            "χ² tests each model against the one above it, using "
            + ", ".join(sorted(fits_used))
            + " fits."
        )
    return ApaTable("model_comparison", "Model comparison", data, tuple(cols), note.strip())


def data_summary_table(fit: Any) -> ApaTable:
    """Groups per grouping factor and their sizes (min, median, max)."""
    rows: list[dict[str, Any]] = []
    for factor, sizes in fit.group_sizes().items():
        rows.append(
            {
                "group": factor,
                "groups": len(sizes),
                "size_min": int(sizes.min()),
                "size_median": float(np.median(sizes)),
                "size_max": int(sizes.max()),
            }
        )
    data = pd.DataFrame(rows)
    note = f"{fit.n_obs} rows used"
    note += (
        f"; {fit.n_dropped} dropped for missing values." if fit.n_dropped else "; no rows dropped."
    )
    return ApaTable(
        "data_summary",
        "Data summary",
        data,
        (
            Column("Grouping factor", "group", "text", "l"),
            Column("Groups", "groups", "int"),
            Column("Smallest", "size_min", "int"),
            Column("Median size", "size_median", "size"),
            Column("Largest", "size_max", "int"),
        ),
        note,
    )


def estimator_comparison_table(comparison: Any) -> ApaTable:
    """The estimator comparison: estimate, SE, CI, p, SE ratio and design effect per row."""
    data = comparison.table.copy()
    order = {t: i for i, t in enumerate(dict.fromkeys(data["term"]))}
    data = data.sort_values("term", key=lambda c: c.map(order), kind="stable")  # term-major
    pct = f"{100 * comparison.level:g}%"
    note = (
        "SE ratio = SE / multilevel SE; deff = (SE / naive OLS SE)², the variance "
        "inflation relative to treating rows as independent."
    )
    if comparison.kish_design_effect is not None:
        deff = comparison.kish_design_effect
        note += f" Kish design effect 1 + (mean cluster size - 1) ICC = {deff:.2f}."
    return ApaTable(
        "estimator_comparison",
        f"Estimators compared: {comparison.formula}",
        data,
        (
            Column("Term", "term", "text", "l"),
            Column("Estimator", "estimator", "text", "l"),
            Column("b", "estimate"),
            Column("SE", "std_error"),
            Column(f"{pct} CI", "ci_lower,ci_upper", "ci"),
            Column("p", "p_value", "p"),
            Column("SE ratio", "se_ratio"),
            Column("deff", "design_effect"),
        ),
        note,
    )


def tables_for(obj: Any) -> list[ApaTable]:
    """Every table for a fit, a ladder (the last step's fit in detail) or a comparison."""
    if hasattr(obj, "results") and hasattr(obj, "table"):
        return [estimator_comparison_table(obj)]
    if hasattr(obj, "steps"):
        last = obj.steps[-1].fit
        out = [data_summary_table(last), model_comparison_table(obj)]
        for s in obj.steps:
            fe, re = fixed_effects_table(s.fit), random_effects_table(s.fit)
            out += [_renamed(fe, s.step), _renamed(re, s.step)]
        return out
    return [data_summary_table(obj), fixed_effects_table(obj), random_effects_table(obj)]


def _renamed(t: ApaTable, step: str) -> ApaTable:
    return ApaTable(
        f"{step}_{t.name}", f"{t.title}: {step.replace('_', ' ')}", t.data, t.columns, t.note
    )


def export_csv(obj: Any, directory: str | Path) -> list[Path]:
    """Write every table of ``obj`` as ``<directory>/<name>.csv``; return the paths."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    paths = []
    for t in tables_for(obj):
        p = d / f"{t.name}.csv"
        t.to_csv(p)
        paths.append(p)
    return paths
