"""S seeds in one vmapped program vs S single-seed programs run one after another.

    python benchmarks/seeds_vmap_vs_sequential.py [--data-dir ../shared/data] [--n 10000]
        [--seeds 1 2 4 8] [--epochs 2]

For DEC (d-500-500-2000-10, batch 256, SGD) and k-DAE (10 members of d-1024-256-10, batch
256, Adam): the time of one joint-training epoch of S seeds, as ``jit(vmap(train_epoch))``
over stacked states vs ``jit(train_epoch)`` called once per seed. Both sides run the same
steps on the same data; compile time is excluded (one warm-up epoch each) and reported.
Throughput ratio = sequential time / vmapped time. Memory: XLA's compiled-memory analysis
of each program (arguments + outputs + temporaries; on a GPU also the device's peak bytes).
Data: the first ``--n`` MNIST images with ``--data-dir``, else uniform noise of the same
shape (timing does not depend on the values). Writes
benchmarks/results/seeds_vmap_vs_sequential.json.
"""
import argparse
import dataclasses
import json
import platform
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxclust import data, runner, train
from jaxclust.methods import dec, get, kdae, pretrain

AE = train.AEConfig(epochs=0)
CONFIGS = {
    "dec": dec.Config(n_clusters=10, ae=AE, n_init=1),
    "kdae": kdae.Config(n_clusters=10, ae=AE, n_init=1,
                        member=dataclasses.replace(kdae.PAPER_MEMBER, epochs=0)),
}


def start_state(method, key, x, cfg):
    """A joint-training state from an untrained AE and random centroids (values do not
    change the cost of an epoch)."""
    pre = pretrain.init(key, x, cfg)
    pre = pre._replace(centroids=jax.random.normal(jax.random.fold_in(key, 1),
                                                   pre.centroids.shape))
    return method.start(pre, x, cfg)


def program_bytes(compiled) -> int | None:
    m = compiled.memory_analysis()
    if m is None:
        return None
    return int(m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes)


def timed(fn, reps: int) -> float:
    t0 = time.perf_counter()
    for _ in range(reps):
        jax.block_until_ready(fn())
    return (time.perf_counter() - t0) / reps


def bench(name, x, n_seeds, reps):
    method, cfg = get(name), runner.for_data(CONFIGS[name], x)
    keys = runner.seed_keys(0, n_seeds)
    stacked = jax.jit(jax.vmap(lambda k: start_state(method, k, x, cfg)))(keys)
    singles = [jax.tree.map(lambda a, i=i: a[i], stacked) for i in range(n_seeds)]
    epoch = lambda s: method.train_epoch(s, x, cfg)[0]  # noqa: E731
    vmapped = jax.jit(jax.vmap(epoch)).lower(stacked).compile()
    single = jax.jit(epoch).lower(singles[0]).compile()

    t0 = time.perf_counter()
    jax.block_until_ready(vmapped(stacked))
    first_vmapped = time.perf_counter() - t0
    t0 = time.perf_counter()
    jax.block_until_ready(single(singles[0]))
    first_single = time.perf_counter() - t0

    t_vmap = timed(lambda: vmapped(stacked), reps)
    t_seq = timed(lambda: [single(s) for s in singles], reps)
    stats = jax.devices()[0].memory_stats() or {}
    return {"method": name, "seeds": n_seeds, "vmapped_epoch_s": t_vmap,
            "sequential_epoch_s": t_seq, "throughput_ratio": t_seq / t_vmap,
            "first_epoch_vmapped_s": first_vmapped, "first_epoch_single_s": first_single,
            "vmapped_program_bytes": program_bytes(vmapped),
            "single_program_bytes": program_bytes(single),
            "device_peak_bytes": stats.get("peak_bytes_in_use")}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=None)
    p.add_argument("--n", type=int, default=10000)
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 4, 8])
    p.add_argument("--methods", nargs="+", default=["dec", "kdae"], choices=sorted(CONFIGS))
    p.add_argument("--epochs", type=int, default=2, help="timed epochs per measurement")
    p.add_argument("--out", default=str(Path(__file__).parent / "results"
                                        / "seeds_vmap_vs_sequential.json"))
    args = p.parse_args()
    if args.data_dir:
        x = data.load("mnist", data_dir=args.data_dir)[0][: args.n]
    else:
        x = np.random.default_rng(0).random((args.n, 784), np.float32)
    x = jnp.asarray(x)
    rows = []
    for name in args.methods:
        for s in args.seeds:
            row = bench(name, x, s, args.epochs)
            rows.append(row)
            print(f"{name} S={s}: vmapped {row['vmapped_epoch_s']:.2f} s/epoch, sequential "
                  f"{row['sequential_epoch_s']:.2f} s/epoch → {row['throughput_ratio']:.2f}×; "
                  f"program MB {(row['vmapped_program_bytes'] or 0) / 2**20:.0f} vs "
                  f"{(row['single_program_bytes'] or 0) / 2**20:.0f}", flush=True)
    record = {"command": " ".join(["python", *sys.argv]),
              "device": jax.devices()[0].device_kind, "platform": platform.machine(),
              "jax_version": jax.__version__, "n": int(x.shape[0]),
              "data": "mnist" if args.data_dir else "noise", "rows": rows}
    Path(args.out).write_text(json.dumps(record, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
