"""Fashion-MNIST DAMIC past its 40 joint epochs: does the gate's ACC still move?

Restores a finished seed of cell damic_fashion_mnist-kdaerecipe (`run.py fashion_mnist`)
(its epoch-35 and epoch-40 checkpoints in --cache, copied first so they stay untouched) and
trains it on, printing the gate's NMI / ARI / ACC every 5 epochs.

    python experiments/tuning/damic_fashion_longer/damic_fashion_longer.py --seed 4 --extra 20 \\
        --data-dir ../shared/data --cache runs/cache
"""
import argparse
import hashlib
import shutil
import sys
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import run  # noqa: E402  (experiments/run.py: its configs and cached autoencoder)

from jaxclust import config, data, metrics, runner, store  # noqa: E402
from jaxclust.methods import damic, get, pretrain  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--extra", type=int, default=20, help="joint epochs after the 40th")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--cache", default="runs/cache")
    a = p.parse_args()
    # the settings of row damic-kdaerecipe, from its table config
    cell = "damic_fashion_mnist-kdaerecipe"
    spec = run.load_table("fashion_mnist")["cells"][cell]
    x, y = data.load(spec["dataset"], data_dir=a.data_dir)
    xj = jnp.asarray(x)
    cfg = runner.for_data(config.build(get("damic"), n_clusters=10, **spec["config"]), xj)
    name = f"{cell}_seed{a.seed}_{hashlib.sha1(repr(cfg).encode()).hexdigest()[:10]}"
    copy = Path(tempfile.mkdtemp()) / name
    shutil.copytree(Path(a.cache) / name, copy)
    keys = runner.seed_keys(a.seed, 1)
    abstract = jax.eval_shape(jax.vmap(
        lambda k: damic.from_pretrained(pretrain.init(k, xj, cfg), xj, cfg)), keys)
    ckpts = store.Checkpoints(copy, cfg)
    # checkpoint steps count the pre-training epochs too; the states carry a seed axis
    restore = lambda n: jax.tree.map(  # noqa: E731
        lambda v: v[0], ckpts.restore(cfg.ae.epochs + n, abstract))
    epoch = jax.jit(damic.train_epoch, static_argnames="cfg")
    predict = jax.jit(damic.predict, static_argnames="cfg")

    def show(n, state):
        m = metrics.evaluate(y, np.asarray(predict(state, xj, cfg)))
        print(f"[{time.strftime('%H:%M:%S')}] seed {a.seed} epoch {n}: NMI {m['nmi']:.4f} "
              f"ARI {m['ari']:.4f} ACC {m['acc']:.4f}", flush=True)

    show(35, restore(35))
    state = restore(40)
    show(40, state)
    for n in range(41, 41 + a.extra):
        state, loss = epoch(state, xj, cfg=cfg)
        if n % 5 == 0:
            print(f"  loss {float(loss):.5f}", flush=True)
            show(n, state)


if __name__ == "__main__":
    main()
