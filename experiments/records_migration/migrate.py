"""One-off: rewrite the records of experiments/results/ (written before the redesign, 14
key sets) into the one schema of jaxclust.record, at results/<table>/<cell>/seed<k>.json.

    python experiments/records_migration/migrate.py

What is re-derived: the table and cell (from tables.py), the flat config (from the nested
one), the versions, the git commit that added the record, and — for every cell of a
table — a command that runs as written (it skips the seed, whose record exists; deleting
the record re-runs it). What cannot be: the method's final objective (never recorded
before; null); the commands of records outside the tables (their original command, kept in
``extra.original_command``, used flags run.py no longer has: ``extra.command_runs`` is
false). Each migrated record keeps every other old field under ``extra``.
"""
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))
import run  # noqa: E402
import tables  # noqa: E402

from jaxclust import config, record  # noqa: E402

RESULTS = HERE / "results"
MOVED = {"pretrain_seconds", "pretrained_ae", "aekm_metrics", "cluster_epochs",
         "experts_figure", "idle_experts", "converged", "cluster_seconds", "resumed_at_epoch",
         "progression", "n_samples", "r_min", "host"}


def cells() -> dict:
    """cell name → (table, method, dataset, extra flags), the first table listing it."""
    out = {}
    for table, (_, entries) in tables.TABLES.items():
        for dataset, method, extra in entries:
            args = run.build_parser().parse_args(["--method", method, "--dataset", dataset,
                                                  *extra])
            out.setdefault(run.cell_name(args), (table, method, dataset, extra))
    return out


def flat(cfg) -> dict:
    """A nested config dict (dataclasses.asdict) as the flat parameters."""
    out = {}

    def walk(d, prefix):
        for k, v in d.items():
            if isinstance(v, dict):
                walk(v, (*prefix, k))
            else:
                out[config.flat_name((*prefix, k))] = v

    walk(cfg, ())
    return out


def added_in(path: Path) -> str | None:
    res = subprocess.run(["git", "log", "--diff-filter=A", "--format=%H", "-1", "--", str(path)],
                         cwd=HERE, capture_output=True, text=True)
    return res.stdout.strip() or None


def migrate(path: Path, known: dict) -> Path:
    old = json.loads(path.read_text())
    cell = path.stem.rsplit("_seed", 1)[0]
    seed = old["seed"]
    if path.parent.name == "variants":
        table = "variants"
    else:
        table = known[cell][0] if cell in known else "other"
    command_runs = cell in known and table != "variants"
    if command_runs:
        _, method, dataset, extra = known[cell]
        command = " ".join(["python experiments/run.py --table", table, "--chosen-by",
                            tables.chosen_by(cell), "--method", method, "--dataset", dataset,
                            *extra, "--seeds", str(seed), "--data-dir ../shared/data"])
    else:
        command = old["command"]
    cfg = old["config"]
    epochs = (cfg.get("ae", {}).get("epochs", 0) if isinstance(cfg, dict) else 0) + \
        old.get("cluster_epochs", 0)
    extra = {k: old[k] for k in MOVED if k in old}
    extra.update(migrated_from=str(path.relative_to(HERE.parent)),
                 original_command=old["command"], command_runs=command_runs,
                 not_recorded=["objective"])
    rec = {"method": old["method"], "dataset": old["dataset"], "table": table, "cell": cell,
           "seed": seed, "metrics": old["metrics"], "objective": None, "epochs": epochs,
           "config": flat(cfg), "preset": "paper", "chosen_by": tables.chosen_by(cell),
           "wall_time_s": old["wall_time_s"], "device": old["device"],
           "versions": {"python": None, "jax": old["jax_version"], "jaxlib": None,
                        "flax": None, "optax": None, "jaxclust": old["jaxclust_version"]},
           "git_commit": added_in(path), "command": command, "extra": extra}
    out = RESULTS / table / cell / f"seed{seed}.json"
    if out.exists():
        raise FileExistsError(f"{out} exists: two records for one cell and seed")
    record.write(out, rec)
    return out


def main():
    known = cells()
    paths = sorted(RESULTS.glob("*.json")) + sorted((RESULTS / "variants").glob("*.json"))
    for path in paths:
        migrate(path, known)
        subprocess.run(["git", "rm", "-q", str(path)], cwd=HERE, check=True)
    print(f"migrated {len(paths)} records")


if __name__ == "__main__":
    main()
