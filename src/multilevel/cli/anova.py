"""``multilevel anova DATA FORMULA [--type 3] [--ddf kenward-roger]``: lmerTest's F tests."""

from __future__ import annotations

import argparse

from multilevel.cli.inference_args import add_model_arguments, fit_from_args, render

EXAMPLES = """examples:
  multilevel anova cake.csv 'angle ~ recipe * temperature + (1 | recipe:replicate)'
  multilevel anova cake.csv 'angle ~ recipe * temperature + (1 | recipe:replicate)' --type 1
  multilevel anova data.csv 'y ~ a * b + (1 | subject)' --ddf kenward-roger --format markdown
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "anova",
        help="F tests of the fixed-effect terms (types 1, 2, 3), as lmerTest",
        description="ANOVA table of the fixed effects: F, numerator and denominator df "
        "(Satterthwaite or Kenward-Roger), p; type III does not depend on the coding.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_model_arguments(p)
    p.add_argument("--type", type=int, choices=[1, 2, 3], default=3)
    p.add_argument("--ddf", choices=["satterthwaite", "kenward-roger"], default="satterthwaite")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    fit = fit_from_args(args)
    table = fit.anova(type=args.type, ddf=args.ddf)
    names = {1: "I", 2: "II", 3: "III"}
    ddf = "Satterthwaite" if args.ddf == "satterthwaite" else "Kenward-Roger"
    title = f"Type {names[args.type]} analysis of variance table with {ddf}'s method"
    render([(title, table, "")], args)
    return 0
