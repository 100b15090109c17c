"""Formula + data -> the matrices of a linear mixed model (y, X, and one RandomTerm per bar)."""

from multilevel.design.model import ModelDesign, build_design

__all__ = ["ModelDesign", "build_design"]
