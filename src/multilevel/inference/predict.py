"""Predictions for new data with standard errors and intervals.

fit = x'beta + sum over the chosen random terms of z'b_j (lme4's ``re.form``: all terms, none,
or a list of them; levels not seen in the fit get b = 0). Standard errors:

* ``interval="confidence"``: se^2 = x'Var(beta)x + z'Var(b_j | y)z for the chosen terms (the
  conditional variance of the modes, lme4's condVar; the covariance of beta_hat and b_hat is
  neglected, as in merTools). At population level this is lmerTest's SE of x'beta.
* ``interval="prediction"``: adds sigma^2 and, for every term not chosen (or a level not seen),
  that term's variance z' Sigma z: a new observation of a new group.

Intervals use t quantiles with Satterthwaite or Kenward-Roger df of x'beta (``ddf``), or normal
quantiles with ``ddf="normal"``.

An offset is part of the prediction: on new data the formula's ``offset(expr)`` terms and an
``offset=`` column or expression are evaluated on the new rows (:func:`offset_for`). lme4's
``predict.merMod`` evaluates the formula's offset but drops the ``offset=`` argument on new
data (lme4 issue 447); R's ``predict.lm`` evaluates both, and so do we: either way of writing
the offset gives the predictions lme4 gives with it in the formula.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from multilevel.errors import DataError, MultilevelError
from multilevel.inference.anova import ddf_method
from multilevel.inference.fitted import fitted_view
from multilevel.inference.satterthwaite import satterthwaite

if TYPE_CHECKING:
    from multilevel.result.fit import LmmFit


def chosen_terms(fit: LmmFit, random: Any) -> list[str]:
    """lme4's ``re.form``: True/None-like -> all terms, False -> none, a list of term names
    (``'Subject'``, ``'(Days | Subject)'``) or a formula ``'~ (1 | Subject)'`` -> those."""
    names = [t.name for t in fit.design.terms]
    if random is True:
        return names
    if random is False or random is None:
        return []
    items: list[str]
    if isinstance(random, str):
        text = random.strip().lstrip("~").strip()
        if text in ("0", "NA", ""):
            return []
        items = [s.strip() for s in text.split("+")]
    else:
        items = [str(s) for s in random]
    out = []
    for item in items:
        key = item.strip().strip("()").replace(" ", "")
        match = [
            t.name
            for t in fit.design.terms
            if key in (t.name, t.grouping_factor, t.source.strip("()").replace(" ", ""))
        ]
        if not match:
            raise MultilevelError(
                f"random term {item!r} is not in the model; its terms are: "
                + ", ".join(t.source for t in fit.design.terms)
            )
        out += [m for m in match if m not in out]
    return out


def offset_for(fit: LmmFit, newdata: pd.DataFrame | None) -> np.ndarray | None:
    """The offset of each row: the fitted rows' own (``newdata`` None), else the offset's
    expressions evaluated on ``newdata`` (NaN where a value is missing); None without one."""
    design = fit.design
    if newdata is None or not design.offset_terms:
        return design.offset if newdata is None else None
    if None in design.offset_terms:
        raise DataError(
            "the model's offset was given as an array, which has no values for new rows; give "
            "it as a column or expression (offset='log_t' or offset(log(t)) in the formula) to "
            "predict new data"
        )
    from formulaic import Formula

    from multilevel.design.fixed import model_matrix
    from multilevel.design.frame import python_expr

    total = np.zeros(len(newdata))
    for expr in design.offset_terms:
        try:
            mm = model_matrix(Formula(python_expr(f"0 + I({expr})")), newdata)
            total += np.asarray(mm.to_numpy(), dtype=float)[:, 0]
        except Exception as exc:  # formulaic raises several types for unusable new data
            raise DataError(f"cannot evaluate the offset '{expr}' on new data: {exc}") from None
    return total


def _quantile(level: float, df: np.ndarray | None) -> np.ndarray | float:
    p = 0.5 + level / 2
    return float(stats.norm.ppf(p)) if df is None else stats.t.ppf(p, df)


def predict_frame(
    fit: LmmFit,
    newdata: Any,
    random: Any = True,
    interval: str | None = "confidence",
    ddf: str = "satterthwaite",
    level: float = 0.95,
) -> pd.DataFrame:
    """Columns fit, se_fit, df, lower, upper for each row of ``newdata``."""
    from multilevel.design.frame import load_data
    from multilevel.result.fit import _labels_for

    if interval not in ("confidence", "prediction"):
        raise MultilevelError(
            f"interval must be None, 'confidence' or 'prediction', not {interval!r}"
        )
    df_new = fit.design.frame.data if newdata is None else load_data(newdata)
    X = fit.design.fixed.matrix_for(df_new)
    normal = str(ddf).lower() in ("normal", "z", "asymptotic")
    method = None if normal else ddf_method(ddf)
    view = fitted_view(fit)  # far predictors: x beta = (x - c) beta~ (inference/fitted.py)
    if method == "kenward-roger":
        kr = fit.kenward_roger
        V = kr.vcov if kr.vcov_fitted is None else kr.vcov_fitted
    else:
        V = np.asarray(view.fit.vcov_beta)
    est = view.estimate(X)
    offset = offset_for(fit, None if newdata is None else df_new)
    if offset is not None:
        est = est + offset
    var = view.variance(X, V)
    chosen = set(chosen_terms(fit, random))
    extra = np.zeros(len(df_new))
    centred = getattr(fit, "centred", None)  # far random slopes: Z~ = Z T, b~ and Var(b~ | y)
    modes_of = fit.modes if centred is None else view.fit.modes
    components = fit.random_effects if centred is None else view.fit.random_effects
    for t, vc in zip(fit.design.terms, components, strict=True):
        needs = t.name in chosen or interval == "prediction"
        if not needs:
            continue
        Zt = t.matrix_for(df_new)
        zshift = None if centred is None else centred.shift.get(t.name)
        if zshift is not None:
            Zt = Zt - np.outer(Zt[:, zshift.intercept], zshift.c)
        if t.name in chosen:
            labels = _labels_for(df_new, t.factors)
            index = {lev: i for i, lev in enumerate(t.levels)}
            pos = np.array([index.get(lab, -1) for lab in labels], int)
            seen = pos >= 0
            modes = modes_of[t.name]
            est[seen] += np.einsum("ij,ij->i", Zt[seen], modes.b[pos[seen]])
            var[seen] += np.einsum("ij,ijk,ik->i", Zt[seen], modes.cond_var[pos[seen]], Zt[seen])
            unseen = ~seen
        else:
            unseen = np.ones(len(df_new), bool)
        if interval == "prediction":
            Zu = Zt[unseen]
            extra[unseen] += np.einsum("ij,jk,ik->i", Zu, vc.covariance, Zu)
    if interval == "prediction":
        var = var + extra + fit.sigma**2
    se = np.sqrt(var)
    if method == "kenward-roger":
        kr = fit.kenward_roger
        df = np.array([kr.contrast_df(x[None]) for x in X])
    elif method == "satterthwaite":
        df = satterthwaite(view.fit._varpar, view.contrast(X))
    else:
        df = None
    half = _quantile(level, df) * se
    return pd.DataFrame(
        {
            "fit": est,
            "se_fit": se,
            "df": np.full(len(est), np.inf) if df is None else df,
            "lower": est - half,
            "upper": est + half,
        },
        index=df_new.index,
    )
