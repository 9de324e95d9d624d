"""The ``jaxclust`` command: fit a method on a data set, evaluate, write the results.

    jaxclust fit aekm --dataset digits --preset small --out runs/digits
    jaxclust fit idec --help                 # IDEC's settings, each a flag
"""
from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import numpy as np

import jaxclust


COMMANDS = {"fit": "fit a clustering method on a data set",
            "select-k": "choose the number of clusters without labels"}


def _build_parser(methods: bool = True) -> argparse.ArgumentParser:
    """The command line; without ``methods`` only its top level (no JAX import: a fast
    ``jaxclust --help`` / ``--version``)."""
    parser = argparse.ArgumentParser(prog="jaxclust", description=jaxclust.__doc__)
    parser.add_argument("--version", action="version", version=jaxclust.__version__)
    sub = parser.add_subparsers(dest="command", required=True)
    if not methods:
        for name, text in COMMANDS.items():
            sub.add_parser(name, help=text)
        return parser
    from jaxclust import config
    from jaxclust.methods import REGISTRY

    fit = sub.add_parser("fit", help=COMMANDS["fit"],
                         description="Fit a clustering method, print NMI/ARI/ACC when labels "
                                     "exist, and write one record per seed (seed<k>.json), "
                                     "labels.npy and figures to --out.")
    fit_methods = fit.add_subparsers(dest="method", required=True, metavar="METHOD")
    for method in REGISTRY.values():
        p = fit_methods.add_parser(method.name, help=method.summary, description=method.summary)
        _common_options(p)
        p.add_argument("--checkpoint-every", type=int, default=0,
                       help="save a checkpoint in OUT/checkpoints every this many epochs")
        p.add_argument("--resume", action="store_true",
                       help="continue from the latest checkpoint in OUT/checkpoints")
        p.add_argument("--no-plot", action="store_true", help="skip the figures")
        p.add_argument("--keep", choices=("central", "objective"), default="central",
                       help="which of --seeds gives labels.npy: among the seeds that use "
                            "the most clusters, the one whose partition the others agree "
                            "with most (mean ARI; with 3 such seeds or more, else the "
                            "lowest objective among them), or the lowest value of the "
                            "method's own objective")
        if method.pretrains:
            p.add_argument("--start", choices=("own", "consensus"), default="own",
                           help="where each seed's clustering phase starts: k-means on its own "
                                "embedding, or the consensus of every seed's k-means partition "
                                "(with --seeds 2 or more)")
        if method.reconstruct is not None:
            p.add_argument("--expert-index", type=int, default=0,
                           help="the point whose reconstruction by every expert experts.png "
                                "shows")
        p.add_argument("--n-clusters", type=int, default=None,
                       help="number of clusters (default: the number of classes in the labels)")
        _process_options(p)
        config.add_arguments(p, method, skip=("n_clusters",))
    select = sub.add_parser(
        "select-k", help=COMMANDS["select-k"],
        description="Fit the method for every k on a training split (one shared pre-trained "
                    "autoencoder per seed), report DEC's G = L_train / L_validation, the "
                    "held-out silhouette and, with labels, NMI; suggest k; write "
                    "select_k.json and select_k.png to --out.")
    select_methods = select.add_subparsers(dest="method", required=True, metavar="METHOD")
    for method in REGISTRY.values():
        if not (method.pretrains and method.train_epoch is not None):
            continue
        p = select_methods.add_parser(method.name, help=method.summary)
        _common_options(p)
        p.add_argument("--k", default="5:15", help="the k to try: 'lo:hi' (inclusive) or a "
                                                   "comma-separated list")
        p.add_argument("--val-fraction", type=float, default=0.2,
                       help="share of the points held out for L_validation")
        p.add_argument("--criterion", choices=("g", "silhouette"), default="g",
                       help="suggest the k before G's sharpest drop (DEC's), or the k of the "
                            "highest held-out silhouette")
        p.add_argument("--resume", action="store_true",
                       help="reuse the k already finished in OUT/select_k_rows.json (each k "
                            "is written there as it finishes) instead of fitting them again")
        config.add_arguments(p, method, skip=("n_clusters",))
    return parser


def _common_options(p: argparse.ArgumentParser) -> None:
    """Data, seeds, preset and output: the options every subcommand shares."""
    from jaxclust import config, data

    g = p.add_argument_group("run")
    g.add_argument("--dataset", default="digits",
                   help=f"one of {', '.join(data.NAMES)}, mnist8m:N (N deformed MNIST "
                        "digits, generated once into $JAXCLUST_CACHE), or a path to a "
                        ".npy/.npz/.csv file")
    g.add_argument("--data-dir", default=None,
                   help="folder with the raw data files (default: $JAXCLUST_DATA)")
    g.add_argument("--source", choices=("raw", "tfds"), default="raw",
                   help="raw: the original files in --data-dir; tfds: a tensorflow-datasets "
                        "folder (--data-dir, else tfds's default) holding mnist or "
                        "fashion_mnist prepared beforehand (needs jaxclust[tfds]; never "
                        "downloads)")
    g.add_argument("--label-column", default=None, help="label column of a .csv file")
    g.add_argument("--subset", type=int, default=None,
                   help="use this many random samples (drawn with --seed)")
    g.add_argument("--r-min", type=float, default=None,
                   help="imbalanced data (DEC's Table 4): class c kept with probability "
                        "r_min + (1 − r_min)·c/(k − 1), drawn with --seed")
    g.add_argument("--value-range", type=float, nargs=2, default=None, metavar=("LO", "HI"),
                   help="map the data's [0, 1] values onto [LO, HI] (e.g. -1 1: USPS's "
                        "original range, as the Keras methods' loaders keep it)")
    g.add_argument("--seed", type=int, default=0, help="PRNG seed (the first of --seeds)")
    g.add_argument("--seeds", type=int, default=1,
                   help="train this many seeds (--seed, --seed+1, …) in one program; the one "
                        "--keep picks gives labels.npy")
    g.add_argument("--preset", choices=tuple(config.PRESETS), default="paper",
                   help="; ".join(f"{name}: {p.doc}" for name, p in config.PRESETS.items()))
    g.add_argument("--out", default=None,
                   help="output folder (default: runs/<method>-<dataset>)")
    g.add_argument("--no-progress", action="store_true", help="no progress bars")


def _process_options(p: argparse.ArgumentParser) -> None:
    """Devices and processes: the mesh, and joining a multi-process (multi-host) run."""
    g = p.add_argument_group("devices and processes (README: Many devices, many hosts)")
    g.add_argument("--mesh-data", type=int, default=None, metavar="D",
                   help="spread the run over every device (of every process): D devices share "
                        "each seed's rows, the others split the seeds (default: no mesh in "
                        "one process, D = 1 across processes)")
    g.add_argument("--coordinator", default=None, metavar="HOST:PORT",
                   help="join a multi-process run whose process 0 listens at HOST:PORT (with "
                        "--num-processes and --process-id; or set none of the three to use "
                        "JAX's own detection: SLURM, Open MPI, Cloud TPU)")
    g.add_argument("--num-processes", type=int, default=None, help="processes in the run")
    g.add_argument("--process-id", type=int, default=None,
                   help="this process's id, 0 … num-processes − 1; process 0 writes the output")


class TrainingDiverged(RuntimeError):
    """Every seed's loss became NaN or inf (exit status 3)."""


class _Progress:
    """One progress bar per phase, fed by the runner's ``on_epoch``."""

    def __init__(self, disable: bool):
        self.disable, self.bar, self.phase = disable, None, None

    def __call__(self, phase, epoch, total, losses, state):
        from tqdm.auto import tqdm

        if phase == "start":
            return
        if phase != self.phase:
            self.close()
            self.phase = phase
            self.bar = tqdm(total=total, initial=epoch - 1, desc=phase, disable=self.disable)
        self.bar.update()
        self.bar.set_postfix(loss=f"{float(np.mean(np.asarray(losses))):.4f}")

    def close(self):
        if self.bar is not None:
            self.bar.close()


class _Divergence:
    """An ``on_epoch`` hook noting, per seed, the first epoch whose loss is NaN or inf."""

    def __init__(self):
        self.first = {}

    def __call__(self, phase, epoch, total, losses, state):
        if phase == "start":
            return
        for i in np.flatnonzero(~np.isfinite(np.atleast_1d(np.asarray(losses)))):
            self.first.setdefault(int(i), f"{phase} epoch {epoch}")

    def where(self, i: int) -> str:
        return self.first.get(i, "in its final objective")


def _load(args):
    from jaxclust import data

    return data.load(args.dataset, data_dir=args.data_dir, subset=args.subset,
                     seed=args.seed, source=args.source, label_column=args.label_column,
                     r_min=args.r_min, value_range=args.value_range)


def cmd_fit(args) -> int:
    import jax
    import jax.numpy as jnp

    from jaxclust import config, metrics, plots, record, runner, store
    from jaxclust.methods import get
    from jaxclust.validation import check_n_clusters, check_positive_int

    start = time.perf_counter()
    record.git_commit()  # the code this run loaded, not a checkout made while it trains
    method = get(args.method)
    if args.coordinator or args.num_processes is not None or args.process_id is not None:
        runner.initialize_processes(args.coordinator, args.num_processes, args.process_id)
    mesh = None
    if args.mesh_data is not None or jax.process_count() > 1:
        mesh = runner.seed_mesh(data=args.mesh_data or 1)
    x, y = _load(args)
    k = args.n_clusters
    if k is None:
        if y is None:
            raise ValueError("--n-clusters is required for data without labels")
        k = len(np.unique(y))
    check_n_clusters(k, x.shape[0])
    check_positive_int(args.seeds, "--seeds")
    index = getattr(args, "expert_index", 0)
    if not 0 <= index < x.shape[0]:
        raise ValueError(f"--expert-index must be in [0, {x.shape[0]}), got {index}")
    cfg = config.from_args(method, args, args.preset, n_clusters=k)
    print(f"{method.name}: preset {args.preset}", flush=True)
    out = Path(args.out or f"runs/{method.name}-{Path(args.dataset).stem}")
    out.mkdir(parents=True, exist_ok=True)
    checkpoints = None
    if args.checkpoint_every or args.resume:
        checkpoints = store.Checkpoints(out / "checkpoints", cfg)
    progress = _Progress(args.no_progress or jax.process_index() > 0)
    divergence = _Divergence()

    def on_epoch(*event):
        progress(*event)
        divergence(*event)

    res = runner.fit_seeds(method, runner.seed_keys(args.seed, args.seeds), x, cfg, mesh=mesh,
                           checkpoints=checkpoints, checkpoint_every=args.checkpoint_every,
                           resume=args.resume, on_epoch=on_epoch,
                           start=getattr(args, "start", "own"))
    progress.close()
    cfg = res.config  # "auto" settings made concrete for x
    states = res.states if jax.process_count() == 1 else runner.gathered(res.states)
    if jax.process_index() > 0:
        return 0  # process 0 writes the output
    xj = jnp.asarray(x)
    wall = time.perf_counter() - start
    labels_all, objectives = np.asarray(res.labels), np.asarray(res.objectives)
    diverged = np.flatnonzero(~np.isfinite(objectives))
    if diverged.size:
        where = "; ".join(f"seed {args.seed + i}: loss NaN or inf from {divergence.where(i)}"
                          for i in diverged)
        if diverged.size == objectives.size:
            raise TrainingDiverged(f"training diverged ({where}); lower the learning rates "
                                   f"(see `jaxclust fit {method.name} --help`)")
        print(f"warning: training diverged ({where}); those seeds are left out of the choice "
              "of the kept seed", file=sys.stderr)
    best = runner.kept_seed(objectives, labels_all, args.keep)
    state = jax.tree.map(lambda a: a[best], states)
    flat = config.flatten(cfg)
    command = "jaxclust " + shlex.join(sys.argv[1:] if args.argv is None else args.argv)
    per_seed = []
    for i, (labels, objective) in enumerate(zip(labels_all, objectives)):
        scores = metrics.evaluate(y, labels) if y is not None else None
        rec = record.make(method=method.name, dataset=args.dataset, seed=args.seed + i,
                          metrics=scores, objective=objective, epochs=res.epochs, config=flat,
                          preset=args.preset,
                          chosen_by="paper" if args.preset == "paper" else "default",
                          wall_time_s=wall, command=command,
                          extra={"n_samples": int(x.shape[0]), "seconds": res.seconds,
                                 "n_seeds_in_run": args.seeds, "kept": i == best,
                                 "start": getattr(args, "start", "own"),
                                 "clusters_used": int(np.unique(labels).size)})
        record.write(out / f"seed{args.seed + i}.json", rec)
        per_seed.append(rec)
    np.save(out / "labels.npy", labels_all[best])
    np.save(out / "labels_all.npy", labels_all)
    if args.seeds > 1:
        np.save(out / "labels_consensus.npy", np.asarray(res.consensus))
    used = np.unique(labels_all[best]).size
    if used < k:
        print(f"note: seed {args.seed + best} uses {used} of {k} clusters", file=sys.stderr)
    figures = []
    if not args.no_plot:
        z = np.asarray(method.features(state, xj, cfg))
        plots.embedding(out / "embedding.png", z, labels_all[best], y,
                        features=method.features_name,
                        title=f"{method.name} on {Path(args.dataset).stem}, seed "
                              f"{args.seed + best}:")
        figures.append("embedding.png")
        if method.reconstruct is not None:
            x_hat = np.asarray(method.reconstruct(state, xj[index:index + 1], cfg))
            err = ((x_hat - x[index:index + 1, None]) ** 2).sum(axis=-1)
            plots.experts(out / "experts.png", x[index:index + 1], x_hat, err,
                          title="each expert's reconstruction and squared error",
                          row_names=[f"point {index}"])
            figures.append("experts.png")
    if y is not None:
        m = per_seed[best]["metrics"]
        rule = ("the method's own objective" if args.keep == "objective" or args.seeds < 3
                else "the seeds' agreement")
        where = f"seed={args.seed + best}" + (f", kept of {args.seeds} by {rule}"
                                               if args.seeds > 1 else "")
        print(f"{method.name} on {args.dataset} (n={x.shape[0]}, k={k}, {where}): "
              f"NMI {m['nmi']:.4f}  ARI {m['ari']:.4f}  ACC {m['acc']:.4f}  ({wall:.1f} s)")
        if args.seeds > 1:
            print(f"over {args.seeds} seeds: " + "  ".join(
                f"{n.upper()} {np.mean([r['metrics'][n] for r in per_seed]):.4f} ± "
                f"{np.std([r['metrics'][n] for r in per_seed]):.4f}"
                for n in ("nmi", "ari", "acc")))
            c = metrics.evaluate(y, np.asarray(res.consensus))
            print(f"consensus of the {args.seeds} seeds: NMI {c['nmi']:.4f}  ARI {c['ari']:.4f}"
                  f"  ACC {c['acc']:.4f}")
    print(f"wrote {out}/labels.npy, labels_all.npy"
          + (", labels_consensus.npy" if args.seeds > 1 else "") + ", seed*.json"
          + "".join(f", {f}" for f in figures))
    return 0


def cmd_select_k(args) -> int:
    import json

    import jax

    from jaxclust import config, plots, select
    from jaxclust.methods import get
    from jaxclust.validation import check_positive_int

    start = time.perf_counter()
    method = get(args.method)
    x, y = _load(args)
    ks = _parse_ks(args.k)
    check_positive_int(args.seeds, "--seeds")
    cfg = config.from_args(method, args, args.preset, n_clusters=ks[0])
    print(f"{method.name}: preset {args.preset}", flush=True)
    out = Path(args.out or f"runs/select-k-{method.name}-{Path(args.dataset).stem}")
    out.mkdir(parents=True, exist_ok=True)

    rows_path = out / "select_k_rows.json"
    flat = {name: v for name, v in config.flatten(cfg).items() if name != "n_clusters"}
    setting = json.loads(json.dumps({  # as it reads back from disk (tuples become lists)
        "method": method.name, "dataset": args.dataset, "seed": args.seed,
        "seeds": args.seeds, "subset": args.subset, "val_fraction": args.val_fraction,
        "config": flat}))
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

    res = select.select_k(method, x, ks, cfg, seed=args.seed, n_seeds=args.seeds, y=y,
                          val_fraction=args.val_fraction, criterion=args.criterion,
                          on_k=report, done=dict(done))
    result = {"method": method.name, "dataset": args.dataset,
              "seeds": [args.seed + i for i in range(args.seeds)],
              "ks": res.ks.tolist(), "suggested_k": res.suggested, "criterion": res.criterion,
              **{name: getattr(res, name).tolist() for name in
                 ("train_loss", "val_loss", "g", "silhouette")},
              "nmi": None if res.nmi is None else res.nmi.tolist(),
              "val_fraction": args.val_fraction, "config": flat, "preset": args.preset,
              "n_samples": int(x.shape[0]), "wall_time_s": time.perf_counter() - start,
              "device": jax.devices()[0].device_kind,
              "command": "jaxclust " + shlex.join(sys.argv[1:] if args.argv is None
                                                  else args.argv)}
    (out / "select_k.json").write_text(json.dumps(result, indent=2))
    plots.select_k(out / "select_k.png", res, title=f"{method.name} on {args.dataset}:")
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


def main(argv=None) -> int:
    words = sys.argv[1:] if argv is None else list(argv)
    args = _build_parser(methods=any(w in COMMANDS for w in words)).parse_args(argv)
    args.argv = None if argv is None else list(argv)
    try:
        return {"fit": cmd_fit, "select-k": cmd_select_k}[args.command](args)
    except (ValueError, TypeError, FileNotFoundError, ImportError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except TrainingDiverged as err:
        print(f"error: {err}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
