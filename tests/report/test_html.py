"""The HTML report: self-contained (data-URI PNGs, no network, no scripts), all sections, notes
that state the ICC and explain singular fits and dropped rows."""

import base64
import importlib.util
import io
import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

import multilevel
from multilevel.report import report_html, write_report


class Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.attrs: list[tuple[str, str, str]] = []
        self.tags: list[str] = []
        self.ids: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for k, v in attrs:
            self.attrs.append((tag, k, v or ""))
            if k == "id":
                self.ids.append(v)


def parse(text: str) -> Collect:
    c = Collect()
    c.feed(text)
    return c


def check_self_contained(text: str) -> int:
    """Every image a valid PNG data URI, no http(s) anywhere in src/href, no scripts."""
    from PIL import Image

    doc = parse(text)
    assert "script" not in doc.tags
    links = [v for _, k, v in doc.attrs if k in ("src", "href")]
    assert not [v for v in links if re.match(r"\s*(https?:)?//", v, re.I)]
    assert not re.search(r"url\(\s*['\"]?https?:", text)  # nothing fetched from CSS either
    srcs = [v for t, k, v in doc.attrs if t == "img" and k == "src"]
    assert srcs
    for src in srcs:
        assert src.startswith("data:image/png;base64,")
        raw = base64.b64decode(src.split(",", 1)[1], validate=True)
        assert raw[:8] == b"\x89PNG\r\n\x1a\n"
        with Image.open(io.BytesIO(raw)) as im:
            im.verify()
        with Image.open(io.BytesIO(raw)) as im:
            assert im.size[0] > 100 and im.size[1] > 100
    csp = [v for t, k, v in doc.attrs if t == "meta" and k == "content" and "default-src" in v]
    assert csp and "default-src 'none'" in csp[0]
    return len(srcs)


def notes_text(text: str) -> str:
    return re.search(r'<section id="notes">(.*?)</section>', text, re.S).group(1)


@pytest.fixture(scope="module")
def hsb():
    return multilevel.datasets.hsb()


def test_null_model_report(hsb, tmp_path):
    fit = multilevel.fit("mathach ~ 1 + (1 | school)", hsb, warn=False)
    path = write_report(fit, tmp_path / "r.html")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    n = check_self_contained(text)
    assert n >= 4  # caterpillar, shrinkage, residuals, variance (no spaghetti: no predictor)
    ids = parse(text).ids
    for sid in ("data", "model", "tables", "plots", "notes"):
        assert sid in ids
    for tid in ("table-data_summary", "table-fixed_effects", "table-random_effects"):
        assert tid in ids
    icc = fit.icc["school"]
    notes = notes_text(text)
    assert f"ICC = {icc:.3f}" in notes and f"{100 * icc:.1f}%" in notes
    sizes = hsb.groupby("school").size()
    data = re.search(r'<section id="data">(.*?)</section>', text, re.S).group(1)
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", data)
    assert cells == ["school", "160", str(sizes.min()), f"{sizes.median():g}", str(sizes.max())]
    assert "no rows dropped" in data
    assert "spaghetti plot not drawn" in text  # said, not silently missing


def test_model_with_predictors_states_conditional_and_null_icc(hsb):
    fit = multilevel.fit("mathach ~ cses + (1 | school)", hsb, warn=False)
    text = report_html(fit, title="My & title")
    assert "<title>My &amp; title</title>" in text
    assert check_self_contained(text) == 5
    null = multilevel.fit("mathach ~ 1 + (1 | school)", hsb, warn=False)
    notes = notes_text(text)
    assert f"the ICC = {null.icc['school']:.3f}" in notes
    T, s2 = fit.random_effects[0].covariance[0, 0], fit.sigma**2
    assert f"Conditional ICC = {T / (T + s2):.3f}" in notes
    if importlib.util.find_spec("multilevel.levels") is None:
        return
    assert 'class="equations"' in text and "Level 1:" in text and "Reduced form" in text


def test_singular_fit_and_dropped_rows_are_explained():
    rng = np.random.default_rng(1)
    n, groups = 200, 20
    df = pd.DataFrame({"g": np.repeat(np.arange(groups), n // groups), "x": rng.normal(size=n)})
    df["y"] = 1 + 0.5 * df["x"] + rng.normal(size=n)  # no group effect at all
    df.loc[[3, 17, 50], "y"] = np.nan
    fit = multilevel.fit("y ~ x + (1 + x | g)", df, warn=False)
    assert fit.is_singular
    notes = notes_text(report_html(fit))
    assert "Singular fit" in notes and "(nearly) zero" in notes
    assert "3 rows had missing values" in notes


def test_ladder_report_has_lrts_and_icc(hsb):
    ladder_mod = pytest.importorskip("multilevel.ladder")
    ld = ladder_mod.ladder(hsb, "mathach", "school", ["cses"], ["meanses"])
    text = report_html(ld)
    check_self_contained(text)
    doc = parse(text)
    assert {"data", "model", "lrt", "plots", "notes", "table-model_comparison"} <= set(doc.ids)
    lrt = re.search(r'<section id="lrt">(.*?)</section>', text, re.S).group(1)
    for t in ld.tests:
        assert f"{t.chisq:.2f}" in lrt
    assert text.count("<details") == len(ld.steps)
    icc = ld.steps[0].fit.icc["school"]
    notes = notes_text(text)
    assert f"ICC = {icc:.3f}" in notes
    assert notes.count("improved the fit") + notes.count("did not improve") == len(ld.tests)


def test_comparison_report(hsb):
    from multilevel.compare import compare_estimators

    comp = compare_estimators(
        hsb,
        "mathach ~ cses + meanses + (1 | school)",
        estimators=("ols", "ols_cluster_cr1", "multilevel"),
    )
    text = report_html(comp)
    assert check_self_contained(text) == 1  # the forest plot
    assert "table-estimator_comparison" in parse(text).ids
    assert f"Kish design effect = {comp.kish_design_effect:.2f}" in notes_text(text)


def test_equations_are_typeset_in_mathml(hsb):
    """MathML (the browser typesets it offline), not ASCII in a <pre>."""
    import xml.etree.ElementTree as ET

    fit = multilevel.fit("mathach ~ cses * meanses + (1 + cses | school)", hsb, warn=False)
    text = report_html(fit)
    blocks = re.findall(r"<math\b.*?</math>", text, re.S)
    assert len(blocks) >= 6  # two level-2 equations, level 1, reduced forms, variances
    for b in blocks:
        ET.fromstring(b)  # well-formed
    assert '<pre class="equations">' not in text
    joined = "".join(blocks)
    assert "<msub><mi>γ</mi><mrow><mn>11</mn></mrow></msub>" in joined  # gamma_11
    assert "<msub><mi>τ</mi><mn>00</mn></msub><mo>=</mo>" in joined
    tau00 = fit.random_effects[0].covariance[0, 0]
    assert f"<mn>{tau00:.4g}</mn>" in joined


def test_ladder_report_prints_every_model_and_counts_dropped_rows(hsb):
    ladder_mod = pytest.importorskip("multilevel.ladder")
    h = hsb.copy()
    h.loc[[5, 900], "cses"] = np.nan
    with pytest.warns(UserWarning, match="2 of 7185 rows dropped"):
        ld = ladder_mod.ladder(h, "mathach", "school", ["cses"], ["meanses"])
    text = report_html(ld)
    # no collapsed section: a printout shows every model
    details = re.findall(r"<details[^>]*>", text)
    assert len(details) == 5 and all(" open" in d for d in details)
    assert "@media print" in text
    assert "7183 rows used; 2 of 7185 rows dropped for missing values (missing in cses: 2)" in text
    assert "no rows dropped" not in text
    assert 'id="table-estimates"' in text and 'id="table-variance_explained"' in text
