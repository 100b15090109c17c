"""Command-line options for residual structures, shared by ``fit``, ``ladder`` and ``report``:
``--correlation ar1[:time][@group] | car1:time`` and ``--variance ident:column | power[:column]``.
"""

from __future__ import annotations

import argparse
from typing import Any

from multilevel.residual.structures import parse_correlation, parse_variance


def add_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--correlation",
        metavar="SPEC",
        help="residual correlation within the innermost groups, as nlme: ar1 (row order), "
        "ar1:TIME (integer times, gaps allowed), car1:TIME (continuous time); @GROUP names "
        "another grouping column",
    )
    p.add_argument(
        "--variance",
        metavar="SPEC",
        help="residual variance function, as nlme: ident:COLUMN (one SD per level), power "
        "(of the fitted values) or power:COLUMN",
    )


def from_args(args: argparse.Namespace) -> dict[str, Any]:
    """``correlation=`` and ``variance=`` for multilevel.fit (absent options: none)."""
    corr = getattr(args, "correlation", None)
    var = getattr(args, "variance", None)
    out: dict[str, Any] = {}
    if corr:
        out["correlation"] = parse_correlation(corr)
    if var:
        out["variance"] = parse_variance(var)
    return out
