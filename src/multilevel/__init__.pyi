"""What type checkers and editors see of the package: its public names, imported (the module
itself imports them on first use; see ``__init__.py``)."""

from multilevel import datasets, levels, simulate
from multilevel.api import fit
from multilevel.compare import compare_estimators, simulate_type1
from multilevel.errors import (
    DataError,
    FitWarning,
    FormulaError,
    MultilevelError,
    UnsafeFormulaError,
)
from multilevel.family import Binomial, Family, Poisson
from multilevel.glmm import latent_icc
from multilevel.ladder import icc, ladder, lrt, lrt_sequence, r2
from multilevel.levels import fit_levels, level_equations, parse_levels
from multilevel.planning import plan, power
from multilevel.residual import AR1, CAR1, VarIdent, VarPower
from multilevel.result.fit import GlmmFit, LargeFit, LmmFit, MixedFit
from multilevel.sources import fit_large
from multilevel.sources.dask import fit_dask

__version__: str

__all__ = [
    "AR1",
    "Binomial",
    "CAR1",
    "Family",
    "GlmmFit",
    "Poisson",
    "VarIdent",
    "VarPower",
    "latent_icc",
    "DataError",
    "FitWarning",
    "FormulaError",
    "LargeFit",
    "LmmFit",
    "MixedFit",
    "MultilevelError",
    "UnsafeFormulaError",
    "compare_estimators",
    "datasets",
    "fit",
    "fit_dask",
    "fit_large",
    "fit_levels",
    "icc",
    "ladder",
    "level_equations",
    "levels",
    "lrt",
    "lrt_sequence",
    "parse_levels",
    "plan",
    "power",
    "r2",
    "simulate",
    "simulate_type1",
]
