"""DAMIC on 20NEWS, seed 0: do the experts' reconstruction errors carry a cluster signal?

Starts from the cached seed-0 autoencoder and its k-means labels (as `run.py --method damic`),
pre-trains the gate and the k = 20 experts, prints the gate's metrics, the ACC of the
argmin-error assignment and the spread of the experts' errors; then, from that same start,
10 joint epochs for each σ² given, reporting after epochs 5 and 10.

    python experiments/tuning/news20/damic_20news.py 0.05 0.01 --member-epochs 100 \\
        --member-loss mse --member-output none --data-dir ../shared/data --cache runs/cache
"""
import argparse
import dataclasses
import time

import jax
import jax.numpy as jnp
import numpy as np


from jaxclust import data, metrics, runner, store, train  # noqa: E402
from jaxclust.methods import aekm, damic, pretrain  # noqa: E402


def report(tag, state, x, y, cfg):
    err = np.asarray(damic.errors(state, x, cfg))
    ranked = np.sort(err, axis=1)
    gate = metrics.evaluate(y, np.asarray(damic.predict(state, x, cfg)))
    print(tag, "gate", {m: round(v, 3) for m, v in gate.items()},
          "argmin-err ACC", round(metrics.accuracy(y, err.argmin(1)), 3),
          "best err mean", round(float(ranked[:, 0].mean()), 4),
          "gap 2nd-best median", round(float(np.median(ranked[:, 1] - ranked[:, 0])), 4),
          "max-min median", round(float(np.median(ranked[:, -1] - ranked[:, 0])), 4), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("variances", type=float, nargs="*")
    p.add_argument("--member-epochs", type=int, default=damic.Config.member.epochs)
    p.add_argument("--member-loss", default=damic.Config.member.loss)
    p.add_argument("--member-output", default=damic.Config.member.output_activation)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--cache", default="runs/cache")
    args = p.parse_args()

    x, y = data.load("20news", data_dir=args.data_dir)
    x, k = jnp.asarray(x), 20
    ae_cfg = train.AEConfig(hidden=(500, 500, 2000), latent=10, epochs=100)
    member = dataclasses.replace(damic.Config.member, epochs=args.member_epochs,
                                 loss=args.member_loss, output_activation=args.member_output)
    cfg = runner.for_data(damic.Config(n_clusters=k, ae=ae_cfg, member=member), x)
    keys, pre_cfg = runner.seed_keys(0, 1), pretrain.phase_config(cfg)
    pre = runner.fit_seeds(aekm.METHOD, keys, x, pre_cfg, checkpoint_every=10,
                           pretrain_cache=store.pretrain_cache(args.cache, pre_cfg, x, keys))
    print("aekm", metrics.evaluate(y, np.asarray(pre.labels[0])), flush=True)
    print(member, flush=True)
    start = jax.jit(damic.from_pretrained, static_argnames="cfg")(
        jax.tree.map(lambda a: a[0], pre.states), x, cfg=cfg)
    report("pretrained", start, x, y, cfg)
    epoch = jax.jit(damic.train_epoch, static_argnames="cfg")
    for variance in args.variances:
        c = dataclasses.replace(cfg, variance=variance)
        state, t0 = start, time.time()
        for i in range(1, 11):
            state, loss = epoch(state, x, cfg=c)
            if i in (5, 10):
                report(f"var {variance} epoch {i} loss {float(loss):.4f} ({time.time() - t0:.0f}s)",
                       state, x, y, c)


if __name__ == "__main__":
    main()
