"""Choose one setting of a table cell without labels (:func:`jaxclust.select.select_config`).

    python experiments/select_config.py imsat rim_mnist --param l2 --values 0.003 0.01 0.03 0.1 \
        --subset 10000 --seeds 3 --criterion silhouette --data-dir ../shared/data

The cell's method and settings are the base; each value of ``--param`` is one candidate,
fitted with seeds 0 … S−1 on ``--subset`` points drawn with seed 0 (cells that use the
choice are then run on other seeds). The choice reads no labels; the data set's labels are
loaded only to record NMI per candidate beside it. Writes
``experiments/selection/<cell>-<param>.json`` (every criterion's scores, the choice, the
command) and prints the chosen value.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import time

import numpy as np

from run import HERE, load_table

from jaxclust import config, data, select
from jaxclust.methods import get


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("table")
    p.add_argument("cell")
    p.add_argument("--param", required=True, help="a flat parameter of the cell's method")
    p.add_argument("--values", nargs="+", required=True, help="its candidate values")
    p.add_argument("--subset", type=int, default=None)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--criterion", default="silhouette", choices=tuple(select.CRITERIA))
    p.add_argument("--data-dir", default=None)
    opts = p.parse_args(argv)
    spec = load_table(opts.table)["cells"][opts.cell]
    method = get(spec["method"])
    kind = {q.name: q.kind for q in config.params(method)}.get(opts.param)
    if kind is None:
        p.error(f"{method.name} has no parameter {opts.param}")
    cast = {"int": int, "float": float, "str": str,
            "bool": lambda v: v.lower() in ("1", "true", "yes"),
            "ints": lambda v: [int(t) for t in v.split(",")]}[kind]  # "64,32": two layers
    candidates = [{opts.param: cast(v)} for v in opts.values]
    x, y = data.load(spec["dataset"], data_dir=opts.data_dir, subset=opts.subset, seed=0,
                     r_min=spec.get("r_min"), value_range=spec.get("value_range"))
    base = {"n_clusters": len(np.unique(y)), **spec.get("config", {})}
    t0 = time.perf_counter()
    res = select.select_config(
        method, x, candidates, base, n_seeds=opts.seeds, criterion=opts.criterion, y=y,
        on_candidate=lambda i, row: print(
            f"{candidates[i]}: " + "  ".join(f"{k} {np.mean(v):.4f}" for k, v in row.items()
                                             if k in select.CRITERIA), flush=True))
    chosen = candidates[res.chosen][opts.param]
    out = HERE / "selection" / f"{opts.cell}-{opts.param}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({
        "table": opts.table, "cell": opts.cell, "param": opts.param,
        "values": [c[opts.param] for c in candidates], "criterion": opts.criterion,
        "chosen": chosen, "seeds": list(range(opts.seeds)), "subset": opts.subset,
        "scores": {k: np.asarray(v).tolist() for k, v in res.scores.items()},
        "nmi_not_used_for_the_choice": res.nmi.tolist(),
        "wall_time_s": time.perf_counter() - t0,
        "command": shlex.join(["python", "experiments/select_config.py", *sys.argv[1:]])},
        indent=1) + "\n")
    print(f"chosen by {opts.criterion}: {opts.param} = {chosen}; wrote {out}")


if __name__ == "__main__":
    main()
