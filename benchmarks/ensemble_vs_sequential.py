"""k-DAE's vmapped ensemble step vs the same k autoencoders stepped one by one, in one run.

    python benchmarks/ensemble_vs_sequential.py [--k 10] [--d 784] [--batch 256] [--steps 20]

Both sides do the same work: k members of the paper's d-1024-256-10 autoencoder (ELU,
sigmoid output), one Adam step each on its own (B, d) batch with BCE. "ensemble" is one
jitted step over the stacked parameters (``jax.vmap``); "sequential" is one jitted
single-AE step called k times per ensemble step (the Python-loop baseline). Compile time is
excluded (one warm-up call each). Writes benchmarks/results/ensemble_vs_sequential.json.
"""
import argparse
import json
import platform
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxclust import train
from jaxclust.methods import kdae


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--d", type=int, default=784)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "ensemble_vs_sequential.json"))
    args = p.parse_args()

    cfg = kdae.PAPER_MEMBER
    x = jnp.asarray(np.random.default_rng(0).random((args.k, args.batch, args.d)), jnp.float32)
    keys = jax.random.split(jax.random.key(0), args.k)
    stacked = jax.vmap(lambda kk: train.ae_init(kk, x[0], cfg))(keys)
    members = [jax.tree.map(lambda a, i=i: a[i], stacked) for i in range(args.k)]

    single = jax.jit(lambda s, b: train.ae_train_step(cfg, args.d, s, b))
    ensemble = jax.jit(jax.vmap(lambda s, b: train.ae_train_step(cfg, args.d, s, b)))

    t0 = time.perf_counter()
    jax.block_until_ready(ensemble(stacked, x))
    compile_ens = time.perf_counter() - t0
    t0 = time.perf_counter()
    jax.block_until_ready(single(members[0], x[0]))
    compile_seq = time.perf_counter() - t0

    t0 = time.perf_counter()
    for _ in range(args.steps):
        stacked, _ = ensemble(stacked, x)
    jax.block_until_ready(stacked)
    t_ens = (time.perf_counter() - t0) / args.steps

    t0 = time.perf_counter()
    for _ in range(args.steps):
        members = [single(m, x[i])[0] for i, m in enumerate(members)]
    jax.block_until_ready(members)
    t_seq = (time.perf_counter() - t0) / args.steps

    res = {"device": jax.devices()[0].device_kind, "host": platform.machine(),
           "jax_version": jax.__version__, "k": args.k, "d": args.d, "batch": args.batch,
           "member": [args.d, *cfg.hidden, cfg.latent],
           "ensemble_step_ms": 1e3 * t_ens, "sequential_step_ms": 1e3 * t_seq,
           "speedup": t_seq / t_ens, "compile_ensemble_s": compile_ens,
           "compile_single_s": compile_seq,
           "command": "python benchmarks/ensemble_vs_sequential.py " + " ".join(
               f"--{k} {v}" for k, v in vars(args).items() if k != "out")}
    Path(args.out).write_text(json.dumps(res, indent=2))
    print("| k | ensemble ms/step | sequential ms/step | speed-up |")
    print("|---|---|---|---|")
    print(f"| {args.k} | {res['ensemble_step_ms']:.1f} | {res['sequential_step_ms']:.1f} | "
          f"{res['speedup']:.2f}× |")


if __name__ == "__main__":
    main()
