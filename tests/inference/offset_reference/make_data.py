"""Data for the offset prediction reference (run once; the CSVs are committed): an exposure t
whose log enters the linear predictor with coefficient 1, and new rows to predict (seen groups,
an unseen group, new exposures)."""

import numpy as np
import pandas as pd

rng = np.random.default_rng(20261204)
G, m = 12, 8
g = np.repeat([f"s{k:02d}" for k in range(G)], m)
x = np.round(rng.normal(size=G * m), 3)
t = np.round(rng.uniform(0.5, 20, size=G * m), 2)
y = 1 + 0.5 * x + np.log(t) + rng.normal(scale=0.8, size=G)[np.repeat(np.arange(G), m)]
y = np.round(y + rng.normal(scale=0.5, size=G * m), 4)
pd.DataFrame({"y": y, "x": x, "t": t, "g": g}).to_csv("offset.csv", index=False)
new = pd.DataFrame(
    {
        "x": [0.0, 1.5, -1.0, 0.3, 2.0, -0.4],
        "t": [1.0, 2.5, 10.0, 0.7, 15.0, 4.0],
        "g": ["s00", "s03", "s07", "s11", "new", "s05"],
    }
)
new.to_csv("offset_newdata.csv", index=False)
