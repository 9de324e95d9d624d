"""The consensus over seeds of every table cell whose seeds kept their labels.

    python experiments/consensus.py --data-dir ../shared/data [--cells CELL …]

For each cell with at least 3 ``results/<table>/<cell>/seed<k>.labels.npz`` (written by
run.py beside the records): the seeds' consensus (:func:`jaxclust.consensus.consensus`, their
co-association partition; ids named after the seed whose objective is lowest — no labels
involved), scored against the data set's classes, and written to
``consensus/<table>/<cell>.json`` with the ACC of the matched vote
(:func:`jaxclust.consensus.voted`) beside it, the per-seed ACC, the ACC of the seed the
objective picks, of the most central seed (:func:`jaxclust.consensus.central`: the highest
mean ARI to the other seeds), of the seed a multi-seed run keeps by default
(:func:`jaxclust.runner.kept_seed`), of the seed each internal criterion prefers (silhouette,
Calinski–Harabasz, Davies–Bouldin of its labels on 2 000 of the cell's points in the input
space, :func:`jaxclust.select.internal_scores`), the mean and the best. ``report.py`` shows
them.
"""
from __future__ import annotations

import argparse
import json

import numpy as np

from run import HERE, labels_path, load_cell_data, load_table

from jaxclust import metrics
from jaxclust.consensus import central, consensus, voted
from jaxclust.runner import kept_seed
from jaxclust.select import CRITERIA, internal_scores


def cell_consensus(table: str, cell: str, spec: dict, data_dir) -> dict | None:
    """The consensus record of one cell, or ``None`` when fewer than 3 seeds kept labels or
    the seeds saw different data (``data_per_seed``)."""
    folder = HERE / "results" / table / cell
    recs = [json.loads(p.read_text()) for p in sorted(folder.glob("seed*.json"))]
    recs = [r for r in recs if labels_path(folder / f"seed{r['seed']}.json").exists()
            and r["objective"] is not None]
    if len(recs) < 3 or spec.get("data_per_seed"):
        return None
    x, y = load_cell_data(spec, data_dir, 0)
    labels = np.stack([np.load(labels_path(folder / f"seed{r['seed']}.json"))["labels"]
                       for r in recs]).astype(np.int64)
    objectives = np.array([r["objective"] for r in recs])
    picked = int(np.argmin(objectives))
    k = max(int(np.unique(y).size), int(labels.max()) + 1)
    chosen = consensus(labels, k, reference=picked)
    acc = [r["metrics"]["acc"] for r in recs]
    rows = np.random.default_rng(0).permutation(len(x))[:2000]
    internal = [internal_scores(np.reshape(x, (len(x), -1))[rows], lab[rows]) for lab in labels]
    by_criterion = {name: acc[int(np.argmax([CRITERIA[name] * s[name] for s in internal]))]
                    for name in internal[0]}
    return {"table": table, "cell": cell, "seeds": [r["seed"] for r in recs],
            "reference_seed": recs[picked]["seed"], "metrics": metrics.evaluate(y, chosen),
            "acc_consensus": metrics.accuracy(y, chosen),
            "acc_voted": metrics.accuracy(y, voted(labels, k, reference=picked)),
            "acc_per_seed": acc, "acc_mean": float(np.mean(acc)), "acc_std": float(np.std(acc)),
            "acc_picked": acc[picked], "acc_central": acc[central(labels)],
            "acc_kept": acc[kept_seed(objectives, labels)], "acc_by_criterion": by_criterion,
            "acc_best": float(np.max(acc))}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=None)
    p.add_argument("--cells", nargs="+", default=None, help="only these cells (default: all)")
    opts = p.parse_args(argv)
    for path in sorted((HERE / "configs").glob("*.toml")):
        spec = load_table(str(path))
        for cell, cspec in spec["cells"].items():
            if opts.cells is not None and cell not in opts.cells:
                continue
            rec = cell_consensus(spec["name"], cell, cspec, opts.data_dir)
            if rec is None:
                continue
            out = HERE / "consensus" / spec["name"] / f"{cell}.json"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(rec, indent=1) + "\n")
            print(f"{spec['name']}/{cell}: consensus ACC {rec['metrics']['acc']:.4f}, mean "
                  f"{rec['acc_mean']:.4f} ± {rec['acc_std']:.4f}, picked {rec['acc_picked']:.4f}")


if __name__ == "__main__":
    main()
