"""Likelihood-ratio tests of residual structures: which model is nested in which, and where the
null value lies on the edge of the parameter space.

A model without a correlation structure is the AR1 model at phi = 0, inside (-1, 1): the LRT
statistic is chi^2(1) asymptotically. For CAR1, phi = 0 is the edge of (0, 1) and the statistic
is a 50:50 mixture of chi^2(0) and chi^2(1) (Self & Liang 1987). Equal SDs are VarIdent with
all ratios 1 and VarPower with power 0, both inside their ranges.
"""

from __future__ import annotations

from typing import Any

from multilevel.errors import ModelComparisonError
from multilevel.residual.structures import CAR1


def _parts(fit: Any) -> tuple[Any, Any]:
    r = getattr(fit, "residual_structure", None)
    return (None, None) if r is None else (r.correlation, r.variance)


def differ(reduced: Any, full: Any) -> bool:
    """Whether the two fits have different residual structures."""
    return _parts(reduced) != _parts(full)


def residual_nesting(reduced: Any, full: Any, names: tuple[str, str]) -> tuple[bool, list[str]]:
    """Check the reduced model's residual structure is a special case of the full one's.

    Returns (whether a parameter is tested on the edge of its range, notes)."""
    (c0, v0), (c1, v1) = _parts(reduced), _parts(full)
    for part, a, b in (("correlation structure", c0, c1), ("variance function", v0, v1)):
        if a is not None and a != b:
            raise ModelComparisonError(
                f"models are not nested: {names[0]!r} has the residual {part} {a.describe()}, "
                f"which {names[1]!r} "
                + ("does not have" if b is None else f"replaces by {b.describe()}")
            )
    notes: list[str] = []
    boundary = False
    if c0 is None and c1 is not None:
        if isinstance(c1, CAR1):
            boundary = True
            notes.append(
                "CAR1 phi tested against 0, the edge of its range (0, 1): p_value_mixture from "
                "0.5 chi2(0) + 0.5 chi2(1)"
            )
        else:
            notes.append("AR1 phi tested against 0, inside its range (-1, 1): chi2(1) applies")
    return boundary, notes
