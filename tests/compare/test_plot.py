"""Forest plot: a Figure with one panel per slope, written to PNG without a display."""

from __future__ import annotations

import multilevel
from multilevel.compare import compare_estimators, forest_plot


def test_forest_plot(tmp_path):
    c = compare_estimators(
        multilevel.datasets.hsb(),
        "mathach ~ cses + meanses + (1 | school)",
        estimators=["ols", "ols_cluster_cr1", "fixed_effects", "multilevel"],
    )
    fig = forest_plot(c)
    assert [ax.get_title() for ax in fig.axes] == ["cses", "meanses"]
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == list(c.names)
    assert any(t.get_text() == "not estimable" for t in fig.axes[1].texts)
    out = tmp_path / "forest.png"
    c.plot(include_intercept=True).savefig(out)
    assert out.read_bytes()[:4] == b"\x89PNG"
