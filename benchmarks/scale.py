"""Scale: per-point time of a DEC epoch, a full-data pass and a k-means step, and peak memory,
as n grows (deformed MNIST, 784-d).

    python benchmarks/scale.py --data-dir ../shared/data [--sizes 70000 250000 1000000]

The data: the first n rows of ``mnist8m:max(sizes)`` (:mod:`jaxclust.deformed`; generated
once into ``$JAXCLUST_CACHE`` before the first size runs, not timed). Each size runs in a
process of its own, one after the other, so peak RSS is that size's. Every timed function is
compiled ahead of time (``jax.jit(f).lower(...).compile()``): the times exclude compilation.

Timed, once each: the **full-data pass** — DEC's target update (embed all n rows, soft
assignments q, target p); **one DEC epoch** — a target update plus one shuffled pass of
batch-256 steps; **one Lloyd step** of k-means on the raw 784-d rows, k = 256. The network
is DEC's d-500-500-2000-10, untrained (timing does not depend on the weights), its centroids
from one k-means restart on the untrained embedding. Memory: the resident set once the
float32 data and the start state sit in memory, and its peak during the timed passes
(``VmHWM`` of ``/proc/self/status``, reset before them through ``/proc/self/clear_refs``),
against the float32 data's bytes; and the process's overall peak (``ru_maxrss``, which
includes reading and converting the data).

Writes benchmarks/results/scale.json and prints a Markdown table (per-point times, and
their ratio to the smallest n; goal ≤ 1.1 — memory beyond the data O(block), not O(n)).
"""
import argparse
import gc
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path


def one(n: int, total: int, data_dir) -> dict:
    """Measure at size n (in this process)."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from jaxclust import config, data, kmeans
    from jaxclust.methods import dec, get, pretrain

    xm, _ = data.deformed_mnist(total, data_dir)
    host = np.empty((n, xm.shape[1]), np.float32)
    for i in range(0, n, 65_536):  # convert in chunks: no second float32 copy on the host
        host[i:i + 65_536] = xm[i:min(i + 65_536, n)] / np.float32(255.0)
    del xm
    x = jnp.asarray(host)
    del host
    cfg = config.build(get("dec"), n_clusters=10)
    key = jax.random.key(0)
    pre = pretrain.init(key, x, pretrain.phase_config(cfg))
    pre = pretrain.cluster(pre, x, pretrain.Config(cfg.n_clusters, cfg.ae, n_init=1))
    state = jax.block_until_ready(dec.from_pretrained(pre, x, cfg))
    gc.collect()
    resident = _status("VmRSS")

    out = {"n": n, "data_bytes": int(x.size) * 4, "rss_with_data_bytes": resident}

    def timed(name, fn, *args):  # seconds and this call's peak RSS (VmHWM restarted first)
        compiled = jax.jit(fn).lower(*args).compile()
        gc.collect()
        Path("/proc/self/clear_refs").write_text("5")
        t0 = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        out[f"{name}_s"] = time.perf_counter() - t0
        out[f"{name}_peak_rss_bytes"] = _status("VmHWM")

    timed("pass", lambda s, xx: dec.update_target(s, xx, cfg), state, x)
    timed("epoch", lambda s, xx: dec.train_epoch(s, xx, cfg), state, x)
    timed("lloyd", kmeans.lloyd_step, x, x[:256])
    out["peak_rss_passes_bytes"] = max(out[f"{k}_peak_rss_bytes"] for k in
                                       ("pass", "epoch", "lloyd"))
    out["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return out


def _status(field: str) -> int:
    """A memory field of ``/proc/self/status`` in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=None)
    p.add_argument("--sizes", type=int, nargs="+", default=[70_000, 250_000, 1_000_000])
    p.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--total", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "scale.json"))
    args = p.parse_args()
    if args.one is not None:
        print(json.dumps(one(args.one, args.total, args.data_dir)))
        return
    import jax

    from jaxclust import data, deformed, record

    commit = record.git_commit()
    total = max(args.sizes)
    t0 = time.perf_counter()
    data.deformed_mnist(total, args.data_dir)  # generate once, untimed
    print(f"mnist8m:{total} ready in {time.perf_counter() - t0:.0f} s "
          f"({data.deformed_path(total)})", flush=True)
    rows = []
    for n in sorted(args.sizes):
        cmd = [sys.executable, __file__, "--one", str(n), "--total", str(total)]
        if args.data_dir:
            cmd += ["--data-dir", args.data_dir]
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), flush=True)
    base = rows[0]
    for r in rows:
        for k in ("pass", "epoch", "lloyd"):
            r[f"{k}_us_per_point"] = 1e6 * r[f"{k}_s"] / r["n"]
            r[f"{k}_ratio"] = (r[f"{k}_s"] / r["n"]) / (base[f"{k}_s"] / base["n"])
    result = {"command": "python benchmarks/scale.py " + " ".join(sys.argv[1:]),
              "git_commit": commit,
              "device": str(jax.devices()[0]), "machine": platform.machine(),
              "cpus": __import__("os").cpu_count(), "jax": jax.__version__,
              "deformation": deformed.Deformation().__dict__, "rows": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print("| n | full pass µs/pt (× smallest) | DEC epoch µs/pt (×) | Lloyd k=256 µs/pt (×) "
          "| data GB | RSS with data GB | peak in passes GB (− data) | process peak GB |")
    print("|---|---|---|---|---|---|---|---|")
    gb = 1e9
    for r in rows:
        print(f"| {r['n']:,} | {r['pass_us_per_point']:.1f} ({r['pass_ratio']:.2f}) "
              f"| {r['epoch_us_per_point']:.1f} ({r['epoch_ratio']:.2f}) "
              f"| {r['lloyd_us_per_point']:.1f} ({r['lloyd_ratio']:.2f}) "
              f"| {r['data_bytes'] / gb:.2f} | {r['rss_with_data_bytes'] / gb:.2f} "
              f"| {r['peak_rss_passes_bytes'] / gb:.2f} "
              f"({(r['peak_rss_passes_bytes'] - r['data_bytes']) / gb:.2f}) "
              f"| {r['peak_rss_bytes'] / gb:.2f} |")


if __name__ == "__main__":
    main()
