"""``multilevel power``: power by simulation, from a pilot (DATA FORMULA) or a planned design."""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import Any

from multilevel.cli.output import add_format_option, chosen

EXAMPLES = """examples:
  # from a pilot: its estimates are the truth; extend or subsample it along sizes
  multilevel power pilot.csv 'y ~ treat + x + (1 | school)' --test treat --nsim 1000 --seed 1
  multilevel power pilot.csv 'y ~ treat + (1 | school)' --groups 20,40,60 --group-size 10,20 \\
      --set treat=0.25 --plot power.png --target 0.8
  # from a planned design (no data): 40 schools x 20 pupils, treatment assigned to schools
  multilevel power --groups 20,40,60 --group-size 10,20,30 --effect 0.3 --icc 0.1 --seed 1
  multilevel power --groups 30 --group-size 20 --treatment individual --effect 0.2 \\
      --level1 x=0.3 --icc 0.05 --method kenward-roger --format markdown
"""


def _ints(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        from multilevel.errors import MultilevelError

        raise MultilevelError(f"expected whole numbers separated by commas, got {text!r}") from None


def _pairs(text: str | None, what: str) -> dict[str, float]:
    from multilevel.errors import MultilevelError

    out: dict[str, float] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, _, value = part.partition("=")
        try:
            out[name.strip()] = float(value) if value.strip() else 0.0
        except ValueError:
            raise MultilevelError(f"{what}: expected name=value, got {part!r}") from None
    return out


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "power",
        help="power and sample size by simulation (from a pilot fit or a planned design)",
        description="Estimate the power of a test by simulating from a pilot fit or a planned "
        "two-level design, refitting each simulated data set.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("data", nargs="?", help="pilot data (CSV, Parquet or a built-in data set)")
    p.add_argument("formula", nargs="?", help="the pilot's lme4 formula")
    p.add_argument("--test", help="fixed effect to test (default: the treatment / first effect)")
    p.add_argument(
        "--method",
        choices=["satterthwaite", "kenward-roger", "lrt", "z"],
        default="satterthwaite",
    )
    p.add_argument("--reduced", metavar="FORMULA", help="reduced model: a likelihood-ratio test")
    p.add_argument("--nsim", type=int, default=1000, help="simulations per design (1000)")
    p.add_argument("--alpha", type=float, default=0.05)
    p.add_argument("--seed", type=int, help="random seed (the same numbers on any core count)")
    p.add_argument("--workers", type=int, help="processes (default: all cores)")
    p.add_argument("--groups", metavar="LIST", help="numbers of groups, e.g. 20,40,60")
    p.add_argument("--group-size", metavar="LIST", help="rows per group, e.g. 10,20,30")
    p.add_argument("--along", metavar="FACTOR", help="pilot: a grouping factor to resize")
    p.add_argument("--values", metavar="LIST", help="pilot: numbers of levels of --along")
    p.add_argument("--set", metavar="NAME=VALUE,...", help="pilot: true fixed effects to use")
    g = p.add_argument_group("planned design (without DATA)")
    g.add_argument("--effect", type=float, default=0.0, help="treatment effect (0)")
    g.add_argument("--treatment", choices=["group", "individual", "none"], default="group")
    g.add_argument("--icc", type=float, help="intraclass correlation")
    g.add_argument("--total-variance", type=float, default=1.0)
    g.add_argument("--tau2", type=float, help="random-intercept variance (instead of --icc)")
    g.add_argument("--sigma2", type=float, help="residual variance (instead of --icc)")
    g.add_argument("--level1", metavar="NAME=EFFECT,...", help="level-1 N(0,1) predictors")
    g.add_argument("--level2", metavar="NAME=EFFECT,...", help="level-2 N(0,1) predictors")
    g.add_argument("--design-seed", type=int, default=0, help="seed of the predictors' values")
    g.add_argument(
        "--family",
        choices=["gaussian", "binomial", "poisson"],
        default="gaussian",
        help="outcome: continuous (default), 0/1 (binomial, logit) or counts (poisson, log); "
        "--effect and --level1/2 are then on the link scale, --icc on the latent scale",
    )
    g.add_argument("--intercept", type=float, default=0.0, help="the intercept (link scale)")
    p.add_argument("--target", type=float, help="report the smallest design reaching this power")
    p.add_argument("--plot", metavar="FILE", help="write the power curve (PNG, PDF, SVG)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_format_option(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import json

    import multilevel
    from multilevel.cli.fit import resolve_data
    from multilevel.errors import MultilevelError
    from multilevel.planning import plan, power

    groups, sizes = _ints(args.groups), _ints(args.group_size)
    source: Any
    along, values = [], []
    if args.data is not None:
        if args.formula is None:
            raise MultilevelError("a pilot needs DATA and FORMULA (or neither, for a design)")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", multilevel.FitWarning)
            source = multilevel.fit(args.formula, resolve_data(args.data))
        if args.along:
            along.append(args.along)
            values.append(_ints(args.values))
        if groups:
            along.append("n_groups")
            values.append(groups)
        if sizes:
            along.append("group_size")
            values.append(sizes)
        fixed = _pairs(args.set, "--set") or None
    else:
        if not groups or not sizes:
            raise MultilevelError("a planned design needs --groups and --group-size")
        level1, level2 = _pairs(args.level1, "--level1"), _pairs(args.level2, "--level2")
        treatment = None if args.treatment == "none" else args.treatment
        effects = {
            "(Intercept)": args.intercept,
            **level1,
            **level2,
            **({"treat": args.effect} if treatment else {}),
        }
        source = plan(
            groups[0],
            sizes[0],
            fixed=effects,
            treatment=treatment,
            level1=list(level1),
            level2=list(level2),
            icc=args.icc,
            total_variance=args.total_variance,
            tau2=args.tau2,
            sigma2=args.sigma2,
            seed=args.design_seed,
            family=None if args.family == "gaussian" else args.family,
        )
        for name, vals in (("n_groups", groups), ("group_size", sizes)):
            if len(vals) > 1:
                along.append(name)
                values.append(vals)
        fixed = None
    result = power(
        source,
        args.test,
        nsim=args.nsim,
        alpha=args.alpha,
        seed=args.seed,
        along=along or None,
        values=values or None,
        method=args.method,
        reduced=args.reduced,
        fixed=fixed,
        workers=args.workers,
        progress=False if args.no_progress else None,
    )
    if args.plot:
        result.plot(target=args.target or 0.8).savefig(args.plot, dpi=120)
    best = result.smallest(args.target) if args.target is not None else None
    fmt = chosen(args)
    if fmt == "json":
        out = result.to_dict()
        if args.target is not None:
            out["target"] = args.target
            out["smallest"] = (
                None
                if best is None
                else {k: (v.item() if hasattr(v, "item") else v) for k, v in best.items()}
            )
        json.dump(out, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    text = {
        "text": result.to_text,
        "markdown": result.to_markdown,
        "latex": result.to_latex,
        "html": result.to_html,
        "csv": result.to_csv,
    }[fmt]()
    sys.stdout.write(text.rstrip("\n") + "\n")
    if args.target is not None and fmt == "text":
        if best is None:
            sys.stdout.write(f"No design reaches power {args.target}.\n")
        else:
            size = ", ".join(
                f"{k} = {int(best[k])}" for k in ("n_groups", "group_size") if k in best.index
            )
            sys.stdout.write(
                f"Smallest design with power >= {args.target}: {size} (N = {int(best['n_obs'])},"
                f" power {best['power']:.3f})\n"
            )
    return 0
