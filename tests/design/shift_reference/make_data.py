"""Data for the shift reference (run once; the CSV is committed): epoch seconds and yyyymmdd
dates as predictors, an outcome far from zero. Values are exact in double precision."""

import numpy as np
import pandas as pd

rng = np.random.default_rng(20261202)
G, m = 50, 12
g = np.repeat(np.arange(G), m)
t = 1_600_000_000 + rng.integers(0, 365 * 86400, G * m)  # epoch seconds over a year
day = pd.to_datetime(t, unit="s")
d = (day.year * 10000 + day.month * 100 + day.day).to_numpy()  # yyyymmdd
x = np.round(rng.normal(size=G * m) * 2**10) / 2**10
y = 3 + 1.5e-7 * (t - 1_600_000_000) + 0.4 * x + rng.normal(scale=0.7, size=G)[g]
y = y + rng.normal(size=G * m)
y = np.round(y * 2**10) / 2**10
pd.DataFrame({"y": y, "y_far": y + 1e7, "t": t, "d": d, "x": x, "g": g}).to_csv(
    "shift.csv", index=False
)
