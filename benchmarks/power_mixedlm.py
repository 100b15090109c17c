"""mixedlm's powerSim on the benchmark pilot (run with mixedlm's own venv by benchmarks/power.py).

Usage: python power_mixedlm.py PILOT.csv NSIM SEED  -> prints one JSON line.
"""

import json
import sys
import time
import warnings

import pandas as pd
from mixedlm import lmer
from mixedlm.power import powerSim

data = pd.read_csv(sys.argv[1])
nsim, seed = int(sys.argv[2]), int(sys.argv[3])
model = lmer("y ~ treat + x + (1 | g)", data)
start = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    res = powerSim(model, test="treat", nsim=nsim, seed=seed)
seconds = time.perf_counter() - start
print(
    json.dumps(
        {
            "seconds": seconds,
            "power": res.power,
            "n_failed": res.n_failed,
            "nsim": nsim,
            "test": "Wald z (mixedlm's default)",
        }
    )
)
