"""The one result record: what every finished run writes, one JSON file per seed.

    rec = record.make(method="dec", dataset="mnist", seed=0, labels=labels, y=y, ...)
    record.write(path, rec)          # checks the schema first

Keys (:data:`KEYS`): ``method, dataset, table, cell, seed, metrics {acc, nmi, ari, …} | None,
objective, epochs, config {flat parameters, by name}, preset, chosen_by, wall_time_s,
device, versions {python, jax, jaxlib, flax, optax, jaxclust}, git_commit, command,
extra {anything particular to the run}``. ``chosen_by`` says how the settings were chosen:
``paper`` (the source's), ``default`` (ours, fixed before seeing labels), ``label-free`` or
``labels`` (by looking at ACC/NMI/ARI of that data set).
"""
from __future__ import annotations

import functools
import json
import math
import os
import platform
import subprocess
from pathlib import Path

import numpy as np

KEYS = ("method", "dataset", "table", "cell", "seed", "metrics", "objective", "epochs",
        "config", "preset", "chosen_by", "wall_time_s", "device", "versions", "git_commit",
        "command", "extra")
CHOSEN_BY = ("paper", "default", "label-free", "labels")
METRICS = ("acc", "nmi", "ari")


def device() -> str:
    """The accelerator's name, or the CPU with its core count."""
    import jax

    dev = jax.devices()[0]
    return dev.device_kind if dev.platform != "cpu" else f"cpu ({os.cpu_count()} cores)"


def versions() -> dict:
    """Python and the versions of the packages a result depends on."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("jax", "jaxlib", "flax", "optax", "jaxclust"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


@functools.cache
def git_commit() -> str | None:
    """The checkout's commit (``+dirty`` with uncommitted changes), or ``None`` outside git,
    as first asked in this process: the programs that write records ask at their start, so a
    long run names the code it loaded, not a later checkout."""
    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=here, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return sha + ("+dirty" if dirty.strip() else "")


def make(*, method: str, dataset: str, seed: int, metrics: dict | None, objective: float,
         epochs: int, config: dict, preset: str, chosen_by: str, wall_time_s: float,
         command: str, table: str | None = None, cell: str | None = None,
         extra: dict | None = None) -> dict:
    """One record (see the module doc); ``config``: the flat parameters
    (:func:`jaxclust.config.flatten`)."""
    objective = float(objective)
    rec = {"method": method, "dataset": dataset, "table": table, "cell": cell,
           "seed": int(seed), "metrics": metrics,
           "objective": objective if math.isfinite(objective) else None,
           "epochs": int(epochs), "config": _jsonable(config), "preset": preset,
           "chosen_by": chosen_by, "wall_time_s": float(wall_time_s), "device": device(),
           "versions": versions(), "git_commit": git_commit(), "command": command,
           "extra": _jsonable(extra or {})}
    check(rec)
    return rec


def check(rec: dict) -> None:
    """Raise ``ValueError`` naming what in ``rec`` breaks the schema."""
    keys = tuple(rec)
    if set(keys) != set(KEYS):
        raise ValueError(f"a record has exactly the keys {KEYS}; missing "
                         f"{sorted(set(KEYS) - set(keys))}, extra {sorted(set(keys) - set(KEYS))}")
    if rec["chosen_by"] not in CHOSEN_BY:
        raise ValueError(f"chosen_by must be one of {CHOSEN_BY}, got {rec['chosen_by']!r}")
    if rec["metrics"] is not None and not set(METRICS) <= set(rec["metrics"]):
        raise ValueError(f"metrics must hold {METRICS}, got {sorted(rec['metrics'])}")
    for name in ("config", "versions", "extra"):
        if not isinstance(rec[name], dict):
            raise ValueError(f"{name} must be a dict, got {type(rec[name]).__name__}")
    if not isinstance(rec["command"], str) or not rec["command"]:
        raise ValueError("command must be the command line that produced the record")


def write(path, rec: dict) -> None:
    """Check ``rec`` and write it to ``path`` (strict JSON: no NaN)."""
    check(rec)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rec, indent=1, allow_nan=False) + "\n")


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
