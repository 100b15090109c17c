"""Random slopes about a shift: the variance components must not depend on where x sits.

A random slope on a predictor far from zero (x + 1e9, epoch seconds) puts the random intercept
at x = 0, far outside the data: Var(b_0) is then ~c^2 Var(b_1) and Z'Z keeps none of the digits
the fit needs. For a term with an intercept and an unstructured covariance, shifting a column
of Z by c_j times the intercept column is an exact reparametrization:

    Z~ = Z T,  T = I - e_0 c'  (e_0: the intercept, c_0 = 0, det T = 1),
    Z b = Z~ b~  with  b = T b~,  Sigma = T Sigma~ T',  Var(b | y) = T Var(b~ | y) T',

and the log-likelihood, the REML criterion, sigma and the fixed effects are unchanged (Z Lambda
and Z~ Lambda~ differ by an orthogonal factor). So the fit runs on Z~ (the columns' means as
c, as :mod:`multilevel.design.shift` does for X) and the random part is mapped back to the
model the user wrote. A column is centred once its mean exceeds 5 SDs (``ZSHIFT_RATIO``): the
optimizer needs it long before the sums of squares do. Lambda (lower triangular,
Lambda Lambda' = T Lambda~ Lambda~' T') is computed in exact rational arithmetic: in floating
point its slope block, the slope's variance given the far intercept (~1/c^2), would be the
difference of numbers ~c^2 times larger.

A term without an intercept (``(0 + x | g)``) or with independent effects (``(1 + x || g)``,
two terms) is not shifted: there a shift of x changes the model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from math import sqrt
from typing import Any

import numpy as np

from multilevel.design.columns import ModelColumns, SparseColumns
from multilevel.design.shift import shift_matrix, shifts_from_gram

INTERCEPT = "(Intercept)"
#: a random slope's column is centred when its variance is below this fraction of its mean
#: square, i.e. its mean exceeds 5 SDs: then Var(b_0) exceeds ~25 Var(b_1) x^2 and the optimizer
#: already struggles (lme4 and ours stop 1.5-2.5 loglik units short at x + 30 with SD 1), long
#: before sums of squares lose digits; any shift is exact, so an early one costs nothing
ZSHIFT_RATIO = 1 / 26


@dataclass(frozen=True)
class TermShift:
    """Z~ = Z T for the term ``name``: column j of Z minus c[j] times the intercept column."""

    name: str
    intercept: int
    c: np.ndarray  # (q,) 0 at the intercept and at columns left as they are
    term_names: tuple[str, ...]

    @property
    def T(self) -> np.ndarray:
        """b = T b~, Sigma = T Sigma~ T': the identity with row ``intercept`` minus c."""
        return shift_matrix(self.intercept, self.c)

    def Lambda(self, Lambda_c: np.ndarray) -> np.ndarray:
        """The lower-triangular factor of T Lambda~ Lambda~' T' (non-negative diagonal)."""
        return congruent_cholesky(self.T, Lambda_c)

    def note(self) -> str:
        """What the user should know: the intercept describes the groups at x = 0."""
        at = " = ".join(n for n, c in zip(self.term_names, self.c, strict=True) if c)
        means = ", ".join(f"{n} {c:.4g}" for n, c in zip(self.term_names, self.c, strict=True) if c)
        return (
            f"the random intercept of {self.name!r} is at {at} = 0, far outside the data "
            f"(mean {means}): its variance and its correlation with the slope (near -1 or 1) "
            f"describe the groups there; centre {at.split(' = ')[0]} to describe them where the "
            "data are (the fit is the same either way)"
        )


@dataclass(frozen=True)
class RandomShift:
    """The shifts of the random terms that have one (by the term's lme4 name)."""

    terms: tuple[TermShift, ...]

    def get(self, name: str) -> TermShift | None:
        return next((s for s in self.terms if s.name == name), None)

    def theta(self, terms: Sequence[Any], theta_c: np.ndarray) -> np.ndarray:
        """theta of the model written from the centred fit's (rows of ``theta_c``: one per
        fit, e.g. bootstrap refits); ``terms``: the layout's terms (name, tril, Lambda)."""
        rows = np.atleast_2d(np.asarray(theta_c, float))
        out = rows.copy()
        k = 0
        for t in terms:
            s = self.get(t.name)
            n = len(t.tril[0])
            if s is not None:
                for r in range(rows.shape[0]):
                    if np.all(np.isfinite(rows[r, k : k + n])):
                        out[r, k : k + n] = s.Lambda(t.Lambda(rows[r, k : k + n]))[t.tril]
            k += n
        return out if np.ndim(theta_c) == 2 else out[0]


def intercept_index(term_names: Sequence[str]) -> int | None:
    """The intercept's column in a term with more than one effect (None: nothing to shift)."""
    names = list(term_names)
    return names.index(INTERCEPT) if len(names) > 1 and INTERCEPT in names else None


def shifts_of_gram(gram: np.ndarray, intercept: int) -> np.ndarray | None:
    """c: the (weighted) mean of each column whose mean exceeds 5 SDs, else 0 (None if no
    column needs one). ``gram`` is Z'Z of the term's columns; Z[:, intercept] may be sqrt(w)."""
    return shifts_from_gram(gram, 1, intercept, ZSHIFT_RATIO)  # no rows: gram[i0, i0] is 0


def varying(c: np.ndarray | None, column: Callable[[int], np.ndarray]) -> np.ndarray | None:
    """``c`` without the columns that are constant: such a column is the intercept again (the
    model is degenerate, not far from zero) and centred it would be zero, leaving its part of
    theta unidentified."""
    if c is None:
        return None
    c = c.copy()
    for j in np.flatnonzero(c):
        if np.ptp(column(int(j))) == 0:
            c[j] = 0.0
    return c if c.any() else None


def congruent_cholesky(T: np.ndarray, L: np.ndarray) -> np.ndarray:
    """Lower-triangular Lambda with Lambda Lambda' = T L L' T', from an exact LDL' in rationals.

    Every float is an exact rational, so S = (T L)(T L)' and its LDL' factors are exact; only
    the final sqrt(D) and the products are rounded (a few ulp per element). A zero pivot (a
    singular fit) leaves its column zero below the diagonal, as for exactly PSD S it must."""
    q = L.shape[0]
    TL = [
        [
            sum((Fraction(T[i, k]) * Fraction(L[k, j]) for k in range(q)), Fraction(0))
            for j in range(q)
        ]
        for i in range(q)
    ]
    S = [
        [sum((TL[i][k] * TL[j][k] for k in range(q)), Fraction(0)) for j in range(q)]
        for i in range(q)
    ]
    D: list[Fraction] = []
    N = [[Fraction(0)] * q for _ in range(q)]  # N[i][k] = L1[i][k] D[k]
    for k in range(q):
        for i in range(k, q):
            N[i][k] = S[i][k] - sum(
                (N[i][m] * N[k][m] / D[m] for m in range(k) if D[m]), Fraction(0)
            )
        D.append(N[k][k])
    out = np.zeros((q, q))
    for k in range(q):
        if D[k] <= 0:
            continue
        root = sqrt(float(D[k]))
        for i in range(k, q):
            out[i, k] = float(N[i][k] / D[k]) * root if i > k else root
    return out


# ---------------------------------------------------------------------- in memory
def centre_columns(columns: ModelColumns, shift: TermShift) -> ModelColumns:
    """Z~: column j minus c[j] times the intercept column (a new data column for each)."""
    factors = list(columns.factors)
    source = dict(columns.source)
    ones = columns.column(shift.intercept, out=np.empty(columns.n))
    for j in np.flatnonzero(shift.c):
        key = f"\0z{shift.name}:{j}"
        source[key] = columns.column(int(j), out=np.empty(columns.n)) - shift.c[j] * ones
        factors[j] = (key,)
    return ModelColumns(columns.n, tuple(factors), source)


def centre_random_slopes(design: Any) -> tuple[Any, RandomShift | None]:
    """The design with the random slopes of far predictors centred, and the shifts (None when
    no term needs one: the design itself). ``design`` is a ModelDesign (its working form)."""
    terms, shifts = [], []
    for t in design.terms:
        i0 = intercept_index(t.term_names)
        c = None
        if i0 is not None and not isinstance(t.columns, SparseColumns):
            c = varying(shifts_of_gram(t.columns.gram(), i0), t.columns.column)
        if c is None or i0 is None:
            terms.append(t)
            continue
        shift = TermShift(t.name, i0, c, tuple(t.term_names))
        shifts.append(shift)
        terms.append(replace(t, columns=centre_columns(t.columns, shift)))
    if not shifts:
        return design, None
    return replace(design, terms=tuple(terms)), RandomShift(tuple(shifts))


# ---------------------------------------------------------------------- in chunks
ZColumns = list[list[tuple[str | None, np.ndarray]]]


def learn_shifts(
    names: Sequence[tuple[str, tuple[str, ...]]], zterms: ZColumns
) -> RandomShift | None:
    """The shifts from a sample's Z columns (``names``: each term's name and effect names;
    ``zterms``: each term's (key, values) columns, key None for the intercept)."""
    shifts = []
    for (name, effects), cols in zip(names, zterms, strict=True):
        i0 = intercept_index(effects)
        if i0 is None:
            continue
        Z = np.column_stack([np.ones(len(v)) if k is None else v for k, v in cols])
        if not np.all(np.isfinite(Z)):
            continue  # reported, with the column, on the statistics pass
        c = varying(shifts_of_gram(Z.T @ Z, i0), Z.T.__getitem__)  # column j of Z
        if c is not None:
            shifts.append(TermShift(name, i0, c, tuple(effects)))
    return RandomShift(tuple(shifts)) if shifts else None


def centre_zterms(names: Sequence[str], zterms: ZColumns, shift: RandomShift | None) -> ZColumns:
    """A chunk's Z columns about the shifts (new keys for the shifted columns)."""
    if shift is None:
        return zterms
    out = []
    for name, cols in zip(names, zterms, strict=True):
        s = shift.get(name)
        if s is None:
            out.append(cols)
            continue
        key0, v0 = cols[s.intercept]
        base = np.ones(len(v0)) if key0 is None else v0
        out.append(
            [
                (f"\0z{name}:{j}", v - s.c[j] * base) if s.c[j] else (k, v)
                for j, (k, v) in enumerate(cols)
            ]
        )
    return out


# ---------------------------------------------------------------------- the fit mapped back
@dataclass(frozen=True)
class Centred:
    """The random part as fitted, on Z~: what computations from the rows (Kenward-Roger,
    cluster-robust SEs) use, since Z Lambda Lambda' Z' at x ~ 1e9 is the difference of numbers
    ~1e18 times larger than the result, while Z~ Lambda~ Lambda~' Z~' is the same matrix."""

    shift: RandomShift
    theta: np.ndarray
    random_effects: tuple[Any, ...]
    modes: dict[str, Any]


def centred_view(fit: Any) -> Any:
    """The fit with its rows' Z and its random part in the centred parametrization (the fit
    itself when nothing was centred or it has no rows): every quantity of the marginal model
    (V, beta, Var(beta), its Kenward-Roger and sandwich forms) is the same."""
    centred = getattr(fit, "centred", None)
    if centred is None or fit._design is None:
        return fit
    design = fit._design
    terms = []
    for t in design.terms:
        s = centred.shift.get(t.name)
        terms.append(t if s is None else replace(t, columns=centre_columns(t.columns, s)))
    return replace(
        fit,
        _design=replace(design, terms=tuple(terms)),
        theta=centred.theta,
        random_effects=centred.random_effects,
        modes=centred.modes,
        centred=None,
    )


def unshift_random(fit: Any, shift: RandomShift) -> Any:
    """The fit of the centred model as that of the model written: theta, the variance
    components, the conditional modes and their covariances (b = T b~, V = T V~ T')."""
    layout = fit.layout
    new_theta = layout.split_theta(shift.theta(layout.terms, fit.theta))
    notes = [s.note() for s in shift.terms]
    sigma2 = fit.sigma**2
    components = []
    for vc in fit.random_effects:
        s = shift.get(vc.group)
        if s is None:
            components.append(vc)
            continue
        k = [t.name for t in layout.terms].index(vc.group)
        Lam = layout.terms[k].Lambda(new_theta[k])
        components.append(replace(vc, covariance=sigma2 * (Lam @ Lam.T)))
    modes = dict(fit.modes)
    for s in shift.terms:
        m = modes[s.name]
        T = s.T
        modes[s.name] = m.mapped(T)
    return replace(
        fit,
        theta=np.concatenate(new_theta),
        random_effects=tuple(components),
        modes=modes,
        warnings=tuple(fit.warnings) + tuple(notes),
        centred=Centred(shift, np.asarray(fit.theta), tuple(fit.random_effects), dict(fit.modes)),
    )
