"""``multilevel icc DATA --outcome Y --group G``: the null model's ICC with its interval."""

from __future__ import annotations

import argparse
import json
import sys

EXAMPLES = """examples:
  multilevel icc hsb --outcome mathach --group school
  multilevel icc data.csv --outcome y --group classroom --json
  multilevel icc hsb --outcome mathach --group school --method bootstrap --boot 1000 --seed 2

The null model (random-effects ANOVA) y ~ 1 + (1 | group) is fitted by REML (--ml: ML) on the
rows where the outcome and the group are present. ICC = tau00 / (tau00 + sigma^2); the interval
is the profile-likelihood interval of the one variance ratio (or a parametric bootstrap).
Design effect (Kish) = 1 + (m - 1) ICC with m = n / J, the mean group size; effective n =
n / design effect. With unequal group sizes m_w = sum n_j^2 / n is also given (the size of the
group of a randomly drawn row). `multilevel compare` reports a design effect from the ICC of
its own model *given its predictors*, which is why the two can differ.
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "icc",
        help="intraclass correlation of the null model with its interval and design effect",
        description="Fit the null model y ~ 1 + (1 | group) and report the ICC with a "
        "confidence interval, the design effect and the effective sample size.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("data", help="CSV or Parquet file, or the name of a built-in data set")
    p.add_argument("--outcome", required=True, help="the outcome column")
    p.add_argument("--group", required=True, help="the grouping (level-2 unit) column")
    p.add_argument("--ml", action="store_true", help="maximum likelihood instead of REML")
    p.add_argument(
        "--level", type=float, default=0.95, help="confidence level of the interval (default 0.95)"
    )
    p.add_argument(
        "--method",
        choices=["profile", "bootstrap"],
        default="profile",
        help="profile likelihood (default) or parametric bootstrap interval",
    )
    p.add_argument("--boot", type=int, default=500, help="bootstrap replicates (default 500)")
    p.add_argument("--seed", type=int, default=1, help="bootstrap seed (default 1)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(run=run)


def null_formula(outcome: str, group: str) -> str:
    """``y ~ 1 + (1 | g)`` with names quoted in backticks where R would need them."""
    from multilevel.ladder.ladder import quoted

    return f"{quoted(outcome)} ~ 1 + (1 | {quoted(group)})"


def run(args: argparse.Namespace) -> int:
    import warnings

    import multilevel
    from multilevel.cli.fit import resolve_data
    from multilevel.errors import DataError
    from multilevel.ladder import icc

    if not 0 < args.level < 1:
        raise DataError(f"--level must be between 0 and 1 (e.g. 0.95), not {args.level}")
    if args.method == "bootstrap" and args.boot < 10:
        raise DataError(f"--boot must be at least 10 replicates, not {args.boot}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", multilevel.FitWarning)
        null = multilevel.fit(
            null_formula(args.outcome, args.group), resolve_data(args.data), reml=not args.ml
        )
    res = icc(null, level=args.level, method=args.method, n_boot=args.boot, seed=args.seed)
    if args.json:
        out = {
            **res.to_dict(),
            "formula": null.formula,
            "fit_method": null.method,
            "n_dropped": null.n_dropped,
        }
        json.dump(out, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    sys.stdout.write(icc_text(res, null) + "\n")
    return 0


def icc_text(res, null) -> str:
    """The ICC in words: estimate, interval, design effects, effective n, rows used."""
    pct = f"{100 * res.level:g}%"
    lines = [
        f"Null model: {null.formula} ({null.method}), {res.n_obs} rows in {res.n_groups} "
        f"{res.group} groups"
        + (f"; {null.n_dropped} rows dropped for missing values" if null.n_dropped else ""),
        "",
        f"ICC = {res.icc:.4f}  {pct} CI [{res.lower:.4f}, {res.upper:.4f}] ({res.method}"
        + (f", {res.n_boot} replicates, seed {res.seed}" if res.method == "bootstrap" else "")
        + ")",
        f"  tau00 = {res.tau00:.5g} (between {res.group}), sigma^2 = {res.sigma2:.5g} (within)",
        "",
        f"Design effect 1 + (m - 1) ICC = {res.design_effect:.3f} with the mean group size "
        f"m = {res.mean_group_size:.2f}; effective n = {res.effective_n:.1f} of {res.n_obs}",
    ]
    if abs(res.weighted_group_size - res.mean_group_size) > 1e-9:
        lines.append(
            f"Unequal group sizes: with m_w = sum n_j^2 / n = {res.weighted_group_size:.2f} the "
            f"design effect is {res.design_effect_unequal:.3f} (effective n "
            f"{res.effective_n_unequal:.1f})"
        )
    return "\n".join(lines)
