"""``multilevel plot DATA FORMULA --kind KIND -o out.png``: one plot of a fitted model."""

from __future__ import annotations

import argparse
import sys
import warnings

from multilevel.cli.files import add_force_option, check_output, data_inputs
from multilevel.cli.ladder import add_family_options, family_options
from multilevel.residual import cli as residual_options

EXAMPLES = """examples:
  multilevel plot sleepstudy 'Reaction ~ Days + (Days | Subject)' --kind spaghetti -o lines.png
  multilevel plot hsb 'mathach ~ cses + (1 | school)' --kind caterpillar -o modes.png
  multilevel plot hsb 'mathach ~ cses + (1 + cses | school)' --kind shrinkage -o shrink.pdf
  multilevel plot hsb 'mathach ~ 1 + (1 | school)' --kind variance -o icc.svg

kinds: caterpillar (conditional modes with 95% intervals), spaghetti (group lines and the
  population line; one level-1 predictor), residuals (QQ and residuals vs fitted at level 1,
  QQ of the modes at level 2), shrinkage (OLS per group vs BLUP), variance (between vs within),
  acf (residual autocorrelation by lag, before and after --correlation). GLMMs (--family):
  caterpillar, spaghetti (response scale) and variance (latent scale); the others are refused
  with the reason
  multilevel plot sleepstudy 'Reaction ~ Days + (1 | Subject)' --kind acf --correlation ar1:Days \
      -o acf.png
"""

KIND_NAMES = ("caterpillar", "spaghetti", "residuals", "shrinkage", "variance", "acf")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "plot",
        help="draw a caterpillar, spaghetti, residual, shrinkage or variance plot of a fit",
        description="Fit a model and save one plot of it (PNG, PDF or SVG, from the file name).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("data", help="CSV or Parquet file, or the name of a built-in data set")
    p.add_argument("formula", help="lme4 formula, e.g. 'y ~ x + (1 + x | group)'")
    p.add_argument("--kind", choices=KIND_NAMES, required=True, help="which plot")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="the image to write")
    p.add_argument("--group", help="the grouping factor to plot (default: the first)")
    p.add_argument("--x", help="spaghetti: the level-1 predictor on the x axis")
    p.add_argument("--dpi", type=int, default=120, help="resolution of raster images (default 120)")
    p.add_argument(
        "--max-groups",
        type=int,
        default=None,
        metavar="N",
        help="spaghetti and shrinkage plots: draw at most N groups (a seeded random sample; "
        "default 100 and 200)",
    )
    p.add_argument("--ml", action="store_true", help="maximum likelihood instead of REML")
    add_family_options(p)
    add_force_option(p)
    residual_options.add_options(p)  # hook: multilevel.residual
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import multilevel
    from multilevel.cli.report import resolve
    from multilevel.errors import DataError
    from multilevel.plots import KINDS
    from multilevel.report.files import figure_format, save_figure

    if args.dpi <= 0:
        raise DataError(f"--dpi must be a positive number of dots per inch, not {args.dpi}")
    if args.max_groups is not None and args.max_groups < 1:
        raise DataError(f"--max-groups must be at least 1, not {args.max_groups}")
    figure_format(args.output)  # an unknown extension is refused before the fit
    check_output(args.output, data_inputs(args.data), args.force, "plot")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", multilevel.FitWarning)
        fit = multilevel.fit(
            args.formula,
            resolve(args.data),
            reml=not args.ml,
            **residual_options.from_args(args),
            **family_options(args),
        )
    options = {"group": args.group}
    if args.kind == "spaghetti" and args.x:
        options["x"] = args.x
    if args.max_groups is not None:
        options["max_groups"] = args.max_groups
    fig = KINDS[args.kind](fit, **options)
    save_figure(fig, args.output, dpi=args.dpi)
    print(f"{args.kind} plot written to {args.output}", file=sys.stderr)
    return 0
