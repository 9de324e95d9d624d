"""IMSAT (RPT) radius and RIM's penalty on a random 10 000-image subset of MNIST (data.load
subset, seed 0); see README.md.

    JAXCLUST_DATA=../shared/data \\
        python experiments/tuning/imsat_rpt_rim_sub10000/imsat_rpt_rim_sub10000.py [RUN ...]
"""
import dataclasses
import functools
import json
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxclust import data, metrics
from jaxclust.methods import fit, imsat, rim
x, y = data.load("mnist", data_dir=os.environ.get("JAXCLUST_DATA", "../shared/data"), subset=10000)
xj = jnp.asarray(x)
AW = functools.partial(rim.METHOD.make_config, l2=0.0)  # RIM with AdamW's decoupled weight decay
runs = [
  ("rpt a0.25", imsat.Config(augment="rpt")),
  ("rpt a1", imsat.Config(augment="rpt", eps_scale=1.0)),
  ("rpt a2", imsat.Config(augment="rpt", eps_scale=2.0)),
  ("rim default", AW(weight_decay=1e-4)),  # RIM's default until the l2 runs below
  ("rim lam.1 mu4", AW(weight_decay=1e-4, lam=0.1, mu=4.0)),
  ("rim mu4 lam1", AW(weight_decay=1e-4, mu=4.0)),
  ("rim wd1e-2", AW(weight_decay=1e-2)),
  ("rpt a4", imsat.Config(augment="rpt", eps_scale=4.0)),
  ("rpt a8", imsat.Config(augment="rpt", eps_scale=8.0)),
  ("rim wd1e-1", AW(weight_decay=1e-1)),
  ("rim wd5e-1", AW(weight_decay=5e-1)),
  # the penalty in the objective (rim.Config's l2) instead of AdamW's decoupled decay
  *[(f"l2 {v:g}", rim.METHOD.make_config(l2=v))
    for v in (1e-4, 1e-3, 5e-3, 1e-2, 3e-2, 1e-1, 3e-1)],
  ("linear", AW(weight_decay=1e-4, hidden=())),
  ("linear wd1e-2", AW(weight_decay=1e-2, hidden=())),
  # RPT's weight λ on the information term against SAT (the paper's 0.1 in "rpt a4")
  *[(f"rpt a4 lam{v:g}", imsat.Config(augment="rpt", eps_scale=4.0, lam=v))
    for v in (0.03, 0.3, 1.0)],
]
sel = sys.argv[1:]
for name, cfg in runs:
    if sel and name not in sel:
        continue
    cfg = dataclasses.replace(cfg, epochs=30)
    t = time.time()
    accs = []
    for seed in (0, 1):
        st = fit(imsat.METHOD, jax.random.key(seed), xj, cfg)
        accs.append(metrics.evaluate(y, np.asarray(imsat.predict(st, xj, cfg)))["acc"])
    print(json.dumps({"run": name, "acc": accs, "s": time.time() - t}), flush=True)
