"""The result of a power analysis: one row per design point, the power curve, and the smallest
design that reaches a target power."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from multilevel.errors import MultilevelError


def _plain(v: Any) -> Any:
    """numpy scalars as Python numbers (for JSON)."""
    return v.item() if hasattr(v, "item") else v


def wilson_interval(successes: int, trials: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval for a binomial proportion (NaN for no trials).

    With z the normal quantile and p = successes / trials:
    (p + z^2/2n +- z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n).
    """
    if trials <= 0:
        return float("nan"), float("nan")
    z = float(stats.norm.isf((1 - level) / 2))
    p = successes / trials
    denom = 1 + z**2 / trials
    centre = (p + z**2 / (2 * trials)) / denom
    half = z * np.sqrt(p * (1 - p) / trials + z**2 / (4 * trials**2)) / denom
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


@dataclass(frozen=True, eq=False)
class PowerResult:
    """Power at each design point, from ``nsim`` simulated data sets each.

    ``p_values`` holds every simulation's p-value (NaN where the refit failed), one array per
    design point; ``points`` the design of each point (the values of ``along``).
    """

    test: str
    method: str
    alpha: float
    nsim: int
    along: tuple[str, ...]
    points: tuple[dict[str, int], ...]
    n_obs: tuple[int, ...]
    p_values: tuple[np.ndarray, ...]
    failed: tuple[np.ndarray, ...]
    singular: tuple[np.ndarray, ...]
    seed: Any
    seconds: float

    def table(self, level: float = 0.95) -> pd.DataFrame:
        """One row per design point: its size, ``power`` (rejections among the refits that did
        not fail), its Wilson interval ``ci_lower``/``ci_upper``, ``n_sim``, ``n_failed``,
        ``n_singular``."""
        rows = []
        for point, n, p, f, s in zip(
            self.points, self.n_obs, self.p_values, self.failed, self.singular, strict=True
        ):
            ok = ~f
            k = int(np.sum(p[ok] < self.alpha))
            m = int(ok.sum())
            lo, hi = wilson_interval(k, m, level)
            rows.append(
                {
                    **point,
                    "n_obs": n,
                    "power": k / m if m else float("nan"),
                    "ci_lower": lo,
                    "ci_upper": hi,
                    "n_sim": len(p),
                    "n_failed": int(f.sum()),
                    "n_singular": int(s.sum()),
                }
            )
        return pd.DataFrame(rows)

    def smallest(self, target: float = 0.8) -> pd.Series | None:
        """The design point with the fewest observations (then fewest groups) whose power
        reaches ``target``; None if none does."""
        if not 0 < target < 1:
            raise MultilevelError(f"target power must be between 0 and 1, got {target}")
        t = self.table()
        ok = t[t["power"] >= target]
        if ok.empty:
            return None
        keys = ["n_obs", *[c for c in ("n_groups",) if c in ok.columns]]
        return ok.sort_values(keys, kind="stable").iloc[0]

    def to_text(self) -> str:
        head = (
            f"Power for {self.test} ({self.method}, alpha = {self.alpha}), {self.nsim} "
            f"simulations per design, {self.seconds:.1f} s"
        )
        return head + "\n" + self.table().to_string(index=False, float_format=lambda v: f"{v:.3f}")

    def __str__(self) -> str:
        return self.to_text()

    def apa_table(self) -> Any:
        """The table as the reports render it (Markdown, LaTeX, HTML, CSV)."""
        from multilevel.report.tables import ApaTable, Column

        t = self.table()
        sizes = [Column(name, name, "int") for name in t.columns[: t.columns.get_loc("n_obs")]]
        return ApaTable(
            "power",
            f"Power for {self.test} ({self.method}, alpha = {self.alpha})",
            t,
            (
                *sizes,
                Column("N", "n_obs", "int"),
                Column("Power", "power", "num3"),
                Column("95% CI", "ci_lower,ci_upper", "ci"),
                Column("Simulations", "n_sim", "int"),
                Column("Failed", "n_failed", "int"),
                Column("Singular", "n_singular", "int"),
            ),
            f"{self.nsim} simulated data sets per design; Wilson intervals; failed refits are "
            "left out of the power, singular refits kept.",
        )

    def to_markdown(self) -> str:
        return str(self.apa_table().to_markdown())

    def to_latex(self) -> str:
        return str(self.apa_table().to_latex())

    def to_html(self) -> str:
        return str(self.apa_table().to_html())

    def to_csv(self) -> str:
        return str(self.apa_table().to_csv())

    def to_dict(self) -> dict[str, Any]:
        rows = self.table().to_dict(orient="records")
        return {
            "test": self.test,
            "method": self.method,
            "alpha": self.alpha,
            "nsim": self.nsim,
            "along": list(self.along),
            "seed": self.seed if isinstance(self.seed, int) else str(self.seed),
            "seconds": self.seconds,
            "designs": [{k: _plain(v) for k, v in r.items()} for r in rows],
        }

    def plot(self, target: float | None = 0.8, ax: Any = None) -> Any:
        """The power curve (with its Wilson band) along the first ``along`` dimension, one line
        per value of the second; returns the matplotlib Figure."""
        if ax is None:
            from multilevel.plots._common import new_figure

            fig = new_figure(6.5, 4.2)
            ax = fig.add_subplot(1, 1, 1)
        else:
            fig = ax.figure
        t = self.table()
        x = self.along[0] if self.along else None
        if x is None:
            t = t.assign(design="pilot")
            x = "design"
        series = [(None, t)] if len(self.along) < 2 else list(t.groupby(self.along[1]))
        for key, part in series:
            label = None if key is None else f"{self.along[1]} = {key}"
            ax.plot(part[x], part["power"], "o-", label=label)
            ax.fill_between(part[x], part["ci_lower"], part["ci_upper"], alpha=0.2)
        if target is not None:
            ax.axhline(target, color="grey", linestyle="--", linewidth=1)
        ax.set_ylim(0, 1)
        ax.set_xlabel(x)
        ax.set_ylabel(f"power ({self.test}, alpha = {self.alpha})")
        if len(series) > 1:
            ax.legend()
        ax.grid(True, alpha=0.3)
        return fig
