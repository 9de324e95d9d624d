"""Data on disk: DEC's full-data pass and training steps with 10 M rows streamed from a
``.npy`` file (:mod:`jaxclust.stream`) beside the same with 1 M rows in memory, one run.

    python benchmarks/stream_scale.py --data-dir ../shared/data [--streamed 10000000]
        [--in-memory 1000000] [--steps 2000]

Data: ``mnist8m:<streamed>`` (deformed MNIST, uint8, generated once into
``$JAXCLUST_CACHE``, not timed); the in-memory side reads its first ``--in-memory`` rows as
float32 onto the device (as :mod:`benchmarks.scale`). Each side runs in its own process so
its peak RSS is its own. Timed, after compiling: the **full-data pass** — DEC's target
update (q of every row, then P) — and ``--steps`` **training steps** of batch 256 on shuffled
rows with their rows of P. In memory: ``dec.update_target`` and a ``lax.scan`` of
``dec.train_step``, each called once untimed first (a compiled program's first call on CPU
is slower and takes more memory). Streamed: :func:`jaxclust.stream.map_blocks` of q
(blocks of 65 536 rows), P on the host, then :func:`jaxclust.stream.shuffled_batches` in
groups of 16 batches read in runs of 16 consecutive rows (a background thread reads the
next groups), each group one jitted ``lax.scan`` of ``dec.train_step``. The network is
DEC's d-500-500-2000-10, untrained, its centroids from k-means on the first 10 000 rows
(timing does not depend on the weights). Memory:
the process's peak RSS over the timed part (``VmHWM``, reset first) — for the streamed side
with the data on disk. Writes benchmarks/results/stream_scale.json and prints a table:
µs per point and the streamed/in-memory ratio (goal ≤ 1.3), peak RSS (goal ≤ 4 GB).
"""
import argparse
import gc
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

from scale import _status  # benchmarks/ is on sys.path when this runs as a script

BATCH = 256
GROUP, CHUNK = 16, 16  # streamed: 16 steps per call, read in runs of 16 rows


def one(mode: str, n: int, total: int, steps: int, data_dir) -> dict:
    """Measure one side (in this process)."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from jaxclust import config, data, losses, stream
    from jaxclust.methods import dec, get, pretrain

    xm, _ = data.deformed_mnist(total, data_dir)
    head = jnp.asarray(xm[:10_000] / np.float32(255.0))
    cfg = config.build(get("dec"), n_clusters=10)
    key = jax.random.key(0)
    pre = pretrain.init(key, head, pretrain.phase_config(cfg))
    pre = pretrain.cluster(pre, head, pretrain.Config(cfg.n_clusters, cfg.ae, n_init=1))
    state = dec.from_pretrained(pre, head, cfg)
    idx_all = np.concatenate(list(stream.shuffled_indices(n, 0, BATCH, steps)))  # (steps, B)
    out = {"mode": mode, "n": n, "steps": steps, "batch": BATCH}

    def reset():
        gc.collect()
        Path("/proc/self/clear_refs").write_text("5")
        return time.perf_counter()

    if mode == "memory":
        host = np.empty((n, xm.shape[1]), np.float32)
        for i in range(0, n, 65_536):
            host[i:i + 65_536] = xm[i:min(i + 65_536, n)] / np.float32(255.0)
        del xm
        x = jnp.asarray(host)
        del host
        out["data_bytes"] = int(x.size) * 4
        state = state._replace(labels=jnp.zeros((n,), jnp.int32),  # sized for all n rows
                               p=jnp.zeros((n, cfg.n_clusters), jnp.float32))
        pass_fn = jax.jit(lambda s, xx: dec.update_target(s, xx, cfg)).lower(state, x).compile()

        def run_steps(s, xx, idx):
            return jax.lax.scan(lambda c, i: dec.train_step(c, (xx[i], c.p[i]), cfg), s, idx)

        jax.block_until_ready(pass_fn(state, x))  # a first call, untimed (as the streamed side)
        t0 = reset()
        state = jax.block_until_ready(pass_fn(state, x))
        out["pass_s"] = time.perf_counter() - t0
        idx = jnp.asarray(idx_all)
        steps_fn = jax.jit(run_steps).lower(state, x, idx).compile()
        jax.block_until_ready(steps_fn(state, x, idx))  # untimed first call
        t0 = time.perf_counter()
        jax.block_until_ready(steps_fn(state, x, idx))
        out["steps_s"] = time.perf_counter() - t0
    else:
        del xm
        rows = stream.NpyRows(data.deformed_path(total))
        out["data_bytes"] = 0
        out["file_bytes"] = rows.shape[0] * rows.shape[1]
        q_fn = jax.jit(lambda s, xb: dec.predict_proba(s, stream.as_float(xb), cfg))
        group = jax.jit(lambda s, xg, pg: jax.lax.scan(
            lambda c, b: dec.train_step(c, (stream.as_float(b[0]), b[1]), cfg), s, (xg, pg)))
        warm = rows[:65_536]
        q_fn(state, warm).block_until_ready()  # compile
        p0 = jnp.zeros((GROUP, BATCH, cfg.n_clusters))
        jax.block_until_ready(group(state, jnp.asarray(warm[:GROUP * BATCH].reshape(
            GROUP, BATCH, -1)), p0))
        t0 = reset()
        q = stream.map_blocks(lambda xb: q_fn(state, xb), rows)
        p = np.asarray(losses.target_distribution(q))
        out["pass_s"] = time.perf_counter() - t0
        del q
        t0 = time.perf_counter()
        it = stream.shuffled_batches(rows, seed=0, batch_size=BATCH, n_steps=steps,
                                     group=GROUP, chunk=CHUNK)
        for idx, xg in it:
            state, loss = group(state, xg, p[idx])
        jax.block_until_ready(loss)
        out["steps_s"] = time.perf_counter() - t0
    out["peak_rss_bytes"] = _status("VmHWM")
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=None)
    p.add_argument("--streamed", type=int, default=10_000_000)
    p.add_argument("--in-memory", type=int, default=1_000_000)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--one", default=None, help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--out",
                   default=str(Path(__file__).parent / "results" / "stream_scale.json"))
    args = p.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.n, args.streamed, args.steps, args.data_dir)))
        return
    import jax

    from jaxclust import data, record

    t0 = time.perf_counter()
    data.deformed_mnist(args.streamed, args.data_dir)  # generate once, untimed
    print(f"mnist8m:{args.streamed} ready in {time.perf_counter() - t0:.0f} s", flush=True)
    rows = []
    for mode, n in (("memory", args.in_memory), ("streamed", args.streamed)):
        cmd = [sys.executable, __file__, "--one", mode, "--n", str(n), "--streamed",
               str(args.streamed), "--steps", str(args.steps)]
        if args.data_dir:
            cmd += ["--data-dir", args.data_dir]
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), flush=True)
    for r in rows:
        r["pass_us_per_point"] = 1e6 * r["pass_s"] / r["n"]
        r["steps_us_per_point"] = 1e6 * r["steps_s"] / (r["steps"] * r["batch"])
    mem, streamed = rows
    for k in ("pass", "steps"):
        streamed[f"{k}_ratio"] = streamed[f"{k}_us_per_point"] / mem[f"{k}_us_per_point"]
    result = {"command": "python benchmarks/stream_scale.py " + " ".join(sys.argv[1:]),
              "git_commit": record.git_commit(), "device": str(jax.devices()[0]),
              "machine": platform.machine(), "cpus": __import__("os").cpu_count(),
              "jax": jax.__version__, "rows": rows}
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print("| data | n | full pass µs/pt | training step µs/pt | peak RSS GB |")
    print("|---|---|---|---|---|")
    for r in rows:
        ratio = (f" ({r['pass_ratio']:.2f}×)", f" ({r['steps_ratio']:.2f}×)") \
            if r["mode"] == "streamed" else ("", "")
        print(f"| {r['mode']} | {r['n']:,} | {r['pass_us_per_point']:.1f}{ratio[0]} "
              f"| {r['steps_us_per_point']:.1f}{ratio[1]} | {r['peak_rss_bytes'] / 1e9:.2f} |")


if __name__ == "__main__":
    main()
