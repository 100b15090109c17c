"""Data for the ordered-factor reference (run once; the CSV is committed): a dose with five
ordered levels (its order is not the alphabetical one), a covariate and a group."""

import numpy as np
import pandas as pd

rng = np.random.default_rng(20261205)
G, m = 15, 8
levels = ["none", "low", "mid", "high", "max"]
dose = rng.integers(0, 5, G * m)
g = np.repeat(np.arange(G), m)
x = np.round(rng.normal(size=G * m), 3)
y = 1 + 0.4 * dose - 0.05 * dose**2 + 0.3 * x + rng.normal(scale=0.7, size=G)[g]
y = np.round(y + rng.normal(size=G * m), 4)
pd.DataFrame({"y": y, "x": x, "dose": [levels[k] for k in dose], "g": g}).to_csv(
    "ordered.csv", index=False
)
