"""Hypothesis strategies for hostile and odd input: data frames, CSV text and lme4 formulas.

Two spaces: the *ordinary* one (odd but moderate data: NaN, one row, constant or string columns,
unicode names, one-level factors, malformed formulas) and the *extreme* one, which adds
magnitudes near the ends of the double range (1e300, 1e-300), the outcome on both sides of the
formula and string constants. Frames are drawn as a few choices plus a numpy seed, so an example
costs microseconds to draw and shrinks to a readable case.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import strategies as st

GROUPS = "abcdefghij"

#: Scales of the ordinary space.
ORDINARY_SCALES = (1e-3, 1.0, 1e3)
#: Scales 1e6 apart (a known crash, see test_fuzz_api.py) and scales whose squares or sums
#: overflow or underflow a double.
EXTREME_SCALES = (1e-6, 1e6, 1e-300, 1e-160, 1e150, 1e300)

NUMERIC_KINDS = (
    "normal",
    "ints",
    "constant",
    "some_nan",
    "all_nan",
    "bool",
    "numeric_strings",
    "strings",
    "mixed_objects",
    "nullable_int",
)
EXTREME_NUMERIC_KINDS = NUMERIC_KINDS + ("some_inf", "complex")
GROUP_KINDS = (
    "letters",
    "ints",
    "one_level",
    "categorical_unused",
    "with_nan",
    "bool",
    "floats",
    "unicode",
    "all_nan",
)


def numeric_column(kind: str, n: int, rng: np.random.Generator, scale: float) -> pd.Series:
    """One column of ``n`` values of the given kind (see NUMERIC_KINDS)."""
    z = rng.normal(size=n)
    if kind == "normal":
        return pd.Series(z * scale)
    if kind == "ints":
        return pd.Series(rng.integers(-3, 4, size=n))
    if kind == "constant":
        return pd.Series(np.full(n, 2.5 * scale))
    if kind == "some_nan":
        v = z * scale
        v[rng.random(n) < 0.3] = np.nan
        return pd.Series(v)
    if kind == "all_nan":
        return pd.Series(np.full(n, np.nan))
    if kind == "bool":
        return pd.Series(z > 0)
    if kind == "numeric_strings":
        return pd.Series([f"{v:.3f}" for v in z], dtype=object)
    if kind == "strings":
        return pd.Series([["low", "mid", "high", "ÿ€"][i % 4] for i in range(n)], dtype=object)
    if kind == "mixed_objects":
        return pd.Series([1.5 if i % 2 else "a" for i in range(n)], dtype=object)
    if kind == "nullable_int":
        v = pd.array(rng.integers(0, 5, size=n), dtype="Int64")
        if n:
            v[0] = pd.NA
        return pd.Series(v)
    if kind == "some_inf":
        v = z * scale
        if n:
            v[rng.integers(n)] = np.inf
        return pd.Series(v)
    if kind == "complex":
        return pd.Series(z + 1j * z)
    raise ValueError(kind)


def group_column(kind: str, n: int, k: int, rng: np.random.Generator) -> pd.Series:
    """A grouping column with about ``k`` levels (see GROUP_KINDS)."""
    codes = np.sort(rng.integers(0, k, size=n))
    if kind == "letters":
        return pd.Series([GROUPS[c] for c in codes], dtype=object)
    if kind == "ints":
        return pd.Series(codes + 100)
    if kind == "one_level":
        return pd.Series(["only"] * n, dtype=object)
    if kind == "categorical_unused":
        return pd.Series(pd.Categorical([GROUPS[c] for c in codes], categories=list(GROUPS)))
    if kind == "with_nan":
        v = np.array([GROUPS[c] for c in codes], dtype=object)
        v[rng.random(n) < 0.2] = np.nan
        return pd.Series(v)
    if kind == "bool":
        return pd.Series(codes % 2 == 0)
    if kind == "floats":
        return pd.Series(codes * 0.5)
    if kind == "unicode":
        return pd.Series([["é", "日本", "🙂", "a b", "x,y"][c % 5] for c in codes], dtype=object)
    if kind == "all_nan":
        return pd.Series([np.nan] * n, dtype=object)
    raise ValueError(kind)


def _pick(rng: np.random.Generator, common: tuple, rare: tuple, p_rare: float):
    """A common choice, or with probability ``p_rare`` a rare one (uniform within each)."""
    pool = rare if rare and rng.random() < p_rare else common
    return pool[rng.integers(len(pool))]


@st.composite
def frames(draw, extreme: bool = False) -> pd.DataFrame:
    """A data frame with columns y, x, z (numeric-ish), g, h (grouping), maybe renamed.

    Hypothesis draws a seed; the choices are made from it with fixed odds (most columns
    ordinary, a third odd) so that many examples reach the optimizer.
    """
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = int(_pick(rng, (12, 24, 40), (0, 1, 2, 3, 5), 0.2))
    kinds = EXTREME_NUMERIC_KINDS if extreme else NUMERIC_KINDS
    scales = ORDINARY_SCALES + EXTREME_SCALES if extreme else ORDINARY_SCALES

    def num(p_odd: float) -> pd.Series:
        scale = _pick(rng, (1.0,), scales, 0.4)
        return numeric_column(_pick(rng, ("normal",), kinds, p_odd), n, rng, scale)

    def grp(p_odd: float, k_max: int) -> pd.Series:
        kind = _pick(rng, ("letters",), GROUP_KINDS, p_odd)
        return group_column(kind, n, int(rng.integers(1, k_max + 1)), rng)

    df = pd.DataFrame(
        {"y": num(0.15), "x": num(0.3), "z": num(0.3), "g": grp(0.3, 8), "h": grp(0.3, 4)}
    )
    rename = _pick(rng, ("none",), ("unicode", "duplicate", "spaces", "dunder"), 0.15)
    if rename == "unicode":
        df = df.rename(columns={"x": "é", "g": "日本"})
    elif rename == "duplicate":
        df.columns = ["y", "x", "x", "g", "h"]
    elif rename == "spaces":
        df = df.rename(columns={"x": "x var", "z": " z"})
    elif rename == "dunder":
        df = df.rename(columns={"z": "__class__"})
    return df


# ---------------------------------------------------------------- formulas
VALID_FIXED = (
    "1",
    "x",
    "z",
    "x:z",
    "x*z",
    "I(x^2)",
    "I(x**2)",
    "sqrt(abs(x))",
    "C(g)",
    "g",
    "center(x)",
    "0",
    "-1",
    "- z",
    "I(x > 0)",
    "pmin(x, z)",
    "log(abs(z) + 1)",
    "(x + z)^2",
    "x %in% g",
    "{x}",
)
ODD_FIXED = (
    "foo(x)",
    "__x",
    "é",
    "`x var`",
    "offset(x)",
    "nope",
    "x/z",
    "I(__class__)",
    "`__class__`",
)
VALID_RANDOM = (
    "(1 | g)",
    "(x | g)",
    "(1 + x || g)",
    "(0 + x | g)",
    "(1 | g/h)",
    "(1 | g:h)",
    "(x - 1 | g)",
    "(1 | h)",
    "(1 | g) + (1 | h)",
)
ODD_RANDOM = (
    "(1 + x + z | g)",
    "(1 | 日本)",
    "(1 | g) + (1 | g)",
    "(-1 | g)",
    "(1 | x)",
    "(z || h)",
    "(1 | `日本`)",
)
OUTCOMES = ("nope", "`y`", "log(abs(y) + 1)")
#: pieces with known bugs (see test_fuzz_api.py): numpy warnings leak, or the outcome on the right
EXTREME_FIXED = (
    "y",
    "I('a')",
    "I((x, z))",
    "scale(y)",
    "scale(z)",
    "poly(x, 2)",
    "log(x)",
    "exp(z)",
    "I(1e308 * x)",
)
EXTREME_OUTCOMES = ("x", "é", "log(y)")
GARBAGE = "()[]{}|~+-*/:^$@#;,'\"`\\ \n\t\x00é日.%!?&=<>"


@st.composite
def formulas(draw, extreme: bool = False, mangle: bool = True) -> str:
    """An lme4 formula built from valid and invalid pieces, sometimes with garbage mixed in.

    Four pieces in five are valid, so that many examples reach the fit; with ``mangle`` a fifth
    of the formulas get random characters inserted, one deleted, a truncation, or are raw junk.
    """
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    rare = ODD_FIXED + (EXTREME_FIXED if extreme else ())
    fixed = [_pick(rng, VALID_FIXED, rare, 0.2) for _ in range(rng.integers(1, 4))]
    random = [_pick(rng, VALID_RANDOM, ODD_RANDOM, 0.2) for _ in range(rng.integers(1, 3))]
    if rng.random() < 0.05:
        random = []
    outcomes = OUTCOMES + (EXTREME_OUTCOMES if extreme else ())
    text = f"{_pick(rng, ('y',), outcomes, 0.1)} ~ " + " + ".join(fixed + random)
    how = _pick(rng, ("none",), ("insert", "delete", "truncate", "raw"), 0.2 if mangle else 0.0)
    if how == "insert":
        for _ in range(rng.integers(1, 4)):
            i = int(rng.integers(0, len(text) + 1))
            text = text[:i] + GARBAGE[rng.integers(len(GARBAGE))] + text[i:]
    elif how == "delete":
        i = int(rng.integers(0, len(text)))
        text = text[:i] + text[i + 1 :]
    elif how == "truncate":
        text = text[: int(rng.integers(0, len(text) + 1))]
    elif how == "raw":
        alphabet = GARBAGE + "xyzg1 "
        text = "".join(alphabet[i] for i in rng.integers(len(alphabet), size=rng.integers(0, 30)))
    return text


# ---------------------------------------------------------------- CSV files
@st.composite
def csv_bytes(draw, extreme: bool = False) -> bytes:
    """The bytes of a CSV file: a written frame, sometimes damaged, or raw junk."""
    df = draw(frames(extreme=extreme))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    how = _pick(
        rng,
        ("frame",),
        ("truncated", "junk", "header_only", "latin1", "semicolon", "bom", "ragged"),
        0.3,
    )
    if how == "junk":
        return rng.integers(0, 256, size=rng.integers(0, 64)).astype(np.uint8).tobytes()
    text = df.to_csv(index=False)
    if how == "truncated":
        text = text[: int(rng.integers(0, len(text) + 1))]
    elif how == "header_only":
        text = text.splitlines()[0] + "\n"
    elif how == "semicolon":
        text = text.replace(",", ";")
    elif how == "bom":
        text = "\ufeff" + text
    elif how == "ragged":
        text = text.replace("\n", ",1\n", 2)
    if how == "latin1":
        return text.encode("utf-8").replace(b"\xc3", b"\xe9")
    return text.encode("utf-8")


#: Exception types of bugs already reported and pinned by strict-xfail regression tests
#: (test_fuzz_api.py: test_broken_python_in_a_call, test_outcome_on_both_sides,
#: test_redundant_terms_large_scale, test_ml_as_many_fixed_effects_as_needed). The ordinary
#: fuzz tests discard examples that raise them, so that they keep finding *new* classes; empty
#: this tuple once those fixes land.
KNOWN_BUGS: tuple[type[BaseException], ...] = ()
