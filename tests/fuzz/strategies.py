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


# ---------------------------------------------------------------- exact arithmetic (issue 11)
INTEGER_DTYPES = ("int64", "int32", "Int64", "uint32", "int16")
#: formulas whose terms overflow integer arithmetic on columns of a few hundred thousand
INTEGER_FORMULAS = (
    "y ~ I(a^4) + (1 | g)",
    "y ~ a + I(a^2) + (1 | g)",
    "y ~ a:b + (1 | g)",
    "y ~ a * b + (1 + a | g)",
    "y ~ I(a * b * a) + (1 | g)",
    "y ~ I(a^3 - b^3) + (1 | g)",
)


@st.composite
def integer_frames(draw) -> tuple[pd.DataFrame, str]:
    """Integer predictors a, b (values up to a few 1e5, as incomes or counts) in one of
    INTEGER_DTYPES, a group column g and an outcome; the dtype is drawn per column."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n, G = int(rng.integers(40, 120)), int(rng.integers(4, 9))
    hi = int(_pick(rng, (200_000,), (30_000, 60_000, 2**15 - 1), 0.5))
    a = rng.integers(1, hi, n)
    b = rng.integers(1, min(hi, 50_000), n)
    g = rng.integers(0, G, n)
    y = 1e-5 * a + rng.normal(size=G)[g] + rng.normal(size=n)
    df = pd.DataFrame({"y": y, "a": a, "b": b, "g": [GROUPS[k] for k in g]})
    for col in ("a", "b"):
        dtype = INTEGER_DTYPES[int(rng.integers(len(INTEGER_DTYPES)))]
        if dtype == "int16":  # values must fit
            df[col] = (df[col] % (2**15 - 1)) + 1
        df[col] = df[col].astype(dtype)
    return df, INTEGER_FORMULAS[int(rng.integers(len(INTEGER_FORMULAS)))]


@st.composite
def shifted_frames(draw) -> tuple[pd.DataFrame, pd.DataFrame, str, str]:
    """A well-posed data set and the same data with the outcome or a predictor shifted by a
    large offset (1e6 to 1e9, as epoch seconds or yyyymmdd dates); the shifted column's name."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n, G = int(rng.integers(60, 200)), int(rng.integers(5, len(GROUPS) + 1))
    g = rng.integers(0, G, n)
    x = rng.normal(size=n)
    w = rng.normal(size=G)[g]
    y = 0.5 * x + 0.3 * w + rng.normal(scale=0.6, size=G)[g] + rng.normal(size=n)
    df = pd.DataFrame({"y": y, "x": x, "w": w, "g": [GROUPS[k] for k in g]})
    column = ("y", "x", "w")[int(rng.integers(3))]
    offset = float(_pick(rng, (1e9,), (1e6, 2.0e7, 1.7e9), 0.5))
    formula = ("y ~ x + w + (1 | g)", "y ~ x + (1 + x | g)")[int(rng.integers(2))]
    return df, df.assign(**{column: df[column] + offset}), column, formula


@st.composite
def mixed_type_csv(draw) -> tuple[bytes, int]:
    """CSV bytes whose group id looks numeric in the first rows and textual later (or a numeric
    column with text in a late chunk), and a chunk size that splits the two parts."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n, G = int(rng.integers(80, 200)), int(rng.integers(4, 10))
    g = np.sort(rng.integers(0, G, n))
    ids = [f"{k:03d}" if k < G // 2 else f"id{k}" for k in g]  # 000, 001, ... then id5, ...
    x = rng.normal(size=n)
    y = x + rng.normal(size=G)[g] + rng.normal(size=n)
    df = pd.DataFrame({"y": y, "x": x, "g": ids})
    chunk = int(rng.integers(10, max(11, int(np.searchsorted(g, G // 2)))))
    return df.to_csv(index=False).encode(), chunk


#: text codes for missing values (a numeric code such as -999 is a number unless declared)
MISSING_CODES = (".", "NA ", "n/a", "?", "-")


@st.composite
def missing_code_frames(draw) -> tuple[pd.DataFrame, str, str]:
    """A frame whose numeric column x (or outcome y) holds a missing-value code as text in a few
    rows (SPSS/Stata exports), as read from a CSV: an object column; the column and the code."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n, G = int(rng.integers(40, 120)), int(rng.integers(4, 9))
    g = rng.integers(0, G, n)
    x = rng.normal(size=n)
    y = x + rng.normal(size=G)[g] + rng.normal(size=n)
    df = pd.DataFrame({"y": y, "x": x, "g": [GROUPS[k] for k in g]})
    column = ("x", "y")[int(rng.integers(2))]
    code = MISSING_CODES[int(rng.integers(len(MISSING_CODES)))]
    values = df[column].astype(object)
    values[rng.choice(n, size=int(rng.integers(1, 4)), replace=False)] = code
    return df.assign(**{column: values}), column, code
