"""The ``jaxclust`` command: fit a method on a data set, evaluate, write the results.

    jaxclust fit --method aekm --dataset digits --out runs/digits
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

import jaxclust
from jaxclust import data, kmeans, metrics, nets
from jaxclust.methods import aekm, damic, dcn, dec, kdae
from jaxclust.train import AEConfig
from jaxclust.validation import check_n_clusters

METHODS = ("kmeans", "aekm", "dec", "idec", "dcn", "kdae", "damic")


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jaxclust", description=jaxclust.__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    fit = sub.add_parser("fit", help="fit a clustering method on a data set",
                         description="Fit a clustering method, print NMI/ARI/ACC when labels "
                                     "exist, and write labels.npy, metrics.json and "
                                     "embedding.png to --out.")
    fit.add_argument("--method", choices=METHODS, default="aekm", help="clustering method")
    fit.add_argument("--dataset", default="digits",
                     help=f"one of {', '.join(data.NAMES)}, or a path to a .npy/.npz/.csv file")
    fit.add_argument("--data-dir", default=None,
                     help="folder with the raw data files (default: $JAXCLUST_DATA)")
    fit.add_argument("--label-column", default=None, help="label column of a .csv file")
    fit.add_argument("--subset", type=int, default=None, help="use this many random samples")
    fit.add_argument("--n-clusters", type=int, default=None,
                     help="number of clusters (default: the number of classes in the labels)")
    fit.add_argument("--seed", type=int, default=0, help="PRNG seed")
    fit.add_argument("--hidden", type=int, nargs="+", default=None,
                     help="encoder hidden sizes; the decoder mirrors them (default: "
                          "500 500 2000, the papers'; 256 256 512 below 5 000 samples)")
    fit.add_argument("--epochs", type=int, default=None,
                     help="autoencoder pre-training epochs (default: 50; 100 below 5 000 samples)")
    fit.add_argument("--batch-size", type=int, default=None,
                     help="mini-batch size (default: 256; 64 below 5 000 samples)")
    fit.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    fit.add_argument("--input-dropout", type=float, default=0.0,
                     help="denoising pre-training: input dropout rate (DEC: 0.2)")
    fit.add_argument("--n-init", type=int, default=20, help="k-means restarts")
    fit.add_argument("--cluster-optimizer", choices=("sgd", "adam"), default=None,
                     help="optimizer of the clustering phase (DEC: sgd, momentum 0.9; "
                          "IDEC, DCN: adam)")
    fit.add_argument("--cluster-lr", type=float, default=None,
                     help="learning rate of the clustering phase (DEC: 0.01; IDEC, DCN: 1e-3; k-DAE, DAMIC: 1e-4, 1e-3 below 5 000 samples)")
    fit.add_argument("--update-interval", type=int, default=None,
                     help="DEC/IDEC: mini-batches between target updates (default: one pass)")
    fit.add_argument("--tol", type=float, default=0.001,
                     help="DEC/IDEC: stop when fewer than this fraction of labels change")
    fit.add_argument("--max-epochs", type=int, default=None,
                     help="clustering phase: DEC/IDEC at most this many target updates "
                          "(default 200); DCN, k-DAE, DAMIC joint epochs (default 50, 40, 40)")
    fit.add_argument("--kdae-loss", choices=("hard", "soft"), default="hard",
                     help="k-DAE: min-reconstruction (hard, eq. 1) or logsumexp (soft, eq. 4)")
    fit.add_argument("--lam", type=float, default=dcn.Config.lam,
                     help="DCN: weight λ of the k-means term (reconstruction is per-feature MSE)")
    fit.add_argument("--out", default=None, help="output folder (default: runs/<method>-<dataset>)")
    fit.add_argument("--no-progress", action="store_true", help="no progress bars")
    fit.add_argument("--no-plot", action="store_true", help="skip embedding.png")
    return parser


def _ae_config(args, small: bool) -> AEConfig:
    hidden = args.hidden or ((256, 256, 512) if small else (500, 500, 2000))
    return AEConfig(hidden=tuple(hidden), epochs=args.epochs or (100 if small else 50),
                    batch_size=args.batch_size or (64 if small else 256), lr=args.lr,
                    input_dropout=args.input_dropout)


def _pretrain(key, xj, cfg: aekm.Config, args) -> aekm.State:
    """Autoencoder pre-training (progress bar per epoch), then k-means on the embedding."""
    epoch = jax.jit(aekm.train_epoch, static_argnames="cfg")
    state = aekm.init(key, xj, cfg)
    bar = tqdm(range(cfg.ae.epochs), desc="pre-train", disable=args.no_progress)
    for _ in bar:
        state, loss = epoch(state, xj, cfg=cfg)
        bar.set_postfix(loss=f"{float(loss):.4f}")
    with tqdm(total=1, desc="k-means", disable=args.no_progress) as bar:
        state = jax.jit(aekm.cluster, static_argnames="cfg")(state, xj, cfg=cfg)
        bar.update()
    return state


def _fit_aekm(key, x, k, args, small):
    cfg = aekm.Config(n_clusters=k, ae=_ae_config(args, small), n_init=args.n_init)
    xj = jnp.asarray(x)
    state = _pretrain(key, xj, cfg, args)
    return np.asarray(aekm.predict(state, xj, cfg)), np.asarray(aekm.embed(state, xj, cfg)), cfg


def _fit_dec(key, x, k, args, small):
    idec = args.method == "idec"
    cfg = dec.Config(
        n_clusters=k, ae=_ae_config(args, small), n_init=args.n_init, idec=idec,
        optimizer=args.cluster_optimizer or ("adam" if idec else "sgd"),
        lr=args.cluster_lr or (1e-3 if idec else 0.01),
        batch_size=args.batch_size or (64 if small else 256),
        update_interval=args.update_interval, tol=args.tol,
        max_epochs=args.max_epochs or dec.Config.max_epochs)
    xj = jnp.asarray(x)
    state = dec.from_pretrained(_pretrain(key, xj, cfg.aekm(), args), xj, cfg)
    epoch = jax.jit(dec.train_epoch, static_argnames="cfg")
    bar = tqdm(range(cfg.max_epochs), desc=args.method, disable=args.no_progress)
    for _ in bar:
        state, loss = epoch(state, xj, cfg=cfg)
        if bool(state.done):
            break
        bar.set_postfix(loss=f"{float(loss):.4f}", changed=f"{float(state.delta):.4f}")
    bar.close()
    return np.asarray(dec.predict(state, xj, cfg)), np.asarray(dec.embed(state, xj, cfg)), cfg


def _fit_dcn(key, x, k, args, small):
    cfg = dcn.Config(
        n_clusters=k, ae=_ae_config(args, small), n_init=args.n_init, lam=args.lam,
        optimizer=args.cluster_optimizer or "adam", lr=args.cluster_lr or dcn.Config.lr,
        batch_size=args.batch_size or (64 if small else 256),
        epochs=args.max_epochs or dcn.Config.epochs)
    xj = jnp.asarray(x)
    state = dcn.from_pretrained(_pretrain(key, xj, cfg.aekm(), args), cfg)
    epoch = jax.jit(dcn.train_epoch, static_argnames="cfg")
    bar = tqdm(range(cfg.epochs), desc="dcn", disable=args.no_progress)
    for _ in bar:
        state, loss = epoch(state, xj, cfg=cfg)
        bar.set_postfix(loss=f"{float(loss):.4f}")
    return np.asarray(dcn.predict(state, xj, cfg)), np.asarray(dcn.embed(state, xj, cfg)), cfg


def _fit_mixture(key, x, k, args, small):
    """k-DAE or DAMIC: initial AE → k-means → per-cluster experts (and gate) → joint."""
    method = {"kdae": kdae, "damic": damic}[args.method]
    member = kdae.PAPER_MEMBER
    if small:
        member = dataclasses.replace(member, hidden=(256, 64), epochs=50, batch_size=64)
    common = dict(n_clusters=k, ae=_ae_config(args, small), n_init=args.n_init, member=member,
                  lr=args.cluster_lr or (1e-3 if small else method.Config.lr),
                  batch_size=args.batch_size or (64 if small else 256),
                  epochs=args.max_epochs or method.Config.epochs)
    cfg = (kdae.Config(loss=args.kdae_loss, **common) if args.method == "kdae"
           else damic.Config(**common))
    xj = jnp.asarray(x)
    k_ae, k_members = jax.random.split(key)
    acfg = cfg.aekm()
    pre = _pretrain(k_ae, xj, acfg, args)
    with tqdm(total=1, desc=f"pre-train {k} AEs", disable=args.no_progress) as bar:
        state = jax.jit(method.from_labels, static_argnames="cfg")(
            k_members, xj, aekm.predict(pre, xj, acfg), cfg=cfg)
        bar.update()
    idle = int(jnp.sum(state.owned == 0))
    if idle:
        print(f"note: {idle} of {k} autoencoders own no point after k-means; they stay idle")
    epoch = jax.jit(method.train_epoch, static_argnames="cfg")
    bar = tqdm(range(cfg.epochs), desc=args.method, disable=args.no_progress)
    for _ in bar:
        state, loss = epoch(state, xj, cfg=cfg)
        bar.set_postfix(loss=f"{float(loss):.4f}")
    members = state.variables if args.method == "kdae" else state.members
    errors = nets.ensemble_errors(member.module(x.shape[1]), members, xj, "sse")
    return np.asarray(method.predict(state, xj, cfg)), np.asarray(errors), cfg


def _fit_kmeans(key, x, k, args, small):
    with tqdm(total=1, desc="k-means", disable=args.no_progress) as bar:
        res = kmeans.kmeans(key, x, k, n_init=args.n_init)
        bar.update()
    return np.asarray(res.labels), x, {"n_clusters": k, "n_init": args.n_init}


def _plot(path: Path, z: np.ndarray, labels: np.ndarray, y: np.ndarray | None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.decomposition import PCA

    proj = PCA(2).fit_transform(z) if z.shape[1] > 2 else z
    fig, axes = plt.subplots(1, 2 if y is not None else 1, figsize=(11 if y is not None else 5.5, 5))
    axes = np.atleast_1d(axes)
    axes[0].scatter(proj[:, 0], proj[:, 1], c=labels, s=3, cmap="tab20")
    axes[0].set_title("embedding (PCA), coloured by cluster")
    if y is not None:
        table = metrics.contingency(y, labels)
        axes[1].imshow(table, cmap="Blues")
        axes[1].set_xlabel("true class")
        axes[1].set_ylabel("cluster")
        axes[1].set_title("confusion matrix")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def cmd_fit(args) -> int:
    start = time.perf_counter()
    x, y = data.load(args.dataset, data_dir=args.data_dir, subset=args.subset,
                     seed=args.seed, label_column=args.label_column)
    k = args.n_clusters or (len(np.unique(y)) if y is not None else None)
    if k is None:
        raise ValueError("--n-clusters is required for data without labels")
    check_n_clusters(k, x.shape[0])
    small = x.shape[0] < 5000
    key = jax.random.key(args.seed)
    fit = {"kmeans": _fit_kmeans, "aekm": _fit_aekm, "dec": _fit_dec, "idec": _fit_dec,
           "dcn": _fit_dcn, "kdae": _fit_mixture, "damic": _fit_mixture}[args.method]
    labels, z, cfg = fit(key, x, k, args, small)
    wall = time.perf_counter() - start

    out = Path(args.out or f"runs/{args.method}-{Path(args.dataset).stem}")
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "labels.npy", labels)
    record = {
        "method": args.method, "dataset": args.dataset, "seed": args.seed,
        "metrics": metrics.evaluate(y, labels) if y is not None else None,
        "config": _to_json(cfg), "n_samples": int(x.shape[0]), "n_clusters": k,
        "wall_time_s": wall, "device": jax.devices()[0].device_kind,
        "jax_version": jax.__version__, "jaxclust_version": jaxclust.__version__,
        "command": "jaxclust " + " ".join(sys.argv[1:]),
    }
    (out / "metrics.json").write_text(json.dumps(record, indent=2))
    if not args.no_plot:
        _plot(out / "embedding.png", z, labels, y)
    if record["metrics"]:
        m = record["metrics"]
        print(f"{args.method} on {args.dataset} (n={x.shape[0]}, k={k}, seed={args.seed}): "
              f"NMI {m['nmi']:.4f}  ARI {m['ari']:.4f}  ACC {m['acc']:.4f}  ({wall:.1f} s)")
    print(f"wrote {out}/labels.npy, metrics.json" + ("" if args.no_plot else ", embedding.png"))
    return 0


def _to_json(cfg):
    return dataclasses.asdict(cfg) if dataclasses.is_dataclass(cfg) else cfg


def main(argv=None) -> int:
    args = _build_parser().parse_args(argv)
    try:
        return {"fit": cmd_fit}[args.command](args)
    except (ValueError, TypeError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
