"""Resumable experiment runner: one JSON record per (method, dataset, seed).

    python experiments/run.py --method aekm --dataset mnist --data-dir ../shared/data \\
        --seeds 0 1 2 --ae-epochs 100

A seed whose record already exists in ``--results`` is skipped, so a table fills up over
several sittings. Each seed is one call of the runner (:func:`jaxclust.runner.fit_seeds`).
Autoencoder pre-training is checkpointed every ``--checkpoint-every`` epochs in a
``--cache`` folder (:func:`jaxclust.store.pretrain_cache`) shared between methods of the same
(data, seed, pre-training config) — the papers do the same (one pre-training, several
clustering heads); a record names it in ``pretrained_ae``. The clustering phase is
checkpointed there too (a folder named by the record and a digest of its config), so a run
cut off mid-way resumes where it stopped. The flags map onto the methods' flat parameters
(:mod:`jaxclust.config`) in :func:`flat_values`.
"""
from __future__ import annotations

import argparse
import hashlib
import platform
import shlex
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxclust import config, data, metrics, nets, record, runner, store
from jaxclust.methods import get, kdae, pretrain

# methods that start from a pre-trained autoencoder (cached per data set and seed)
HEADS = ("aekm", "dec", "idec", "dcn", "kdae", "damic")
CLASSIFIERS = ("imsat", "rim", "dac")
# The pre-trained autoencoder's layers and loss (flat parameters).
AE_RECIPES = {"dec": {},
              "kdae": dict(ae_activation="elu", ae_batch_norm=True, ae_output_activation="sigmoid",
                           ae_loss="bce")}

HERE = Path(__file__).resolve().parent


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _digest(cfg) -> str:
    return hashlib.sha1(repr(cfg).encode()).hexdigest()[:10]


def flat_values(args) -> dict:
    """The flat parameters (:mod:`jaxclust.config`) this command line sets."""
    given = {"n_init": args.n_init, "clustering_lr": args.cluster_lr,
             "clustering_optimizer": args.cluster_optimizer, "clustering_epochs": args.max_epochs}
    if args.method in CLASSIFIERS:
        given.update(augment=args.augment if args.method == "imsat" else None,
                     eps_scale=args.eps_scale, weight_decay=args.weight_decay, l2=args.l2)
    else:
        given.update(ae_hidden=tuple(args.hidden), embedding_size=args.latent,
                     pretrain_epochs=args.ae_epochs, pretrain_batch_size=args.batch_size,
                     pretrain_lr=args.lr, ae_input_dropout=args.input_dropout,
                     ae_kernel_init=args.kernel_init, clustering_batch_size=args.batch_size,
                     update_interval=args.update_interval, tol=args.tol, lam=args.lam,
                     member_batch_size=args.batch_size, member_kernel_init=args.kernel_init,
                     member_batch_norm=args.member_batch_norm, member_hidden=args.member_hidden
                     and tuple(args.member_hidden), member_latent=args.member_latent,
                     member_epochs=args.member_epochs, error=args.error,
                     gate_hidden=args.gate_hidden and tuple(args.gate_hidden),
                     gate_epochs=args.gate_epochs, variance=args.variance,
                     **AE_RECIPES[args.ae_recipe])
    names = {p.name for p in config.params(get(args.method))}
    return {k: v for k, v in given.items() if k in names and v is not None}


class Progression:
    """ACC after every epoch of the clustering phase, and the features of 2 000 fixed points
    at epochs 0, 1, 2, 4, 8, … and the last (DEC's Fig. 5, with PCA instead of t-SNE): a
    runner hook (``on_epoch``)."""

    def __init__(self, args, seed, method, xj, y, cfg):
        self.args, self.seed, self.method = args, seed, method
        self.xj, self.y, self.cfg = xj, y, cfg
        self.points = np.random.default_rng(0).choice(xj.shape[0], min(2000, xj.shape[0]),
                                                      replace=False)
        self.acc, self.snapshots = [], []

    def __call__(self, phase, epoch, total, losses, state):
        if phase not in ("start", "cluster"):
            return
        state = jax.tree.map(lambda a: a[0], state)
        labels = np.asarray(self.method.predict(state, self.xj, self.cfg))
        self.acc.append(metrics.accuracy(self.y, labels))
        if epoch & (epoch - 1) == 0 or epoch == total:
            z = np.asarray(self.method.features(state, self.xj[self.points], self.cfg))
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
        folder = Path(self.args.cache) / "figures"
        folder.mkdir(parents=True, exist_ok=True)
        name = (f"progression_{self.args.method}_{_name(self.args)}{self.args.tag}"
                f"_seed{self.seed}.png")
        fig.suptitle(f"{self.args.method} on {self.args.dataset}: features (PCA of "
                     f"{len(self.points)} points, coloured by class)", fontsize=9)
        fig.tight_layout()
        fig.savefig(folder / name, dpi=110)
        plt.close(fig)
        return {"acc_per_epoch": self.acc, "figure": name}


def plot_experts(args, seed, method, state, x, y, cfg) -> str:
    """k-DAE/DAMIC: the first point of every class, reconstructed by every expert (k-DAE
    Fig. 2), in ``--cache``/figures (git-ignored: copy one to experiments/figures/ when a
    markdown file shows it); returns the file name."""
    from jaxclust import plots

    first = [int(np.flatnonzero(y == c)[0]) for c in np.unique(y)]
    name = f"experts_{args.method}_{_name(args)}{args.tag}_seed{seed}.png"
    folder = Path(args.cache) / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    x_hat = np.asarray(method.reconstruct(state, jnp.asarray(x[first]), cfg))
    plots.experts(folder / name, x[first], x_hat, ((x_hat - x[first][:, None]) ** 2).sum(-1),
                  title=f"{args.method} on {args.dataset}, seed {seed}: the first point of each "
                        "class and every expert's reconstruction (red: the winner)",
                  row_names=[f"class {y[i]}" for i in first])
    return name


def run_seed(args, x, y, seed: int, stem: str) -> dict:
    """One seed's record; ``stem`` (the record's file stem) also names its checkpoints."""
    k = len(np.unique(y))
    xj = jnp.asarray(x)
    t0 = time.perf_counter()
    extra = {}
    if args.method == "sc":  # the spectral-clustering baseline, scikit-learn's
        from sklearn.cluster import SpectralClustering

        flat = {"n_clusters": k, "affinity": "nearest_neighbors", "n_neighbors": 10,
                "assign_labels": "kmeans", "implementation": "scikit-learn"}
        labels = SpectralClustering(k, affinity="nearest_neighbors", n_neighbors=10,
                                    random_state=seed, n_jobs=1).fit_predict(x)
    else:
        method = get(args.method)
        cfg = config.build(method, n_clusters=k, **flat_values(args))
        keys = runner.seed_keys(seed, 1)
        cache = ckpts = trace = None
        if method.pretrains:
            cache = store.pretrain_cache(args.cache, pretrain.phase_config(cfg), xj, keys)
            pre_done = cache.latest_step() or 0
            extra.update(pretrained_ae=cache.directory.name)
            if pre_done < cfg.ae.epochs:
                log(f"pre-train {stem}: {cache.directory.name} at epoch {pre_done}"
                    f"/{cfg.ae.epochs}")
        if args.progression:
            trace = Progression(args, seed, method, xj, y, cfg)
        elif method.epochs(cfg):
            # the clustering phase is checkpointed too (not with --progression, whose trace
            # needs every epoch): a run cut off mid-way resumes at its last checkpoint,
            # skipping the head's own pre-training (k-DAE/DAMIC's experts, DAMIC's gate)
            ckpts = store.Checkpoints(Path(args.cache) / f"{stem}_{_digest(cfg)}", cfg)
            if ckpts.latest_step() is not None:
                done = ckpts.latest_step() - cfg.ae.epochs * method.pretrains
                extra.update(resumed_at_epoch=done)

        def hook(phase, epoch, total, losses, state):
            if trace:
                trace(phase, epoch, total, losses, state)
            if phase == "cluster" and args.checkpoint_every and epoch % args.checkpoint_every == 0:
                log(f"{args.method} seed {seed}: epoch {epoch} loss {float(losses[0]):.5f}")
                if ckpts:
                    log(f"checkpoint {stem} at clustering epoch {epoch}")

        res = runner.fit_seeds(method, keys, xj, cfg, checkpoints=ckpts,
                               checkpoint_every=args.checkpoint_every, resume=ckpts is not None,
                               pretrain_cache=cache, on_epoch=hook)
        for c in (cache, ckpts):
            if c is not None:
                c.close()
        state = jax.tree.map(lambda a: a[0], res.states)
        labels = res.labels[0]
        if method.pretrains:
            pre = runner.fit_seeds(get("aekm"), keys, xj, pretrain.phase_config(cfg),
                                   pretrain_cache=store.pretrain_cache(
                                       args.cache, pretrain.phase_config(cfg), xj, keys))
            extra.update(pretrain_seconds=res.seconds["pretrain"],
                         aekm_metrics=metrics.evaluate(y, np.asarray(pre.labels[0])))
        extra.update(objective=float(res.objectives[0]), cluster_seconds=res.seconds["cluster"],
                     epochs=res.epochs)
        if method.epochs(cfg):
            extra.update(cluster_epochs=res.epochs - cfg.ae.epochs * method.pretrains)
        if trace:
            extra.update(progression=trace.finish())
        if method.reconstruct is not None:
            extra.update(experts_figure=plot_experts(args, seed, method, state, x, y, cfg))
        flat = config.flatten(cfg)
    labels = np.asarray(labels)
    extra.update(n_samples=int(x.shape[0]), r_min=args.r_min, host=platform.machine())
    return record.make(
        method=args.method, dataset=args.dataset, table=args.table, cell=cell_name(args),
        seed=seed, metrics=metrics.evaluate(y, labels), objective=extra.pop("objective", np.nan),
        epochs=extra.pop("epochs", 0), config=flat, preset="paper", chosen_by=args.chosen_by,
        wall_time_s=time.perf_counter() - t0, extra=extra,
        command="python experiments/run.py " + shlex.join(args.argv))


def _name(args) -> str:
    """The data set's name in file names (a user file's stem), with the subset size and
    r_min if any."""
    return (Path(args.dataset).stem + (f"-sub{args.subset}" if args.subset else "")
            + (f"-rmin{args.r_min:g}" if args.r_min is not None else ""))


def cell_name(args) -> str:
    """The cell's name: method (and IMSAT's augmentation), data set, settings tag."""
    variant = "-rpt" if args.method == "imsat" and args.augment == "rpt" else ""
    return f"{args.method}{variant}_{_name(args)}{args.tag}"


def record_path(args, seed: int) -> Path:
    """Where a seed's record goes: ``RESULTS/<table>/<cell>/seed<k>.json``."""
    return Path(args.results) / args.table / cell_name(args) / f"seed{seed}.json"


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
    p.add_argument("--lam", type=float, default=None, help="DCN's λ (default 0.1)")
    p.add_argument("--checkpoint-every", type=int, default=10,
                   help="epochs between checkpoints (in --cache) of AE pre-training and of "
                        "the clustering phase")
    p.add_argument("--progression", action="store_true",
                   help="record ACC after every clustering epoch and plot the embedding's "
                        "progression (DEC's Fig. 5); needs labels and a method with an embedding")
    p.add_argument("--tag", default="", help="suffix of the cell's name (variants)")
    p.add_argument("--table", default="other", help="the table (folder under --results)")
    p.add_argument("--chosen-by", choices=record.CHOSEN_BY, default="paper",
                   help="how these settings were chosen: the source's (paper), ours fixed "
                        "beforehand (default), by a label-free criterion, or by looking at "
                        "ACC/NMI/ARI of this data set (labels)")
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
        out = record_path(args, seed)
        if out.exists():
            log(f"skip {out}: already done")
            continue
        rec = run_seed(args, x, y, seed, f"{cell_name(args)}_seed{seed}")
        record.write(out, rec)
        m = rec["metrics"]
        log(f"{args.table}/{rec['cell']} seed {seed}: NMI {m['nmi']:.4f} ARI {m['ari']:.4f} "
            f"ACC {m['acc']:.4f} ({rec['wall_time_s']:.0f} s)")

if __name__ == "__main__":
    main()
