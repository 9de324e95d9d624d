"""Run the cells of a published table, one record per cell and seed (resumable).

    python experiments/run.py mnist --data-dir ../shared/data --seeds 0 1 2 3 4
    python experiments/run.py mnist --cells dec_mnist --seeds 3 --data-dir ../shared/data
    python experiments/run.py --list

A table is a config file, ``experiments/configs/<table>.toml`` (or a path to one): it opens
with its command and the published numbers, then lists its cells, each a method, a data set
(with optional ``r_min``/``subset``/``value_range``/``data_per_seed``), its flat parameters
(:mod:`jaxclust.config`, the same names as ``jaxclust fit METHOD --help``) over an optional
``preset`` (default ``paper``), ``chosen_by`` and the source's numbers. A seed whose record
(``results/<table>/<cell>/seed<k>.json``, :mod:`jaxclust.record`; its labels beside it in
``seed<k>.labels.npz``) exists is skipped, so a table fills up over several sittings. Each
seed is one call of the runner (:func:`jaxclust.runner.fit_seeds`), but in a cell that names
its ``start`` (``"consensus"``: the seeds start from their k-means partitions' consensus;
``"own"``: its pair, each from its own): its seeds run together, in one call, on one shared
pre-training, and are written (or skipped) together. Autoencoder pre-training
is checkpointed every ``--checkpoint-every`` epochs in a ``--cache`` folder
(:func:`jaxclust.store.pretrain_cache`) shared by the cells with the same (data, seed, pre-
training config) — the papers do the same (one pre-training, several clustering heads); the
clustering phase is checkpointed there too, so a run cut off mid-way resumes where it
stopped; ``--peek`` scores a cell's latest clustering checkpoint (a run going on in another
process, or one cut off) and writes nothing.
``python experiments/report.py`` then builds RESULTS.md.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shlex
import time
import tomllib
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxclust import config, data, metrics, record, runner, store
from jaxclust.methods import get, pretrain

HERE = Path(__file__).resolve().parent
CONFIGS = HERE / "configs"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def load_table(table: str) -> dict:
    """A table's config: a name under ``experiments/configs/`` or a path to a ``.toml``."""
    path = Path(table) if table.endswith(".toml") else CONFIGS / f"{table}.toml"
    if not path.is_file():
        raise FileNotFoundError(f"no table config {path}; `python experiments/run.py --list`")
    with path.open("rb") as f:
        spec = tomllib.load(f)
    spec["name"] = path.stem
    return spec


def tables() -> dict:
    """Every table config by name, in their RESULTS.md order."""
    specs = [load_table(str(p)) for p in CONFIGS.glob("*.toml")]
    return {s["name"]: s for s in sorted(specs, key=lambda s: s["order"])}


class Progression:
    """ACC after every epoch of the clustering phase, and the features of 2 000 fixed points
    at epochs 0, 1, 2, 4, 8, … and the last (DEC's Fig. 5, with PCA instead of t-SNE): a
    runner hook (``on_epoch``). The figure goes to ``--cache``/figures (git-ignored)."""

    def __init__(self, folder: Path, title: str, method, xj, y, cfg):
        self.folder, self.title, self.method = folder, title, method
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

    def finish(self, name: str) -> dict:
        from sklearn.decomposition import PCA

        from jaxclust.plots import _pyplot

        plt = _pyplot()
        shots = self.snapshots[-6:]
        fig, axes = plt.subplots(1, len(shots), figsize=(2.6 * len(shots), 2.8), squeeze=False)
        for ax, (e, z) in zip(axes[0], shots):
            proj = PCA(2).fit_transform(z)
            ax.scatter(proj[:, 0], proj[:, 1], c=self.y[self.points], s=2, cmap="tab10")
            ax.set_title(f"epoch {e}: ACC {self.acc[e]:.3f}", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
        fig.suptitle(f"{self.title}: features (PCA of {len(self.points)} points, coloured by "
                     "class)", fontsize=9)
        fig.tight_layout()
        self.folder.mkdir(parents=True, exist_ok=True)
        fig.savefig(self.folder / name, dpi=110)
        plt.close(fig)
        return {"acc_per_epoch": self.acc, "figure": name}


def plot_experts(folder: Path, name: str, title: str, method, state, x, y, cfg) -> str:
    """k-DAE/DAMIC: the first point of every class, reconstructed by every expert (k-DAE
    Fig. 2), in ``folder`` (git-ignored: copy one to experiments/figures/ when a markdown
    file shows it); returns the file name."""
    from jaxclust import plots

    first = [int(np.flatnonzero(y == c)[0]) for c in np.unique(y)]
    x_hat = np.asarray(method.reconstruct(state, jnp.asarray(x[first]), cfg))
    folder.mkdir(parents=True, exist_ok=True)
    plots.experts(folder / name, x[first], x_hat, ((x_hat - x[first][:, None]) ** 2).sum(-1),
                  title=f"{title}: the first point of each class and every expert's "
                        "reconstruction (red: the winner)",
                  row_names=[f"class {y[i]}" for i in first])
    return name


def run_seeds(opts, table: str, cell: str, spec: dict, x, y, seeds: list[int],
              command: str) -> list:
    """``seeds`` of one cell in one call of the runner (one seed, but every seed of a cell
    that names its ``start``): a ``(record, labels (n,))`` per seed."""
    k = len(np.unique(y))
    xj = jnp.asarray(x)
    t0 = time.perf_counter()
    extra = {"n_samples": int(x.shape[0]), "r_min": spec.get("r_min"),
             "host": platform.machine()}
    figures = Path(opts.cache) / "figures"
    stem = f"{cell}_seed{'-'.join(map(str, seeds))}"
    objectives, epochs = [float("nan")] * len(seeds), 0
    per_seed = [{} for _ in seeds]
    if spec["method"] == "sc":  # the spectral-clustering baseline, scikit-learn's
        from sklearn.cluster import SpectralClustering

        flat = {"n_clusters": k, "affinity": "nearest_neighbors", "n_neighbors": 10,
                "assign_labels": "kmeans", "implementation": "scikit-learn"}
        labels = [SpectralClustering(k, affinity="nearest_neighbors", n_neighbors=10,
                                     random_state=seed, n_jobs=1).fit_predict(x)
                  for seed in seeds]
    else:
        method, cfg, keys = cell_run(spec, k, xj, seeds)
        cache = ckpts = trace = None
        pre_epochs = cfg.ae.epochs if method.pretrains else 0
        if method.pretrains:
            cache = store.pretrain_cache(opts.cache, pretrain.phase_config(cfg), xj, keys)
            extra.update(pretrained_ae=cache.directory.name)
            start = store.pretrain_start(cache, pre_epochs)
            if start is not None and start[0] is not cache:  # the wall time covers the rest
                extra.update(pretrain_continued=f"{start[0].directory.name} at epoch {start[1]}")
                start[0].close()
        if spec.get("progression"):
            trace = Progression(figures, f"{cell}, seed {seeds[0]}", method, xj, y, cfg)
        elif method.epochs(cfg):
            # the clustering phase is checkpointed too (not with a progression, whose trace
            # needs every epoch): a run cut off mid-way resumes at its last checkpoint,
            # skipping the head's own pre-training (k-DAE/DAMIC's experts, DAMIC's gate)
            ckpts = store.Checkpoints(checkpoint_folder(opts, cell, spec, seeds, cfg), cfg)
            if ckpts.latest_step() is not None:
                extra.update(resumed_at_epoch=ckpts.latest_step() - pre_epochs)

        since = {}  # per phase, the last logged (epoch, time): the pace and the time left

        def hook(phase, epoch, total, losses, state):
            if trace:
                trace(phase, epoch, total, losses, state)
            every, now = opts.checkpoint_every, time.perf_counter()
            if phase == "start":
                since["cluster"] = epoch, now
                return
            done, then = since.setdefault(phase, (epoch, now))  # pre-training: from its 1st epoch
            if every and epoch % every == 0 and epoch > done:
                pace = (now - then) / (epoch - done)
                since[phase] = epoch, now
                name = "clustering" if phase == "cluster" else "pre-training"
                log(f"{stem}: {name} epoch {epoch}/{total} loss {float(losses[0]):.5f} "
                    f"({pace:.0f} s an epoch, ≈ {(total - epoch) * pace / 60:.0f} min left)")
                if ckpts and phase == "cluster":
                    log(f"checkpoint {stem} at clustering epoch {epoch}")

        res = runner.fit_seeds(method, keys, xj, cfg, checkpoints=ckpts,
                               checkpoint_every=opts.checkpoint_every,
                               resume=ckpts is not None, pretrain_cache=cache, on_epoch=hook,
                               start=spec.get("start", "own"))
        for c in (cache, ckpts):
            if c is not None:
                c.close()
        labels, epochs = list(res.labels), res.epochs
        objectives = [float(o) for o in res.objectives]
        extra.update(seconds=res.seconds)
        if "start" in spec:
            extra.update(seeds_in_run=seeds, start=spec["start"])
        if method.pretrains:
            starts = runner.fit_seeds(get("aekm"), keys, xj, pretrain.phase_config(cfg),
                                      pretrain_cache=store.pretrain_cache(
                                          opts.cache, pretrain.phase_config(cfg), xj, keys))
            for i, own in enumerate(starts.labels):
                per_seed[i].update(aekm_metrics=metrics.evaluate(y, np.asarray(own)))
        if method.epochs(cfg):
            extra.update(cluster_epochs=res.epochs - pre_epochs)
        if trace:
            extra.update(progression=trace.finish(f"progression_{stem}.png"))
        if method.reconstruct is not None:
            for i, seed in enumerate(seeds):
                state = jax.tree.map(lambda a: a[i], res.states)
                per_seed[i].update(experts_figure=plot_experts(
                    figures, f"experts_{cell}_seed{seed}.png", f"{cell}, seed {seed}", method,
                    state, x, y, cfg))
        flat = config.flatten(cfg)
    wall = time.perf_counter() - t0
    out = []
    for i, seed in enumerate(seeds):
        lab = np.asarray(labels[i])
        out.append((record.make(
            method=spec["method"], dataset=spec["dataset"], table=table, cell=cell, seed=seed,
            metrics=metrics.evaluate(y, lab), objective=objectives[i], epochs=epochs,
            config=flat, preset=spec.get("preset", "paper"), chosen_by=spec["chosen_by"],
            wall_time_s=wall, command=command, extra={**extra, **per_seed[i]}), lab))
    return out


def cell_run(spec: dict, k: int, xj, seeds: list[int]):
    """A cell's method, its config made concrete for ``xj`` with ``k`` clusters, and the
    seeds' keys."""
    method = get(spec["method"])
    cfg = runner.for_data(config.build(method, spec.get("preset", "paper"), n_clusters=k,
                                       **spec.get("config", {})), xj)
    return method, cfg, jax.vmap(jax.random.key)(jnp.asarray(seeds))


def checkpoint_folder(opts, cell: str, spec: dict, seeds: list[int], cfg) -> Path:
    """Where the clustering phase of ``seeds`` of ``cell`` is checkpointed (in ``--cache``),
    named by a digest of its config (and start)."""
    what = repr(cfg) if "start" not in spec else repr((cfg, spec["start"]))
    digest = hashlib.sha1(what.encode()).hexdigest()[:10]
    return Path(opts.cache) / f"{cell}_seed{'-'.join(map(str, seeds))}_{digest}"


def peek(opts, cell: str, spec: dict, x, y, seeds: list[int]) -> None:
    """Log the scores of the latest clustering checkpoint of ``seeds`` of ``cell`` (a run
    going on, or one cut off) against the labels, training nothing and writing nothing."""
    method, cfg, keys = cell_run(spec, len(np.unique(y)), jnp.asarray(x), seeds)
    folder = checkpoint_folder(opts, cell, spec, seeds, cfg)
    if not folder.exists():
        log(f"{cell} seeds {' '.join(map(str, seeds))}: no checkpoint in {folder}")
        return
    epoch, _, labels, objectives = runner.restore_seeds(
        method, keys, x, cfg, store.Checkpoints(folder, cfg))
    accs = []
    for seed, lab, obj in zip(seeds, np.asarray(labels), np.asarray(objectives)):
        m = metrics.evaluate(y, lab)
        accs.append(m["acc"])
        log(f"{cell} seed {seed} at clustering epoch {epoch}: NMI {m['nmi']:.4f} ARI "
            f"{m['ari']:.4f} ACC {m['acc']:.4f} objective {obj:.5g}")
    log(f"{cell} at clustering epoch {epoch}: ACC {np.mean(accs):.4f} ± {np.std(accs):.4f}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("table", nargs="?", help="a name in experiments/configs/ or a .toml path")
    p.add_argument("--list", action="store_true", help="print the tables and their cells")
    p.add_argument("--cells", nargs="+", default=None, help="only these cells")
    p.add_argument("--fit-commands", action="store_true",
                   help="print each cell as one `jaxclust fit` command (all its seeds in one "
                        "program) instead of running it")
    p.add_argument("--peek", action="store_true",
                   help="score the latest clustering checkpoint of each cell's seeds (a "
                        "long run going on, or one cut off) instead of running it; writes "
                        "nothing")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--data-dir", default=None)
    p.add_argument("--checkpoint-every", type=int, default=10,
                   help="epochs between checkpoints (in --cache) of AE pre-training and of "
                        "the clustering phase")
    p.add_argument("--results", default=str(HERE / "results"))
    p.add_argument("--cache", default=str(HERE.parent / "runs" / "cache"))
    return p


def main(argv=None):
    record.git_commit()  # the code this process runs (records written hours later name it)
    p = build_parser()
    opts = p.parse_args(argv)
    if opts.list or opts.table is None:
        for name, spec in tables().items():
            print(f"{name}: {spec['doc']}\n  " + "\n  ".join(spec["cells"]))
        return
    spec = load_table(opts.table)
    unknown = sorted(set(opts.cells or ()) - set(spec["cells"]))
    if unknown:
        p.error(f"{spec['name']} has no cell {', '.join(unknown)}; its cells: "
                f"{', '.join(spec['cells'])}")
    for cell, cspec in spec["cells"].items():
        if opts.cells and cell not in opts.cells:
            continue
        if opts.fit_commands:
            print(fit_command(cspec, opts))
            continue
        fixed = None if cspec.get("data_per_seed") else load_cell_data(cspec, opts.data_dir, 0)
        together = "start" in cspec
        if together and fixed is None:
            p.error(f"{cell}: a cell whose seeds start together needs one data set for all "
                    "(no data_per_seed)")
        if opts.peek:
            for group in ([opts.seeds] if together else [[seed] for seed in opts.seeds]):
                peek(opts, cell, cspec, *(fixed or load_cell_data(cspec, opts.data_dir,
                                                                  group[0])), group)
            continue
        outs = {seed: Path(opts.results) / spec["name"] / cell / f"seed{seed}.json"
                for seed in opts.seeds}
        todo = [seed for seed, out in outs.items() if not out.exists()]
        for seed in sorted(set(opts.seeds) - set(todo)):
            log(f"skip {outs[seed]}: already done")
        if together and todo and len(todo) < len(opts.seeds):
            p.error(f"{cell}: its seeds start together, but seeds "
                    f"{sorted(set(opts.seeds) - set(todo))} have records and {todo} do not: "
                    "run the missing ones as a set of their own, or remove the records")
        for group in ([todo] if together and todo else [[seed] for seed in todo]):
            x, y = fixed or load_cell_data(cspec, opts.data_dir, group[0])
            command = shlex.join(["python", "experiments/run.py", opts.table, "--cells", cell,
                                  "--seeds", *map(str, group), *_passed(opts)])
            log(f"{spec['name']}/{cell} seed {' '.join(map(str, group))}")
            for seed, (rec, labels) in zip(group, run_seeds(opts, spec["name"], cell, cspec,
                                                            x, y, group, command)):
                record.write(outs[seed], rec)
                np.savez_compressed(labels_path(outs[seed]), labels=labels.astype(np.uint16))
                m = rec["metrics"]
                log(f"{spec['name']}/{cell} seed {seed}: NMI {m['nmi']:.4f} ARI "
                    f"{m['ari']:.4f} ACC {m['acc']:.4f} ({rec['wall_time_s']:.0f} s)")


def load_cell_data(cspec: dict, data_dir, seed: int):
    """A cell's ``(x, y)``: drawn once (seed 0), or with each training seed where the cell
    says ``data_per_seed = true`` (the synthetic generator, subsets: seeds vary the data)."""
    return data.load(cspec["dataset"], data_dir=data_dir, subset=cspec.get("subset"),
                     seed=seed if cspec.get("data_per_seed") else 0, r_min=cspec.get("r_min"),
                     value_range=cspec.get("value_range"))


def labels_path(record_path: Path) -> Path:
    """Where a seed's labels sit beside its record: ``seed<k>.labels.npz`` (array ``labels``;
    the report's consensus over seeds reads them)."""
    return record_path.with_name(record_path.stem + ".labels.npz")


def fit_command(spec: dict, opts) -> str:
    """The cell as one ``jaxclust fit`` command: its flat parameters are the method's flags
    (scikit-learn's spectral clustering has none)."""
    if spec["method"] == "sc":
        return f"# sc on {spec['dataset']}: scikit-learn's SpectralClustering, run.py only"
    argv = ["jaxclust", "fit", spec["method"], "--dataset", spec["dataset"],
            "--seed", str(opts.seeds[0]), "--seeds", str(len(opts.seeds))]
    if opts.data_dir:
        argv += ["--data-dir", opts.data_dir]
    for name in ("preset", "subset", "r_min", "value_range", "start"):
        if name in spec:
            value = spec[name] if isinstance(spec[name], list) else [spec[name]]
            argv += ["--" + name.replace("_", "-"), *map(str, value)]
    for name, value in spec.get("config", {}).items():
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            argv.append(flag if value else "--no-" + flag[2:])
        elif isinstance(value, list):
            argv += [flag, *map(str, value)]
        else:
            argv += [flag, str(value)]
    return shlex.join(argv)


def _passed(opts) -> list[str]:
    """The options a single cell's command repeats (those that differ from the defaults),
    with paths relative to the repository root, where the recorded command runs."""
    defaults = build_parser().parse_args([])
    out = []
    for name in ("data_dir", "checkpoint_every", "results", "cache"):
        value = getattr(opts, name)
        if value != getattr(defaults, name):
            out += [f"--{name.replace('_', '-')}",
                    str(value) if name == "checkpoint_every" else from_root(value)]
    return out


def from_root(path) -> str:
    """``path`` (relative to the working directory) as the repository root sees it: the
    recorded commands run from there, wherever the experiment was started."""
    return os.path.relpath(Path(path).resolve(), HERE.parent)


if __name__ == "__main__":
    main()
