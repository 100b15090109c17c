"""See the Type I error happen: simulate nested data under a true null and count rejections.

Data: ``y_ij = u_j + e_ij`` with ``u_j ~ N(0, icc)`` and ``e_ij ~ N(0, 1 - icc)`` (total variance
1), ``n_groups`` clusters of ``group_size`` rows, and a predictor ``x`` whose true effect is 0:
at level 2 ``x_j ~ N(0, 1)`` (constant within a cluster), at level 1
``x_ij = sqrt(x_icc) a_j + sqrt(1 - x_icc) b_ij``. Each replicate fits ``y ~ x + (1 | group)``
with every estimator and tests ``x = 0`` at ``alpha``; the rejection rate estimates the Type I
error, with Monte Carlo SE sqrt(rate (1 - rate) / reps).

Reproducible: replicate i uses ``SeedSequence(seed).spawn(reps)[i]``, so results do not depend
on ``n_jobs`` or on how replicates are split among processes.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from multilevel.compare.data import ClusteredData
from multilevel.design import ModelDesign, build_design
from multilevel.design.columns import ModelColumns
from multilevel.design.frame import ModelFrame
from multilevel.errors import MultilevelError

FORMULA = "y ~ x + (1 | group)"
SIM_ESTIMATORS = (
    "ols",
    "ols_cluster_cr0",
    "ols_cluster_cr1",
    "ols_cluster_cr2",
    "fixed_effects",
    "gee_exchangeable",
    "gee_independence",
    "one_per_group",
    "multilevel",
)
#: one BLAS thread per worker: tiny matrices, and threads fighting over cores cost 10x
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass(frozen=True)
class SimulationSettings:
    level: int
    icc: float
    n_groups: int
    group_size: int
    reps: int
    alpha: float
    x_icc: float
    seed_entropy: int
    estimators: tuple[str, ...]


def simulate_nested(
    rng: np.random.Generator,
    *,
    level: int = 2,
    icc: float = 0.2,
    n_groups: int = 50,
    group_size: int = 30,
    beta: float = 0.0,
    x_icc: float = 0.0,
) -> pd.DataFrame:
    """One data set with columns ``y``, ``x``, ``group`` (true effect of x is ``beta``)."""
    if level not in (1, 2):
        raise ValueError("level must be 1 or 2")
    if not 0 <= icc < 1 or not 0 <= x_icc < 1:
        raise ValueError("icc and x_icc must be in [0, 1)")
    g = np.repeat(np.arange(n_groups), group_size)
    n = g.shape[0]
    if level == 2:
        x = rng.standard_normal(n_groups)[g]
    else:
        x = np.sqrt(x_icc) * rng.standard_normal(n_groups)[g] + np.sqrt(
            1 - x_icc
        ) * rng.standard_normal(n)
    u = np.sqrt(icc) * rng.standard_normal(n_groups)
    y = beta * x + u[g] + np.sqrt(1 - icc) * rng.standard_normal(n)
    return pd.DataFrame({"y": y, "x": x, "group": g})


def _design(df: pd.DataFrame, template: ModelDesign | None) -> ModelDesign:
    """The design of ``FORMULA`` for one replicate.

    Every replicate has the same clusters, so after the first one only y and the x column of X
    change: reuse the template's random term instead of re-encoding (halves the cost per rep).
    """
    if template is None:
        return build_design(FORMULA, df)
    X = np.column_stack([np.ones(len(df)), df["x"].to_numpy(dtype=float)])
    frame = ModelFrame(data=df, n_input=len(df), n_dropped=0, dropped_by={}, row_index=df.index)
    return replace(
        template,
        frame=frame,
        y=df["y"].to_numpy(dtype=float),
        fixed=replace(template.fixed, columns=ModelColumns.of(X), XtX=None),
    )


def _one_replicate(
    seq: np.random.SeedSequence, s: SimulationSettings, template: ModelDesign | None = None
) -> tuple[np.ndarray, ModelDesign]:
    """p-values for x (nan where an estimator cannot estimate it or fails), one per estimator."""
    from multilevel.compare.compare import estimator_functions

    rng = np.random.default_rng(seq)
    df = simulate_nested(
        rng, level=s.level, icc=s.icc, n_groups=s.n_groups, group_size=s.group_size, x_icc=s.x_icc
    )
    design = _design(df, template)
    data = ClusteredData.from_design(design)
    funcs = estimator_functions(draws=1, seed=rng, reml=True)
    out = np.full(len(s.estimators), np.nan)
    for k, name in enumerate(s.estimators):
        try:
            res = funcs[name](data)
        except (MultilevelError, np.linalg.LinAlgError, ValueError):
            continue
        out[k] = res.p_values()[res.index("x")]
    return out, design


def _run_chunk(seqs: list[np.random.SeedSequence], s: SimulationSettings) -> np.ndarray:
    out = np.full((len(seqs), len(s.estimators)), np.nan)
    template = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, q in enumerate(seqs):
            out[i], template = _one_replicate(q, s, template)
    return out


class _Progress:
    """A one-line counter on stderr, shown only when stderr is a terminal."""

    def __init__(self, total: int, enabled: bool | None):
        self.total, self.done = total, 0
        self.enabled = sys.stderr.isatty() if enabled is None else enabled

    def update(self, k: int) -> None:
        self.done += k
        if self.enabled:
            sys.stderr.write(f"\rsimulate: {self.done}/{self.total} replicates")
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


@dataclass(frozen=True)
class SimulationResult:
    """p-values (reps x estimators) and the rejection-rate table."""

    settings: SimulationSettings
    p_values: np.ndarray
    table: pd.DataFrame

    def rate(self, name: str) -> float:
        return float(self.table.set_index("estimator").loc[name, "rejection_rate"])

    def to_dict(self) -> dict[str, Any]:
        s = self.settings
        rows = self.table.to_dict(orient="records")
        for r in rows:
            for k, v in r.items():
                if isinstance(v, float) and not np.isfinite(v):
                    r[k] = None
                elif isinstance(v, np.integer):
                    r[k] = int(v)
        return {
            "settings": {
                "level": s.level,
                "icc": s.icc,
                "n_groups": s.n_groups,
                "group_size": s.group_size,
                "reps": s.reps,
                "alpha": s.alpha,
                "x_icc": s.x_icc,
                "seed": s.seed_entropy,
                "formula": FORMULA,
                "kish_design_effect": 1 + (s.group_size - 1) * s.icc,
            },
            "results": rows,
        }

    def to_text(self) -> str:
        s = self.settings
        head = (
            f"Type I error at alpha = {s.alpha} for a level-{s.level} predictor with no effect"
            f"\nICC = {s.icc}, {s.n_groups} groups of {s.group_size}, {s.reps} replicates, "
            f"seed {s.seed_entropy}"
        )
        lines = [head, "", f"{'estimator':<20} {'rate':>7} {'MC SE':>7} {'valid':>6}"]
        for _, r in self.table.iterrows():
            rate = "--" if not np.isfinite(r["rejection_rate"]) else f"{r['rejection_rate']:.3f}"
            mcse = "--" if not np.isfinite(r["mc_se"]) else f"{r['mc_se']:.3f}"
            lines.append(f"{r['estimator']:<20} {rate:>7} {mcse:>7} {int(r['n_valid']):>6}")
        return "\n".join(lines)

    def plot(self):
        """Rejection rates with +/- 2 MC SE bars and the nominal alpha (matplotlib Figure)."""
        from multilevel.compare.plot import new_figure

        t = self.table[np.isfinite(self.table["rejection_rate"])]
        fig = new_figure(6.5, 0.4 * len(t) + 1.5)
        ax = fig.subplots()
        y = np.arange(len(t))[::-1]
        ax.errorbar(t["rejection_rate"], y, xerr=2 * t["mc_se"], fmt="o", color="C0", capsize=3)
        ax.axvline(self.settings.alpha, color="C3", ls="--", label=f"alpha = {self.settings.alpha}")
        ax.set_yticks(y)
        ax.set_yticklabels(t["estimator"])
        ax.set_xlabel("rejection rate under H0 (+/- 2 MC SE)")
        s = self.settings
        ax.set_title(
            f"level-{s.level} predictor, ICC {s.icc}, {s.n_groups} x {s.group_size}, {s.reps} reps",
            fontsize=9,
        )
        ax.legend(loc="lower right", fontsize=8)
        fig.tight_layout()
        return fig


def rejection_table(p: np.ndarray, names: Sequence[str], alpha: float) -> pd.DataFrame:
    rows = []
    for k, name in enumerate(names):
        valid = np.isfinite(p[:, k])
        n = int(valid.sum())
        rej = int(np.sum(p[valid, k] < alpha))
        rate = rej / n if n else np.nan
        rows.append(
            {
                "estimator": name,
                "n_valid": n,
                "rejections": rej,
                "rejection_rate": rate,
                "mc_se": np.sqrt(rate * (1 - rate) / n) if n else np.nan,
            }
        )
    return pd.DataFrame(rows)


#: rows per simulated data set; beyond this one replicate of all estimators takes minutes and
#: gigabytes, and the Type I error rates do not change
MAX_SIM_ROWS = 1_000_000


def simulate_type1(
    *,
    level: int = 2,
    icc: float = 0.2,
    n_groups: int = 50,
    group_size: int = 30,
    reps: int = 500,
    alpha: float = 0.05,
    seed: int | None = 0,
    x_icc: float = 0.0,
    estimators: Sequence[str] = SIM_ESTIMATORS,
    n_jobs: int = 1,
    progress: bool | None = None,
) -> SimulationResult:
    """Rejection rates of H0: beta_x = 0 (true) for each estimator; see the module docstring.

    ``n_jobs`` > 1 runs replicates in that many processes (-1: all cores). The one-row-per-group
    estimator uses a single draw per replicate, as an analyst would. Fixed effects cannot
    estimate a level-2 predictor: its rate is reported as nan (0 valid replicates).
    """
    from multilevel.compare.compare import check_names

    names = check_names(estimators)
    if reps < 1:
        raise ValueError("reps must be at least 1")
    if n_groups < 3 or group_size < 2:
        raise ValueError("need at least 3 groups of at least 2 rows")
    if n_groups * group_size > MAX_SIM_ROWS:
        raise ValueError(
            f"{n_groups} groups of {group_size} rows make {n_groups * group_size:,} rows per "
            f"replicate; the simulation allows at most {MAX_SIM_ROWS:,} (every estimator is "
            "refitted in every replicate): use fewer or smaller groups"
        )
    root = np.random.SeedSequence(seed)
    entropy = int(root.entropy)  # type: ignore[arg-type]  # an int when seed is an int or None
    s = SimulationSettings(level, icc, n_groups, group_size, reps, alpha, x_icc, entropy, names)
    simulate_nested(
        np.random.default_rng(0), level=level, icc=icc, n_groups=2, group_size=2, x_icc=x_icc
    )  # validates the arguments before any work starts
    seqs = root.spawn(reps)
    jobs = (os.cpu_count() or 1) if n_jobs == -1 else max(1, int(n_jobs))
    bar = _Progress(reps, progress)
    if jobs == 1:
        rows = []
        for a in range(0, reps, 10):
            rows.append(_run_chunk(seqs[a : a + 10], s))
            bar.update(len(rows[-1]))
        p = np.vstack(rows)
    else:
        p = _run_parallel(seqs, s, jobs, bar)
    bar.close()
    return SimulationResult(s, p, rejection_table(p, names, alpha))


def _run_parallel(seqs, s: SimulationSettings, jobs: int, bar: _Progress) -> np.ndarray:
    import multiprocessing as mp

    n_chunks = min(len(seqs), 8 * jobs)
    bounds = np.linspace(0, len(seqs), n_chunks + 1).astype(int)
    p = np.full((len(seqs), len(s.estimators)), np.nan)
    saved = {v: os.environ.get(v) for v in _THREAD_VARS}
    os.environ.update({v: "1" for v in _THREAD_VARS})
    try:
        # spawn: fresh interpreters read the thread limits above; fork would copy the parent's
        # BLAS state (and threads) instead
        with ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn")) as pool:
            futures = {
                pool.submit(_run_chunk, seqs[a:b], s): (a, b)
                for a, b in zip(bounds[:-1], bounds[1:], strict=True)
                if b > a
            }
            for fut in as_completed(futures):
                a, b = futures[fut]
                p[a:b] = fut.result()
                bar.update(b - a)
    finally:
        for v, old in saved.items():
            if old is None:
                os.environ.pop(v, None)
            else:
                os.environ[v] = old
    return p
