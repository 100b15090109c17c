"""The fitted result (one class for linear and generalized, in-memory and chunked fits), its
summary (text, Markdown, HTML, LaTeX) and its dict/JSON form."""

from multilevel.result.fit import GlmmFit, LmmFit, MixedFit, VarianceComponent

__all__ = ["GlmmFit", "LmmFit", "MixedFit", "VarianceComponent"]
