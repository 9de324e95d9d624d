"""Fashion-MNIST DAMIC past its 40 joint epochs: does the gate's ACC still move?

Restores a finished `run.py --method damic --dataset fashion_mnist --ae-recipe kdae` seed
(its epoch-35 and epoch-40 checkpoints in --cache, copied first so they stay untouched) and
trains it on, printing the gate's NMI / ARI / ACC every 5 epochs.

    python experiments/tuning/damic_fashion_longer.py --seed 4 --extra 20 \\
        --data-dir ../shared/data --cache runs/cache
"""
import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import run  # noqa: E402  (experiments/run.py: its configs and cached autoencoder)

from jaxclust import data, metrics, parallel  # noqa: E402
from jaxclust.methods import aekm, damic  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--extra", type=int, default=20, help="joint epochs after the 40th")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--cache", default="runs/cache")
    a = p.parse_args()
    # the settings of row damic-kdaerecipe, through run.py's own parser and configs
    args = run.build_parser().parse_args(
        ["--method", "damic", "--dataset", "fashion_mnist", "--ae-recipe", "kdae",
         "--tag=-kdaerecipe", "--cache", a.cache])
    x, y = data.load(args.dataset, data_dir=a.data_dir)
    xj = jnp.asarray(x)
    ae_cfg = run.ae_config(args)
    cfg = run.head_config(args, 10, ae_cfg)
    name = f"{run.record_stem(args, a.seed)}_{run._digest(cfg)}"
    copy = Path(tempfile.mkdtemp()) / name
    shutil.copytree(Path(a.cache) / name, copy)
    ae_state, _, _ = run.pretrained_ae(jax.random.key(a.seed), xj, ae_cfg, Path(a.cache),
                                       f"{run._name(args)}_seed{a.seed}", 10)
    pre = aekm.State(ae_state, jnp.zeros((10, ae_cfg.latent)))
    abstract = jax.eval_shape(lambda: damic.from_pretrained(pre, xj, cfg))
    ckpts = parallel.Checkpoints(copy, cfg)
    epoch = jax.jit(damic.train_epoch, static_argnames="cfg")
    predict = jax.jit(damic.predict, static_argnames="cfg")

    def show(n, state):
        m = metrics.evaluate(y, np.asarray(predict(state, xj, cfg)))
        print(f"[{time.strftime('%H:%M:%S')}] seed {a.seed} epoch {n}: NMI {m['nmi']:.4f} "
              f"ARI {m['ari']:.4f} ACC {m['acc']:.4f}", flush=True)

    show(35, ckpts.restore(35, abstract))
    state = ckpts.restore(40, abstract)
    show(40, state)
    for n in range(41, 41 + a.extra):
        state, loss = epoch(state, xj, cfg=cfg)
        if n % 5 == 0:
            print(f"  loss {float(loss):.5f}", flush=True)
            show(n, state)


if __name__ == "__main__":
    main()
