"""The lecture's notation: level-1/level-2 equations in, level equations and gamma/tau names out."""

from multilevel.levels.centering import center
from multilevel.levels.equations import (
    LevelModel,
    LevelWarning,
    check_levels,
    fit_levels,
    parse_levels,
)
from multilevel.levels.notation import Notation, gamma_table, notation, tau_table
from multilevel.levels.render import LevelEquations, level_equations, level_text

__all__ = [
    "LevelEquations",
    "LevelModel",
    "LevelWarning",
    "Notation",
    "center",
    "check_levels",
    "fit_levels",
    "gamma_table",
    "level_equations",
    "level_text",
    "notation",
    "parse_levels",
    "tau_table",
]
