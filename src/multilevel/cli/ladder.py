"""``multilevel ladder DATA --outcome Y --group G --level1 X --level2 W``: the lecture's ladder."""

from __future__ import annotations

import argparse
import sys

from multilevel.cli.output import add_format_option, chosen, emit
from multilevel.residual import cli as residual_options

EXAMPLES = """examples:
  multilevel ladder hsb --outcome mathach --group school --level1 cses --level2 meanses catholic
  multilevel ladder eclsk --outcome math --group schoolid --level1 tvhours --level2 pctfrl \\
      --center group --json
  multilevel ladder hsb.csv --outcome passed --group school --level1 cses --level2 meanses \
      --family binomial --nagq 10
"""


def _names(values: list[str] | None) -> list[str]:
    """``--level1 a b --level1 c,d`` -> [a, b, c, d]."""
    out: list[str] = []
    for v in values or []:
        out.extend(s.strip() for s in v.split(",") if s.strip())
    return list(dict.fromkeys(out))


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ladder",
        help="fit null, random-intercept, intercepts- and slopes-as-outcomes models with LRTs",
        description=(
            "Fit the model ladder (random-effects ANOVA, random intercept, intercepts-as-outcomes, "
            "slopes-as-outcomes) and compare consecutive models by likelihood-ratio tests."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("data", help="CSV or Parquet file, or the name of a built-in data set")
    p.add_argument("--outcome", required=True, help="the outcome column")
    p.add_argument("--group", required=True, help="the grouping (level-2 unit) column")
    p.add_argument(
        "--level1",
        nargs="+",
        action="extend",
        metavar="X",
        help="level-1 predictors (random slopes in the last model)",
    )
    p.add_argument(
        "--level2",
        nargs="+",
        action="extend",
        metavar="W",
        help="level-2 predictors (constant within groups)",
    )
    p.add_argument(
        "--center",
        choices=["group", "grand"],
        default=None,
        help="centre level-1 predictors (group: add group means as level-2 predictors)",
    )
    p.add_argument("--ml", action="store_true", help="fit by maximum likelihood instead of REML")
    add_family_options(p)
    residual_options.add_options(p)  # hook: multilevel.residual
    add_format_option(p)
    p.set_defaults(run=run)


def add_family_options(p: argparse.ArgumentParser) -> None:
    """--family and --nagq: a GLMM (ladder, report, plot)."""
    p.add_argument(
        "--family",
        default=None,
        help="binomial (0/1 outcome; logit, or 'binomial(link=probit)') or poisson (counts): "
        "GLMMs as lme4's glmer, fitted by ML (no REML)",
    )
    p.add_argument(
        "--nagq",
        type=int,
        default=1,
        help="GLMM: adaptive Gauss-Hermite points where the random part is one intercept "
        "(1 = Laplace)",
    )


def family_options(args: argparse.Namespace) -> dict:
    """family= and nagq= for a GLMM (empty for a linear mixed model)."""
    if args.family is None:
        if args.nagq != 1:
            from multilevel.errors import DataError

            raise DataError("--nagq is for GLMMs: give --family binomial or --family poisson")
        return {}
    return {"family": args.family, "nagq": args.nagq}


def run(args: argparse.Namespace) -> int:
    import warnings

    from multilevel.cli.fit import resolve_data
    from multilevel.ladder import LadderWarning, ladder

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", LadderWarning)
        result = ladder(
            resolve_data(args.data),
            outcome=args.outcome,
            group=args.group,
            level1=_names(args.level1),
            level2=_names(args.level2),
            center=args.center,
            reml=not args.ml,
            **residual_options.from_args(args),
            **family_options(args),
        )
    for w in caught:
        if issubclass(w.category, LadderWarning):
            print(f"warning: {w.message}", file=sys.stderr)
    emit(result, chosen(args))
    return 0
