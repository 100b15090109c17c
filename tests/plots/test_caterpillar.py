"""Caterpillar plot: the points are the sorted conditional modes, the bars z * condsd."""

import numpy as np
import pytest

import multilevel
from multilevel.plots import caterpillar_plot
from plothelpers import inside_figure, many_groups


def _artist(ax, gid):
    found = [a for a in ax.get_children() if a.get_gid() == gid]
    assert len(found) == 1, gid
    return found[0]


@pytest.fixture(scope="module")
def sleep_fit():
    return multilevel.fit(
        "Reaction ~ Days + (Days | Subject)", multilevel.datasets.sleepstudy(), warn=False
    )


def test_points_are_sorted_modes_and_bars_are_196_condsd(sleep_fit):
    fig = caterpillar_plot(sleep_fit)
    table = sleep_fit.ranef_table()
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == 2  # (Intercept) and Days
    for ax, term in zip(axes, ["(Intercept)", "Days"], strict=True):
        part = table[table["term"] == term].sort_values("condval")
        xy = _artist(ax, "modes").get_offsets()
        assert len(xy) == 18 == sleep_fit.n_groups["Subject"]
        np.testing.assert_array_equal(xy[:, 0], np.arange(18))
        np.testing.assert_allclose(xy[:, 1], part["condval"], rtol=1e-12)
        assert np.all(np.diff(xy[:, 1]) >= 0)
        segs = _artist(ax, "intervals").get_segments()
        lo = np.array([s[0, 1] for s in segs])
        hi = np.array([s[1, 1] for s in segs])
        np.testing.assert_allclose((hi - lo) / 2, 1.96 * part["condsd"], rtol=1e-10)
        np.testing.assert_allclose((hi + lo) / 2, part["condval"], rtol=1e-10)
        # few groups: the axis names each level in sorted order
        labels = [t.get_text() for t in ax.get_xticklabels()]
        assert labels == part["level"].astype(str).tolist()


def test_z_sets_the_interval_and_colour_marks_intervals_excluding_zero(sleep_fit):
    fig = caterpillar_plot(sleep_fit, z=1.0)
    ax = fig.axes[0]
    part = sleep_fit.ranef_table().query("term == '(Intercept)'").sort_values("condval")
    segs = _artist(ax, "intervals").get_segments()
    half = np.array([(s[1, 1] - s[0, 1]) / 2 for s in segs])
    np.testing.assert_allclose(half, part["condsd"], rtol=1e-10)
    clear = (part["condval"].abs() > part["condsd"]).to_numpy()
    colors = _artist(ax, "modes").get_facecolors()
    distinct = {tuple(c) for c in colors[clear]} & {tuple(c) for c in colors[~clear]}
    assert clear.any() and (~clear).any() and not distinct


def test_group_selects_one_factor_of_a_crossed_model():
    fit = multilevel.fit(
        "diameter ~ 1 + (1 | plate) + (1 | sample)", multilevel.datasets.penicillin(), warn=False
    )
    fig = caterpillar_plot(fit, group="sample")
    assert len(fig.axes) == 1
    xy = _artist(fig.axes[0], "modes").get_offsets()
    np.testing.assert_allclose(np.sort(xy[:, 1]), np.sort(fit.ranef()["sample"].iloc[:, 0]))
    assert len(caterpillar_plot(fit).axes) == 2


def test_many_groups_name_only_the_extremes_and_stay_inside():
    fit = multilevel.fit("y ~ x + (1 | g)", many_groups(), warn=False)
    fig = caterpillar_plot(fit)
    ax = fig.axes[0]
    assert len(_artist(ax, "modes").get_offsets()) == 1000
    named = [a for a in ax.get_children() if a.get_gid() == "highlight"]
    table = fit.ranef_table().sort_values("condval")
    assert [a.get_text() for a in named] == (
        table["level"].iloc[:3].tolist() + table["level"].iloc[-3:].tolist()
    )
    assert list(ax.get_xticks()) == []  # ranks carry no information
    assert ax.get_ylabel() == "conditional mode: intercept"  # not "b ((Intercept))"
    assert inside_figure(fig)


def test_dollar_signs_in_group_labels_are_drawn_literally(tmp_path):
    """'$' starts matplotlib's mathtext: an unbalanced one used to fail at savefig."""
    d = multilevel.datasets.sleepstudy()
    d = d.assign(Subject=d["Subject"].map(lambda s: f"$cost_{s}" if s % 2 else f"{s} $"))
    fit = multilevel.fit("Reaction ~ Days + (1 | Subject)", d, warn=False)
    fig = caterpillar_plot(fit)
    fig.savefig(tmp_path / "p.png")  # raised ValueError (mathtext) before
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert all("\\$" in t for t in labels) and len(labels) == 18
