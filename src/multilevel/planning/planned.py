"""A planned two-level design without data: ``multilevel.plan(...)`` turns a planner's
specification (numbers of groups and group sizes, predictors at each level, a treatment at
either level, fixed effects, variance components or an ICC and a total variance) into data and
the true parameters to simulate from.

Continuous predictors are standard normal (level 1: one value per row; level 2: one per group),
drawn once from the design's seed; a treatment is assigned evenly (alternating for a half
share) to rows within each group (level 1) or to whole groups (level 2). The model is
``y ~ treat + level-1 + level-2 predictors + (1 + slopes || group)``: a random intercept with
variance tau^2, uncorrelated random slopes for the level-1 predictors listed in ``slopes``, and
residual variance sigma^2 (ICC = tau^2 / (tau^2 + sigma^2)).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from multilevel.design.model import ModelDesign, build_design
from multilevel.errors import MultilevelError


def even_share(count: int, share: float) -> np.ndarray:
    """0/1 for ``count`` units with a fraction ``share`` of ones spread evenly (0, 1, 0, 1, ...
    for one half), so any leading part of the units is as balanced as it can be."""
    r = np.arange(count)
    return (np.floor((r + 1) * share) - np.floor(r * share)).astype(float)


@dataclass(frozen=True)
class PlannedDesign:
    """A design specification; :meth:`data` builds its data for any size, :meth:`truth` its
    parameters for the model :attr:`formula`."""

    n_groups: int
    group_size: int
    fixed: Mapping[str, float]
    tau2: float
    sigma2: float
    treatment: str | None = "group"
    treatment_share: float = 0.5
    level1: tuple[str, ...] = ()
    level2: tuple[str, ...] = ()
    slopes: Mapping[str, float] = field(default_factory=dict)
    seed: int = 0
    group: str = "group"
    outcome: str = "y"
    treatment_name: str = "treat"
    family: str | None = None  # "binomial" (0/1) or "poisson": a GLMM with sigma = 1

    @property
    def predictors(self) -> list[str]:
        return ([self.treatment_name] if self.treatment else []) + [*self.level1, *self.level2]

    @property
    def formula(self) -> str:
        rhs = " + ".join(self.predictors) or "1"
        slopes = [s for s in self.slopes]
        random = f"(1 + {' + '.join(slopes)} || {self.group})" if slopes else f"(1 | {self.group})"
        return f"{self.outcome} ~ {rhs} + {random}"

    @property
    def icc(self) -> float:
        """tau^2 / (tau^2 + sigma^2); for a GLMM on the latent scale (sigma^2 = pi^2/3 for the
        logit link, as performance::icc)."""
        return self.tau2 / (self.tau2 + self.sigma2)

    @property
    def response(self) -> str:
        return self.outcome

    @property
    def nagq(self) -> int:
        return 1

    def data(self, n_groups: int | None = None, group_size: int | None = None) -> pd.DataFrame:
        """The design's data with ``n_groups`` groups of ``group_size`` rows (default: its own).

        The outcome column holds the expected values X beta (it is replaced by every simulation).
        """
        G = self.n_groups if n_groups is None else int(n_groups)
        m = self.group_size if group_size is None else int(group_size)
        if G < 3 or m < 1:
            raise MultilevelError(
                f"a design needs at least 3 groups and 1 row per group, got {G} x {m}"
            )
        rng = np.random.default_rng(self.seed)
        g = np.repeat(np.arange(G), m)
        out: dict[str, np.ndarray] = {self.group: g}
        if self.treatment == "group":
            out[self.treatment_name] = even_share(G, self.treatment_share)[g]
        elif self.treatment == "individual":
            out[self.treatment_name] = np.tile(even_share(m, self.treatment_share), G)
        for name in self.level1:
            out[name] = rng.standard_normal(G * m)
        for name in self.level2:
            out[name] = rng.standard_normal(G)[g]
        frame = pd.DataFrame(out)
        mu = np.full(G * m, float(self.fixed.get("(Intercept)", 0.0)))
        for name in self.predictors:
            mu += float(self.fixed.get(name, 0.0)) * frame[name].to_numpy()
        if self.family is None:
            frame[self.outcome] = mu + 1e-3 * np.sin(np.arange(G * m))  # never constant
        else:
            frame[self.outcome] = (np.arange(G * m) % 2).astype(float)  # 0/1: never constant
        return frame

    def build(self, n_groups: int | None = None, group_size: int | None = None) -> ModelDesign:
        return build_design(self.formula, self.data(n_groups, group_size))

    def truth(self, design: ModelDesign) -> tuple[np.ndarray, np.ndarray, float]:
        """beta (in the design's column order), theta and sigma of the specification."""
        beta = np.array([float(self.fixed.get(name, 0.0)) for name in design.fixed.names])
        sigma = 1.0 if self.family else float(np.sqrt(self.sigma2))
        theta = []
        for t in design.terms:
            for name in t.term_names:
                var = self.tau2 if name == "(Intercept)" else float(self.slopes[name])
                theta.append(np.sqrt(var) / sigma)
        return beta, np.array(theta), sigma


def plan(
    n_groups: int,
    group_size: int,
    *,
    fixed: Mapping[str, float] | None = None,
    treatment: str | None = "group",
    treatment_share: float = 0.5,
    level1: Sequence[str] = (),
    level2: Sequence[str] = (),
    icc: float | None = None,
    total_variance: float = 1.0,
    tau2: float | None = None,
    sigma2: float | None = None,
    slopes: Mapping[str, float] | None = None,
    seed: int = 0,
    group: str = "group",
    outcome: str = "y",
    family: str | None = None,
) -> PlannedDesign:
    """A planned two-level design (see the module docstring).

    ``fixed`` maps coefficient names (``"(Intercept)"``, ``"treat"``, predictor names) to their
    true values (0 when absent). Variances: either ``icc`` and ``total_variance``
    (tau^2 = icc * total, sigma^2 = (1 - icc) * total) or ``tau2`` and ``sigma2``. ``slopes``
    maps level-1 predictors to random-slope variances. ``treatment``: ``"group"`` (level 2),
    ``"individual"`` (level 1) or None.

    >>> p = plan(40, 20, fixed={"treat": 0.3}, icc=0.1)
    >>> p.formula
    'y ~ treat + (1 | group)'
    """
    fixed = dict(fixed or {})
    slopes = dict(slopes or {})
    if family is not None:
        family = str(family).lower()
        if family not in ("binomial", "poisson"):
            raise MultilevelError(f"family must be 'binomial', 'poisson' or None, got {family!r}")
        if sigma2 is not None:
            raise MultilevelError(f"a {family} design has no residual variance: give tau2 or icc")
        if icc is not None and family != "binomial":
            raise MultilevelError("give tau2 for a poisson design (its ICC has no fixed scale)")
        # latent residual variance of the logit link: pi^2 / 3 (icc on the latent scale)
        latent = np.pi**2 / 3
        if icc is not None:
            if not 0 <= icc < 1:
                raise MultilevelError(f"icc must be in [0, 1), got {icc}")
            tau2, icc = icc / (1 - icc) * latent, None
        sigma2 = latent if family == "binomial" else 1.0
    if icc is not None and (tau2 is not None or sigma2 is not None):
        raise MultilevelError("give either icc (with total_variance) or tau2 and sigma2, not both")
    if icc is not None:
        if not 0 <= icc < 1:
            raise MultilevelError(f"icc must be in [0, 1), got {icc}")
        if total_variance <= 0:
            raise MultilevelError(f"total_variance must be positive, got {total_variance}")
        tau2, sigma2 = icc * total_variance, (1 - icc) * total_variance
    elif tau2 is None or sigma2 is None:
        raise MultilevelError("give the variances: icc (and total_variance), or tau2 and sigma2")
    if sigma2 <= 0 or tau2 < 0:
        raise MultilevelError(f"variances must be tau2 >= 0 and sigma2 > 0, got {tau2}, {sigma2}")
    if treatment not in ("group", "individual", None):
        raise MultilevelError(f"treatment must be 'group', 'individual' or None, got {treatment!r}")
    if not 0 < treatment_share < 1:
        raise MultilevelError(f"treatment_share must be between 0 and 1, got {treatment_share}")
    planned = PlannedDesign(
        n_groups=int(n_groups),
        group_size=int(group_size),
        fixed=fixed,
        tau2=float(tau2),
        sigma2=float(sigma2),
        treatment=treatment,
        treatment_share=treatment_share,
        level1=tuple(level1),
        level2=tuple(level2),
        slopes=slopes,
        seed=seed,
        group=group,
        outcome=outcome,
        family=family,
    )
    known = {"(Intercept)", *planned.predictors}
    unknown = [k for k in fixed if k not in known]
    if unknown:
        raise MultilevelError(
            f"fixed effects {unknown} are not in the design; its coefficients are {sorted(known)}"
        )
    level1 = [*planned.level1] + ([planned.treatment_name] if treatment == "individual" else [])
    bad = [k for k in slopes if k not in level1]
    if bad:
        raise MultilevelError(f"random slopes {bad} must be level-1 predictors ({level1})")
    planned.data()  # checks the sizes
    return planned
