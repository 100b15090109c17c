"""``multilevel confint DATA FORMULA [--method profile|wald|bootstrap]``: intervals for every
parameter with lme4's names."""

from __future__ import annotations

import argparse

from multilevel.cli.inference_args import add_model_arguments, fit_from_args, render

EXAMPLES = """examples:
  multilevel confint sleepstudy 'Reaction ~ Days + (Days | Subject)'
  multilevel confint sleepstudy 'Reaction ~ Days + (Days | Subject)' --method wald --format csv
  multilevel confint sleepstudy 'Reaction ~ Days + (Days | Subject)' --parm sigma Days
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "confint",
        help="confidence intervals for every parameter, as lme4's confint",
        description="Profile-likelihood (default, ML profile as lme4), Wald or parametric "
        "bootstrap intervals for the standard deviations, correlations, sigma and fixed effects.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_model_arguments(p)
    p.add_argument("--method", choices=["profile", "wald", "bootstrap"], default="profile")
    p.add_argument("--level", type=float, default=0.95, help="confidence level (default 0.95)")
    p.add_argument(
        "--parm",
        nargs="+",
        default=None,
        metavar="NAME",
        help="only these parameters (lme4 names, e.g. sigma 'sd_(Intercept)|Subject')",
    )
    p.add_argument("--nsim", type=int, default=1000, help="bootstrap samples (default 1000)")
    p.add_argument("--seed", type=int, default=None, help="bootstrap seed")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    fit = fit_from_args(args)
    table = fit.confint(
        args.method, level=args.level, parm=args.parm, nsim=args.nsim, seed=args.seed
    )
    note = table.attrs.get("note", "")
    if args.method == "bootstrap":
        note = f"percentile intervals of {args.nsim} parametric bootstrap samples"
    title = f"{args.level:.0%} confidence intervals ({args.method})"
    render([(title, table, note)], args)
    return 0
