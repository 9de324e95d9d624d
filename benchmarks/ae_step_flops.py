"""Achieved GFLOP/s of one autoencoder train step vs plain matmuls, in one run.

    python benchmarks/ae_step_flops.py [--d 784] [--batch 256] [--steps 50] [--torch] [--profile]

The step is jaxclust's jitted Adam step of the d-500-500-2000-10 autoencoder (MSE).
Its matmul FLOPs are counted analytically: forward 2·B·Σ(in·out) over the 8 dense layers,
backward twice that (gradients of inputs and weights; the first layer's input gradient is
not needed but counted, a <2 % over-count). The reference is the same layer shapes run as
plain ``jnp.dot`` (B×in @ in×out, forward only) — the rate the hardware gives these exact
shapes — plus a 2048³ square matmul as the machine's headline rate. ``--torch`` (in the
ClustPy environment, see setup_clustpy.sh) also times the same step written in PyTorch
(``nn.Linear`` + ReLU, Adam, MSE; ClustPy's building blocks) on the same data, so both
libraries' rates are measured against the same ``jnp.dot`` reference in one run.
``--profile`` traces the step with ``jax.profiler`` and splits its op time into matmul ops
(those whose compiled HLO computation holds a ``dot``) and the rest. Writes
benchmarks/results/ae_step_flops.json and prints a table.
"""
import argparse
import collections
import glob
import json
import platform
import re
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxclust import train


def timed(fn, *args, repeats):
    out = fn(*args)
    jax.block_until_ready(out)
    t0 = time.perf_counter()
    for _ in range(repeats):
        out = fn(*args)
    jax.block_until_ready(out)
    return (time.perf_counter() - t0) / repeats


def torch_step_ms(dims, x: np.ndarray, lr: float, steps: int, threads: int) -> float:
    """Mean time of one PyTorch Adam step of the same MLP autoencoder (ReLU between layers,
    linear embedding and output, MSE), after 3 warm-up steps."""
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    layers = []
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i not in (len(dims) // 2 - 1, len(dims) - 2):  # no ReLU on z and on the output
            layers.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    xt = torch.from_numpy(x)

    def step():
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(net(xt), xt)
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return 1e3 * (time.perf_counter() - t0) / steps


def op_time_split(step, args, steps: int) -> dict:
    """Trace ``steps`` calls of the compiled ``step(*args)`` and sum the XLA op events of the
    host's worker threads: ms per step in matmul ops, in the others, and the five costliest
    other ops. An op counts as a matmul when its HLO computation contains a ``dot``."""
    compiled = step.lower(*args).compile()  # the traced program is the one whose HLO is read
    hlo = compiled.as_text()
    with_dot = {name for name, body in re.findall(r"^(?:ENTRY )?%?([\w.-]+) [^\n]*\{\n(.*?)^\}",
                                                  hlo, re.S | re.M) if " dot(" in body}
    calls = dict(re.findall(r"%([\w.-]+) = [^\n]*calls=%([\w.-]+)", hlo))
    instructions = set(re.findall(r"%([\w.-]+) = ", hlo))
    jax.block_until_ready(compiled(*args))
    with tempfile.TemporaryDirectory() as d:
        with jax.profiler.trace(d):
            for _ in range(steps):
                out = compiled(*args)
            jax.block_until_ready(out)
        (path,) = glob.glob(f"{d}/**/*.xplane.pb", recursive=True)
        planes = jax.profiler.ProfileData.from_file(path).planes
    ops = collections.Counter()
    for plane in planes:
        for line in plane.lines:
            if "XLAEigen" in line.name:  # the threads that run the compiled ops
                for ev in line.events:
                    if ev.name in instructions:  # not the executor's or thread pool's events
                        ops[ev.name] += ev.duration_ns / 1e6 / steps
    matmuls = {op for op in ops if op.startswith("dot") or calls.get(op) in with_dot}
    other = collections.Counter({k: v for k, v in ops.items() if k not in matmuls})
    matmul_ms = sum(ops[op] for op in matmuls)
    return {"matmul_op_ms_per_step": matmul_ms, "other_op_ms_per_step": sum(other.values()),
            "matmul_share": matmul_ms / sum(ops.values()),
            "top_other_ops_ms": dict(other.most_common(5)),
            "note": "op times summed over the worker threads (CPU time, not wall time)"}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--d", type=int, default=784)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--torch", action="store_true",
                   help="also time the same step in PyTorch (needs torch)")
    p.add_argument("--threads", type=int, default=2, help="PyTorch's intra-op threads")
    p.add_argument("--profile", action="store_true",
                   help="also split the step's op time into matmuls and the rest")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "ae_step_flops.json"))
    args = p.parse_args()

    cfg = train.AEConfig(batch_size=args.batch)
    dims = [args.d, *cfg.hidden, cfg.latent, *reversed(cfg.hidden), args.d]
    shapes = list(zip(dims[:-1], dims[1:]))
    fwd = 2 * args.batch * sum(i * o for i, o in shapes)
    step_flops = 3 * fwd

    rng = np.random.default_rng(0)
    x_np = rng.random((args.batch, args.d)).astype(np.float32)
    x = jnp.asarray(x_np)
    state = train.ae_init(jax.random.key(0), x, cfg)
    step = jax.jit(lambda s, b: train.ae_train_step(cfg, args.d, s, b))
    t_step = timed(step, state, x, repeats=args.steps)

    mats = [(jnp.asarray(rng.random((args.batch, i)), jnp.float32),
             jnp.asarray(rng.random((i, o)), jnp.float32)) for i, o in shapes]
    dot = jax.jit(lambda a, b: a @ b)
    t_layers = sum(timed(dot, a, b, repeats=args.steps) for a, b in mats)
    big = jnp.asarray(rng.random((2048, 2048)), jnp.float32)
    t_big = timed(dot, big, big, repeats=10)

    res = {
        "device": jax.devices()[0].device_kind, "host": platform.machine(),
        "jax_version": jax.__version__, "batch": args.batch, "layers": shapes,
        "step_ms": 1e3 * t_step, "step_gflops": step_flops / t_step / 1e9,
        "same_shape_dot_gflops": fwd / t_layers / 1e9,
        "square_2048_dot_gflops": 2 * 2048**3 / t_big / 1e9,
    }
    res["step_vs_same_shape_dot"] = res["step_gflops"] / res["same_shape_dot_gflops"]
    if args.torch:
        import torch

        res["torch_version"] = torch.__version__
        res["torch_step_ms"] = torch_step_ms(dims, x_np, cfg.lr, args.steps, args.threads)
        res["torch_step_gflops"] = step_flops / res["torch_step_ms"] / 1e6
        res["torch_step_vs_same_shape_dot"] = (res["torch_step_gflops"]
                                               / res["same_shape_dot_gflops"])
    if args.profile:
        res["profile"] = op_time_split(step, (state, x), args.steps)
    res["command"] = "python benchmarks/ae_step_flops.py " + " ".join(
        f"--{k} {v}" if not isinstance(v, bool) else f"--{k}"
        for k, v in vars(args).items() if k != "out" and v is not False)
    Path(args.out).write_text(json.dumps(res, indent=2))
    print("| step ms | step GFLOP/s | same-shape dot GFLOP/s | ratio | 2048³ dot GFLOP/s |")
    print("|---|---|---|---|---|")
    print(f"| {res['step_ms']:.2f} | {res['step_gflops']:.1f} | {res['same_shape_dot_gflops']:.1f} "
          f"| {res['step_vs_same_shape_dot']:.2f} | {res['square_2048_dot_gflops']:.1f} |")
    if args.torch:
        print(f"PyTorch {res['torch_version']}: step {res['torch_step_ms']:.2f} ms, "
              f"{res['torch_step_gflops']:.1f} GFLOP/s, "
              f"{res['torch_step_vs_same_shape_dot']:.2f} of the jnp.dot rate; "
              f"ours / PyTorch step time {res['torch_step_ms'] / res['step_ms']:.2f}×")
    if args.profile:
        prof = res["profile"]
        print(f"profile: matmul ops {prof['matmul_op_ms_per_step']:.1f} ms/step "
              f"({prof['matmul_share']:.0%} of op time), others "
              f"{prof['other_op_ms_per_step']:.1f} ms: {prof['top_other_ops_ms']}")


if __name__ == "__main__":
    main()
