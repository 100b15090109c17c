"""``multilevel.fit``: the front door. Any source, one pipeline, one result class.

source -> formula -> design / statistics -> objective -> optimizer -> result: rows in memory are
encoded into a :class:`~multilevel.design.model.ModelDesign` and their cross-products formed in
one pass; data too large for memory (or on a Dask cluster) are reduced chunk by chunk to the
same cross-products. Either way :func:`multilevel.fitting.fit_statistics` does the rest.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from multilevel.design.model import build_design
from multilevel.errors import DataError, FitWarning  # noqa: F401 - FitWarning re-exported
from multilevel.family import Family
from multilevel.fitting import fit_design  # noqa: F401 - re-exported
from multilevel.formula.parse import parse_formula
from multilevel.sources.dask import fit_dask
from multilevel.sources.encoding import check_supported
from multilevel.sources.fit_large import fit_large

#: files larger than this (bytes on disk) are read in chunks when the model allows it
CHUNKED_FILE_BYTES = 512 * 2**20
#: rows per chunk when the choice of a chunked fit is automatic
DEFAULT_CHUNK_ROWS = 1_000_000


def fit(
    formula: str,
    data: Any,
    reml: bool = True,
    *,
    family: Any = None,
    nagq: int = 1,
    weights: Any = None,
    offset: Any = None,
    contrasts: Any = None,
    correlation: Any = None,
    variance: Any = None,
    na_values: Any = None,
    chunk_rows: int | None = None,
    warn: bool = True,
) -> Any:
    """Fit a linear mixed model written as an lme4 formula.

    ``data`` is any source ``multilevel.read.as_source`` reads: a pandas, polars (DataFrame or
    LazyFrame), Arrow table, a DuckDB relation, a CSV or Parquet file or folder, or a Dask
    DataFrame (reduced where its partitions live). REML by default, as lme4; ``reml=False`` for
    maximum likelihood. ``contrasts`` codes factors as lme4's argument does: ``{"recipe":
    "sum"}`` (treatment, sum, helmert or poly). ``na_values``: codes that mark missing values
    (e.g. ``[".", "-999"]``). Rows in memory are fitted in memory; a Dask DataFrame, a file
    larger than 512 MB, or an explicit ``chunk_rows`` are read in chunks of that many rows
    (bounded memory), with the same estimates to rounding and the same result class, without
    the row-level parts (fitted values, residuals: ``fit.predict_chunks``). ``weights``
    (precision weights: residual variance sigma^2 / w) and ``offset`` (a known term of the
    linear predictor; also ``offset(expr)`` in the formula) are a column name, an expression of
    columns, or an array with one value per row of ``data``, as lme4's.
    ``correlation`` (``multilevel.AR1(...)``, ``multilevel.CAR1(...)``) and ``variance``
    (``multilevel.VarIdent(...)``, ``multilevel.VarPower(...)``) give the residuals nlme's
    correlation structures and variance functions (see :mod:`multilevel.residual`).

    ``family="binomial" | "poisson"`` (or ``multilevel.Binomial(link="probit")``) fits a
    generalized linear mixed model as lme4's ``glmer`` (Laplace, or adaptive Gauss-Hermite
    with ``nagq > 1``); ``weights`` (binomial trials) and ``offset`` belong to those.

    On large data the numeric columns are read in place, not copied. With pandas' copy-on-write
    (pandas 3; pandas 2 copies instead) later edits of the DataFrame never reach the fit, but
    numpy arrays wrapped without a copy (``pd.DataFrame({...}, copy=False)``) and edited in place
    afterwards would change the fitted values computed from them: copy such arrays first.

    >>> import multilevel
    >>> m = multilevel.fit("mathach ~ 1 + (1 | school)", multilevel.datasets.hsb())
    >>> round(m.icc["school"], 4)
    0.1804
    """
    if not _gaussian(family):  # hook: GLMMs (#12)
        from multilevel.glmm.fit import fit_glmm

        if correlation is not None or variance is not None:
            raise DataError(
                "correlation= and variance= (residual structures) are for linear mixed models; "
                "a GLMM's conditional variance is fixed by its family"
            )
        if chunk_rows is not None or _is_dask(data):
            raise DataError("a GLMM from chunks or Dask is not supported yet: fit it in memory")
        return fit_glmm(
            formula,
            data,
            family,
            nagq=nagq,
            weights=weights,
            offset=offset,
            contrasts=contrasts,
            na_values=na_values,
            warn=warn,
        )
    if nagq != 1:
        raise DataError(
            "nagq (adaptive Gauss-Hermite quadrature) is an argument of generalized linear mixed "
            "models: give family='binomial' or 'poisson' (a linear mixed model is exact without it)"
        )
    if (correlation is not None or variance is not None) and (
        weights is not None or offset is not None
    ):
        raise DataError(
            "weights= and offset= cannot be combined with residual correlation or variance "
            "structures yet: give the variance function (e.g. VarIdent) instead of weights, or "
            "subtract the offset from the outcome"
        )
    if chunk_rows is not None and int(chunk_rows) < 1:
        raise DataError(f"chunk_rows must be a positive number of rows, not {chunk_rows}")
    chunked = chunk_rows is not None or _is_dask(data)
    if chunked and (correlation is not None or variance is not None):
        raise DataError(
            "correlation= and variance= (residual structures) need the rows in memory; they are "
            "not supported with chunk_rows= or a Dask DataFrame: fit without them"
        )
    options = dict(weights=weights, offset=offset, contrasts=contrasts, na_values=na_values)
    if _is_dask(data):
        return fit_dask(formula, data, reml=reml, warn=warn, _stacklevel=3, **options)
    in_memory_only = correlation is not None or variance is not None or _arrays(weights, offset)
    if chunk_rows is None and _large_file(data) and _chunkable(formula) and not in_memory_only:
        chunk_rows = DEFAULT_CHUNK_ROWS
    if chunk_rows is not None:
        return fit_large(
            formula,
            data,
            reml=reml,
            chunk_rows=int(chunk_rows),
            warn=warn,
            _stacklevel=3,
            **options,
        )
    design = build_design(
        formula, data, contrasts, weights=weights, offset=offset, na_values=na_values
    )
    if correlation is not None or variance is not None:  # hook: multilevel.residual
        from multilevel.residual.fit import fit_residual

        return fit_residual(design, data, reml, correlation, variance, warn=warn)
    return fit_design(design, reml=reml, warn=warn, _stacklevel=3)


def _gaussian(family: Any) -> bool:
    """Whether ``family`` asks for a linear mixed model: None, "gaussian", or a fit's own
    Gaussian family (``fit.family``, so a fit's family refits the same model)."""
    if family is None:
        return True
    if isinstance(family, Family):
        if family.is_gaussian and family.link != "identity":
            raise DataError(
                f"the gaussian family with a {family.link} link is not supported: transform "
                "the outcome in the formula (e.g. log(y)) for a linear mixed model"
            )
        return family.is_gaussian
    return str(family).strip().lower().replace(" ", "") in ("gaussian", "gaussian(identity)")


def _is_dask(data: Any) -> bool:
    return type(data).__module__.split(".")[0] in ("dask", "dask_expr")


def _arrays(*args: Any) -> bool:
    """Whether weights or offset are given as arrays (one value per row: rows in memory)."""
    return any(a is not None and not isinstance(a, str) for a in args)


def _large_file(data: Any) -> bool:
    """A CSV or Parquet file or folder whose size on disk exceeds CHUNKED_FILE_BYTES."""
    if not isinstance(data, str | os.PathLike):
        return False
    path = Path(data)
    try:
        if path.is_dir():
            return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) > (
                CHUNKED_FILE_BYTES
            )
        return path.is_file() and path.stat().st_size > CHUNKED_FILE_BYTES
    except OSError:
        return False


def _chunkable(formula: str) -> bool:
    """Whether the chunked path fits this model (else the data are read into memory)."""
    try:
        check_supported(parse_formula(formula))
    except Exception:  # noqa: BLE001 - any refusal means: fit in memory, which says why
        return False
    return True
