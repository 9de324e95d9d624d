"""Resumable experiment runner: one JSON record per (method, dataset, seed).

    python experiments/run.py --method aekm --dataset mnist --data-dir ../shared/data \\
        --seeds 0 1 2 --ae-epochs 100

A seed whose record already exists in ``--results`` is skipped, so a table fills up over
several sittings. Autoencoder pre-training is checkpointed every ``--checkpoint-every``
epochs in ``--cache`` and shared between methods of the same (dataset, seed, AE config) —
the papers do the same (one pre-training, several clustering heads); a record says so in
``pretrained_ae``.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import platform
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import serialization

import jaxclust
from jaxclust import data, kmeans, metrics, train
from jaxclust.methods import aekm, dac, dcn, dec, imsat, rim

HERE = Path(__file__).resolve().parent


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def pretrained_ae(key, xj, cfg: train.AEConfig, cache: Path, tag: str, every: int):
    """Pre-train (or resume / reuse) an autoencoder, checkpointing every ``every`` epochs."""
    digest = hashlib.sha1(repr(cfg).encode()).hexdigest()[:10]
    path = cache / f"ae_{tag}_{digest}.msgpack"
    meta_path = path.with_suffix(".json")
    state = train.ae_init(key, xj, cfg)
    template = state._replace(key=jax.random.key_data(state.key))
    done, seconds = 0, 0.0
    if path.exists():
        restored = serialization.from_bytes(template, path.read_bytes())
        state = restored._replace(key=jax.random.wrap_key_data(restored.key))
        meta = json.loads(meta_path.read_text())
        done, seconds = meta["epochs_done"], meta["seconds"]
        log(f"resumed autoencoder {path.name} at epoch {done}/{cfg.epochs}")
    epoch = jax.jit(train.ae_epoch, static_argnames="cfg")
    while done < cfg.epochs:
        t0 = time.perf_counter()
        n = min(every, cfg.epochs - done)
        for _ in range(n):
            state, loss = epoch(state, xj, cfg=cfg)
        loss = float(loss)
        seconds += time.perf_counter() - t0
        done += n
        path.write_bytes(serialization.to_bytes(state._replace(key=jax.random.key_data(state.key))))
        meta_path.write_text(json.dumps({"epochs_done": done, "seconds": seconds, "loss": loss,
                                         "config": dataclasses.asdict(cfg)}))
        log(f"pre-train {tag}: epoch {done}/{cfg.epochs} loss {loss:.5f} ({seconds:.0f} s)")
    return state, seconds, path.name


def run_seed(args, x, y, seed: int) -> dict:
    k = len(np.unique(y))
    key = jax.random.key(seed)
    xj = jnp.asarray(x)
    t0 = time.perf_counter()
    if args.method == "kmeans":
        res = kmeans.kmeans(key, xj, k, n_init=args.n_init)
        labels, cfg, extra = res.labels, {"n_clusters": k, "n_init": args.n_init}, {}
    elif args.method in ("imsat", "rim", "dac"):
        module = {"imsat": imsat, "rim": rim, "dac": dac}[args.method]
        cfg = module.Config(n_clusters=k, epochs=args.max_epochs or module.Config.epochs,
                            **({"augment": args.augment} if args.method == "imsat" else {}))
        epoch = jax.jit(module.train_epoch, static_argnames="cfg")
        state = jax.jit(module.init, static_argnames="cfg")(key, xj, cfg=cfg)
        for e in range(cfg.epochs):
            state, loss = epoch(state, xj, cfg=cfg)
            if (e + 1) % 5 == 0:
                log(f"{args.method} seed {seed}: epoch {e + 1} loss {float(loss):.5f}")
            if bool(getattr(state, "done", False)):
                break
        labels, extra = module.predict(state, xj, cfg), {}
        cfg = dataclasses.asdict(cfg)
    else:
        ae_cfg = train.AEConfig(epochs=args.ae_epochs, batch_size=args.batch_size, lr=args.lr,
                                input_dropout=args.input_dropout)
        ae_state, pre_seconds, cache_name = pretrained_ae(
            key, xj, ae_cfg, Path(args.cache), f"{_name(args)}_seed{seed}", args.checkpoint_every)
        acfg = aekm.Config(k, ae_cfg, args.n_init)
        pre = jax.jit(aekm.cluster, static_argnames="cfg")(
            aekm.State(ae_state, jnp.zeros((k, ae_cfg.latent))), xj, cfg=acfg)
        extra = {"pretrain_seconds": pre_seconds, "pretrained_ae": cache_name,
                 "aekm_metrics": metrics.evaluate(y, np.asarray(aekm.predict(pre, xj, acfg)))}
        if args.method == "aekm":
            labels, cfg = aekm.predict(pre, xj, acfg), acfg
        elif args.method == "dcn":
            cfg = dcn.Config(k, ae_cfg, args.n_init, lam=args.lam,
                             lr=args.cluster_lr or dcn.Config.lr, batch_size=args.batch_size,
                             epochs=args.max_epochs or dcn.Config.epochs)
            state = dcn.from_pretrained(pre, xj, cfg)
            epoch = jax.jit(dcn.train_epoch, static_argnames="cfg")
            for e in range(cfg.epochs):
                state, loss = epoch(state, xj, cfg=cfg)
                log(f"dcn seed {seed}: epoch {e + 1} loss {float(loss):.5f}")
            labels = dcn.predict(state, xj, cfg)
            extra.update(cluster_epochs=cfg.epochs)
        else:
            idec = args.method == "idec"
            cfg = dec.Config(k, ae_cfg, args.n_init, idec=idec,
                             optimizer="adam" if idec else "sgd",
                             lr=args.cluster_lr or (1e-3 if idec else 0.01),
                             batch_size=args.batch_size, update_interval=args.update_interval,
                             tol=args.tol, epochs=args.max_epochs or dec.Config.epochs)
            state = dec.from_pretrained(pre, xj, cfg)
            epoch = jax.jit(dec.train_epoch, static_argnames="cfg")
            n_epochs = 0
            while n_epochs < cfg.epochs and not bool(state.done):
                state, loss = epoch(state, xj, cfg=cfg)
                n_epochs += 1
                if n_epochs % 10 == 0:
                    log(f"{args.method} seed {seed}: update {n_epochs} loss {float(loss):.5f} "
                        f"changed {float(state.delta):.4f}")
            labels = dec.predict(state, xj, cfg)
            extra.update(cluster_epochs=n_epochs, converged=bool(state.done))
        cfg = dataclasses.asdict(cfg)
    labels = np.asarray(labels)
    wall = time.perf_counter() - t0
    return {"method": args.method, "dataset": args.dataset, "seed": seed,
            "metrics": metrics.evaluate(y, labels), "config": cfg, **extra,
            "n_samples": int(x.shape[0]), "wall_time_s": wall,
            "device": _device(), "host": platform.machine(),
            "jax_version": jax.__version__, "jaxclust_version": jaxclust.__version__,
            "command": "python experiments/run.py " + " ".join(sys.argv[1:])}


def _device() -> str:
    """The accelerator's name, or the CPU with its core count."""
    dev = jax.devices()[0]
    return dev.device_kind if dev.platform != "cpu" else f"cpu ({os.cpu_count()} cores)"


def _name(args) -> str:
    """The data set's name in file names, with the subset size if any."""
    return args.dataset + (f"-sub{args.subset}" if args.subset else "")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--method", required=True, choices=["kmeans", "aekm", "dec", "idec", "dcn", "imsat", "rim",
                                                      "dac"])
    p.add_argument("--augment", default="vat", choices=["vat", "rpt"], help="IMSAT's")
    p.add_argument("--dataset", required=True)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--subset", type=int, default=None)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--ae-epochs", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--input-dropout", type=float, default=0.0)
    p.add_argument("--n-init", type=int, default=20)
    p.add_argument("--cluster-lr", type=float, default=None)
    p.add_argument("--update-interval", type=int, default=None)
    p.add_argument("--tol", type=float, default=0.001)
    p.add_argument("--max-epochs", type=int, default=None,
                   help="DEC/IDEC: target updates at most; DCN: joint epochs; IMSAT/RIM/DAC: "
                        "epochs (default: each Config's)")
    p.add_argument("--lam", type=float, default=dcn.Config.lam, help="DCN's λ")
    p.add_argument("--checkpoint-every", type=int, default=10)
    p.add_argument("--tag", default="", help="suffix of the record names (variants)")
    p.add_argument("--results", default=str(HERE / "results"))
    p.add_argument("--cache", default=str(HERE.parent / "runs" / "cache"))
    args = p.parse_args(argv)
    Path(args.results).mkdir(parents=True, exist_ok=True)
    Path(args.cache).mkdir(parents=True, exist_ok=True)
    x, y = data.load(args.dataset, data_dir=args.data_dir, subset=args.subset)
    for seed in args.seeds:
        variant = "-rpt" if args.method == "imsat" and args.augment == "rpt" else ""
        out = Path(args.results) / f"{args.method}{variant}_{_name(args)}{args.tag}_seed{seed}.json"
        if out.exists():
            log(f"skip {out.name}: already done")
            continue
        record = run_seed(args, x, y, seed)
        out.write_text(json.dumps(record, indent=2))
        m = record["metrics"]
        log(f"{out.name}: NMI {m['nmi']:.4f} ARI {m['ari']:.4f} ACC {m['acc']:.4f} "
            f"({record['wall_time_s']:.0f} s)")


if __name__ == "__main__":
    main()
