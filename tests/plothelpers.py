"""Helpers for the plot tests: data with many groups, and a check that text stays inside."""

import numpy as np
import pandas as pd


def many_groups(n_groups: int = 1000, size: int = 4, seed: int = 3):
    """y = 1 + 0.5 x + u_j + e with tau00 = 1, sigma = 1: many small groups."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(n_groups), size)
    x = rng.normal(size=g.size)
    y = 1 + 0.5 * x + rng.normal(size=n_groups)[g] + rng.normal(size=g.size)
    return pd.DataFrame({"y": y, "x": x, "g": [f"school {k}" for k in g]})


def inside_figure(fig) -> bool:
    """Every title and axis label lies inside the figure once drawn."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    box = fig.bbox
    texts = [
        t for ax in fig.axes if ax.get_visible() for t in (ax.title, ax.xaxis.label, ax.yaxis.label)
    ]
    for t in texts:
        if not t.get_text():
            continue
        e = t.get_window_extent(renderer)
        if e.x0 < box.x0 - 1 or e.x1 > box.x1 + 1 or e.y0 < box.y0 - 1 or e.y1 > box.y1 + 1:
            return False
    return True
