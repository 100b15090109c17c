"""R's factor rules from hash codes: the levels R's ``factor()`` gives, codes remapped to them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from multilevel.design.values import r_factor_from_codes, r_level_order


def test_levels_in_rs_collation_and_codes_that_point_at_them():
    # R 4.2.2 (ICU): levels(factor(c("b", "B", "a", "A", "10", "9", "_x")))
    # [1] "_x" "10" "9"  "a"  "A"  "b"  "B"
    labels = ["b", "B", "a", "A", "10", "9", "_x"]
    order = r_level_order(labels)
    assert [labels[i] for i in order] == ["_x", "10", "9", "a", "A", "b", "B"]
    values = np.array(labels * 3 + [None], dtype=object)
    codes, uniques = pd.factorize(values)
    got = r_factor_from_codes(codes, [str(u) for u in uniques])
    assert list(got.categories) == ["_x", "10", "9", "a", "A", "b", "B"]
    assert got.isna().sum() == 1
    np.testing.assert_array_equal(np.asarray(got[:-1], dtype=object), values[:-1])


def test_integer_ids_read_as_text_keep_numeric_order_but_not_leading_zeros():
    assert r_level_order(["10", "9", "100", "-1"], ids=True) == [3, 1, 0, 2]
    # a leading zero: text, so R's collation ("007" < "07" < "7")
    labels = ["7", "07", "007"]
    assert [labels[i] for i in r_level_order(labels, ids=True)] == ["007", "07", "7"]
    assert r_level_order(["10", "9"]) == [0, 1]  # not ids: text ("10" < "9")


def test_labels_that_print_alike_become_one_level():
    values = pd.Series([1, "1", "2", 2, "x"], dtype=object)
    codes, uniques = pd.factorize(values)
    got = r_factor_from_codes(codes, [str(u) for u in uniques])
    assert list(got.categories) == ["1", "2", "x"]
    assert got.codes.tolist() == [0, 0, 1, 1, 2]


def test_punctuation_before_digits_before_letters_and_accents_as_their_letter():
    # R 4.2.2 (ICU): levels(factor(c("zeta", "\u00e9t\u00e9", "ete", "f", "-1", "1", "a b", "ab")))
    labels = ["zeta", "\u00e9t\u00e9", "ete", "f", "-1", "1", "a b", "ab"]
    got = [labels[i] for i in r_level_order(labels)]
    assert got == ["-1", "1", "a b", "ab", "ete", "\u00e9t\u00e9", "f", "zeta"]


def test_ascii_punctuation_and_symbols_in_icus_order_not_code_points():
    # R 4.2.2 (ICU): sort(strsplit(rawToChar(as.raw(33:126)), "")[[1]])
    r_sorted = (
        "_ - , ; : ! ? . ' \" ( ) [ ] { } @ * / \\ & # % ` ^ + < = > | ~ $ 0 1 2 3 4 5 6 7 8 9 "
        "a A b B c C d D e E f F g G h H i I j J k K l L m M n N o O p P q Q r R s S t T u U "
        "v V w W x X y Y z Z"
    ).split()
    chars = [chr(i) for i in range(33, 127)]
    assert [chars[i] for i in r_level_order(chars)] == r_sorted
    # R: sort(c("x-1", "x_1", "x1", "x.1", "x 1", "x+1", "x1a", "x$1"))
    labels = ["x-1", "x_1", "x1", "x.1", "x 1", "x+1", "x1a", "x$1"]
    got = [labels[i] for i in r_level_order(labels)]
    assert got == ["x 1", "x_1", "x-1", "x.1", "x+1", "x$1", "x1", "x1a"]


def test_decimal_ids_written_as_r_writes_them_keep_numeric_order():
    # read.csv makes a numeric column of them: levels(factor(c(10.25, 2, -0.5, 1.5)))
    # [1] "-0.5"  "1.5"   "2"     "10.25"
    labels = ["10.25", "2", "-0.5", "1.5"]
    assert [labels[i] for i in r_level_order(labels, ids=True)] == ["-0.5", "1.5", "2", "10.25"]
    # not as R writes a number ("1.50", "02.5"): text, in R's collation
    for odd in (["1.50", "10", "2"], ["02.5", "10", "2"]):
        assert [odd[i] for i in r_level_order(odd, ids=True)] == sorted(odd)
    assert [labels[i] for i in r_level_order(labels)] == ["-0.5", "1.5", "10.25", "2"]
