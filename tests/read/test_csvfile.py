"""CSV exports as users have them: ``;``-separated with a decimal comma, Latin-1, duplicate or empty
headers. Each is read to the same numbers as a plain UTF-8 CSV, or refused in one line."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import multilevel
from multilevel.errors import DataError
from multilevel.read.csvfile import sniff
from multilevel.read.source import as_source


def _data(n: int = 400, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = rng.integers(0, 20, n)
    x = rng.normal(size=n).round(4)
    y = (2 + 0.3 * x + rng.normal(size=20)[g] + rng.normal(size=n)).round(4)
    town = np.array(["Zürich", "Genève", "Köln", "Malmö"])[g % 4]
    return pd.DataFrame({"g": g, "town": town, "x": x, "y": y})


def _fit(path, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return multilevel.fit("y ~ x + town + (1 | g)", path, **kw)


def test_semicolon_decimal_comma_latin1_is_read_as_the_plain_file(tmp_path):
    df = _data()
    df.to_csv(tmp_path / "plain.csv", index=False)
    df.to_csv(tmp_path / "excel.csv", index=False, sep=";", decimal=",", encoding="latin-1")
    d = sniff(tmp_path / "excel.csv")
    assert (d.sep, d.decimal, d.encoding) == (";", ",", "cp1252")
    assert d.header == ("g", "town", "x", "y")
    ref = _fit(tmp_path / "plain.csv")
    got = _fit(tmp_path / "excel.csv")
    assert got.fixed_names == ref.fixed_names  # 'townZürich': the text decoded right
    assert "townZürich" in got.fixed_names
    np.testing.assert_allclose(got.beta, ref.beta, rtol=1e-12)
    assert got.loglik == pytest.approx(ref.loglik, abs=1e-9)
    chunks = list(as_source(tmp_path / "excel.csv").iter_chunks(["x", "town"], 150))
    assert [len(c) for c in chunks] == [150, 150, 100]
    np.testing.assert_array_equal(pd.concat(chunks)["x"].to_numpy(), df["x"].to_numpy())


def test_tab_separated_and_utf8_bom(tmp_path):
    df = _data()
    (tmp_path / "t.tsv").write_text(df.to_csv(index=False, sep="\t"), encoding="utf-8-sig")
    assert sniff(tmp_path / "t.tsv").sep == "\t"
    assert as_source(tmp_path / "t.tsv").columns == ["g", "town", "x", "y"]
    assert _fit(tmp_path / "t.tsv").loglik == pytest.approx(_fit(df).loglik, abs=1e-9)


def test_duplicate_column_names_are_refused_not_renamed(tmp_path):
    (tmp_path / "d.csv").write_text("g,x,x,y\n1,2,3,4\n")
    with pytest.raises(DataError, match="duplicate column names: 'x'"):
        multilevel.fit("y ~ x + (1 | g)", tmp_path / "d.csv")


def test_empty_csv_in_chunks_is_one_line(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "header.csv").write_text("g,x,y\n")
    with pytest.raises(DataError, match="empty"):
        multilevel.fit_large("y ~ x + (1 | g)", tmp_path / "empty.csv", chunk_rows=10)
    with pytest.raises(DataError, match="no rows"):
        multilevel.fit_large("y ~ x + (1 | g)", tmp_path / "header.csv", chunk_rows=10)
    with pytest.raises(DataError, match="no rows"):
        multilevel.fit("y ~ x + (1 | g)", tmp_path / "header.csv")
