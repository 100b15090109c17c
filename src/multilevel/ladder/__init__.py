"""The lecture's model-comparison workflow: the ladder of models, LRTs, ICC and R^2."""

from multilevel.ladder.icc import IccResult, icc
from multilevel.ladder.ladder import Ladder, LadderStep, LadderWarning, ladder
from multilevel.ladder.lrt import LrtResult, chibar_p, lrt, lrt_sequence
from multilevel.ladder.r2 import R2, r2, variance_explained

__all__ = [
    "IccResult",
    "Ladder",
    "LadderStep",
    "LadderWarning",
    "LrtResult",
    "R2",
    "chibar_p",
    "icc",
    "ladder",
    "lrt",
    "lrt_sequence",
    "r2",
    "variance_explained",
]
