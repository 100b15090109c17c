"""What a user asks for: residual correlation structures and variance functions (as nlme's
``corAR1``, ``corCAR1``, ``varIdent``, ``varPower``).

The residual covariance of correlation group j is ``sigma^2 diag(g_j) R_j diag(g_j)``: ``g`` the
variance-function multipliers, ``R_j`` the correlation matrix. A spec is a small frozen record;
:meth:`bind` ties it to the rows of a fit (:mod:`multilevel.residual.bound`), after which it maps
an unconstrained parameter vector (what the optimizer moves) to its natural values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


class CorrelationSpec(Protocol):
    """A residual correlation structure R_j within groups (AR1, CAR1; later CS, ARMA)."""

    @property
    def name(self) -> str: ...

    @property
    def group(self) -> str | None: ...

    def describe(self) -> str: ...


class VarianceSpec(Protocol):
    """A variance function: residual SD of row i is sigma * g_i(delta)."""

    @property
    def name(self) -> str: ...

    def describe(self) -> str: ...


@dataclass(frozen=True)
class AR1:
    """First-order autoregressive residuals: corr(e_i, e_k) = phi^|t_i - t_k|, -1 < phi < 1.

    ``time``: a column of integer times (gaps allowed, as nlme's ``corAR1(form = ~t | g)``);
    None: the order of the rows within each group. ``group``: the column whose levels hold the
    correlated rows; None: the innermost grouping factor of the random part.
    """

    time: str | None = None
    group: str | None = None
    name: str = "AR1"

    def describe(self) -> str:
        return f"AR(1) in {self.time or 'row order'}"


@dataclass(frozen=True)
class CAR1:
    """Continuous-time AR(1): corr(e_i, e_k) = phi^|t_i - t_k| for real times, 0 < phi < 1."""

    time: str
    group: str | None = None
    name: str = "CAR1"

    def describe(self) -> str:
        return f"continuous-time AR(1) in {self.time}"


@dataclass(frozen=True)
class VarIdent:
    """One residual SD per stratum of ``by``: sigma * ratio_s, ratio 1 for the reference stratum
    (nlme: the stratum of the first row; or ``reference`` if given)."""

    by: str
    reference: Any = None
    name: str = "VarIdent"

    def describe(self) -> str:
        return f"one residual SD per level of {self.by}"


@dataclass(frozen=True)
class VarPower:
    """Residual SD sigma * |v|^power, v the fitted values (``covariate=None``, as nlme's
    ``varPower()``: updated with the fit until they settle) or a column."""

    covariate: str | None = None
    name: str = "VarPower"

    def describe(self) -> str:
        return f"residual SD a power of |{self.covariate or 'fitted values'}|"


def parse_correlation(text: str) -> CorrelationSpec:
    """CLI form: ``ar1``, ``ar1:time``, ``car1:age`` (optionally ``@group``, e.g. ``ar1:t@id``)."""
    from multilevel.errors import FormulaError

    body, _, group = text.partition("@")
    kind, _, time = body.partition(":")
    kind = kind.strip().lower()
    g = group.strip() or None
    if kind == "ar1":
        return AR1(time=time.strip() or None, group=g)
    if kind == "car1":
        if not time.strip():
            raise FormulaError("car1 needs a time column: --correlation car1:age")
        return CAR1(time=time.strip(), group=g)
    raise FormulaError(f"unknown correlation structure {text!r}; use ar1, ar1:time or car1:time")


def parse_variance(text: str) -> VarianceSpec:
    """CLI form: ``ident:Sex``, ``power`` (of the fitted values) or ``power:x``."""
    from multilevel.errors import FormulaError

    kind, _, col = text.partition(":")
    kind = kind.strip().lower()
    if kind == "ident":
        if not col.strip():
            raise FormulaError("ident needs a column: --variance ident:Sex")
        return VarIdent(by=col.strip())
    if kind == "power":
        return VarPower(covariate=col.strip() or None)
    raise FormulaError(f"unknown variance function {text!r}; use ident:column, power or power:x")
