"""multilevel: linear mixed (multilevel, hierarchical linear) models with lme4 formulas.

>>> import multilevel
>>> m = multilevel.fit("mathach ~ cses + meanses + (1 + cses | school)", multilevel.datasets.hsb())
"""

from multilevel import datasets, levels
from multilevel.api import fit
from multilevel.compare import compare_estimators, simulate_type1
from multilevel.errors import (
    DataError,
    FitWarning,
    FormulaError,
    MultilevelError,
    UnsafeFormulaError,
)
from multilevel.ladder import icc, ladder, lrt, lrt_sequence, r2
from multilevel.levels import fit_levels, level_equations, parse_levels
from multilevel.result.fit import LargeFit, LmmFit
from multilevel.sources import fit_large
from multilevel.sources.dask import fit_dask

__version__ = "0.1.0"

__all__ = [
    "DataError",
    "FitWarning",
    "FormulaError",
    "LargeFit",
    "LmmFit",
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
    "r2",
    "simulate_type1",
]
