"""k-DAE's vmapped ensemble step vs the same k autoencoders stepped one by one, in one run.

    python benchmarks/ensemble_vs_sequential.py [--k 10] [--d 784] [--batch 256] [--steps 20]

Members: the paper's d-1024-256-10 autoencoder (ELU, sigmoid output), Adam. Two steps:

- pre-training (each member on its own ``(B, d)`` batch, BCE): "ensemble" is one jitted
  step over the stacked parameters (``jax.vmap``); "sequential" is one jitted single-AE
  step called k times (the Python-loop baseline).
- joint training (all members on one shared batch, the hard min-error loss, which couples
  them): "ensemble" is :func:`jaxclust.methods.kdae.train_step`; "unrolled" is the same
  loss and Adam step written with a Python loop over k separate parameter pytrees inside one
  jitted program (k independent chains of plain matmuls, as a per-member implementation
  would have; separate programs per member cannot express the coupled loss without a second
  forward pass).

Compile time is excluded (one warm-up call each) and reported. Sides alternate in rounds
(``--rounds``) so that drifts in the machine's speed hit both; each figure is the median of
the rounds. Writes benchmarks/results/ensemble_vs_sequential.json.
"""
import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxclust import nets, runner, train
from jaxclust.losses import kdae_loss, reconstruction_error
from jaxclust.methods import kdae


def _timed(step, carry, steps):
    """Mean seconds per call of ``carry = step(carry)`` over ``steps`` calls, and the carry."""
    t0 = time.perf_counter()
    for _ in range(steps):
        carry = step(carry)
    jax.block_until_ready(carry)
    return (time.perf_counter() - t0) / steps, carry


def pretraining_sides(k, d, batch):
    """Pre-training: vmapped step over k own batches vs one single-AE step called k times.

    Returns ``{side: (step, carry)}`` with ``step(carry) -> carry``."""
    cfg = kdae.PAPER_MEMBER.for_range(0.0, 1.0)  # on x below, in [0, 1]
    x = jnp.asarray(np.random.default_rng(0).random((k, batch, d)), jnp.float32)
    keys = jax.random.split(jax.random.key(0), k)
    stacked = jax.vmap(lambda kk: train.ae_init(kk, x[0], cfg))(keys)
    members = [jax.tree.map(lambda a, i=i: a[i], stacked) for i in range(k)]
    single = jax.jit(lambda s, b: train.ae_train_step(cfg, d, s, b)[0])
    ensemble = jax.jit(jax.vmap(lambda s, b: train.ae_train_step(cfg, d, s, b)[0]))
    return {"ensemble": (lambda s: ensemble(s, x), stacked),
            "sequential": (lambda ms: [single(m, x[i]) for i, m in enumerate(ms)], members)}


def joint_sides(k, d, batch):
    """Joint training: kdae.train_step vs the same step unrolled over k separate pytrees.

    Returns ``{side: (step, carry)}`` with ``step(carry) -> carry``."""
    x = jnp.asarray(np.random.default_rng(0).random((batch, d)), jnp.float32)
    cfg = runner.for_data(kdae.Config(n_clusters=k), x)
    module = cfg.member.module(d)
    tx = optax.adam(cfg.lr)
    variables = nets.init_ensemble(jax.random.key(0), module, k, x)
    stacked = kdae.State(variables, tx.init(variables["params"]), jnp.ones(k, jnp.int32),
                         jnp.zeros((), jnp.int32), jax.random.key(1))
    params = [jax.tree.map(lambda a, i=i: a[i], variables["params"]) for i in range(k)]

    def unrolled_step(carry):
        params, opt_state = carry

        def loss_fn(params):
            errors = [reconstruction_error(x, module.apply({"params": p}, x)[1], cfg.error)
                      for p in params]
            return jnp.mean(kdae_loss(jnp.stack(errors, axis=1)))
        grads = jax.grad(loss_fn)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    return {"ensemble": (jax.jit(lambda s: kdae.train_step(s, x, cfg)[0]), stacked),
            "unrolled": (jax.jit(unrolled_step), (params, tx.init(params)))}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--d", type=int, default=784)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--steps", type=int, default=10, help="steps per side and round")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--out",
                   default=str(Path(__file__).parent / "results" / "ensemble_vs_sequential.json"))
    args = p.parse_args()

    res = {"device": jax.devices()[0].device_kind, "host": platform.machine(),
           "jax_version": jax.__version__, "k": args.k, "d": args.d, "batch": args.batch,
           "member": [args.d, *kdae.PAPER_MEMBER.hidden, kdae.PAPER_MEMBER.latent],
           "command": "python benchmarks/ensemble_vs_sequential.py " + " ".join(
               f"--{k} {v}" for k, v in vars(args).items() if k != "out")}
    print("| step | ensemble ms | baseline | baseline ms | speed-up |")
    print("|---|---|---|---|---|")
    for name, make in [("pretraining", pretraining_sides), ("joint", joint_sides)]:
        sides = make(args.k, args.d, args.batch)
        carries, compile_s, rounds = {}, {}, {side: [] for side in sides}
        for side, (step, carry) in sides.items():  # first call: compile + one step
            compile_s[side], carries[side] = _timed(step, carry, 1)
        for _ in range(args.rounds):
            for side, (step, _) in sides.items():
                seconds, carries[side] = _timed(step, carries[side], args.steps)
                rounds[side].append(1e3 * seconds)
        ms = {side: statistics.median(v) for side, v in rounds.items()}
        baseline = next(side for side in sides if side != "ensemble")
        res[name] = {"ms_per_step": ms, "rounds_ms": rounds, "compile_s": compile_s,
                     "baseline": baseline, "speedup": ms[baseline] / ms["ensemble"]}
        print(f"| {name} | {ms['ensemble']:.1f} | {baseline} | {ms[baseline]:.1f} | "
              f"{res[name]['speedup']:.2f}× |")
    Path(args.out).write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
