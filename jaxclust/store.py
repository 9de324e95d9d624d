"""The one store: orbax checkpoints of stacked (per-seed) states, for resumable runs and
for the cache of pre-trained autoencoders shared between methods.

    ckpts = Checkpoints("runs/ckpt", cfg)        # refuses a folder written with another cfg
    ckpts.save(step, state); ckpts.restore(ckpts.latest_step(), abstract_state)

A pre-training cache of E epochs starts from the cache of a shorter run of the same
pre-training when it has none of its own (:func:`pretrain_start`).

PRNG keys are stored as their raw ``uint32`` data and wrapped again on restore.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np


# settings that change memory or speed but never results: no part of what keys a store
RESULT_NEUTRAL = frozenset({"block_size"})


def _keyed(described):
    """``described`` (JSON data) without the :data:`RESULT_NEUTRAL` settings, at any depth."""
    if isinstance(described, dict):
        return {k: _keyed(v) for k, v in described.items() if k not in RESULT_NEUTRAL}
    return described


def describe(cfg) -> dict:
    """``cfg`` (a config dataclass) as JSON-ready data, less the settings that cannot change
    a result (:data:`RESULT_NEUTRAL`): a store written with another ``block_size`` is
    the same store."""
    return _keyed(json.loads(json.dumps(dataclasses.asdict(cfg), default=str)))


class Checkpoints:
    """Orbax checkpoints of a stacked state in ``directory``, each at a step = epochs done.

    ``cfg`` (and ``meta``, any JSON data such as a fingerprint of the data) is written beside
    them; opening the folder again with another one is an error.
    """

    def __init__(self, directory, cfg, max_to_keep: int = 2, meta: dict | None = None):
        import orbax.checkpoint as ocp

        self._ocp = ocp
        self.directory = Path(directory).absolute()
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / "config.json"
        described = describe(cfg) if meta is None else {"config": describe(cfg), **meta}
        if path.exists():
            if _keyed(json.loads(path.read_text())) != described:
                raise ValueError(f"the checkpoints in {self.directory} were written with "
                                 "another config or data; use a new folder or the same "
                                 "settings")
        else:  # written whole, then renamed: other processes never read half a file
            part = path.with_name(f".config.{os.getpid()}.json")
            part.write_text(json.dumps(described, indent=1))
            os.replace(part, path)
        self.described = described
        self._manager = ocp.CheckpointManager(
            self.directory, options=ocp.CheckpointManagerOptions(
                max_to_keep=max_to_keep, enable_async_checkpointing=False))

    @classmethod
    def _existing(cls, directory, described: dict) -> Checkpoints:
        """The checkpoints in ``directory``, written with ``described`` (to read them)."""
        self = cls.__new__(cls)
        import orbax.checkpoint as ocp

        self._ocp, self.directory, self.described = ocp, Path(directory), described
        self._manager = ocp.CheckpointManager(self.directory)
        return self

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def steps(self) -> list[int]:
        """The steps kept, ascending."""
        return sorted(self._manager.all_steps())

    def save(self, step: int, state) -> None:
        self._manager.save(step, args=self._ocp.args.StandardSave(_unwrap_keys(state)))

    def restore(self, step: int, abstract):
        """The state saved at ``step``, shaped (and sharded) as ``abstract``."""
        raw = self._manager.restore(
            step, args=self._ocp.args.StandardRestore(_unwrap_keys(abstract)))
        return jax.tree.map(lambda a, r: jax.random.wrap_key_data(r) if _is_key(a) else r,
                            abstract, raw)

    def close(self) -> None:
        self._manager.close()


def pretrain_cache(root, cfg, x, keys) -> Checkpoints:
    """The cache of one pre-training phase: a folder under ``root`` named by a digest of
    the pre-training config ``cfg`` (``pretrain.phase_config``), the data ``x`` and the
    seeds' ``keys``, so every method with the same pre-training shares it."""
    x_host = np.ascontiguousarray(np.asarray(x))
    meta = {"data": f"{x_host.shape}:{hashlib.sha1(x_host.tobytes()).hexdigest()[:16]}",
            "keys": np.asarray(jax.random.key_data(keys)).tolist()}
    digest = hashlib.sha1(json.dumps([describe(cfg), meta]).encode()).hexdigest()[:12]
    return Checkpoints(Path(root) / f"pretrain_{digest}", cfg, meta=meta)


def pretrain_start(cache: Checkpoints, epochs: int) -> tuple[Checkpoints, int] | None:
    """Where a pre-training of ``epochs`` epochs held in ``cache`` resumes: ``(store, step)``
    — ``cache`` at its latest step, else, when it holds none, the kept step ≤ ``epochs``
    furthest along among the caches beside it (:func:`pretrain_cache`) written for the same
    pre-training, data and seeds but another length ``ae.epochs``; ``None`` to start afresh.

    A pre-training epoch depends on the state alone (the learning rate is constant and
    ``ae.epochs`` only says where to stop), so continuing a shorter run is the longer run.
    """
    if cache.latest_step() is not None:
        return cache, cache.latest_step()
    same = _any_length(cache.described)
    best = None
    for path in sorted(cache.directory.parent.glob("pretrain_*/config.json")):
        if path.parent == cache.directory:
            continue
        try:
            described = _keyed(json.loads(path.read_text()))
        except (OSError, ValueError):  # a folder being written or not ours
            continue
        if _any_length(described) != same:
            continue
        other = Checkpoints._existing(path.parent, described)
        step = max((s for s in other.steps() if s <= epochs), default=None)
        if step is not None and (best is None or step > best[1]):
            if best is not None:
                best[0].close()
            best = (other, step)
        else:
            other.close()
    return best


def _any_length(described: dict) -> dict:
    """A described pre-training (``{"config": …, "data": …, "keys": …}``) less ``ae.epochs``."""
    config = described.get("config", {})
    ae = {k: v for k, v in config.get("ae", {}).items() if k != "epochs"}
    return {**described, "config": {**config, "ae": ae}}


def _is_key(a) -> bool:
    return jnp.issubdtype(a.dtype, jax.dtypes.prng_key)


def _unwrap_keys(tree):
    def raw(a):
        if not _is_key(a):
            return a
        if isinstance(a, jax.ShapeDtypeStruct):
            shape = jax.eval_shape(jax.random.key_data, a)
            return jax.ShapeDtypeStruct(shape.shape, shape.dtype, sharding=a.sharding)
        return jax.random.key_data(a)

    return jax.tree.map(raw, tree)
