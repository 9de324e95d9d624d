"""k-means: jaxclust vs scikit-learn, timed back to back in one run.

    python benchmarks/kmeans_vs_sklearn.py --data-dir ../shared/data [--n-init 10] [--repeats 2]
        [--small-repeats 10]

Problems: MNIST 70 000 × 784 (k = 10) and a 70 000 × 10 embedding-sized problem (MNIST
projected on its first 10 principal components). Same n_init for both; jaxclust's compile
time is measured separately (first call on a fresh key) and excluded from the steady-state
time. Each repeat uses another seed on both sides (the number of Lloyd steps, hence the
time, varies with the seed), so the 10-d problem, under a second a call, gets more
repeats. Writes benchmarks/results/kmeans_vs_sklearn.json and prints a markdown table.
"""
import argparse
import json
import os
import platform
import time
from pathlib import Path

import jax
import numpy as np
from sklearn.cluster import KMeans as SKKMeans
from sklearn.decomposition import PCA

from jaxclust import data, kmeans


def bench(name, x, k, n_init, repeats):
    t0 = time.perf_counter()
    kmeans.kmeans(jax.random.key(123), x, k, n_init=n_init).inertia.block_until_ready()
    first_call = time.perf_counter() - t0
    rows = []
    for rep in range(repeats):
        t0 = time.perf_counter()
        ours = kmeans.kmeans(jax.random.key(rep), x, k, n_init=n_init)
        ours.inertia.block_until_ready()
        t_ours = time.perf_counter() - t0
        t0 = time.perf_counter()
        ref = SKKMeans(k, n_init=n_init, random_state=rep).fit(x)
        t_ref = time.perf_counter() - t0
        rows.append({"rep": rep, "jaxclust_s": t_ours, "sklearn_s": t_ref,
                     "jaxclust_inertia": float(ours.inertia),
                     "sklearn_inertia": float(ref.inertia_)})
    t_ours = float(np.mean([r["jaxclust_s"] for r in rows]))
    t_ref = float(np.mean([r["sklearn_s"] for r in rows]))
    inertia_ratio = float(np.mean([r["jaxclust_inertia"] / r["sklearn_inertia"] for r in rows]))
    return {"problem": name, "shape": list(x.shape), "k": k, "n_init": n_init,
            "jaxclust_first_call_s": first_call,
            "jaxclust_compile_s_est": max(first_call - t_ours, 0.0),
            "jaxclust_s": t_ours, "sklearn_s": t_ref, "speedup": t_ref / t_ours,
            "inertia_ratio": inertia_ratio, "runs": rows}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=None)
    p.add_argument("--n-init", type=int, default=10)
    p.add_argument("--repeats", type=int, default=2, help="repeats of the 784-d problem")
    p.add_argument("--small-repeats", type=int, default=10, help="repeats of the 10-d problem")
    p.add_argument("--out",
                   default=str(Path(__file__).parent / "results" / "kmeans_vs_sklearn.json"))
    args = p.parse_args()
    x, _ = data.load("mnist", data_dir=args.data_dir)
    x10 = PCA(10, random_state=0).fit_transform(x).astype(np.float32)
    results = [bench("mnist_70k_x_784", x, 10, args.n_init, args.repeats),
               bench("mnist_pca_70k_x_10", x10, 10, args.n_init, args.small_repeats)]
    import sklearn
    record = {"device": jax.devices()[0].device_kind,
              "cpu": platform.processor() or platform.machine(),
              "cpu_count": os.cpu_count(),
              "jax_version": jax.__version__, "sklearn_version": sklearn.__version__,
              "command": "python benchmarks/kmeans_vs_sklearn.py " + " ".join(
                  f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k != "out"),
              "results": results}
    Path(args.out).write_text(json.dumps(record, indent=2))
    print("| problem | n_init | jaxclust s | sklearn s | speed-up | inertia ratio "
          "| jax first call s |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['problem']} | {r['n_init']} | {r['jaxclust_s']:.2f} | "
              f"{r['sklearn_s']:.2f} | {r['speedup']:.2f}× | {r['inertia_ratio']:.5f} | "
              f"{r['jaxclust_first_call_s']:.2f} |")


if __name__ == "__main__":
    main()
