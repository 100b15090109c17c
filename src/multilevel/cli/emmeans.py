"""``multilevel emmeans DATA FORMULA --specs A [--by B] [--adjust holm]``: marginal means and
their pairwise comparisons, as R's emmeans."""

from __future__ import annotations

import argparse

from multilevel.cli.inference_args import add_model_arguments, fit_from_args, render

EXAMPLES = """examples:
  multilevel emmeans cake.csv 'angle ~ recipe * temperature + (1 | recipe:replicate)' --specs recipe
  multilevel emmeans cake.csv 'angle ~ recipe * temperature + (1 | recipe:replicate)' \\
      --specs temperature --by recipe --adjust holm --format markdown
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "emmeans",
        help="estimated marginal means and pairwise comparisons, as R's emmeans",
        description="Marginal means of the factors in --specs (within levels of --by), other "
        "factors averaged with equal weights, covariates at their means; all pairs compared.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_model_arguments(p)
    p.add_argument("--specs", nargs="+", required=True, metavar="FACTOR")
    p.add_argument("--by", nargs="+", default=None, metavar="FACTOR")
    p.add_argument(
        "--adjust",
        choices=["tukey", "holm", "bonferroni", "none"],
        default="tukey",
        help="p-value adjustment of the pairs within each by group (default tukey)",
    )
    p.add_argument("--ddf", choices=["satterthwaite", "kenward-roger"], default="satterthwaite")
    p.add_argument("--level", type=float, default=0.95, help="confidence level (default 0.95)")
    p.add_argument("--no-pairs", action="store_true", help="only the means")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    fit = fit_from_args(args)
    em = fit.emmeans(args.specs, by=args.by, ddf=args.ddf, level=args.level)
    ddf = "Satterthwaite" if args.ddf == "satterthwaite" else "Kenward-Roger"
    frames = [
        (
            "Estimated marginal means",
            em.table(),
            f"degrees of freedom: {ddf}; confidence level {args.level:g}",
        )
    ]
    if not args.no_pairs:
        frames.append(
            ("Pairwise comparisons", em.pairs(args.adjust), f"p-value adjustment: {args.adjust}")
        )
    render(frames, args)
    return 0
