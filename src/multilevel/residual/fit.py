"""Fitting with a residual structure: the profiled deviance of the whitened model, minimized
over theta for each value of the structure parameters z, and over z outside.

    d(theta, z) = d*(theta; z) + log|Sigma(z)|,

d* the profiled (REML) deviance of the whitened data (:mod:`multilevel.objective`). For each z
the cross-products of the whitened rows are formed once (O(n)) and theta is optimized on them
(independent of n); the few structure parameters are optimized outside (bounded Brent for
one, Nelder-Mead for several). varPower of the fitted values alternates, as nlme: the
fitted values are held fixed while z is optimized, then updated, until they settle.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from typing import Any

import numpy as np
from scipy.optimize import minimize, minimize_scalar

from multilevel.design.frame import load_data
from multilevel.design.model import ModelDesign
from multilevel.design.random import group_codes
from multilevel.errors import DataError, FitWarning
from multilevel.fitting import check_reml_rows, fit_design
from multilevel.objective import ProfiledDeviance, cross_products
from multilevel.optimize import optimize_theta
from multilevel.optimize.start import choose_start
from multilevel.residual.bound import bind_correlation, bind_variance
from multilevel.residual.joint import optimize_joint
from multilevel.residual.lagsums import lag_sums
from multilevel.residual.result import ResidualFit
from multilevel.residual.structures import AR1, CAR1, VarIdent, VarPower
from multilevel.residual.whiten import ResidualModel, whitened_design
from multilevel.result.fit import LmmFit

#: tolerance on the unconstrained structure parameters (phi to ~1e-7)
Z_TOL = 1e-7
#: alternations of varPower(fitted) at most, and the change in z that stops them (the profile
#: is flat near its minimum: z is known to ~1e-5 when the deviance is known to ~1e-9)
MAX_ALTERNATIONS = 50
ALTERNATION_TOL = 1e-5
#: half-width of the search interval of z after an update of the fitted values
NEAR = 0.25


def extra_columns(design: ModelDesign, data: Any, names: list[str]) -> dict[str, np.ndarray]:
    """The values of columns the structures read (time, strata, covariate) in the fit's rows."""
    names = list(dict.fromkeys(n for n in names if n))
    if not names:
        return {}
    df = load_data(data, select=lambda cols: [c for c in names if c in cols])
    frame = design.frame
    out: dict[str, np.ndarray] = {}
    for name in names:
        if name in frame.data.columns:
            out[name] = frame.data[name].to_numpy()
            continue
        if name not in df.columns:
            from multilevel.design.frame import missing_column_error

            raise missing_column_error(name, [str(c) for c in df.columns], "residual structure")
        col = df[name]
        if frame.n_dropped == 0 and len(col) == design.n:
            values = col.to_numpy()
        elif col.index.is_unique:
            values = col.loc[frame.row_index].to_numpy()
        else:
            raise DataError(
                f"rows were dropped for missing values and the data's index has duplicates, so "
                f"column {name!r} cannot be matched to the rows used; reset the index first"
            )
        missing = (
            np.asarray(col.isna())
            if frame.n_dropped == 0
            else np.asarray(col.loc[frame.row_index].isna())
        )
        if missing.any():
            raise DataError(
                f"column {name!r} (residual structure) has {int(missing.sum())} missing value(s) "
                "in the rows of the model; drop or impute those rows"
            )
        out[name] = values
    return out


def _correlation_groups(
    design: ModelDesign, group: str | None, extra: dict
) -> tuple[np.ndarray, str]:
    """Codes of the groups that hold the correlated rows: the innermost grouping factor (most
    levels) or the column ``group``; checked to lie within one level of every grouping factor."""
    if group is None or group == design.terms[0].grouping_factor:
        t0 = design.terms[0]
        codes, name = t0.codes, t0.grouping_factor
    else:
        import pandas as pd

        codes, _ = group_codes(pd.DataFrame({group: extra[group]}), (group,))
        name = group
    codes = np.asarray(codes, dtype=np.int64)
    G = int(codes.max()) + 1
    first_row = np.full(G, -1, dtype=np.int64)
    first_row[codes[::-1]] = np.arange(codes.size)[::-1]
    for t in design.terms:
        if not np.array_equal(t.codes[first_row][codes], t.codes):
            raise DataError(
                f"the residual correlation groups ({name!r}) are not nested in the grouping "
                f"factor {t.grouping_factor!r}: some level of {name!r} spans several levels of "
                f"{t.grouping_factor!r}. Correlate the residuals within the innermost grouping "
                "factor (group=None) or a factor nested in all of them"
            )
    return codes, name


def bind(design: ModelDesign, data: Any, correlation: Any, variance: Any) -> ResidualModel:
    """Check the specs and tie them to the rows of the design."""
    if correlation is not None and not isinstance(correlation, AR1 | CAR1):
        raise DataError(
            f"correlation must be multilevel.AR1(...) or multilevel.CAR1(...), not {correlation!r}"
        )
    if variance is not None and not isinstance(variance, VarIdent | VarPower):
        raise DataError(
            "variance must be multilevel.VarIdent(by=...) or multilevel.VarPower(...), "
            f"not {variance!r}"
        )
    names: list[str] = []
    if correlation is not None:
        names += [correlation.time or "", correlation.group or ""]
    if isinstance(variance, VarIdent):
        names.append(variance.by)
    elif isinstance(variance, VarPower):
        names.append(variance.covariate or "")
    if correlation is not None and correlation.group == design.terms[0].grouping_factor:
        names.remove(correlation.group)
    extra = extra_columns(design, data, names)
    bc = None
    if correlation is not None:
        codes, gname = _correlation_groups(design, correlation.group, extra)
        bc = bind_correlation(correlation, codes, gname, extra)
    bv = bind_variance(variance, extra, design.terms[0].codes) if variance is not None else None
    return ResidualModel(bc, bv)


class _Profile:
    """z -> min over theta of the deviance of the whitened model, + log|Sigma(z)|."""

    def __init__(self, design: ModelDesign, model: ResidualModel, reml: bool):
        self.design, self.model, self.reml = design, model, reml
        self.lower = design.theta_lower()
        self.theta: np.ndarray | None = None
        self.evaluations = 0

    def __call__(self, z: np.ndarray) -> float:
        self.evaluations += 1
        try:
            w = self.model.whitener(np.atleast_1d(z))
            xp = cross_products(whitened_design(self.design, w))
            dev = ProfiledDeviance(xp, reml=self.reml)
            if self.theta is None:
                start, informed = choose_start(dev, xp, self.design.theta_start())
            else:
                start, informed = self.theta, True
            with np.errstate(all="ignore"):
                opt = optimize_theta(dev, start, self.lower, informed_start=informed)
        except (np.linalg.LinAlgError, FloatingPointError, ValueError, ZeroDivisionError):
            return float("inf")
        if not np.isfinite(opt.fmin):
            return float("inf")
        self.theta = np.asarray(opt.theta_final)
        return float(opt.fmin + w.logdet)


def _optimize_z(profile: _Profile, z0: np.ndarray, bounds: list[tuple[float, float]]):
    """Minimize the profile over z: bounded Brent for one parameter, Nelder-Mead for several."""
    if z0.size == 1:
        lo, hi = bounds[0]
        with np.errstate(invalid="ignore", over="ignore"):  # inf where Sigma overflows
            res = minimize_scalar(
                lambda x: profile(np.array([x])),
                bounds=(lo, hi),
                method="bounded",
                options={"xatol": Z_TOL, "maxiter": 500},
            )
        return np.array([res.x]), float(res.fun), bool(res.success)
    res = minimize(
        profile,
        z0,
        method="Nelder-Mead",
        bounds=bounds,
        options={"xatol": Z_TOL, "fatol": 1e-10, "maxfev": 4000, "adaptive": True},
    )
    return np.asarray(res.x), float(res.fun), bool(res.success)


def fit_residual(
    design: ModelDesign,
    data: Any,
    reml: bool,
    correlation: Any,
    variance: Any,
    warn: bool = True,
    *,
    _model: ResidualModel | None = None,
    _stacklevel: int = 3,
) -> LmmFit:
    """Fit ``design`` with residual covariance sigma^2 diag(g) R diag(g) per group."""

    check_reml_rows(reml, design.n, design.p)
    model = _model if _model is not None else bind(design, data, correlation, variance)
    fitted_power = (
        model.variance is not None
        and isinstance(model.variance.spec, VarPower)
        and model.variance.spec.covariate is None
    )
    notes: list[str] = []
    z0 = model.z_start()
    if fitted_power:
        assert model.variance is not None
        base = fit_design(design, reml=reml, warn=False)
        model = model.with_variance(model.variance.with_values(base.fitted))
    profile = _Profile(design, model, reml)
    sums = None if fitted_power else lag_sums(design, model)
    joint_evaluations = 0
    if sums is not None:
        joint = optimize_joint(sums, design, reml, z0, model.z_bounds())
        z, fmin, ok = joint.z, joint.fmin, joint.converged
        joint_evaluations = joint.evaluations
        notes.append(
            f"theta and the structure parameters optimized together ({joint.evaluations} "
            "evaluations, cross-products from lag sums)"
        )
    else:
        z, fmin, ok = _optimize_z(profile, z0, model.z_bounds())
    if fitted_power:
        assert model.variance is not None
        for k in range(MAX_ALTERNATIONS):
            current = _final(design, model, z, reml)
            model = model.with_variance(model.variance.with_values(current.fitted))
            profile.model = model
            # the fitted values move little after the first update: search near z
            near = [
                (max(lo, v - NEAR), min(hi, v + NEAR))
                for v, (lo, hi) in zip(z, model.z_bounds(), strict=True)
            ]
            z_new, fmin, ok = _optimize_z(profile, z, near)
            step = float(np.max(np.abs(z_new - z)))
            z = z_new
            if step < ALTERNATION_TOL:
                notes.append(f"varPower(fitted): fitted values settled after {k + 1} updates")
                break
        else:
            ok = False
            notes.append(
                f"varPower(fitted): the power still moved after {MAX_ALTERNATIONS} updates of "
                "the fitted values"
            )
    at_bound = [abs(v) >= lim - 1e-3 for v, (_, lim) in zip(z, model.z_bounds(), strict=True)]
    if any(at_bound):
        notes.append(
            "a residual-structure parameter is at the edge of its range (e.g. phi near 0 for "
            "CAR1 or near +-1): the structure is not supported by the data, or is degenerate"
        )
    corr = model.correlation
    phi = corr.phi(model.split(z)[0]) if corr is not None else None
    if corr is not None and isinstance(corr.spec, CAR1) and phi is not None and phi < 1e-3:
        notes.append(
            f"CAR1: phi = {phi:.2g} is on the boundary 0: the residuals show no positive "
            "serial correlation and the fit equals the model without the correlation structure"
        )
    if not ok:
        notes.append("the optimizer of the residual-structure parameters did not converge")
    result = _final(design, model, z, reml)
    w = model.whitener(z)
    final_dev = -2.0 * result.loglik + w.logdet
    if sums is not None and final_dev < fmin - 1e-6 * max(1.0, abs(fmin)):
        # the joint search held theta at a worse optimum than the full theta fit finds: polish
        # z by the profile (theta optimized with restarts for each z) near the joint optimum
        near = [
            (max(lo, v - NEAR), min(hi, v + NEAR))
            for v, (lo, hi) in zip(z, model.z_bounds(), strict=True)
        ]
        z, fmin, ok = _optimize_z(profile, z, near)
        notes.append("the structure parameters were polished by the profile likelihood")
        result = _final(design, model, z, reml)
        w = model.whitener(z)
    residual = ResidualFit(
        correlation=model.correlation.spec if model.correlation is not None else None,
        variance=model.variance.spec if model.variance is not None else None,
        model=model,
        z=z,
        logdet=w.logdet,
        outer_evaluations=profile.evaluations + joint_evaluations,
        outer_converged=ok,
        notes=tuple(notes),
    )
    messages = list(result.warnings) + [
        n for n in notes if "not converge" in n or "edge" in n or "boundary" in n
    ]
    out = replace(
        result,
        _design=design,
        loglik=float(result.loglik - 0.5 * w.logdet),
        warnings=tuple(messages),
        residual_structure=residual,
    )
    if not np.isfinite(out.loglik):
        raise DataError("the fit with the residual structure produced a non-finite likelihood")
    if warn:
        for msg in out.warnings:
            warnings.warn(msg, FitWarning, stacklevel=_stacklevel)
    return out


def _final(design: ModelDesign, model: ResidualModel, z: np.ndarray, reml: bool) -> LmmFit:
    """The whitened model at z fitted as any model (both starts, convergence checks, modes),
    on the original design (fitted values and residuals on the data's scale)."""

    w = model.whitener(z)
    fit = fit_design(whitened_design(design, w), reml=reml, warn=False)
    return replace(fit, _design=design)


def refit(fit: LmmFit, reml: bool) -> LmmFit:
    """The same model and residual structure fitted by REML or ML (e.g. for a likelihood-ratio
    test), starting from the structure of ``fit``."""
    r = fit.residual_structure
    assert r is not None
    return fit_residual(
        fit.design, None, reml, r.correlation, r.variance, warn=False, _model=r.model
    )
