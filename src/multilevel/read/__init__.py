"""The first step of the pipeline: any data source as pandas chunks of one schema.

``as_source(data, ids=..., na_values=...)`` recognises the input (pandas, polars, Arrow, DuckDB,
Dask, CSV or Parquet file or folder); :class:`Source` reads it whole or in chunks. The modules
here depend only on pandas, pyarrow and :mod:`multilevel.design.values`.
"""

from multilevel.read.source import Source, as_source

__all__ = ["Source", "as_source"]
