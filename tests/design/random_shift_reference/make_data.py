"""Data for the random-shift reference (run once; the CSV is committed): a random slope with a
clear, non-singular covariance, the predictor also stored 1000 from zero (x_far = x + 1000,
exact on the 2^-10 grid), and a crossed factor h."""

import numpy as np
import pandas as pd

rng = np.random.default_rng(20261203)
G, m, H = 40, 10, 12
g = np.repeat(np.arange(G), m)
h = rng.integers(0, H, G * m)
x = np.round(rng.normal(size=G * m) * 2**10) / 2**10
b = rng.multivariate_normal([0, 0], [[0.64, 0.096], [0.096, 0.16]], size=G)
y = 2 + 0.5 * x + b[g, 0] + b[g, 1] * x + rng.normal(scale=0.5, size=H)[h]
y = np.round((y + rng.normal(size=G * m)) * 2**10) / 2**10
pd.DataFrame({"y": y, "x": x, "x_far": x + 1000, "g": g, "h": h}).to_csv(
    "random_shift.csv", index=False
)
