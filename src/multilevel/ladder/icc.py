"""The intraclass correlation tau00 / (tau00 + sigma^2) with a confidence interval, the design
effect and the effective sample size.

For a random-intercept model the ICC is a monotone function of the single relative covariance
parameter theta = tau00^(1/2) / sigma: ICC = theta^2 / (1 + theta^2). Its profile-likelihood
interval is therefore the set of theta whose profiled deviance (beta and sigma maximised out; REML
criterion for REML fits) lies within chi^2_1(level) of the minimum, mapped to the ICC scale. The
parametric bootstrap alternative simulates from the fitted model, refits, and takes percentiles.

Design effect (Kish): deff = 1 + (m - 1) ICC with m the mean group size n / J; effective sample
size n / deff. With unequal group sizes the design effect of a mean is 1 + (m_w - 1) ICC with
m_w = sum n_j^2 / n, the size of the group of a randomly drawn observation (Kerry & Bland 2001);
both are reported.
"""

from __future__ import annotations

import sys
import warnings
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
from scipy import optimize, stats

from multilevel.errors import FitWarning, FormulaError
from multilevel.fitting import fit_design
from multilevel.objective import ProfiledDeviance, cross_products
from multilevel.result.fit import LmmFit


@dataclass(frozen=True)
class IccResult:
    """ICC of a random-intercept model with its interval and the design effect it implies."""

    group: str
    icc: float
    lower: float
    upper: float
    level: float
    method: str  # "profile" or "bootstrap"
    tau00: float
    sigma2: float
    n_obs: int
    n_groups: int
    mean_group_size: float  # m = n / J
    weighted_group_size: float  # m_w = sum n_j^2 / n
    design_effect: float  # 1 + (m - 1) ICC
    design_effect_unequal: float  # 1 + (m_w - 1) ICC
    effective_n: float  # n / design_effect
    effective_n_unequal: float
    n_boot: int | None = None
    n_boot_failed: int | None = None
    seed: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Fields by name; the interval as ``ci_lower`` / ``ci_upper``."""
        out = asdict(self)
        out["ci_lower"], out["ci_upper"] = out.pop("lower"), out.pop("upper")
        return out

    def __str__(self) -> str:
        pct = round(100 * self.level)
        return (
            f"ICC ({self.group}) = {self.icc:.4f}, {pct}% {self.method} CI "
            f"[{self.lower:.4f}, {self.upper:.4f}]; design effect {self.design_effect:.3f} "
            f"(m = {self.mean_group_size:.2f}), effective n = {self.effective_n:.1f} of "
            f"{self.n_obs}"
        )


def _single_intercept(fit: LmmFit) -> None:
    if fit.is_glmm:
        raise FormulaError(
            f"icc() partitions a linear model's variance; '{fit.formula}' is a {fit.family} "
            "GLMM: use multilevel.latent_icc(fit) (tau00 / (tau00 + pi^2/3) for logit, with an "
            "interval) or fit.icc"
        )
    terms = fit.design.terms
    if len(terms) != 1 or terms[0].term_names != ("(Intercept)",):
        raise FormulaError(
            f"icc() needs a model with one random intercept, e.g. 'y ~ x + (1 | g)'; "
            f"'{fit.formula}' has random part "
            + " + ".join(f"({' + '.join(t.term_names)} | {t.grouping_factor})" for t in terms)
            + ". For random slopes use multilevel.ladder.r2(fit).icc_adjusted"
        )


def _theta_to_icc(theta: float) -> float:
    return theta**2 / (1.0 + theta**2)


def profile_interval(fit: LmmFit, level: float = 0.95) -> tuple[float, float]:
    """Profile-likelihood interval for the ICC of a random-intercept fit (REML or ML as fitted)."""
    _single_intercept(fit)
    dev = ProfiledDeviance(cross_products(fit.design), reml=fit.reml)
    theta_hat = float(fit.theta[0])
    dmin = min(dev(np.array([theta_hat])), -2.0 * fit.loglik)
    crit = float(stats.chi2.ppf(level, 1))

    def excess(theta: float) -> float:
        return dev(np.array([theta])) - dmin - crit

    lo = 0.0 if excess(0.0) <= 0 else optimize.brentq(excess, 0.0, theta_hat, xtol=1e-12)
    hi_bracket = 2.0 * theta_hat + 1.0
    while excess(hi_bracket) < 0:
        hi_bracket *= 2.0
        if hi_bracket > 1e8:
            return _theta_to_icc(lo), 1.0
    hi = optimize.brentq(excess, theta_hat, hi_bracket, xtol=1e-12)
    return _theta_to_icc(lo), _theta_to_icc(hi)


def _progress(i: int, n: int, enabled: bool) -> None:
    if enabled:
        width = 30
        done = int(width * i / n)
        sys.stderr.write(f"\rbootstrap ICC [{'#' * done}{'.' * (width - done)}] {i}/{n}")
        if i == n:
            sys.stderr.write("\n")
        sys.stderr.flush()


def bootstrap_iccs(fit: LmmFit, n_boot: int, seed: int | None, progress: bool) -> np.ndarray:
    """ICCs of ``n_boot`` refits to data simulated from ``fit`` (NaN where a refit failed)."""
    _single_intercept(fit)
    rng = np.random.default_rng(seed)
    term = fit.design.terms[0]
    tau = float(fit.random_effects[0].covariance[0, 0])
    sigma = float(fit.sigma)
    eta = fit.design.X @ fit.beta
    out = np.full(n_boot, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitWarning)
        for b in range(n_boot):
            u = rng.normal(0.0, np.sqrt(tau), term.n_levels)
            y = eta + u[term.codes] + rng.normal(0.0, sigma, fit.n_obs)
            try:
                refit = fit_design(replace(fit.design, y=y), reml=fit.reml, warn=False)
                t2 = float(refit.random_effects[0].covariance[0, 0])
                out[b] = t2 / (t2 + refit.sigma**2)
            except (np.linalg.LinAlgError, ValueError, FloatingPointError):
                pass
            _progress(b + 1, n_boot, progress)
    return out


def icc(
    fit: LmmFit,
    level: float = 0.95,
    method: str = "profile",
    n_boot: int = 500,
    seed: int | None = 1,
    progress: bool | None = None,
) -> IccResult:
    """ICC of a random-intercept model with a ``method`` ("profile" or "bootstrap") interval.

    The bootstrap is seeded (``seed``) and shows a progress bar on stderr when ``progress`` is
    True, or by default when stderr is a terminal.
    """
    _single_intercept(fit)
    term = fit.design.terms[0]
    tau = float(fit.random_effects[0].covariance[0, 0])
    s2 = float(fit.sigma**2)
    rho = tau / (tau + s2)
    if method == "profile":
        lo, hi = profile_interval(fit, level)
        boot = failed = None
        seed_used = None
    elif method == "bootstrap":
        show = sys.stderr.isatty() if progress is None else progress
        draws = bootstrap_iccs(fit, n_boot, seed, show)
        ok = draws[np.isfinite(draws)]
        alpha = (1.0 - level) / 2.0
        lo, hi = (float(v) for v in np.quantile(ok, [alpha, 1.0 - alpha]))
        boot, failed, seed_used = n_boot, int(n_boot - ok.size), seed
    else:
        raise ValueError(f"method must be 'profile' or 'bootstrap', not {method!r}")
    n = fit.n_obs
    sizes = np.bincount(term.codes, minlength=term.n_levels).astype(float)
    m = n / term.n_levels
    m_w = float(np.sum(sizes**2) / n)
    deff = 1.0 + (m - 1.0) * rho
    deff_w = 1.0 + (m_w - 1.0) * rho
    return IccResult(
        group=term.grouping_factor,
        icc=rho,
        lower=float(lo),
        upper=float(hi),
        level=level,
        method=method,
        tau00=tau,
        sigma2=s2,
        n_obs=n,
        n_groups=term.n_levels,
        mean_group_size=m,
        weighted_group_size=m_w,
        design_effect=deff,
        design_effect_unequal=deff_w,
        effective_n=n / deff,
        effective_n_unequal=n / deff_w,
        n_boot=boot,
        n_boot_failed=failed,
        seed=seed_used,
    )
