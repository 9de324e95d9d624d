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
from jaxclust import data, kmeans, metrics, parallel, plots, select
from jaxclust.methods import aekm, damic, dcn, dec, imsat, kdae
from jaxclust.nets import KERNEL_INITS
from jaxclust.train import AEConfig
from jaxclust.validation import check_n_clusters, check_positive_int

METHODS = ("kmeans", "aekm", "dec", "idec", "dcn", "kdae", "damic", "imsat", "rim", "dac")
SELECT_K_METHODS = ("dec", "idec", "dcn", "kdae", "damic")


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jaxclust", description=jaxclust.__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    common = _common_options()
    fit = sub.add_parser("fit", parents=[common], help="fit a clustering method on a data set",
                         description="Fit a clustering method, print NMI/ARI/ACC when labels "
                                     "exist, and write labels.npy, metrics.json and "
                                     "embedding.png (k-DAE/DAMIC: also experts.png) to --out.")
    fit.add_argument("--method", choices=METHODS, default="aekm", help="clustering method")
    fit.add_argument("--n-clusters", type=int, default=None,
                     help="number of clusters (default: the number of classes in the labels)")
    fit.add_argument("--checkpoint-every", type=int, default=0,
                     help="save a checkpoint in OUT/checkpoints every this many epochs")
    fit.add_argument("--resume", action="store_true",
                     help="continue from the latest checkpoint in OUT/checkpoints")
    fit.add_argument("--no-plot", action="store_true", help="skip the figures")
    fit.add_argument("--expert-index", type=int, default=0,
                     help="k-DAE/DAMIC: the point whose reconstruction by every expert "
                          "experts.png shows")
    select = sub.add_parser(
        "select-k", parents=[common], help="choose the number of clusters without labels",
        description="Fit the method for every k on a training split (one shared pre-trained "
                    "autoencoder per seed), report DEC's G = L_train / L_validation, the "
                    "held-out silhouette and, with labels, NMI; suggest k; write "
                    "select_k.json and select_k.png to --out.")
    select.add_argument("--method", choices=SELECT_K_METHODS, default="dec")
    select.add_argument("--k", default="5:15", help="the k to try: 'lo:hi' (inclusive) or "
                                                    "a comma-separated list")
    select.add_argument("--val-fraction", type=float, default=0.2,
                        help="share of the points held out for L_validation")
    select.add_argument("--criterion", choices=("g", "silhouette"), default="g",
                        help="suggest the k before G's sharpest drop (DEC's), or the k of "
                             "the highest held-out silhouette")
    select.add_argument("--resume", action="store_true",
                        help="reuse the k already finished in OUT/select_k_rows.json (each "
                             "k is written there as it finishes) instead of fitting them again")
    return parser


def _common_options() -> argparse.ArgumentParser:
    """Data, seeds, networks and training: the options ``fit`` and ``select-k`` share."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--dataset", default="digits",
                        help=f"one of {', '.join(data.NAMES)}, or a path to a .npy/.npz/.csv file")
    common.add_argument("--data-dir", default=None,
                        help="folder with the raw data files (default: $JAXCLUST_DATA)")
    common.add_argument("--label-column", default=None, help="label column of a .csv file")
    common.add_argument("--subset", type=int, default=None, help="use this many random samples")
    common.add_argument("--seed", type=int, default=0, help="PRNG seed (the first of --seeds)")
    common.add_argument("--seeds", type=int, default=1,
                        help="train this many seeds (--seed, --seed+1, …) in one program; "
                             "fit keeps the best by the method's own objective and reports "
                             "mean ± std")
    common.add_argument("--hidden", type=int, nargs="+", default=None,
                        help="encoder hidden sizes; the decoder mirrors them (default: "
                             "500 500 2000, the papers'; 256 256 512 below 5 000 samples)")
    common.add_argument("--epochs", type=int, default=None,
                        help="autoencoder pre-training epochs (default: 50; 100 below 5 000 "
                             "samples)")
    common.add_argument("--batch-size", type=int, default=None,
                        help="mini-batch size (default: 256; 64 below 5 000 samples)")
    common.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    common.add_argument("--input-dropout", type=float, default=0.0,
                        help="denoising pre-training: input dropout rate (DEC: 0.2)")
    common.add_argument("--kernel-init", choices=tuple(KERNEL_INITS), default="lecun_normal",
                        help="weight initialisation of every network (glorot_uniform: "
                             "Keras's, as DEC-keras/IDEC and k-DAE's code)")
    common.add_argument("--n-init", type=int, default=20, help="k-means restarts")
    common.add_argument("--cluster-optimizer", choices=("sgd", "adam"), default=None,
                        help="optimizer of the clustering phase (DEC: sgd, momentum 0.9; "
                             "IDEC, DCN: adam)")
    common.add_argument("--cluster-lr", type=float, default=None,
                        help="learning rate of the clustering phase (DEC: 0.01; IDEC, DCN: "
                             "1e-3; k-DAE, DAMIC: 1e-4, 1e-3 below 5 000 samples; IMSAT, RIM: "
                             "2e-3)")
    common.add_argument("--update-interval", type=int, default=None,
                        help="DEC/IDEC: mini-batches between target updates (default: one pass)")
    common.add_argument("--tol", type=float, default=0.001,
                        help="DEC/IDEC: stop when fewer than this fraction of labels change")
    common.add_argument("--max-epochs", type=int, default=None,
                        help="clustering phase: DEC/IDEC at most this many target updates "
                             "(default 200); DCN, k-DAE, DAMIC joint epochs (default 50, 40, "
                             "40); IMSAT, RIM, DAC training epochs (default 50, 50, 60)")
    common.add_argument("--kdae-loss", choices=("hard", "soft"), default="hard",
                        help="k-DAE: min-reconstruction (hard, eq. 1) or logsumexp (soft, eq. 4)")
    common.add_argument("--kdae-error", choices=kdae.ERRORS, default=kdae.Config.error,
                        help="k-DAE: each expert's error ‖x − x̂‖² (sse, the paper's) or "
                             "‖x − x̂‖ (norm, the authors' code)")
    common.add_argument("--augment", choices=imsat.AUGMENTS, default="vat",
                        help="IMSAT: self-augmentation, virtual adversarial (vat) or random (rpt)")
    common.add_argument("--lam", type=float, default=dcn.Config.lam,
                        help="DCN: weight λ of the k-means term (reconstruction is per-feature "
                             "MSE)")
    common.add_argument("--out", default=None,
                        help="output folder (default: runs/<method>-<dataset>, "
                             "runs/select-k-<method>-<dataset>)")
    common.add_argument("--no-progress", action="store_true", help="no progress bars")
    return common


def _ae_config(args, small: bool) -> AEConfig:
    hidden = args.hidden or ((256, 256, 512) if small else (500, 500, 2000))
    return AEConfig(hidden=tuple(hidden), epochs=args.epochs or (100 if small else 50),
                    batch_size=args.batch_size or (64 if small else 256), lr=args.lr,
                    input_dropout=args.input_dropout, kernel_init=args.kernel_init)


def _config(method: str, k: int, args, small: bool):
    """The method's Config from the command line (small data sets get smaller defaults)."""
    if method in ("imsat", "rim", "dac"):  # classifiers without an autoencoder
        module = parallel.METHODS[method]
        extra = {"augment": args.augment} if method == "imsat" else {}
        return module.Config(n_clusters=k, hidden=tuple(args.hidden or module.Config.hidden),
                             lr=args.cluster_lr or module.Config.lr,
                             batch_size=args.batch_size or module.Config.batch_size,
                             epochs=args.max_epochs or module.Config.epochs, **extra)
    ae = _ae_config(args, small)
    batch = args.batch_size or (64 if small else 256)
    if method == "aekm":
        return aekm.Config(n_clusters=k, ae=ae, n_init=args.n_init)
    if method in ("dec", "idec"):
        idec = method == "idec"
        return dec.Config(
            n_clusters=k, ae=ae, n_init=args.n_init, idec=idec,
            optimizer=args.cluster_optimizer or ("adam" if idec else "sgd"),
            lr=args.cluster_lr or (1e-3 if idec else 0.01), batch_size=batch,
            update_interval=args.update_interval, tol=args.tol,
            epochs=args.max_epochs or dec.Config.epochs)
    if method == "dcn":
        return dcn.Config(
            n_clusters=k, ae=ae, n_init=args.n_init, lam=args.lam,
            optimizer=args.cluster_optimizer or "adam", lr=args.cluster_lr or dcn.Config.lr,
            batch_size=batch, epochs=args.max_epochs or dcn.Config.epochs)
    module = {"kdae": kdae, "damic": damic}[method]
    member = dataclasses.replace(kdae.PAPER_MEMBER, kernel_init=args.kernel_init)
    if small:
        member = dataclasses.replace(member, hidden=(256, 64), epochs=50, batch_size=64)
    common = dict(n_clusters=k, ae=ae, n_init=args.n_init, member=member,
                  lr=args.cluster_lr or (1e-3 if small else module.Config.lr),
                  batch_size=batch, epochs=args.max_epochs or module.Config.epochs)
    if method == "kdae":
        return kdae.Config(loss=args.kdae_loss, error=args.kdae_error, **common)
    return damic.Config(**common)


def _features(method: str, state, x, cfg):
    """What the plot projects: the embedding, or the experts' errors for k-DAE/DAMIC."""
    if method in ("kdae", "damic"):
        return parallel.METHODS[method].errors(state, x, cfg)
    if method in ("imsat", "rim", "dac"):
        return parallel.METHODS[method].predict_proba(state, x, cfg)
    return parallel.METHODS[method].embed(state, x, cfg)


class _Progress:
    """One progress bar per training phase, fed by ``fit_seeds``'s ``on_epoch``."""

    def __init__(self, disable: bool):
        self.disable, self.bar, self.phase = disable, None, None

    def __call__(self, phase, epoch, total, losses):
        if phase != self.phase:
            self.close()
            self.phase = phase
            self.bar = tqdm(total=total, initial=epoch - 1, desc=phase, disable=self.disable)
        self.bar.update()
        self.bar.set_postfix(loss=f"{float(jnp.mean(losses)):.4f}")

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _fit_deep(x, k, args, small, out: Path):
    """Every seed of a deep method in one program; the best by the method's own objective
    is the answer. Returns labels ``(S, n)``, objectives ``(S,)``, the best seed's index,
    its features for the plot, and the config."""
    cfg = _config(args.method, k, args, small)
    checkpoints = None
    if args.checkpoint_every or args.resume:
        checkpoints = parallel.Checkpoints(out / "checkpoints", cfg)
    progress = _Progress(args.no_progress)
    xj = jnp.asarray(x)
    res = parallel.fit_seeds(parallel.METHODS[args.method],
                             parallel.seed_keys(args.seed, args.seeds), xj, cfg,
                             checkpoints=checkpoints, checkpoint_every=args.checkpoint_every,
                             resume=args.resume, on_epoch=progress)
    progress.close()
    best = int(jnp.argmin(res.objectives))
    state = jax.tree.map(lambda a: a[best], res.states)
    idle = int(jnp.sum(state.owned == 0)) if hasattr(state, "owned") else 0
    if idle:
        print(f"note: {idle} of {k} autoencoders own no point after k-means; they stay idle")
    if args.method in ("kdae", "damic") and not args.no_plot:
        _plot_experts(out / "experts.png", state, x, args.expert_index, cfg)
    return (np.asarray(res.labels), np.asarray(res.objectives), best,
            np.asarray(_features(args.method, state, xj, cfg)), cfg)


def _plot_experts(path: Path, state, x, index: int, cfg) -> None:
    """Every expert's reconstruction of point ``index`` (k-DAE Fig. 2, DAMIC Figs. 3–4)."""
    plots.experts(path, *plots.expert_reconstructions(state, x[index:index + 1], cfg),
                  title="each expert's reconstruction and squared error",
                  row_names=[f"point {index}"])


def _fit_kmeans(x, k, args, small, out):
    with tqdm(total=1, desc="k-means", disable=args.no_progress) as bar:
        res = jax.vmap(lambda key: kmeans.kmeans(key, x, k, n_init=args.n_init))(
            parallel.seed_keys(args.seed, args.seeds))
        bar.update()
    best = int(jnp.argmin(res.inertia))
    return (np.asarray(res.labels), np.asarray(res.inertia), best, x,
            {"n_clusters": k, "n_init": args.n_init})


def cmd_fit(args) -> int:
    start = time.perf_counter()
    x, y = data.load(args.dataset, data_dir=args.data_dir, subset=args.subset,
                     seed=args.seed, label_column=args.label_column)
    k = args.n_clusters or (len(np.unique(y)) if y is not None else None)
    if k is None:
        raise ValueError("--n-clusters is required for data without labels")
    check_n_clusters(k, x.shape[0])
    small = x.shape[0] < 5000
    check_positive_int(args.seeds, "--seeds")
    if not 0 <= args.expert_index < x.shape[0]:
        raise ValueError(f"--expert-index must be in [0, {x.shape[0]}), got {args.expert_index}")
    out = Path(args.out or f"runs/{args.method}-{Path(args.dataset).stem}")
    out.mkdir(parents=True, exist_ok=True)
    fit = _fit_kmeans if args.method == "kmeans" else _fit_deep
    labels_all, objectives, best, z, cfg = fit(x, k, args, small, out)
    wall = time.perf_counter() - start

    seeds = [args.seed + i for i in range(args.seeds)]
    per_seed = [{"seed": s, "objective": float(o),
                 "metrics": metrics.evaluate(y, lab) if y is not None else None}
                for s, o, lab in zip(seeds, objectives, labels_all)]
    np.save(out / "labels.npy", labels_all[best])
    np.save(out / "labels_all.npy", labels_all)
    record = {
        "method": args.method, "dataset": args.dataset, "seed": seeds[best],
        "metrics": per_seed[best]["metrics"], "seeds": per_seed,
        "summary": _summary(per_seed) if y is not None else None,
        "config": _to_json(cfg), "n_samples": int(x.shape[0]), "n_clusters": k,
        "wall_time_s": wall, "device": jax.devices()[0].device_kind,
        "jax_version": jax.__version__, "jaxclust_version": jaxclust.__version__,
        "command": "jaxclust " + " ".join(sys.argv[1:]),
    }
    (out / "metrics.json").write_text(json.dumps(record, indent=2))
    if not args.no_plot:
        plots.embedding(out / "embedding.png", z, labels_all[best], y)
    if record["metrics"]:
        m = record["metrics"]
        where = f"seed={seeds[best]}" + (f", best of {args.seeds} by the method's own "
                                          f"objective" if args.seeds > 1 else "")
        print(f"{args.method} on {args.dataset} (n={x.shape[0]}, k={k}, {where}): "
              f"NMI {m['nmi']:.4f}  ARI {m['ari']:.4f}  ACC {m['acc']:.4f}  ({wall:.1f} s)")
        if args.seeds > 1:
            summary = record["summary"]
            print(f"over {args.seeds} seeds: " + "  ".join(
                f"{n.upper()} {summary[n]['mean']:.4f} ± {summary[n]['std']:.4f}"
                for n in ("nmi", "ari", "acc")))
    figures = ", embedding.png" + (", experts.png" if args.method in ("kdae", "damic") else "")
    print(f"wrote {out}/labels.npy, labels_all.npy, metrics.json"
          + ("" if args.no_plot else figures))
    return 0


def cmd_select_k(args) -> int:
    start = time.perf_counter()
    x, y = data.load(args.dataset, data_dir=args.data_dir, subset=args.subset,
                     seed=args.seed, label_column=args.label_column)
    ks = _parse_ks(args.k)
    check_positive_int(args.seeds, "--seeds")
    small = x.shape[0] < 5000
    cfg = _config(args.method, ks[0], args, small)
    out = Path(args.out or f"runs/select-k-{args.method}-{Path(args.dataset).stem}")
    out.mkdir(parents=True, exist_ok=True)

    rows_path = out / "select_k_rows.json"
    config = {name: v for name, v in _to_json(cfg).items() if name != "n_clusters"}
    setting = json.loads(json.dumps({  # as it reads back from disk (tuples become lists)
        "method": args.method, "dataset": args.dataset, "seed": args.seed, "seeds": args.seeds,
        "subset": args.subset, "val_fraction": args.val_fraction, "config": config}))
    done = {}
    if args.resume and rows_path.exists():
        saved = json.loads(rows_path.read_text())
        if saved["setting"] != setting:
            raise ValueError(f"{rows_path} was written with other settings ({saved['setting']}); "
                             "use another --out or drop --resume")
        done = {int(k): row for k, row in saved["rows"].items()}
        print(f"resuming: k = {sorted(done)} already done", flush=True)

    def report(k, row):
        done[k] = {name: np.asarray(v).tolist() for name, v in row.items()}
        rows_path.write_text(json.dumps({"setting": setting, "rows": done}, indent=1))
        nmi = f"  NMI {np.mean(row['nmi']):.4f}" if "nmi" in row else ""
        print(f"k={k:3d}  G {np.mean(row['g']):.4f}  silhouette {np.mean(row['silhouette']):.4f}"
              f"{nmi}", flush=True)

    res = select.select_k(parallel.METHODS[args.method], x, ks, cfg, seed=args.seed,
                          n_seeds=args.seeds, y=y, val_fraction=args.val_fraction,
                          criterion=args.criterion, on_k=report, done=dict(done))
    record = {"method": args.method, "dataset": args.dataset,
              "seeds": [args.seed + i for i in range(args.seeds)],
              "ks": res.ks.tolist(), "suggested_k": res.suggested, "criterion": res.criterion,
              **{name: getattr(res, name).tolist() for name in
                 ("train_loss", "val_loss", "g", "silhouette")},
              "nmi": None if res.nmi is None else res.nmi.tolist(),
              "val_fraction": args.val_fraction, "config": _to_json(cfg),
              "n_samples": int(x.shape[0]), "wall_time_s": time.perf_counter() - start,
              "device": jax.devices()[0].device_kind, "jax_version": jax.__version__,
              "command": "jaxclust " + " ".join(sys.argv[1:])}
    (out / "select_k.json").write_text(json.dumps(record, indent=2))
    plots.select_k(out / "select_k.png", res, title=f"{args.method} on {args.dataset}:")
    print(f"suggested k = {res.suggested} ({res.criterion}); wrote {out}/select_k.json, "
          f"select_k.png")
    return 0


def _parse_ks(text: str) -> list[int]:
    """``"5:15"`` → 5 … 15; ``"3,5,8"`` → [3, 5, 8]."""
    try:
        if ":" in text:
            lo, hi = (int(v) for v in text.split(":"))
            return list(range(lo, hi + 1))
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise ValueError(f"--k must be 'lo:hi' or a comma-separated list of ints, got {text!r}")


def _summary(per_seed: list[dict]) -> dict:
    """Mean and (population) std over seeds of each metric."""
    names = per_seed[0]["metrics"].keys()
    return {n: {"mean": float(np.mean([r["metrics"][n] for r in per_seed])),
                "std": float(np.std([r["metrics"][n] for r in per_seed]))} for n in names}


def _to_json(cfg):
    return dataclasses.asdict(cfg) if dataclasses.is_dataclass(cfg) else cfg


def main(argv=None) -> int:
    args = _build_parser().parse_args(argv)
    try:
        return {"fit": cmd_fit, "select-k": cmd_select_k}[args.command](args)
    except (ValueError, TypeError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
