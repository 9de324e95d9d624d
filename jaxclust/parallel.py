"""Many seeds in one compiled program, spread over devices, with checkpoints.

    keys = parallel.seed_keys(0, 8)                      # seeds 0..7
    res = parallel.fit_seeds(dec, keys, x, cfg)          # one jit(vmap(...)) per phase
    res.labels[i], res.objectives[i]                     # seed i; lower objective = better

A run has two phases, each a host loop over one vmapped, jitted epoch: autoencoder
pre-training (``aekm.train_epoch``, ``cfg.ae.epochs`` times) → k-means → the method's own
state (``method.from_pretrained``) → its joint epochs (``method.train_epoch``, ``cfg.epochs``
times, or until every seed's ``done`` flag is set). For AE+KM the second phase is empty;
methods without an autoencoder (IMSAT, RIM, DAC) have only the second, from ``method.init``.
Seed i of a run equals a single run with key ``keys[i]``.

With a :func:`seed_mesh`, the seed axis (and optionally the rows of ``x``) is split across
devices with ``NamedSharding``; the same code runs on one CPU, simulated CPU devices
(``XLA_FLAGS=--xla_force_host_platform_device_count=8``), a GPU or a TPU slice. For several
hosts call ``jax.distributed.initialize()`` first and build the mesh from ``jax.devices()``:
JAX's runtime does the rest.

Checkpoints (``orbax-checkpoint``) hold the whole stacked state after a number of epochs
counted across both phases; :func:`fit_seeds` with ``resume=True`` continues from the latest
one and ends with the same result as an uninterrupted run.
"""
from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path
from types import ModuleType
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxclust.methods import aekm, dac, damic, dcn, dec, imsat, kdae, rim

METHODS: dict[str, ModuleType] = {"aekm": aekm, "dec": dec, "idec": dec, "dcn": dcn,
                                  "kdae": kdae, "damic": damic, "imsat": imsat, "rim": rim,
                                  "dac": dac}


class SeedsResult(NamedTuple):
    """states: every seed's final state, stacked on a leading axis ``S``; labels ``(S, n)``;
    objectives ``(S,)``: the method's own unsupervised loss (lower is better); epochs: the
    epochs run, pre-training and joint together."""

    states: Any
    labels: jax.Array
    objectives: jax.Array
    epochs: int


def seed_keys(seed: int, n_seeds: int) -> jax.Array:
    """Keys for seeds ``seed, seed + 1, …``: ``(n_seeds,)``; key i is
    ``jax.random.key(seed + i)``."""
    return jax.vmap(jax.random.key)(seed + jnp.arange(n_seeds))


def seed_mesh(data: int = 1, devices=None) -> Mesh:
    """A ``("seed", "data")`` mesh over ``devices`` (default: all): ``data`` devices share
    each seed's rows of ``x``, the rest split the seeds."""
    devices = np.asarray(jax.devices() if devices is None else devices)
    if data < 1 or devices.size % data:
        raise ValueError(f"data={data} must be a positive divisor of the {devices.size} devices")
    return Mesh(devices.reshape(-1, data), ("seed", "data"))


class _Program:
    """The jitted, vmapped pieces of a run, placed on ``mesh`` when one is given."""

    def __init__(self, method: ModuleType, cfg, mesh: Mesh | None, single: bool):
        self.method, self.cfg, self.mesh, self.single = method, cfg, mesh, single
        # methods without an autoencoder (IMSAT, RIM, DAC) start from their own init
        self.pretrains = method is aekm or hasattr(method, "from_pretrained")
        self.pre_cfg = cfg if method is aekm else cfg.aekm() if self.pretrains else None
        if not self.pretrains:
            self.init = self._jit(lambda k, x: method.init(k, x, cfg))
        else:
            self.init = self._jit(lambda k, x: aekm.init(k, x, self.pre_cfg))
            self.pre_epoch = self._jit(lambda s, x: aekm.train_epoch(s, x, self.pre_cfg))
            self.cluster = self._jit(lambda s, x: aekm.cluster(s, x, self.pre_cfg))
        if method is not aekm:
            self.start = self._jit(lambda s, x: method.from_pretrained(s, x, cfg))
            self.epoch = self._jit(lambda s, x: method.train_epoch(s, x, cfg))
        self.predict = self._jit(lambda s, x: method.predict(s, x, cfg))
        self.objective = self._jit(lambda s, x: method.objective(s, x, cfg))

    def _jit(self, fn: Callable) -> Callable:
        if self.single:  # one seed: the plain program (no batching), on a leading axis of 1
            def vmapped(s, x):
                return jax.tree.map(lambda a: a[None], fn(jax.tree.map(lambda a: a[0], s), x))
        else:
            vmapped = jax.vmap(fn, in_axes=(0, None))
        if self.mesh is None:
            return jax.jit(vmapped)
        return jax.jit(vmapped, in_shardings=(self.seeds, self.rows), out_shardings=self.seeds)

    @property
    def seeds(self) -> NamedSharding:
        return NamedSharding(self.mesh, PartitionSpec("seed"))

    @property
    def rows(self) -> NamedSharding:
        return NamedSharding(self.mesh, PartitionSpec("data"))

    def abstract_state(self, keys, x, pretraining: bool):
        """The shapes (and shardings) of the state inside pre-training or the joint phase."""
        def build(k):
            if not self.pretrains:
                return self.method.init(k, x, self.cfg)
            s = aekm.init(k, x, self.pre_cfg)
            if pretraining:
                return s
            s = aekm.cluster(s, x, self.pre_cfg)
            return s if self.method is aekm else self.method.from_pretrained(s, x, self.cfg)

        shapes = jax.eval_shape(jax.vmap(build), keys)
        if self.mesh is None:
            return shapes
        return jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=self.seeds),
                            shapes)


@functools.lru_cache(maxsize=8)
def _program(method: ModuleType, cfg, mesh: Mesh | None, single: bool) -> _Program:
    """Compiled once per (method, config, mesh, one seed or many) in a process."""
    return _Program(method, cfg, mesh, single)


class Checkpoints:
    """Orbax checkpoints of a stacked state in ``directory``, each at a step = epochs done.

    The run's config is written beside them; resuming with another config is an error.
    PRNG keys are stored as their raw ``uint32`` data.
    """

    def __init__(self, directory, cfg, max_to_keep: int = 2):
        import orbax.checkpoint as ocp

        self._ocp = ocp
        self.directory = Path(directory).absolute()
        self.directory.mkdir(parents=True, exist_ok=True)
        meta = self.directory / "config.json"
        described = json.loads(json.dumps(dataclasses.asdict(cfg), default=str))
        if meta.exists() and json.loads(meta.read_text()) != described:
            raise ValueError(f"the checkpoints in {self.directory} were written with another "
                             f"config; use a new folder or the same settings")
        meta.write_text(json.dumps(described, indent=1))
        self._manager = ocp.CheckpointManager(
            self.directory, options=ocp.CheckpointManagerOptions(
                max_to_keep=max_to_keep, enable_async_checkpointing=False))

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def save(self, step: int, state) -> None:
        self._manager.save(step, args=self._ocp.args.StandardSave(_unwrap_keys(state)))

    def restore(self, step: int, abstract):
        raw = self._manager.restore(
            step, args=self._ocp.args.StandardRestore(_unwrap_keys(abstract)))
        return jax.tree.map(lambda a, r: jax.random.wrap_key_data(r) if _is_key(a) else r,
                            abstract, raw)

    def close(self) -> None:
        self._manager.close()


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


def fit_seeds(method: ModuleType, keys: jax.Array, x, cfg, *, mesh: Mesh | None = None,
              checkpoints: Checkpoints | None = None, checkpoint_every: int = 0,
              resume: bool = False, pretrained: aekm.State | None = None,
              on_epoch: Callable[[str, int, int, jax.Array], None] | None = None
              ) -> SeedsResult:
    """Train ``len(keys)`` seeds of ``method`` (a module of ``jaxclust.methods``) together.

    keys: ``(S,)`` PRNG keys; x: ``(n, d)``; cfg: the method's ``Config``. ``mesh``: a
    :func:`seed_mesh` whose ``seed`` size divides S (and ``data`` size divides n).
    ``checkpoints``: save the state every ``checkpoint_every`` epochs and at the end of
    pre-training; ``resume=True`` starts from the latest one. ``pretrained``: stacked
    AE+KM states (e.g. ``fit_seeds(aekm, …).states``; their centroids are ignored) to start
    from instead of pre-training — one pre-training, several heads. ``on_epoch(phase, epoch,
    total, losses)`` is called after every epoch with the per-seed losses ``(S,)``.
    """
    n_seeds = keys.shape[0] if keys.ndim else 0
    if n_seeds < 1 or not jnp.issubdtype(keys.dtype, jax.dtypes.prng_key):
        raise TypeError("keys must be a 1-d array of PRNG keys, e.g. parallel.seed_keys(0, 8)")
    if resume and checkpoints is None:
        raise ValueError("resume=True needs checkpoints")
    if pretrained is not None:
        if method is aekm or not hasattr(method, "from_pretrained"):
            raise ValueError(f"{method.__name__} does not start from a pre-trained autoencoder")
        if pretrained.centroids.shape[0] != n_seeds:
            raise ValueError(f"pretrained holds {pretrained.centroids.shape[0]} seeds, "
                             f"keys {n_seeds}")
    x = jnp.asarray(x)
    program = _program(method, cfg, mesh, n_seeds == 1)
    if mesh is not None:
        if n_seeds % mesh.shape["seed"] or x.shape[0] % mesh.shape["data"]:
            raise ValueError(f"{n_seeds} seeds and {x.shape[0]} rows must divide evenly over "
                             f"the mesh {dict(mesh.shape)}")
        keys = jax.device_put(keys, program.seeds)
        x = jax.device_put(x, program.rows)
        if pretrained is not None:
            pretrained = jax.device_put(pretrained, program.seeds)
    n_pre = program.pre_cfg.ae.epochs if program.pretrains else 0
    n_total = n_pre + (0 if method is aekm else cfg.epochs)

    def save(step, state, boundary=False):
        if checkpoints is not None and (boundary or step == n_total or (
                checkpoint_every and step % checkpoint_every == 0)):
            checkpoints.save(step, state)

    step = checkpoints.latest_step() if resume else None
    state = None
    if step is not None:
        in_pretraining = program.pretrains and (step < n_pre or method is aekm)
        state = checkpoints.restore(step, program.abstract_state(keys, x, in_pretraining))
    head_from_pretrained = step is None and pretrained is not None
    if head_from_pretrained:
        state, step = pretrained, n_pre
    step = step or 0
    if not program.pretrains:
        state = program.init(keys, x) if state is None else state
    elif step < n_pre or method is aekm or head_from_pretrained:
        state = program.init(keys, x) if state is None else state
        for epoch in range(step + 1, n_pre + 1):
            state, losses = program.pre_epoch(state, x)
            if epoch < n_pre or method is aekm:  # a head saves its own state at n_pre
                save(epoch, state, boundary=epoch == n_pre)
            if on_epoch:
                on_epoch("pre-train", epoch, n_pre, losses)
        state = program.cluster(state, x)
        if method is not aekm:
            state = program.start(state, x)
            save(n_pre, state, boundary=True)
        step = n_pre
    while step < n_total and not _all_done(state):
        state, losses = program.epoch(state, x)
        step += 1
        save(step, state)
        if on_epoch:
            on_epoch("joint", step - n_pre, n_total - n_pre, losses)
    return SeedsResult(state, program.predict(state, x), program.objective(state, x), step)


def _all_done(state) -> bool:
    done = getattr(state, "done", None)
    return done is not None and bool(jnp.all(done))
