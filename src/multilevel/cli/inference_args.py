"""What the inference subcommands (anova, emmeans, confint) share: the model arguments, the
fit, and one DataFrame rendered in every ``--format``."""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from typing import Any

import numpy as np
import pandas as pd

from multilevel.cli.output import add_format_option, chosen
from multilevel.errors import MultilevelError


def add_model_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", help="CSV or Parquet file, or the name of a built-in data set")
    p.add_argument("formula", help="lme4 formula, e.g. 'y ~ a * b + (1 | group)'")
    p.add_argument("--ml", action="store_true", help="maximum likelihood instead of REML")
    add_coding_options(p)
    add_format_option(p)


def add_coding_options(p: argparse.ArgumentParser) -> None:
    """--contrasts, --weights and --offset: lme4's contrasts=, weights= and offset=."""
    p.add_argument(
        "--contrasts",
        nargs="+",
        metavar="FACTOR=CODING",
        default=[],
        help="code factors as R's contrasts=: e.g. recipe=sum temperature=poly "
        "(treatment, sum, helmert, poly)",
    )
    p.add_argument(
        "--weights",
        metavar="COLUMN",
        help="precision weights, or a GLMM's binomial trials (a column or expression)",
    )
    p.add_argument("--offset", metavar="COLUMN", help="an offset (a column or expression)")


def contrasts_of(items: list[str]) -> dict[str, str] | None:
    out = {}
    for item in items:
        name, sep, coding = item.partition("=")
        if not sep or not name or not coding:
            raise MultilevelError(
                f"--contrasts expects FACTOR=CODING (e.g. recipe=sum), got {item!r}"
            )
        out[name.strip()] = coding.strip()
    return out or None


def fit_from_args(args: argparse.Namespace) -> Any:
    import multilevel
    from multilevel.cli.fit import resolve_data

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", multilevel.FitWarning)
        return multilevel.fit(
            args.formula,
            resolve_data(args.data),
            reml=not args.ml,
            contrasts=contrasts_of(args.contrasts),
            weights=args.weights,
            offset=args.offset,
        )


def _kind(name: str, col: pd.Series) -> str:
    if not pd.api.types.is_numeric_dtype(col.dtype):
        return "text"
    if name.startswith("p_value"):
        return "p"
    if name in ("num_df",):
        return "int"
    return "num3"


def render(frames: list[tuple[str, pd.DataFrame, str]], args: argparse.Namespace) -> None:
    """Write (title, table, note) triples in the chosen format."""
    from multilevel.report.tables import ApaTable, Column

    fmt = chosen(args)
    if fmt == "json":
        out = [
            {
                "title": t,
                "note": n,
                "rows": json.loads(df.to_json(orient="records", double_precision=15)),
            }
            for t, df, n in frames
        ]
        json.dump(out[0] if len(out) == 1 else out, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    parts = []
    for title, df, note in frames:
        if fmt == "text":
            shown = df.copy()
            for c in shown.columns:
                if c.startswith("p_value"):
                    shown[c] = shown[c].map(lambda p: f"{p:.4g}" if np.isfinite(p) else "NA")
            body = shown.to_string(index=False, float_format=lambda x: f"{x:.4f}")
            parts.append(f"{title}\n{body}" + (f"\nNote: {note}" if note else ""))
            continue
        cols = tuple(
            Column(
                str(c), str(c), _kind(str(c), df[c]), "l" if _kind(str(c), df[c]) == "text" else "r"
            )
            for c in df.columns
        )
        table = ApaTable(
            title.lower().replace(" ", "_"), title, df.reset_index(drop=True), cols, note
        )
        parts.append(f"# {title}\n{table.to_csv()}" if fmt == "csv" else table.render(fmt))
    sys.stdout.write("\n\n".join(p.rstrip("\n") for p in parts) + "\n")
