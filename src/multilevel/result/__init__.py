"""The fitted result, its summary (text, Markdown, HTML, LaTeX) and its dict/JSON form."""

from multilevel.result.fit import LmmFit, VarianceComponent

__all__ = ["LmmFit", "VarianceComponent"]
