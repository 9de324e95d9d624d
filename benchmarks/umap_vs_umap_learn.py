"""jaxclust's UMAP beside umap-learn on the same inputs, in one run: fit time, layout
quality (trustworthiness) and N2D's clustering of the layout.

    python benchmarks/umap_vs_umap_learn.py --data-dir ../shared/data [--sizes 10000 70000]
        [--seeds 5] [--cache runs/cache] [--init spectral|random] [--out FILE.json]

(``--sizes`` with no value: the digits only.)

Inputs: the 1797 digits, raw (64 features; UMAP's defaults: 2-d, 15 neighbours), and the
embedding of MNIST by seed 0's N2D autoencoder (table n2d, cell n2d_mnist-ae100: 100
pre-training epochs, from ``--cache`` or trained here), its first n points for each of
``--sizes`` (N2D's UMAP: 10-d, 20 neighbours, min_dist 0).

Per input and seed: our fit time (the compiled program; compile time apart, once per
input), umap-learn's with ``random_state=seed`` (single-threaded, as N2D's authors run it; its
first call includes numba's compilation, reported apart) and its parallel run (no seed, all
cores) once; scikit-learn's ``trustworthiness`` (k = 10) on a fixed sample of at most 5000
points; on MNIST, the accuracy of a full-covariance Gaussian mixture (scikit-learn's, seed
``seed``) fitted to each layout — N2D's last step — and of our own mixture on ours. Writes
benchmarks/results/umap_vs_umap_learn.json and prints a markdown table. umap-learn is a
benchmark/test extra: ``pip install umap-learn``.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import time
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from sklearn.datasets import load_digits
from sklearn.manifold import trustworthiness
from sklearn.mixture import GaussianMixture

from jaxclust import config, data, gmm, metrics, runner, store, umap
from jaxclust.methods import get, pretrain

RESULTS = Path(__file__).resolve().parent / "results" / "umap_vs_umap_learn.json"


def mnist_embedding(data_dir, cache: str) -> tuple[np.ndarray, np.ndarray]:
    """MNIST through seed 0's autoencoder of the n2d_mnist-ae100 cell (cached)."""
    x, y = data.load("mnist", data_dir=data_dir)[:2]
    cfg = pretrain.phase_config(config.build(get("n2d"), n_clusters=10, pretrain_epochs=100))
    keys = runner.seed_keys(0, 1)
    xj = jnp.asarray(x)
    cached = store.pretrain_cache(cache, cfg, xj, keys)
    res = runner.fit_seeds(get("aekm"), keys, xj, cfg, pretrain_cache=cached)
    cached.close()
    state = jax.tree.map(lambda a: a[0], res.states)
    return np.asarray(pretrain.embed(state, xj, cfg)), y


def seconds(fn):
    t0 = time.perf_counter()
    out = fn()
    jax.block_until_ready(out)
    return out, time.perf_counter() - t0


def compare(name, x, y, cfg: umap.Config, seeds: int) -> dict:
    import umap as umap_learn

    kwargs = dict(n_components=cfg.n_components, n_neighbors=cfg.n_neighbors,
                  min_dist=cfg.min_dist, init=cfg.init)
    sample = np.random.default_rng(0).permutation(len(x))[:5000]
    xj = jnp.asarray(x)
    fit = jax.jit(lambda key, x: umap.fit(key, x, cfg).embedding)
    compiled, compile_s = seconds(lambda: fit.lower(jax.random.key(0), xj).compile())
    row = {"input": name, "n": len(x), "d": x.shape[1], "umap": kwargs,
           "ours_compile_s": compile_s, "ours_s": [], "theirs_s": [], "ours_trust": [],
           "theirs_trust": [], "ours_gmm_acc": [], "ours_sk_gmm_acc": [],
           "theirs_sk_gmm_acc": []}
    for seed in range(seeds):
        ours, t = seconds(lambda: compiled(jax.random.key(seed), xj))
        ours = np.asarray(ours)
        row["ours_s"].append(t)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "n_jobs overridden by setting random_state"
            t0 = time.perf_counter()
            theirs = umap_learn.UMAP(random_state=seed, **kwargs).fit_transform(x)
            row["theirs_s"].append(time.perf_counter() - t0)
        row["ours_trust"].append(trustworthiness(x[sample], ours[sample], n_neighbors=10))
        row["theirs_trust"].append(trustworthiness(x[sample], theirs[sample], n_neighbors=10))
        if y is not None:
            k = len(np.unique(y))
            for key, layout in (("ours", ours), ("theirs", theirs)):
                labels = GaussianMixture(k, covariance_type="full",
                                         random_state=seed).fit_predict(layout)
                row[f"{key}_sk_gmm_acc"].append(metrics.evaluate(y, labels)["acc"])
            mix = gmm.fit(jax.random.key(seed), jnp.asarray(ours), gmm.Config(k))
            row["ours_gmm_acc"].append(
                metrics.evaluate(y, np.asarray(gmm.predict(mix, jnp.asarray(ours))))["acc"])
        print(f"  {name} seed {seed}: ours {row['ours_s'][-1]:.1f}s trust "
              f"{row['ours_trust'][-1]:.4f}; umap-learn {row['theirs_s'][-1]:.1f}s trust "
              f"{row['theirs_trust'][-1]:.4f}", flush=True)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        umap_learn.UMAP(n_jobs=-1, **kwargs).fit_transform(x)
    row["theirs_parallel_s"] = time.perf_counter() - t0
    return row


def summary(rows) -> str:
    def ms(v):
        return f"{np.mean(v):.4f} ± {np.std(v):.4f}" if v else "—"

    out = ["| input | n | ours fit s (compile) | umap-learn s: first (numba), rest, parallel "
           "| speed-up (rest / ours) | trust. ours | trust. umap-learn | GMM ACC on ours "
           "(ours / sklearn) | sklearn GMM ACC on umap-learn |", "|" + "---|" * 9]
    for r in rows:
        rest = r["theirs_s"][1:] or r["theirs_s"]
        out.append(
            f"| {r['input']} | {r['n']} | {np.mean(r['ours_s']):.1f} "
            f"({r['ours_compile_s']:.1f}) | {r['theirs_s'][0]:.1f}, {np.mean(rest):.1f}, "
            f"{r['theirs_parallel_s']:.1f} | {np.mean(rest) / np.mean(r['ours_s']):.2f}× | "
            f"{ms(r['ours_trust'])} | {ms(r['theirs_trust'])} | {ms(r['ours_gmm_acc'])} / "
            f"{ms(r['ours_sk_gmm_acc'])} | {ms(r['theirs_sk_gmm_acc'])} |")
    return "\n".join(out)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=os.environ.get("JAXCLUST_DATA"))
    p.add_argument("--sizes", type=int, nargs="*", default=[10_000, 70_000])
    p.add_argument("--init", choices=("spectral", "random"), default="spectral",
                   help="both sides' initial layout")
    p.add_argument("--out", default=str(RESULTS))
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--cache", default="runs/cache")
    p.add_argument("--skip-digits", action="store_true")
    opts = p.parse_args()
    rows = []
    if not opts.skip_digits:
        digits = load_digits()
        rows.append(compare("digits (raw)", digits.data.astype(np.float32), digits.target,
                            umap.Config(init=opts.init), opts.seeds))
    if opts.sizes:
        z, y = mnist_embedding(opts.data_dir, opts.cache)
    n2d_umap = dataclasses.replace(get("n2d").make_config().umap, init=opts.init)
    for n in opts.sizes:
        rows.append(compare("MNIST AE embedding", z[:n], y[:n], n2d_umap, opts.seeds))
    import umap as umap_learn

    out = {"device": str(jax.devices()[0]), "cpu_count": os.cpu_count(),
           "host": platform.machine(), "jax": jax.__version__,
           "umap_learn": umap_learn.__version__, "rows": rows,
           "command": "python benchmarks/umap_vs_umap_learn.py --data-dir DATA " + " ".join(
               f"--sizes {' '.join(map(str, opts.sizes))} --seeds {opts.seeds} "
               f"--init {opts.init} --out {opts.out}".split())}
    Path(opts.out).parent.mkdir(parents=True, exist_ok=True)
    Path(opts.out).write_text(json.dumps(out, indent=1))
    print(summary(rows))


if __name__ == "__main__":
    main()
