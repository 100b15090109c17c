"""The tidy comparison table and its plain-text rendering."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from multilevel.compare.protocol import EstimatorResult

COLUMNS = [
    "estimator",
    "term",
    "estimate",
    "std_error",
    "df",
    "ci_lower",
    "ci_upper",
    "p_value",
    "se_ratio",
    "design_effect",
]


def comparison_table(results: Sequence[EstimatorResult], level: float = 0.95) -> pd.DataFrame:
    """One row per (estimator, coefficient).

    ``se_ratio`` = SE / SE of the multilevel model (nan without one); ``design_effect`` =
    (SE / naive OLS SE)^2, the variance inflation relative to treating rows as independent.
    """
    by_name = {r.name: r for r in results}
    base = by_name.get("multilevel")
    naive = by_name.get("ols")
    rows = []
    for r in results:
        ci = r.conf_int(level)
        p = r.p_values()
        for j, term in enumerate(r.coef_names):
            se = r.std_errors[j]
            ml_se = base.std_error(term) if base and term in base.coef_names else np.nan
            ols_se = naive.std_error(term) if naive and term in naive.coef_names else np.nan
            rows.append(
                {
                    "estimator": r.name,
                    "term": term,
                    "estimate": r.estimates[j],
                    "std_error": se,
                    "df": r.df[j],
                    "ci_lower": ci[j, 0],
                    "ci_upper": ci[j, 1],
                    "p_value": p[j],
                    "se_ratio": se / ml_se,
                    "design_effect": (se / ols_se) ** 2,
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS)


def format_table(table: pd.DataFrame) -> str:
    """A fixed-width text table grouped by term; not-estimable entries shown as '--'."""
    lines = []
    header = f"{'estimator':<20} {'estimate':>10} {'SE':>9} {'95% CI':>21} {'SE/ML':>7} {'deff':>7}"
    for term, part in table.groupby("term", sort=False):
        lines.append(f"{term}")
        lines.append(header)
        for _, row in part.iterrows():
            if not np.isfinite(row["estimate"]):
                lines.append(f"{row['estimator']:<20} {'--':>10}   not estimable")
                continue
            ci = f"[{row['ci_lower']:.4f}, {row['ci_upper']:.4f}]"
            lines.append(
                f"{row['estimator']:<20} {row['estimate']:>10.4f} {row['std_error']:>9.4f} "
                f"{ci:>21} {_fmt(row['se_ratio']):>7} {_fmt(row['design_effect']):>7}"
            )
        lines.append("")
    return "\n".join(lines).rstrip()


def _fmt(x: float) -> str:
    return f"{x:.3f}" if np.isfinite(x) else "--"
