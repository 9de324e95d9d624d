"""k-means at a million points: jaxclust vs scikit-learn (`KMeans`, `MiniBatchKMeans`) and
faiss-cpu, back to back in one run.

    pip install faiss-cpu   # the anchor; skipped with a note where absent
    python benchmarks/kmeans_scale.py --data-dir ../shared/data [--n 1000000] [--iters 20]

Problems: the first n rows of ``mnist8m:n`` (deformed MNIST, :mod:`jaxclust.deformed`,
784-d, float32 in [0, 1]) and their projection on 10 principal components (PCA fitted on
50 000 of the rows), each with k ∈ {10, 256}. Every side runs one restart (k-means++ where
the library has it; faiss seeds with k random points) for exactly ``--iters`` Lloyd
iterations where it does not converge first (tolerance 0: scikit-learn and jaxclust stop
only when no label changes; faiss uses all points: ``max_points_per_centroid`` = n).
`MiniBatchKMeans` runs batches of 4 096 for as many points as the ``--iters`` full passes
(no early stop). jaxclust is compiled ahead of time: its time excludes compilation (given
apart; the data's copy to the device is finished before the clock starts, as scikit-learn's
input is a numpy array already in memory). Every side's final centres are scored the same
way — the exact inertia of the n points at their nearest centre
(``jaxclust.kmeans.nearest``/``inertia``) — and reported as the ratio to scikit-learn's
`KMeans`; with ``--seeds S`` every side runs seeds 0..S-1 and the table shows means.
Writes benchmarks/results/kmeans_scale.json (or ``--out``) and prints a Markdown table.
"""
import argparse
import json
import os
import platform
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import sklearn
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.decomposition import PCA

from jaxclust import data, kmeans

CHUNK = 65_536


def load(n: int, data_dir) -> np.ndarray:
    """The first n deformed digits as float32 in [0, 1], converted chunk by chunk."""
    xm, _ = data.deformed_mnist(n, data_dir)
    x = np.empty(xm.shape, np.float32)
    for i in range(0, n, CHUNK):
        x[i:i + CHUNK] = xm[i:i + CHUNK] / np.float32(255.0)
    return x


def project(x: np.ndarray, dims: int) -> np.ndarray:
    pca = PCA(dims, random_state=0).fit(x[np.random.default_rng(0).permutation(len(x))[:50_000]])
    return np.concatenate([pca.transform(x[i:i + CHUNK]) for i in range(0, len(x), CHUNK)]
                          ).astype(np.float32)


def score(xj: jax.Array, centres: np.ndarray) -> float:
    c = jnp.asarray(centres, jnp.float32)
    return float(kmeans.inertia(xj, c, kmeans.nearest(xj, c)))


def timed(f):
    t0 = time.perf_counter()
    out = f()
    return out, time.perf_counter() - t0


def bench(name: str, x: np.ndarray, k: int, iters: int, seed: int) -> dict:
    # The copy to the device is asynchronous: wait for it, or the first timed call pays it.
    xj = jax.block_until_ready(jnp.asarray(x))
    key = jax.random.key(seed)
    compiled, compile_s = timed(lambda: kmeans.kmeans.lower(
        key, xj, k=k, n_init=1, max_iter=iters, tol=0.0).compile())
    ours, ours_s = timed(lambda: jax.block_until_ready(compiled(key, xj, tol=0.0)))
    sk, sk_s = timed(lambda: KMeans(k, n_init=1, max_iter=iters, tol=0.0, random_state=seed,
                                    algorithm="lloyd").fit(x))
    batch = 4096
    mb, mb_s = timed(lambda: MiniBatchKMeans(
        k, batch_size=batch, n_init=1, max_iter=iters, random_state=seed, max_no_improvement=None,
        tol=0.0, compute_labels=False).fit(x))
    rows = {"jaxclust": {"s": ours_s, "compile_s": compile_s, "n_iter": int(ours.n_iter),
                         "inertia": score(xj, np.asarray(ours.centroids))},
            "sklearn_kmeans": {"s": sk_s, "n_iter": int(sk.n_iter_),
                               "inertia": score(xj, sk.cluster_centers_)},
            "sklearn_minibatch": {"s": mb_s, "n_steps": int(mb.n_steps_),
                                  "inertia": score(xj, mb.cluster_centers_)}}
    try:
        import faiss
    except ImportError:
        rows["faiss_cpu"] = None
    else:
        fk = faiss.Kmeans(x.shape[1], k, niter=iters, nredo=1, seed=seed, verbose=False,
                          max_points_per_centroid=len(x), min_points_per_centroid=1)
        _, fs = timed(lambda: fk.train(x))
        rows["faiss_cpu"] = {"s": fs, "n_iter": iters, "inertia": score(xj, fk.centroids),
                             "version": faiss.__version__}
    ref = rows["sklearn_kmeans"]
    for r in rows.values():
        if r:
            r["inertia_ratio"] = r["inertia"] / ref["inertia"]
            r["speed_vs_sklearn"] = ref["s"] / r["s"]
    return {"problem": name, "shape": list(x.shape), "k": k, "iters": iters, "seed": seed,
            "results": rows}


def table(results: list, seeds: int) -> str:
    """The Markdown table of ``results`` (means over the seeds of each problem)."""
    lines = [f"Means over {seeds} seed(s):", "",
             "| problem | k | jaxclust s (compile) | KMeans s | MiniBatch s | faiss s "
             "| speed vs KMeans | inertia: ours / MiniBatch / faiss (÷ KMeans) |",
             "|---|---|---|---|---|---|---|---|"]
    sides = ("jaxclust", "sklearn_kmeans", "sklearn_minibatch", "faiss_cpu")
    for problem, k in dict.fromkeys((r["problem"], r["k"]) for r in results):
        runs = [r["results"] for r in results if (r["problem"], r["k"]) == (problem, k)]

        def mean(side, field):
            values = [run[side][field] for run in runs if run[side] and field in run[side]]
            return float(np.mean(values)) if values else None

        o, s, m, f = ({f: mean(side, f) for f in ("s", "compile_s", "inertia_ratio")}
                      for side in sides)
        fs, fi = (f"{f['s']:.1f}", f"{f['inertia_ratio']:.4f}") if f["s"] else ("—", "—")
        lines.append(f"| {problem} | {k} | {o['s']:.1f} ({o['compile_s']:.1f}) | "
                     f"{s['s']:.1f} | {m['s']:.1f} | {fs} | {s['s'] / o['s']:.2f}× | "
                     f"{o['inertia_ratio']:.4f} / {m['inertia_ratio']:.4f} / {fi} |")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=None)
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--ks", type=int, nargs="+", default=[10, 256])
    p.add_argument("--seeds", type=int, default=1,
                   help="runs per problem, seeds 0..S-1 on every side (the table: means)")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "kmeans_scale.json"))
    args = p.parse_args()
    x = load(args.n, args.data_dir)
    problems = {f"deformed_{args.n}_x_784": x, f"deformed_{args.n}_pca_x_10": project(x, 10)}
    results = []
    for name, xp in problems.items():
        for k in args.ks:
            for seed in range(args.seeds):
                results.append(bench(name, xp, k, args.iters, seed))
                print(json.dumps(results[-1]), flush=True)
    record = {"device": jax.devices()[0].device_kind, "cpu": platform.processor()
              or platform.machine(), "cpu_count": os.cpu_count(), "jax_version": jax.__version__,
              "sklearn_version": sklearn.__version__,
              "command": f"python benchmarks/kmeans_scale.py --data-dir {args.data_dir} "
                         f"--n {args.n} --iters {args.iters} --ks {' '.join(map(str, args.ks))} "
                         f"--seeds {args.seeds} --out {args.out}",
              "results": results}
    Path(args.out).write_text(json.dumps(record, indent=2) + "\n")
    print(table(results, args.seeds))

if __name__ == "__main__":
    main()
