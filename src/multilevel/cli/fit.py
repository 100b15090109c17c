"""``multilevel fit DATA FORMULA [--ml] [--json]``: fit one model and print it."""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from typing import Any

from multilevel.cli.inference_args import add_coding_options
from multilevel.cli.output import add_format_option, chosen, emit
from multilevel.residual import cli as residual_options

EXAMPLES = """examples:
  multilevel fit hsb.csv 'mathach ~ 1 + (1 | school)'
  multilevel fit hsb.csv 'mathach ~ cses * meanses + (1 + cses | school)' --json
  multilevel fit data.parquet 'y ~ x + (1 | a/b)' --ml --format markdown
  multilevel fit big_folder/ 'y ~ x + w + (1 + x | school)' --chunk-rows 1000000
  multilevel fit cake.csv 'angle ~ recipe * temperature + (1 | replicate)' --contrasts recipe=sum
  multilevel fit survey.csv 'y ~ x + (1 | school)' --weights w --offset 'log(exposure)'
  multilevel fit sleepstudy 'Reaction ~ Days + (Days | Subject)' --correlation ar1:Days
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fit",
        help="fit a linear mixed model from an lme4 formula",
        description="Fit a linear mixed model (REML by default) and print lme4-style output.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("data", help="CSV or Parquet file, or the name of a built-in data set")
    p.add_argument("formula", help="lme4 formula, e.g. 'y ~ x + (1 + x | group)'")
    p.add_argument("--ml", action="store_true", help="maximum likelihood instead of REML")
    add_format_option(p)
    p.add_argument(
        "--ddf",
        choices=["satterthwaite", "kenward-roger"],
        default="satterthwaite",
        help="denominator degrees of freedom for the t-tests of the fixed effects: "
        "satterthwaite (default, as lmerTest) or kenward-roger (as pbkrtest; also adjusts the "
        "SEs; REML fits only)",
    )
    p.add_argument(
        "--family",
        help="binomial (logit; or 'binomial(link=probit)', cloglog) or poisson: a generalized "
        "linear mixed model, as lme4's glmer",
    )
    p.add_argument(
        "--nagq",
        type=int,
        default=1,
        help="quadrature points (1 = Laplace; >1 needs one scalar random effect)",
    )
    p.add_argument(
        "--vcov",
        choices=["model", "CR0", "CR1", "CR2"],
        default="model",
        help="also show fixed effects with cluster-robust SEs (clubSandwich's CR2 with "
        "Satterthwaite df, as HLM's robust standard errors)",
    )
    residual_options.add_options(p)  # hook: multilevel.residual
    p.add_argument(
        "--chunk-rows",
        type=int,
        metavar="N",
        help="read the data N rows at a time (bounded memory, for data larger than memory; any "
        "random-effects structure; Satterthwaite df)",
    )
    add_coding_options(p)
    p.add_argument(
        "--na",
        action="append",
        metavar="CODE",
        help="a value that marks a missing value in the data, e.g. --na . --na -999 (repeatable)",
    )
    p.set_defaults(run=run)


def resolve_data(spec: str):
    """A path, or a built-in data set name such as 'hsb'."""
    import os

    from multilevel import datasets

    if not os.path.exists(spec) and spec in datasets.names():
        return datasets.load(spec)
    return spec


def run(args: argparse.Namespace) -> int:
    import multilevel
    from multilevel.cli.inference_args import contrasts_of
    from multilevel.errors import MultilevelError

    if args.chunk_rows is not None and args.chunk_rows < 1:
        raise MultilevelError(
            f"--chunk-rows must be a positive number of rows, not {args.chunk_rows}"
        )
    if args.chunk_rows is not None and residual_options.from_args(args):
        raise MultilevelError("--correlation/--variance need all rows in memory; drop --chunk-rows")
    if args.chunk_rows is not None and args.ddf == "kenward-roger":
        raise MultilevelError(
            "--ddf kenward-roger needs all rows in memory; drop --chunk-rows (Satterthwaite df "
            "are given for fits in chunks)"
        )
    fit: Any  # the one result class (multilevel.MixedFit) of every fit
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", multilevel.FitWarning)
        na = getattr(args, "na", None)
        common: dict[str, Any] = {
            "na_values": na,
            "contrasts": contrasts_of(args.contrasts),
            "weights": args.weights,
            "offset": args.offset,
        }
        if args.family is not None:  # hook: GLMMs (#12)
            fit = multilevel.fit(
                args.formula,
                resolve_data(args.data),
                family=args.family,
                nagq=args.nagq,
                chunk_rows=args.chunk_rows,
                **common,
            )
        else:  # in memory, or from chunks of at most --chunk-rows rows
            fit = multilevel.fit(
                args.formula,
                resolve_data(args.data),
                reml=not args.ml,
                nagq=args.nagq,
                chunk_rows=args.chunk_rows,
                **common,
                **residual_options.from_args(args),
            )
    fmt = chosen(args)
    if fmt == "json":
        kr = args.ddf == "kenward-roger" and fit.reml
        json.dump(fit.to_dict(kenward_roger=kr), sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif fmt == "csv":
        emit(fit, fmt)
    else:  # the lme4-style summary, rendered as text, Markdown, LaTeX or HTML
        s = fit.summary(ddf=args.ddf, vcov=args.vcov)
        text = s.to_terminal if sys.stdout.isatty() else s.to_text  # plain text when piped
        out = {"text": text, "markdown": s.to_markdown, "html": s.to_html, "latex": s.to_latex}
        sys.stdout.write(out[fmt]() + "\n")
    return 0
