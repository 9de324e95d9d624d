"""20NEWS: choose the tf-idf features without labels — the seeds' stability of k-means.

The three versions of `README.md` here, each the tf-idf of the 2 000 most frequent words with
English stop words removed, rows L2-normalised, messages left without a kept word dropped:

- ``message-tf``: whole messages (headers included), raw tf (v1);
- ``body-sublinear``: the body alone, sublinear tf (v2, ``data.load("20news-body")``);
- ``subject-body-sublinear``: the Subject line and the body, sublinear tf (v3,
  ``data.load("20news")``).

Each version's rows are a different space, so silhouette, Calinski–Harabasz and Davies–Bouldin
do not compare across them (they are written beside, for reference); the criterion is the one
that compares partitions only: the stability of k-means (the ``kmeans_20news`` cell's
settings) over seeds 0 … S−1, the mean ARI over pairs of seeds. Highest wins. NMI is recorded
and not used. Writes ``experiments/selection/news20-features.json``.

    python experiments/tuning/news20/select_features.py --seeds 5 --data-dir ../shared/data
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from jaxclust import data, select
from jaxclust.methods import get

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]


def whole_messages_raw_tf(data_dir):
    """v1: the tf-idf of whole messages (headers included) with raw tf."""
    headers, bodies, y = data.read_20news(data_dir)
    x, keep = data.tfidf([h + "\n\n" + b for h, b in zip(headers, bodies)], sublinear_tf=False)
    return x[keep], y[keep]


VERSIONS = {
    "message-tf": whole_messages_raw_tf,
    "body-sublinear": lambda data_dir: data.load("20news-body", data_dir),
    "subject-body-sublinear": lambda data_dir: data.load("20news", data_dir),
}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--data-dir", default=None)
    opts = p.parse_args(argv)
    t0 = time.perf_counter()
    method, out = get("kmeans"), {}
    for name, load in VERSIONS.items():
        x, y = load(opts.data_dir)
        res = select.select_config(method, x, [{}], {"n_clusters": 20}, n_seeds=opts.seeds,
                                   criterion="stability", y=y)
        out[name] = {"n_samples": int(x.shape[0]),
                     **{k: np.asarray(v[0]).tolist() for k, v in res.scores.items()},
                     "nmi_not_used_for_the_choice": res.nmi[0].tolist()}
        print(f"{name}: n {x.shape[0]}, stability {out[name]['stability']:.4f}, "
              f"silhouette {np.mean(out[name]['silhouette']):.4f} (own space)", flush=True)
    chosen = max(out, key=lambda name: out[name]["stability"])
    path = ROOT / "experiments" / "selection" / "news20-features.json"
    path.write_text(json.dumps({
        "table": "news20", "criterion": "stability", "method": "kmeans",
        "seeds": list(range(opts.seeds)), "chosen": chosen, "versions": out,
        "note": "silhouette, calinski_harabasz, davies_bouldin are each measured in the "
                "version's own space: they do not compare across versions",
        "wall_time_s": time.perf_counter() - t0,
        "command": shlex.join(["python", "experiments/tuning/news20/select_features.py",
                               *(sys.argv[1:] if argv is None else argv)])}, indent=1) + "\n")
    print(f"chosen by stability: {chosen}; wrote {path}")


if __name__ == "__main__":
    main()
