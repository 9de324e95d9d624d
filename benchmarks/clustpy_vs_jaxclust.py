"""jaxclust vs ClustPy: per-epoch time of AE pre-training, DEC, IDEC, DCN, DKM and VaDE, in
one run.

    bash benchmarks/setup_clustpy.sh .venv-clustpy        # the peer's own environment
    .venv-clustpy/bin/python benchmarks/clustpy_vs_jaxclust.py --data-dir ../shared/data \
        [--n 10000] [--pretrain-epochs 10] [--cluster-epochs 5] [--methods dec idec dcn dkm vade]
        [--seeds 0 1 2 3 4]

Same data (the first ``--n`` MNIST images), same network (d-500-500-2000-10, ReLU, MSE),
batch 256, Adam (pre-training 1e-3, clustering 1e-4: ClustPy's defaults), the same numbers
of epochs. DEC's target is computed per mini-batch on both sides (ClustPy's way:
``target="batch"``); IDEC weighs the KL by 0.1 on both sides; DCN's λ is ClustPy's
``clustering_loss_weight`` default. DKM: ClustPy's defaults on both sides (MSE, λ 0.1, α 1000
held constant). VaDE: a sigmoid decoder with binary cross-entropy on both sides, a diagonal
Gaussian mixture on the pre-trained embedding, the clustering rate constant (ClustPy has no
decay). Each (method, library) runs in its own child process, one
after another, so neither shares threads with the other; the first epoch of each phase
(compilation for jaxclust, warm-up for torch) is reported apart and the per-epoch time is the
mean of the rest. ClustPy's epochs are timed by wrapping the ``tqdm`` progress bars its loops
advance once per epoch — its computation is untouched. Peak memory: the child's maximum
resident set size.
ACC/NMI of both on the same config say we are not faster by doing less. They score each
method's own labels on both sides: ClustPy's ``labels_`` come from one more clustering of the
final embedding (k-means; for VaDE a full-covariance Gaussian mixture), its method's own are
``<method>_labels_`` (``dec_labels_``, ``vade_labels_``, …); its ``labels_`` are recorded
beside them (``clustpy_reclustered``). With several
``--seeds`` each seed is its own pair of child processes (seed s: ``random_state=s`` on
ClustPy's side, key s on ours), and the accuracy is compared as mean ± std over the seeds.

On a GPU both sides use it: ClustPy picks CUDA itself (``detect_device``) and JAX its
default device; each child also records its device and peak device memory. ClustPy's data
loader runs on the host either way (its own design, left as is).

torchvision: ClustPy imports it at module level for data augmentation, which these runs do
not use. The torchvision wheel on PyPI is built for a different torch build than the CPU
torch 2.13.0 on these machines and fails to load its operators, so the child puts a
placeholder ``torchvision`` module on the path (``--torchvision-stub``, on by default); any
use of augmentation would fail loudly, not silently. Where a matching torchvision is
installed (the GPU image), pass ``--no-torchvision-stub``.

Writes benchmarks/results/clustpy_vs_jaxclust.json.
"""
import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
import types
from collections import defaultdict
from pathlib import Path

LR_PRE, LR_CLUSTER, BATCH, LATENT = 1e-3, 1e-4, 256, 10


def load(args):
    from jaxclust import data

    x, y = data.load("mnist", data_dir=args.data_dir)
    return x[: args.n], y[: args.n]


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def split_first(times):
    return {"first_epoch_s": times[0], "epoch_s": sum(times[1:]) / max(len(times) - 1, 1)}


def run_jaxclust(method: str, seed: int, args) -> dict:
    import jax
    import jax.numpy as jnp

    from jaxclust import metrics, runner, train
    from jaxclust.methods import dcn, dec, dkm, get, vade

    x, y = load(args)
    xj = jnp.asarray(x)
    ae = train.AEConfig(epochs=args.pretrain_epochs, batch_size=BATCH, lr=LR_PRE)
    if method == "dcn":
        cfg = dcn.Config(10, ae, n_init=10, lam=args.dcn_lambda, lr=LR_CLUSTER,
                         batch_size=BATCH, epochs=args.cluster_epochs)
    elif method == "dkm":
        cfg = dkm.Config(10, ae, n_init=10, lam=0.1, alpha=1000.0, lr=LR_CLUSTER,
                         batch_size=BATCH, epochs=args.cluster_epochs)
    elif method == "vade":
        ae = train.AEConfig(epochs=args.pretrain_epochs, batch_size=BATCH, lr=LR_PRE,
                            output_activation="sigmoid", loss="bce")
        cfg = vade.Config(10, ae, n_init=10, lr=LR_CLUSTER, lr_decay=1.0, min_lr=LR_CLUSTER,
                          adam_eps=1e-8, batch_size=BATCH, epochs=args.cluster_epochs)
    else:
        cfg = dec.Config(10, ae, n_init=10, idec=method == "idec", optimizer="adam",
                         lr=LR_CLUSTER, batch_size=BATCH, target="batch", tol=0.0,
                         epochs=args.cluster_epochs)

    times = defaultdict(list)
    clock = [time.perf_counter()]

    def timed(phase, epoch, total, losses, state):  # a runner hook: each epoch's wall time
        if phase != "start":
            jax.block_until_ready(losses)
            times[phase].append(time.perf_counter() - clock[0])
        clock[0] = time.perf_counter()  # the clustering phase's clock starts after k-means

    res = runner.fit_seeds(get(method), runner.seed_keys(seed, 1), xj, cfg, on_epoch=timed)
    pre_times, cluster_times = times["pre-train"], times["cluster"]
    labels = res.labels[0]
    dev = jax.devices()[0]
    stats = dev.memory_stats() or {}
    return {"pretrain": split_first(pre_times), "cluster": split_first(cluster_times),
            "metrics": metrics.evaluate(y, labels), "peak_rss_mb": peak_mb(),
            "device": dev.device_kind, "peak_device_mb": stats.get("peak_bytes_in_use", 0) / 2**20,
            "version": jax.__version__}


class EpochTimer:
    """Stands in for ``tqdm.tqdm``/``tqdm.trange`` (ClustPy's loops use both, iterated or
    ``update``-d once per epoch): records the time between consecutive epochs per ``desc``."""

    def __init__(self, tqdm_module):
        self.times = defaultdict(list)
        times, base = self.times, tqdm_module.tqdm

        class Timed(base):
            def __init__(self, *a, desc="", **kw):
                kw["disable"] = True
                super().__init__(*a, desc=desc, **kw)
                self._out, self._t = times[desc], time.perf_counter()

            def _tick(self):
                now = time.perf_counter()
                self._out.append(now - self._t)
                self._t = now

            def update(self, n=1):
                self._tick()
                return super().update(n)

            def __iter__(self):
                for item in super().__iter__():
                    yield item
                    self._tick()

        tqdm_module.tqdm = Timed
        tqdm_module.trange = lambda n, *a, **kw: Timed(range(n), *a, **kw)


def install_torchvision_placeholder() -> None:
    """Just the names ClustPy imports at module level: ``torchvision.transforms`` and the
    ``Weights``/``WeightsEnum`` types its ResNet autoencoders (unused here) refer to."""
    import enum

    names = ("torchvision", "torchvision.transforms", "torchvision.models",
             "torchvision.models._api")
    mods = {name: types.ModuleType(name) for name in names}
    mods["torchvision"].transforms = mods["torchvision.transforms"]
    mods["torchvision"].models = mods["torchvision.models"]
    mods["torchvision.models"]._api = mods["torchvision.models._api"]
    mods["torchvision.models._api"].Weights = type("Weights", (), {})
    mods["torchvision.models._api"].WeightsEnum = enum.Enum
    for name, mod in mods.items():
        mod.__path__ = []  # a package, so submodule imports resolve from sys.modules
        sys.modules[name] = mod


def run_clustpy(method: str, seed: int, args) -> dict:
    if args.torchvision_stub:
        install_torchvision_placeholder()
    import torch
    import tqdm

    timer = EpochTimer(tqdm)
    from clustpy.deep import DCN, DEC, DKM, IDEC, VaDE

    from jaxclust import metrics

    torch.set_num_threads(args.threads)
    x, y = load(args)
    common = dict(n_clusters=10, batch_size=BATCH, pretrain_epochs=args.pretrain_epochs,
                  clustering_epochs=args.cluster_epochs, embedding_size=LATENT,
                  pretrain_optimizer_params={"lr": LR_PRE},
                  clustering_optimizer_params={"lr": LR_CLUSTER}, random_state=seed)
    if method == "dcn":
        est = DCN(clustering_loss_weight=args.dcn_lambda, **common)
    elif method == "dkm":
        est = DKM(**common)
    elif method == "vade":
        est = VaDE(ssl_loss_weight=args.clustpy_vade_ssl_weight, **common)
    else:
        est = {"dec": DEC, "idec": IDEC}[method](**common)
    est.fit(x)
    cuda = torch.cuda.is_available()
    (pre_desc, pre), (cl_desc, cl) = list(timer.times.items())
    assert len(pre) == args.pretrain_epochs, {d: len(t) for d, t in timer.times.items()}
    assert len(cl) == args.cluster_epochs, {d: len(t) for d, t in timer.times.items()}
    return {"pretrain": split_first(pre), "cluster": split_first(cl),
            "metrics": metrics.evaluate(y, getattr(est, f"{method}_labels_")),
            "metrics_reclustered": metrics.evaluate(y, est.labels_), "peak_rss_mb": peak_mb(),
            "device": torch.cuda.get_device_name() if cuda else "cpu",
            "peak_device_mb": torch.cuda.max_memory_allocated() / 2**20 if cuda else 0,
            "version": torch.__version__}


def child(lib: str, method: str, seed: int) -> dict:
    """One (library, method, seed) fit in a fresh process; its result dict."""
    cmd = [sys.executable, __file__, *sys.argv[1:], "--child", lib, method, str(seed)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    line = [s for s in out.stdout.splitlines() if s.startswith("RESULT ")]
    if out.returncode or not line:
        raise RuntimeError(f"{lib} {method} seed {seed} failed:\n{out.stderr[-4000:]}")
    return json.loads(line[0][len("RESULT "):])


def mean_epoch_s(runs: list[dict], phase: str) -> float:
    return sum(r[phase]["epoch_s"] for r in runs) / len(runs)


def summary(values: list[float]) -> dict:
    """Mean and population std of ``values``, with the values themselves."""
    return {"mean": statistics.fmean(values), "std": statistics.pstdev(values), "values": values}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=None)
    p.add_argument("--n", type=int, default=10000)
    p.add_argument("--pretrain-epochs", type=int, default=10)
    p.add_argument("--cluster-epochs", type=int, default=5)
    p.add_argument("--methods", nargs="+", default=["dec", "idec", "dcn", "dkm", "vade"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--dcn-lambda", type=float, default=0.05)
    p.add_argument("--clustpy-vade-ssl-weight", type=float, default=1.0,
                   help="ClustPy VaDE's ssl_loss_weight (its default 1 adds the reconstruction "
                        "summed over the batch to the batch-mean KL; 1/batch size puts both on "
                        "the paper's per-point ELBO)")
    p.add_argument("--threads", type=int, default=2, help="torch threads (this machine: 2)")
    p.add_argument("--torchvision-stub", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--child", nargs=3, metavar=("LIBRARY", "METHOD", "SEED"),
                   help=argparse.SUPPRESS)
    p.add_argument("--out", default=str(Path(__file__).parent / "results"
                                        / "clustpy_vs_jaxclust.json"))
    args = p.parse_args()
    if args.child:
        lib, method, seed = args.child
        result = (run_jaxclust if lib == "jaxclust" else run_clustpy)(method, int(seed), args)
        print("RESULT " + json.dumps(result))
        return

    rows = []
    record = {"command": " ".join(["python", *sys.argv]), "machine": platform.machine(),
              "n": args.n, "pretrain_epochs": args.pretrain_epochs,
              "cluster_epochs": args.cluster_epochs, "seeds": args.seeds, "rows": rows}
    for method in args.methods:
        row = {"method": method}
        for lib in ("jaxclust", "clustpy"):
            row[lib] = [child(lib, method, seed) for seed in args.seeds]
        for phase in ("pretrain", "cluster"):
            row[f"{phase}_speedup"] = (mean_epoch_s(row["clustpy"], phase)
                                       / mean_epoch_s(row["jaxclust"], phase))
        for metric in ("acc", "nmi"):
            row[metric] = {lib: summary([r["metrics"][metric] for r in row[lib]])
                           for lib in ("jaxclust", "clustpy")}
            row[metric]["clustpy_reclustered"] = summary(
                [r["metrics_reclustered"][metric] for r in row["clustpy"]])
        rows.append(row)
        Path(args.out).write_text(json.dumps(record, indent=2))  # each method as it finishes
        print(f"{method}: pre-train epoch {mean_epoch_s(row['jaxclust'], 'pretrain'):.2f} s vs "
              f"{mean_epoch_s(row['clustpy'], 'pretrain'):.2f} s "
              f"({row['pretrain_speedup']:.2f}×); {method} epoch "
              f"{mean_epoch_s(row['jaxclust'], 'cluster'):.2f} s vs "
              f"{mean_epoch_s(row['clustpy'], 'cluster'):.2f} s ({row['cluster_speedup']:.2f}×); "
              f"ACC {row['acc']['jaxclust']['mean']:.3f} ± {row['acc']['jaxclust']['std']:.3f} vs "
              f"{row['acc']['clustpy']['mean']:.3f} ± {row['acc']['clustpy']['std']:.3f} "
              f"({len(args.seeds)} seeds)", flush=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
