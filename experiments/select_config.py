"""Choose one setting of one or more table cells without labels
(:func:`jaxclust.select.select_config`).

    python experiments/select_config.py imsat rim_mnist --param l2 --values 0.003 0.01 0.03 0.1 \
        --subset 10000 --seeds 3 --criterion silhouette --data-dir ../shared/data
    python experiments/select_config.py small_defaults aekm_digits-small aekm_usps-small \
        --candidate "pretrain_epochs=100" --candidate "pretrain_epochs=200 ae_input_dropout=0.2" \
        --out small-ae --data-dir ../shared/data

Each cell (its method, preset and settings) is the base; each value of ``--param``, or each
``--candidate`` (``name=value`` pairs; a sequence as ``256,256,512``), is one candidate, fitted
with seeds F … F+S−1 (``--first-seed F``, default 0; ``--seeds S``) on the cell's data
(``--subset`` points drawn with seed 0 where given; cells that use the choice are then run on
other seeds). With several cells the choice is the
candidate of the best mean rank over the cells (ties: the first). The choice reads no labels;
the data set's labels are loaded only to record NMI per candidate beside it. Writes
``experiments/selection/<cell>-<param>.json`` (or ``<out>.json``: every criterion's scores per
cell, the choice, the command) and prints the chosen candidate.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import time

import numpy as np
from scipy.stats import rankdata

from run import HERE, from_root, load_table

from jaxclust import config, data, select
from jaxclust.methods import get


def parse_candidate(method, text: str) -> dict:
    """``"ae_hidden=256,256,512 pretrain_epochs=200"`` → flat values of ``method``'s
    parameters, cast to each parameter's kind."""
    kinds = {q.name: q.kind for q in config.params(method)}
    cast = {"int": int, "float": float, "str": str,
            "bool": lambda v: v.lower() in ("1", "true", "yes"),
            "ints": lambda v: [int(t) for t in v.split(",")]}
    out = {}
    for item in text.split():
        name, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"candidate item {item!r} is not name=value")
        if name not in kinds:
            raise ValueError(f"{method.name} has no parameter {name}")
        out[name] = cast[kinds[name]](value)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("table")
    p.add_argument("cells", nargs="+")
    p.add_argument("--param", help="a flat parameter of the cells' method")
    p.add_argument("--values", nargs="+", help="its candidate values")
    p.add_argument("--candidate", action="append", default=[],
                   help="one candidate as name=value pairs (repeat for each)")
    p.add_argument("--out", help="the output's name (default: <cell>-<param>)")
    p.add_argument("--subset", type=int, default=None)
    p.add_argument("--seeds", type=int, default=3, help="how many seeds per candidate")
    p.add_argument("--first-seed", type=int, default=0,
                   help="the first seed (seeds unused by the cells' reported rows)")
    p.add_argument("--criterion", default="silhouette", choices=tuple(select.CRITERIA))
    p.add_argument("--data-dir", default=None)
    p.add_argument("--cache", default=str(HERE.parent / "runs" / "cache"),
                   help="where pre-trained autoencoders are kept and shared (as run.py's)")
    opts = p.parse_args(argv)
    specs = load_table(opts.table)["cells"]
    missing = [c for c in opts.cells if c not in specs]
    if missing:
        p.error(f"table {opts.table} has no cell {', '.join(missing)}")
    method = get(specs[opts.cells[0]]["method"])
    if any(specs[c]["method"] != method.name for c in opts.cells):
        p.error("the cells must share one method")
    if bool(opts.param) == bool(opts.candidate) or bool(opts.param) != bool(opts.values):
        p.error("give --param with --values, or --candidate (one or more)")
    try:
        candidates = ([parse_candidate(method, f"{opts.param}={v}") for v in opts.values]
                      if opts.param else [parse_candidate(method, c) for c in opts.candidate])
    except ValueError as e:
        p.error(str(e))
    if opts.out is None and (len(opts.cells) > 1 or not opts.param):
        p.error("--out is needed with several cells or --candidate")
    t0, per_cell = time.perf_counter(), {}
    for cell in opts.cells:
        spec = specs[cell]
        x, y = data.load(spec["dataset"], data_dir=opts.data_dir,
                         subset=opts.subset or spec.get("subset"), seed=0,
                         r_min=spec.get("r_min"), value_range=spec.get("value_range"))
        print(f"{cell}: {x.shape}", flush=True)
        res = select.select_config(
            method, x, candidates, {"n_clusters": len(np.unique(y)), **spec.get("config", {})},
            seed=opts.first_seed, n_seeds=opts.seeds, criterion=opts.criterion,
            preset=spec.get("preset", "paper"),
            y=y, cache=opts.cache, on_candidate=lambda i, row: print(
                f"  {candidates[i]}: " + "  ".join(
                    f"{k} {np.mean(v):.4f}" for k, v in row.items() if k in select.CRITERIA),
                flush=True))
        per_cell[cell] = res
    sign = select.CRITERIA[opts.criterion]
    means = np.array([[sign * np.mean(s) for s in r.scores[opts.criterion]]
                      for r in per_cell.values()])  # (cells, C), higher is better
    mean_rank = rankdata(-means, axis=1).mean(axis=0)
    chosen = int(np.argmin(mean_rank))
    out = HERE / "selection" / f"{opts.out or opts.cells[0] + '-' + opts.param}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({
        "table": opts.table, "cells": opts.cells, "candidates": candidates,
        "criterion": opts.criterion, "chosen": candidates[chosen],
        "mean_rank": mean_rank.tolist(),
        "seeds": list(range(opts.first_seed, opts.first_seed + opts.seeds)),
        "subset": opts.subset,
        "scores": {cell: {k: np.asarray(v).tolist() for k, v in r.scores.items()}
                   for cell, r in per_cell.items()},
        "nmi_not_used_for_the_choice": {cell: r.nmi.tolist() for cell, r in per_cell.items()},
        "wall_time_s": time.perf_counter() - t0,
        "command": shlex.join(["python", "experiments/select_config.py",
                               *_root_argv(sys.argv[1:] if argv is None else argv)])},
        indent=1) + "\n")
    print(f"chosen by {opts.criterion} (mean rank over {len(opts.cells)} cell(s)): "
          f"{candidates[chosen]}; wrote {out}")


def _root_argv(argv: list[str]) -> list[str]:
    """``argv`` with the paths of ``--data-dir`` and ``--cache`` as the repository root sees
    them (the recorded command runs there)."""
    out = list(argv)
    for i, arg in enumerate(out):
        name, eq, value = arg.partition("=")
        if name in ("--data-dir", "--cache"):
            if eq:
                out[i] = f"{name}={from_root(value)}"
            elif i + 1 < len(out):
                out[i + 1] = from_root(out[i + 1])
    return out


if __name__ == "__main__":
    main()
