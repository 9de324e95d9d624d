"""Resumable experiment runner: one JSON record per (method, dataset, seed).

    python experiments/run.py --method aekm --dataset mnist --data-dir ../shared/data \\
        --seeds 0 1 2 --ae-epochs 100

A seed whose record already exists in ``--results`` is skipped, so a table fills up over
several sittings. Autoencoder pre-training is checkpointed every ``--checkpoint-every``
epochs in ``--cache`` and shared between methods of the same (dataset, seed, AE config) —
the papers do the same (one pre-training, several clustering heads); a record says so in
``pretrained_ae``. The clustering phase is checkpointed there too (orbax, a folder named by
the record and a digest of its config), so a run cut off mid-way resumes where it stopped.
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
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
from jaxclust import data, kmeans, metrics, nets, parallel, train
from jaxclust.methods import aekm, dcn, dec, kdae

# methods that start from a pre-trained autoencoder (cached per data set and seed)
HEADS = ("aekm", "dec", "idec", "dcn", "kdae", "damic")
CLASSIFIERS = ("imsat", "rim", "dac")
# The pre-trained autoencoder's layers and loss (train.AEConfig fields).
AE_RECIPES = {"dec": {},
              "kdae": dict(activation="elu", batch_norm=True, output_activation="sigmoid",
                           loss="bce")}

HERE = Path(__file__).resolve().parent


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _digest(cfg) -> str:
    return hashlib.sha1(repr(cfg).encode()).hexdigest()[:10]


def pretrained_ae(key, xj, cfg: train.AEConfig, cache: Path, tag: str, every: int):
    """Pre-train (or resume / reuse) an autoencoder, checkpointing every ``every`` epochs.

    The cache file is named by ``tag`` and a digest of ``cfg``; its metadata also holds a
    fingerprint of the data, and a cache trained on other data is refused."""
    path = cache / f"ae_{tag}_{_digest(cfg)}.msgpack"
    meta_path = path.with_suffix(".json")
    x_host = np.ascontiguousarray(xj)
    fingerprint = f"{x_host.shape}:{hashlib.sha1(x_host.tobytes()).hexdigest()[:16]}"
    state = train.ae_init(key, xj, cfg)
    template = state._replace(key=jax.random.key_data(state.key))
    done, seconds = 0, 0.0
    if path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("data", fingerprint) != fingerprint:
            raise ValueError(f"the cached autoencoder {path} was trained on other data "
                             f"({meta['data']}, now {fingerprint}); delete it or pass "
                             "another --cache")
        restored = serialization.from_bytes(template, path.read_bytes())
        state = restored._replace(key=jax.random.wrap_key_data(restored.key))
        done, seconds = meta["epochs_done"], meta["seconds"]
        log(f"resumed autoencoder {path.name} at epoch {done}/{cfg.epochs}"
            + ("" if "data" in meta else " (an older cache: its data is not recorded)"))
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
                                         "config": dataclasses.asdict(cfg),
                                         "data": fingerprint}))
        log(f"pre-train {tag}: epoch {done}/{cfg.epochs} loss {loss:.5f} ({seconds:.0f} s)")
    return state, seconds, path.name


def ae_config(args) -> train.AEConfig:
    """The pre-trained autoencoder's config from the command line."""
    return train.AEConfig(hidden=tuple(args.hidden), latent=args.latent, epochs=args.ae_epochs,
                          batch_size=args.batch_size, lr=args.lr,
                          input_dropout=args.input_dropout, kernel_init=args.kernel_init,
                          **AE_RECIPES[args.ae_recipe])


def head_config(args, k: int, ae_cfg: train.AEConfig):
    """The Config of a clustering head on top of the pre-trained autoencoder."""
    common = dict(n_clusters=k, ae=ae_cfg, n_init=args.n_init, batch_size=args.batch_size)
    module = parallel.METHODS[args.method]
    epochs = module.Config.epochs if args.max_epochs is None else args.max_epochs
    if args.method == "dcn":
        return dcn.Config(**common, lam=args.lam, lr=args.cluster_lr or dcn.Config.lr,
                          epochs=epochs)
    if args.method in ("kdae", "damic"):
        member = dataclasses.replace(
            kdae.PAPER_MEMBER, batch_size=args.batch_size, kernel_init=args.kernel_init,
            batch_norm=args.member_batch_norm,
            **{f: getattr(args, "member_" + f) for f in ("hidden", "latent", "epochs")
               if getattr(args, "member_" + f) is not None})
        member = dataclasses.replace(member, hidden=tuple(member.hidden))
        own = {"error": args.error} if args.method == "kdae" else {
            f: getattr(args, f) for f in ("gate_hidden", "gate_epochs", "variance")
            if getattr(args, f) is not None}
        own = {f: tuple(v) if isinstance(v, list) else v for f, v in own.items()}
        return module.Config(**common, member=member, lr=args.cluster_lr or module.Config.lr,
                             epochs=epochs, **own)
    idec = args.method == "idec"
    return dec.Config(**common, idec=idec, optimizer=args.cluster_optimizer or (
                          "adam" if idec else "sgd"),
                      lr=args.cluster_lr or (1e-3 if idec else 0.01),
                      update_interval=args.update_interval, tol=args.tol, epochs=epochs)


def classifier_config(args, k: int):
    """The Config of IMSAT, RIM or DAC (no autoencoder)."""
    module = parallel.METHODS[args.method]
    epochs = module.Config.epochs if args.max_epochs is None else args.max_epochs
    extra = {"augment": args.augment} if args.method == "imsat" else {}
    if args.method in ("imsat", "rim"):
        extra.update({f: getattr(args, f) for f in ("eps_scale", "weight_decay", "l2")
                      if getattr(args, f) is not None})
    return module.Config(n_clusters=k, epochs=epochs, **extra)


class Progression:
    """ACC after every epoch of the clustering phase, and the embedding of 2 000 fixed points
    at epochs 0, 1, 2, 4, 8, … and the last (DEC's Fig. 5, with PCA instead of t-SNE)."""

    def __init__(self, args, seed, module, xj, y, cfg):
        if not hasattr(module, "embed"):
            raise ValueError(f"--progression needs a method with an embedding, not {args.method}")
        self.args, self.seed, self.module = args, seed, module
        self.xj, self.y, self.cfg = xj, y, cfg
        self.points = np.random.default_rng(0).choice(xj.shape[0], min(2000, xj.shape[0]),
                                                      replace=False)
        self.acc, self.snapshots = [], []

    def record(self, epoch, state, final=False):
        labels = np.asarray(self.module.predict(state, self.xj, self.cfg))
        self.acc.append(metrics.accuracy(self.y, labels))
        if epoch & (epoch - 1) == 0 or final:
            z = np.asarray(self.module.embed(state, self.xj[self.points], self.cfg))
            self.snapshots.append((epoch, z))

    def finish(self) -> dict:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from sklearn.decomposition import PCA

        shots = self.snapshots[-6:] if len(self.snapshots) > 6 else self.snapshots
        fig, axes = plt.subplots(1, len(shots), figsize=(2.6 * len(shots), 2.8), squeeze=False)
        for ax, (e, z) in zip(axes[0], shots):
            proj = PCA(2).fit_transform(z)
            ax.scatter(proj[:, 0], proj[:, 1], c=self.y[self.points], s=2, cmap="tab10")
            ax.set_title(f"epoch {e}: ACC {self.acc[e]:.3f}", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
        folder = Path(self.args.results).parent / "figures"
        folder.mkdir(exist_ok=True)
        name = (f"progression_{self.args.method}_{_name(self.args)}{self.args.tag}"
                f"_seed{self.seed}.png")
        fig.suptitle(f"{self.args.method} on {self.args.dataset}: embedding (PCA of "
                     f"{len(self.points)} points, coloured by class)", fontsize=9)
        fig.tight_layout()
        fig.savefig(folder / name, dpi=110)
        plt.close(fig)
        return {"acc_per_epoch": self.acc, "figure": name}


def plot_experts(args, seed, state, x, y, cfg) -> str:
    """k-DAE/DAMIC: the first point of every class, reconstructed by every expert (k-DAE
    Fig. 2), in figures/ beside the results folder; returns the file name."""
    from jaxclust import plots

    first = [int(np.flatnonzero(y == c)[0]) for c in np.unique(y)]
    name = f"experts_{args.method}_{_name(args)}{args.tag}_seed{seed}.png"
    folder = Path(args.results).parent / "figures"
    folder.mkdir(exist_ok=True)
    plots.experts(folder / name, *plots.expert_reconstructions(state, x[first], cfg),
                  title=f"{args.method} on {args.dataset}, seed {seed}: the first point of each "
                        "class and every expert's reconstruction (red: the winner)",
                  row_names=[f"class {y[i]}" for i in first])
    return name


def run_seed(args, x, y, seed: int, stem: str) -> dict:
    """One seed's record; ``stem`` (the record's file stem) also names its checkpoints."""
    k = len(np.unique(y))
    key = jax.random.key(seed)
    xj = jnp.asarray(x)
    t0 = time.perf_counter()
    if args.method == "kmeans":
        res = kmeans.kmeans(key, xj, k, n_init=args.n_init)
        labels, cfg, extra = res.labels, {"n_clusters": k, "n_init": args.n_init}, {}
    elif args.method == "sc":  # the spectral-clustering baseline, scikit-learn's
        from sklearn.cluster import SpectralClustering

        cfg = {"n_clusters": k, "affinity": "nearest_neighbors", "n_neighbors": 10,
               "assign_labels": "kmeans", "implementation": "scikit-learn"}
        labels = SpectralClustering(k, affinity="nearest_neighbors", n_neighbors=10,
                                    random_state=seed, n_jobs=1).fit_predict(x)
        extra = {}
    else:
        extra = {}
        if args.method in HEADS:
            ae_cfg = ae_config(args)
            ae_state, pre_seconds, cache_name = pretrained_ae(
                key, xj, ae_cfg, Path(args.cache), f"{_name(args)}_seed{seed}",
                args.checkpoint_every)
            acfg = aekm.Config(k, ae_cfg, args.n_init)
            pre = jax.jit(aekm.cluster, static_argnames="cfg")(
                aekm.State(ae_state, jnp.zeros((k, ae_cfg.latent))), xj, cfg=acfg)
            extra = {"pretrain_seconds": pre_seconds, "pretrained_ae": cache_name,
                     "aekm_metrics": metrics.evaluate(y, np.asarray(aekm.predict(pre, xj, acfg)))}
        if args.method == "aekm":
            labels, cfg = aekm.predict(pre, xj, acfg), acfg
        else:
            module = parallel.METHODS[args.method]
            cfg = (head_config(args, k, ae_cfg) if args.method in HEADS
                   else classifier_config(args, k))
            start = (functools.partial(jax.jit(module.from_pretrained, static_argnames="cfg"),
                                       pre, xj, cfg=cfg) if args.method in HEADS else
                     functools.partial(jax.jit(module.init, static_argnames="cfg"),
                                       key, xj, cfg=cfg))
            epoch = jax.jit(module.train_epoch, static_argnames="cfg")
            trace = Progression(args, seed, module, xj, y, cfg) if args.progression else None
            # the clustering phase is checkpointed too (not with --progression, whose trace
            # needs every epoch): a run cut off mid-way resumes at its last checkpoint,
            # skipping the head's own pre-training (k-DAE/DAMIC's experts, DAMIC's gate)
            ckpts = None if trace else parallel.Checkpoints(
                Path(args.cache) / f"{stem}_{_digest(cfg)}", cfg)
            n_epochs = (ckpts and ckpts.latest_step()) or 0
            seconds_path = ckpts and ckpts.directory / "seconds.json"
            if n_epochs:
                state = ckpts.restore(n_epochs, jax.eval_shape(start))
                seconds = json.loads(seconds_path.read_text())[str(n_epochs)]
                extra.update(resumed_at_epoch=n_epochs)
                log(f"resumed {ckpts.directory.name} at clustering epoch {n_epochs}/{cfg.epochs}")
            else:
                state, seconds = start(), 0.0
            t1 = time.perf_counter()
            while n_epochs < cfg.epochs and not bool(getattr(state, "done", False)):
                if trace:
                    trace.record(n_epochs, state)
                state, loss = epoch(state, xj, cfg=cfg)
                n_epochs += 1
                if n_epochs % 5 == 0:
                    delta = f" changed {float(state.delta):.4f}" if hasattr(state, "delta") else ""
                    log(f"{args.method} seed {seed}: epoch {n_epochs} "
                        f"loss {float(loss):.5f}{delta}")
                last = n_epochs == cfg.epochs or bool(getattr(state, "done", False))
                if ckpts and (n_epochs % args.checkpoint_every == 0 or last):
                    ckpts.save(n_epochs, state)
                    done = json.loads(seconds_path.read_text()) if seconds_path.exists() else {}
                    done[str(n_epochs)] = seconds + time.perf_counter() - t1
                    seconds_path.write_text(json.dumps(done))
                    log(f"checkpoint {ckpts.directory.name} at clustering epoch {n_epochs}")
            if ckpts:
                ckpts.close()
            labels = module.predict(state, xj, cfg)
            extra.update(cluster_epochs=n_epochs,
                         cluster_seconds=seconds + time.perf_counter() - t1)
            if trace:
                trace.record(n_epochs, state, final=True)
                extra.update(progression=trace.finish())
            if hasattr(state, "done"):
                extra.update(converged=bool(state.done))
            if hasattr(state, "owned"):
                extra.update(idle_experts=int(jnp.sum(state.owned == 0)))
                extra.update(experts_figure=plot_experts(args, seed, state, x, y, cfg))
        cfg = dataclasses.asdict(cfg)
    labels = np.asarray(labels)
    wall = time.perf_counter() - t0
    return {"method": args.method, "dataset": args.dataset, "seed": seed,
            "metrics": metrics.evaluate(y, labels), "config": cfg, **extra,
            "n_samples": int(x.shape[0]), "r_min": args.r_min, "wall_time_s": wall,
            "device": _device(), "host": platform.machine(),
            "jax_version": jax.__version__, "jaxclust_version": jaxclust.__version__,
            "command": "python experiments/run.py " + " ".join(args.argv)}


def _device() -> str:
    """The accelerator's name, or the CPU with its core count."""
    dev = jax.devices()[0]
    return dev.device_kind if dev.platform != "cpu" else f"cpu ({os.cpu_count()} cores)"


def _name(args) -> str:
    """The data set's name in file names (a user file's stem), with the subset size and
    r_min if any."""
    return (Path(args.dataset).stem + (f"-sub{args.subset}" if args.subset else "")
            + (f"-rmin{args.r_min:g}" if args.r_min is not None else ""))


def record_stem(args, seed: int) -> str:
    """A seed's record name, which also names its clustering checkpoints."""
    variant = "-rpt" if args.method == "imsat" and args.augment == "rpt" else ""
    return f"{args.method}{variant}_{_name(args)}{args.tag}_seed{seed}"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--method", required=True, choices=["kmeans", "sc", *HEADS, *CLASSIFIERS])
    p.add_argument("--augment", default="vat", choices=["vat", "rpt"], help="IMSAT's")
    p.add_argument("--eps-scale", type=float, default=None,
                   help="IMSAT's perturbation radius in 10th-neighbour distances (default 0.25)")
    p.add_argument("--weight-decay", type=float, default=None,
                   help="IMSAT/RIM: AdamW's decoupled weight decay")
    p.add_argument("--l2", type=float, default=None,
                   help="IMSAT/RIM: l2/2 ‖θ‖² in the objective (RIM's default 0.03)")
    p.add_argument("--dataset", required=True)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--subset", type=int, default=None)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--ae-epochs", type=int, default=100)
    p.add_argument("--hidden", type=int, nargs="+", default=[500, 500, 2000],
                   help="the pre-trained autoencoder's encoder (decoder mirrored)")
    p.add_argument("--latent", type=int, default=10)
    p.add_argument("--member-hidden", type=int, nargs="+", default=None,
                   help="k-DAE/DAMIC experts (default: the paper's 1024 256)")
    p.add_argument("--member-latent", type=int, default=None)
    p.add_argument("--member-epochs", type=int, default=None,
                   help="k-DAE/DAMIC per-cluster pre-training epochs (default 10)")
    p.add_argument("--member-batch-norm", action="store_true",
                   help="k-DAE/DAMIC experts with BatchNorm (the paper's; default off)")
    p.add_argument("--error", choices=kdae.ERRORS, default=kdae.Config.error,
                   help="k-DAE's clustering error: ‖x − x̂‖² (paper) or ‖x − x̂‖ (authors' code)")
    p.add_argument("--gate-hidden", type=int, nargs="+", default=None, help="DAMIC's gate")
    p.add_argument("--gate-epochs", type=int, default=None)
    p.add_argument("--variance", type=float, default=None, help="DAMIC's σ² (default 1)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--ae-recipe", choices=sorted(AE_RECIPES), default="dec",
                   help="the pre-trained AE's layers and loss: dec = ReLU, linear output, MSE "
                        "(default); kdae = ELU, BatchNorm, sigmoid output, BCE (the k-DAE "
                        "authors' initial AE; data in [0, 1])")
    p.add_argument("--input-dropout", type=float, default=0.0)
    p.add_argument("--kernel-init", choices=tuple(nets.KERNEL_INITS), default="lecun_normal")
    p.add_argument("--n-init", type=int, default=20)
    p.add_argument("--cluster-lr", type=float, default=None)
    p.add_argument("--cluster-optimizer", choices=("sgd", "adam"), default=None,
                   help="DEC/IDEC (default: sgd for DEC, adam for IDEC)")
    p.add_argument("--update-interval", type=int, default=None)
    p.add_argument("--tol", type=float, default=0.001)
    p.add_argument("--max-epochs", type=int, default=None,
                   help="DEC/IDEC: target updates at most; DCN, k-DAE, DAMIC: joint epochs; "
                        "IMSAT/RIM/DAC: epochs (default: each Config's)")
    p.add_argument("--r-min", type=float, default=None,
                   help="imbalanced data (DEC's Table 4): class c kept with probability "
                        "r_min + (1 - r_min) c / 9; one draw (seed 0) shared by every run")
    p.add_argument("--lam", type=float, default=dcn.Config.lam, help="DCN's λ")
    p.add_argument("--checkpoint-every", type=int, default=10,
                   help="epochs between checkpoints (in --cache) of AE pre-training and of "
                        "the clustering phase")
    p.add_argument("--progression", action="store_true",
                   help="record ACC after every clustering epoch and plot the embedding's "
                        "progression (DEC's Fig. 5); needs labels and a method with an embedding")
    p.add_argument("--tag", default="", help="suffix of the record names (variants)")
    p.add_argument("--results", default=str(HERE / "results"))
    p.add_argument("--cache", default=str(HERE.parent / "runs" / "cache"))
    return p


def main(argv=None):
    p = build_parser()
    args = p.parse_args(argv)
    if args.error != kdae.Config.error and args.method != "kdae":
        p.error("--error is k-DAE's (DAMIC's error is its Gaussian log-likelihood)")
    if args.member_batch_norm and args.method not in ("kdae", "damic"):
        p.error("--member-batch-norm is for k-DAE/DAMIC's experts")
    args.argv = sys.argv[1:] if argv is None else list(argv)  # as called, also via tables.py
    Path(args.results).mkdir(parents=True, exist_ok=True)
    Path(args.cache).mkdir(parents=True, exist_ok=True)
    x, y = data.load(args.dataset, data_dir=args.data_dir, subset=args.subset, r_min=args.r_min)
    for seed in args.seeds:
        out = Path(args.results) / f"{record_stem(args, seed)}.json"
        if out.exists():
            log(f"skip {out.name}: already done")
            continue
        record = run_seed(args, x, y, seed, out.stem)
        out.write_text(json.dumps(record, indent=2))
        m = record["metrics"]
        log(f"{out.name}: NMI {m['nmi']:.4f} ARI {m['ari']:.4f} ACC {m['acc']:.4f} "
            f"({record['wall_time_s']:.0f} s)")


if __name__ == "__main__":
    main()
