"""The one store: orbax checkpoints of stacked (per-seed) states, for resumable runs and
for the cache of pre-trained autoencoders shared between methods.

    ckpts = Checkpoints("runs/ckpt", cfg)        # refuses a folder written with another cfg
    ckpts.save(step, state); ckpts.restore(ckpts.latest_step(), abstract_state)

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
        self._manager = ocp.CheckpointManager(
            self.directory, options=ocp.CheckpointManagerOptions(
                max_to_keep=max_to_keep, enable_async_checkpointing=False))

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

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
