"""IMSAT (RPT) radius and RIM weight decay on a random 10 000-image subset of MNIST (data.load subset, seed 0) (see README.md).

    JAXCLUST_DATA=../shared/data python experiments/tuning/imsat_rpt_rim_sub10000.py [RUN ...]
"""
import dataclasses
import json
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxclust import data, metrics
from jaxclust.methods import imsat, rim
x, y = data.load("mnist", data_dir=os.environ.get("JAXCLUST_DATA", "../shared/data"), subset=10000)
xj = jnp.asarray(x)
runs = [
  ("rpt a0.25", imsat.Config(augment="rpt")),
  ("rpt a1", imsat.Config(augment="rpt", eps_scale=1.0)),
  ("rpt a2", imsat.Config(augment="rpt", eps_scale=2.0)),
  ("rim default", rim.Config()),
  ("rim lam.1 mu4", rim.Config(lam=0.1, mu=4.0)),
  ("rim mu4 lam1", rim.Config(mu=4.0)),
  ("rim wd1e-2", rim.Config(weight_decay=1e-2)),
  ("rpt a4", imsat.Config(augment="rpt", eps_scale=4.0)),
  ("rpt a8", imsat.Config(augment="rpt", eps_scale=8.0)),
  ("rim wd1e-1", rim.Config(weight_decay=1e-1)),
  ("rim wd5e-1", rim.Config(weight_decay=5e-1)),
]
sel = sys.argv[1:] 
for name, cfg in runs:
    if sel and not any(s == name for s in sel): continue
    cfg = dataclasses.replace(cfg, epochs=30)
    t = time.time()
    accs = []
    for seed in (0, 1):
        st = imsat.fit(jax.random.key(seed), xj, cfg)
        accs.append(metrics.evaluate(y, np.asarray(imsat.predict(st, xj, cfg)))["acc"])
    print(json.dumps({"run": name, "acc": accs, "s": time.time() - t}), flush=True)
