"""Residual correlation structures and variance functions, as nlme's ``correlation=`` and
``weights=``: the residual covariance of group j is sigma^2 diag(g_j) R_j diag(g_j)."""

from multilevel.residual.structures import AR1, CAR1, VarIdent, VarPower

__all__ = ["AR1", "CAR1", "VarIdent", "VarPower"]
