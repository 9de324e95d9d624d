"""The one runner: every phase of any registered method, for many seeds in one compiled
program, spread over devices, with checkpoints and progress hooks.

    keys = runner.seed_keys(0, 8)                         # seeds 0..7
    res = runner.fit_seeds(methods.get("dec"), keys, x, cfg)
    res.labels[i], res.objectives[i]                      # seed i; lower objective = better

A run is a host loop over jitted, vmapped epochs: for a method that ``pretrains``, the shared
autoencoder pre-training (``cfg.ae.epochs`` epochs of :mod:`jaxclust.methods.pretrain`) →
k-means → ``method.start``; otherwise ``method.init``; then ``method.epochs(cfg)`` epochs of
``method.train_epoch``, ending early once every seed's ``done`` flag is set. Seed i of a run
equals :func:`jaxclust.methods.fit` with key ``keys[i]`` up to float32 rounding (a batched
matrix product may sum in another order; README: where labels can differ).

With a :func:`seed_mesh`, the seed axis (and optionally the rows of ``x``) is split across
devices with ``NamedSharding``; the same code runs on one CPU, simulated CPU devices
(``XLA_FLAGS=--xla_force_host_platform_device_count=8``), a GPU or a TPU slice. Over several
processes (hosts), each started with :func:`initialize_processes` (``jax.distributed``), the
mesh spans every process's devices; each process reads only the rows of ``x`` its devices
hold (``x`` may be a memory map) and gets the labels and objectives of every seed back.

Checkpoints (:class:`jaxclust.store.Checkpoints`) hold the stacked state after a number of
epochs counted across both phases (below ``cfg.ae.epochs``: pre-training states; from it on:
the method's); ``resume=True`` continues from the latest one and ends with the same result
as an uninterrupted run. A ``pretrain_cache`` (:func:`jaxclust.store.pretrain_cache`) holds
the pre-training phase instead, shared by every method with the same pre-training; a
longer pre-training continues from a shorter one's cache.
"""
from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxclust import config, train, umap
from jaxclust.consensus import central, consensus
from jaxclust.methods import Method, pretrain
from jaxclust.store import Checkpoints, pretrain_start


class SeedsResult(NamedTuple):
    """states: every seed's final state, stacked on a leading axis ``S``; labels ``(S, n)``;
    objectives ``(S,)``: the method's own unsupervised loss (lower is better); epochs: the
    epochs run, pre-training and clustering together; seconds: wall time of each phase
    run here (``"pretrain"``, ``"cluster"``; a phase restored from a store counts 0);
    consensus ``(n,)``: one partition from the S seeds' labels
    (:func:`jaxclust.consensus.consensus`, ids named after the seed of the lowest objective);
    config: the config the seeds ran with (``"auto"`` settings made concrete:
    :func:`for_data`), what ``predict``/``features`` of the states take."""

    states: Any
    labels: jax.Array
    objectives: jax.Array
    epochs: int
    seconds: dict
    consensus: np.ndarray
    config: Any


def seed_keys(seed: int, n_seeds: int) -> jax.Array:
    """Keys for seeds ``seed, seed + 1, …``: ``(n_seeds,)``; key i is
    ``jax.random.key(seed + i)``."""
    return jax.vmap(jax.random.key)(seed + jnp.arange(n_seeds))


def best_seed(objectives) -> int:
    """The index of the lowest finite objective ``(S,)`` (0 when every seed diverged)."""
    scores = np.asarray(objectives, dtype=np.float64)
    return int(np.argmin(np.where(np.isfinite(scores), scores, np.inf)))


KEEP_RULES = ("objective", "central")


def kept_seed(objectives, labels, rule: str = "central") -> int:
    """The seed a multi-seed run keeps, among those whose objective is finite: with
    ``"central"``, among the seeds whose partitions use the most clusters (a seed that left
    clusters empty answers a smaller k than asked), the one the others agree with most
    (:func:`jaxclust.consensus.central`; with fewer than 3 such seeds, the lowest objective
    among them); with ``"objective"``, the lowest objective. 0 when every seed diverged. The
    default is the rule that gained most on average over the 200 table cells with kept labels
    (RESULTS.md, "Ranking seeds without labels"): at or above the seeds' mean ACC in 142
    cells against 122 for the objective's pick, +.017 against +.012 on average (the most
    central of all the seeds: 143, +.012).

    objectives: ``(S,)``; labels: ``(S, n)``.
    """
    if rule not in KEEP_RULES:
        raise ValueError(f"keep must be one of {KEEP_RULES}, got {rule!r}")
    scores = np.asarray(objectives, dtype=np.float64)
    finite = np.flatnonzero(np.isfinite(scores))
    if rule == "objective" or finite.size < 3:
        return best_seed(objectives)
    labels = np.asarray(labels)
    used = np.array([np.unique(labels[s]).size for s in finite])
    fullest = finite[used == used.max()]
    if fullest.size < 3:
        return int(fullest[np.argmin(scores[fullest])])
    return int(fullest[central(labels[fullest])])


START_RULES = ("own", "consensus")


def initialize_processes(coordinator: str | None = None, num_processes: int | None = None,
                         process_id: int | None = None) -> None:
    """Join a multi-process run (``jax.distributed.initialize``) before any device is used.

    ``coordinator`` ``"host:port"`` of process 0, the number of processes and this one's id
    in ``[0, num_processes)``; all ``None``: JAX's own detection (SLURM, Open MPI, Cloud TPU,
    or ``JAX_COORDINATOR_ADDRESS``/``JAX_NUM_PROCESSES``/``JAX_PROCESS_ID``). CPU processes
    exchange data over gloo.
    """
    given = [v is not None for v in (coordinator, num_processes, process_id)]
    if any(given) and not all(given):
        raise ValueError("coordinator, num_processes and process_id go together: give all "
                         "three or none")
    if all(given) and not 0 <= process_id < num_processes:
        raise ValueError(f"process_id must be in [0, {num_processes}), got {process_id}")
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator, num_processes, process_id)


def to_host(a) -> np.ndarray:
    """A (possibly multi-process) array as one numpy array on this host."""
    if isinstance(a, jax.Array) and not a.is_fully_addressable:
        from jax.experimental import multihost_utils

        return np.asarray(multihost_utils.process_allgather(a, tiled=True))
    return np.asarray(a)


def seed_mesh(data: int = 1, devices=None) -> Mesh:
    """A ``("seed", "data")`` mesh over ``devices`` (default: all): ``data`` devices share
    each seed's rows of ``x``, the rest split the seeds."""
    devices = np.asarray(jax.devices() if devices is None else devices)
    if data < 1 or devices.size % data:
        raise ValueError(f"data={data} must be a positive divisor of the {devices.size} devices")
    return Mesh(devices.reshape(-1, data), ("seed", "data"))


class _Program:
    """The jitted, vmapped pieces of a run, placed on ``mesh`` when one is given."""

    def __init__(self, method: Method, cfg, mesh: Mesh | None, single: bool):
        self.method, self.cfg, self.mesh, self.single = method, cfg, mesh, single
        if method.pretrains:
            self.pre_init = self._jit(lambda k, x: pretrain.init(k, x, cfg))
            self.pre_epoch = self._jit(lambda s, x: pretrain.train_epoch(s, x, cfg))
            self.start = self._jit(
                lambda s, x: method.start(pretrain.cluster(s, x, cfg), x, cfg))
            self.cluster = self._jit(lambda s, x: pretrain.cluster(s, x, cfg))
            self.pre_predict = self._jit(lambda s, x: pretrain.predict(s, x, cfg))
            self.recentred_start = self._jit(
                lambda s, xl: method.start(pretrain.recentre(s, *xl, cfg), xl[0], cfg))
        else:
            self.init = self._jit(lambda k, x: method.init(k, x, cfg))
        if method.train_epoch is not None:
            self.epoch = self._jit(lambda s, x: method.train_epoch(s, x, cfg))
        if method.finish is not None:
            self.finish = self._jit(lambda s, x: method.finish(s, x, cfg))
        self.predict = self._jit(lambda s, x: method.predict(s, x, cfg))
        self.objective = self._jit(lambda s, x: method.objective(s, x, cfg))
        self.done = jax.jit(jax.vmap(method.done))

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
        return _sharding(self.mesh, "seed")

    @property
    def rows(self) -> NamedSharding:
        return _sharding(self.mesh, "data")

    def abstract_state(self, keys, x, pretraining: bool):
        """The shapes (and shardings) of the state inside pre-training or after it."""
        method, cfg = self.method, self.cfg

        def build(k):
            if not method.pretrains:
                return method.init(k, x, cfg)
            s = pretrain.init(k, x, cfg)
            return s if pretraining else method.start(pretrain.cluster(s, x, cfg), x, cfg)

        shapes = jax.eval_shape(jax.vmap(build), keys)
        if self.mesh is None:
            return shapes
        return jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=self.seeds),
                            shapes)


@functools.lru_cache(maxsize=8)
def _program(method: Method, cfg, mesh: Mesh | None, single: bool) -> _Program:
    """Compiled once per (method, config, mesh, one seed or many) in a process."""
    return _Program(method, cfg, mesh, single)


def fit_seeds(method: Method, keys: jax.Array, x, cfg, *, mesh: Mesh | None = None,
              checkpoints: Checkpoints | None = None, checkpoint_every: int = 0,
              resume: bool = False, pretrained: pretrain.State | None = None,
              pretrain_cache: Checkpoints | None = None,
              on_epoch: Callable[..., None] | None = None, start: str = "own"
              ) -> SeedsResult:
    """Train ``len(keys)`` seeds of ``method`` (a value of ``jaxclust.methods.REGISTRY``).

    keys: ``(S,)`` PRNG keys; x: ``(n, d)``; cfg: the method's ``Config``. ``mesh``: a
    :func:`seed_mesh` whose ``seed`` size divides S (and ``data`` size divides n).
    ``checkpoints``: save the state every ``checkpoint_every`` epochs, at the end of
    pre-training and at the end; ``resume=True`` starts from the latest one.
    ``pretrained``: stacked pre-training states (e.g. ``fit_seeds(aekm, …).states``; their
    centroids are recomputed for ``cfg.n_clusters``) to start from instead of
    pre-training. ``pretrain_cache``: a store that holds (and resumes) the pre-training
    phase, every ``checkpoint_every`` epochs and at its end. ``on_epoch(phase, epoch,
    total, losses, state)`` is called after every epoch with the per-seed losses ``(S,)``
    and the stacked state; ``phase`` is ``"pre-train"`` or ``"cluster"``, and once with
    ``"start"`` (epoch = clustering epochs already done, losses ``None``) when the
    clustering phase begins (figures of its progression start there). ``start``: where each
    seed's clustering phase starts — ``"own"``: k-means on its own embedding;
    ``"consensus"``: the consensus (:func:`jaxclust.consensus.consensus`, named after the
    central seed) of every seed's k-means partition, as centroids in each seed's embedding
    (:func:`jaxclust.methods.pretrain.recentre`), so that all seeds start from one partition
    (autoencoder methods only; with one seed the same as own).
    """
    n_seeds = keys.shape[0] if keys.ndim else 0
    if n_seeds < 1 or not jnp.issubdtype(keys.dtype, jax.dtypes.prng_key):
        raise TypeError("keys must be a 1-d array of PRNG keys, e.g. runner.seed_keys(0, 8)")
    if resume and checkpoints is None:
        raise ValueError("resume=True needs checkpoints")
    if (pretrained is not None or pretrain_cache is not None) and not method.pretrains:
        raise ValueError(f"{method.name} does not start from a pre-trained autoencoder")
    if start not in START_RULES:
        raise ValueError(f"start must be one of {START_RULES}, got {start!r}")
    if start == "consensus" and not method.pretrains:
        raise ValueError(f"start='consensus' needs a method that starts from the shared "
                         f"pre-training; {method.name} does not")
    if pretrained is not None and pretrained.centroids.shape[0] != n_seeds:
        raise ValueError(f"pretrained holds {pretrained.centroids.shape[0]} seeds, "
                         f"keys {n_seeds}")
    if mesh is not None:
        if n_seeds % mesh.shape["seed"] or x.shape[0] % mesh.shape["data"]:
            raise ValueError(f"{n_seeds} seeds and {x.shape[0]} rows must divide evenly over "
                             f"the mesh {dict(mesh.shape)}")
        rows, seeds = _sharding(mesh, "data"), _sharding(mesh, "seed")
        x, keys = _place(x, rows), _place(keys, seeds)
        if pretrained is not None:
            pretrained = jax.tree.map(lambda a: _place(a, seeds), pretrained)
    else:
        x = jnp.asarray(x)
    cfg = for_data(cfg, x)
    program = _program(method, cfg, mesh, n_seeds == 1)
    n_pre = cfg.ae.epochs if method.pretrains else 0
    n_total = n_pre + method.epochs(cfg)
    seconds = {"pretrain": 0.0, "cluster": 0.0}

    def due(step):
        return step == n_total or (checkpoint_every and step % checkpoint_every == 0)

    step = checkpoints.latest_step() if resume else None
    state = None
    if step is not None and step >= n_pre:
        state = checkpoints.restore(step, program.abstract_state(keys, x, pretraining=False))
    elif method.pretrains:
        t0 = time.perf_counter()
        state = pretrained if pretrained is not None else _pretrain(
            program, keys, x, n_pre, checkpoints, step, pretrain_cache, checkpoint_every,
            on_epoch)
        state = (_consensus_start(program, state, x) if start == "consensus" and n_seeds > 1
                 else program.start(state, x))
        if checkpoints is not None:
            checkpoints.save(n_pre, state)
        step = n_pre
        seconds["pretrain"] = _seconds_since(t0, state)
    else:
        state, step = program.init(keys, x), 0
    if on_epoch:
        on_epoch("start", step - n_pre, n_total - n_pre, None, state)
    t0 = time.perf_counter()
    while step < n_total and not bool(jnp.all(program.done(state))):
        state, losses = program.epoch(state, x)
        step += 1
        if checkpoints is not None and due(step):
            checkpoints.save(step, state)
        if on_epoch:
            on_epoch("cluster", step - n_pre, n_total - n_pre, _addressable(losses), state)
    state, labels, objectives = _outcome(program, state, x)
    seconds["cluster"] = _seconds_since(t0, labels)
    if jax.process_count() > 1:
        labels, objectives = to_host(labels), to_host(objectives)
    combined = consensus(np.asarray(labels), cfg.n_clusters, reference=best_seed(objectives))
    return SeedsResult(state, labels, objectives, step, seconds, combined, cfg)


def restore_seeds(method: Method, keys: jax.Array, x, cfg, checkpoints: Checkpoints
                  ) -> tuple[int, Any, jax.Array, jax.Array]:
    """The latest state ``checkpoints`` hold of a run's clustering phase (``keys``, ``x``,
    ``cfg`` as given to :func:`fit_seeds`; restored on one device), without training: a look
    at a long run while it goes on, or at one cut off. Returns ``(epoch, states, labels
    (S, n), objectives (S,))`` as :func:`fit_seeds` would end there (the method's ``finish``
    applied), ``epoch`` the clustering epochs done; ``ValueError`` if no such checkpoint is
    there."""
    x = jnp.asarray(x)
    cfg = for_data(cfg, x)
    n_pre = cfg.ae.epochs if method.pretrains else 0
    step = checkpoints.latest_step()
    if step is None or step < n_pre:
        raise ValueError(f"{checkpoints.directory} holds no checkpoint of {method.name}'s "
                         f"clustering phase (steps {checkpoints.steps()}; it starts at {n_pre})")
    program = _program(method, cfg, None, keys.shape[0] == 1)
    state = checkpoints.restore(step, program.abstract_state(keys, x, pretraining=False))
    return step - n_pre, *_outcome(program, state, x)


def _outcome(program: _Program, state, x):
    """The trained ``state`` finished (the method's last step, if any), its labels and
    objectives."""
    if program.method.finish is not None:
        state = program.finish(state, x)
    return state, program.predict(state, x), program.objective(state, x)


def for_data(cfg, x):
    """``cfg`` made concrete for ``x`` ``(n, d)`` and checked against it: every autoencoder's
    ``"auto"`` output activation and loss chosen from the range of ``x``
    (:meth:`jaxclust.train.AEConfig.for_range`); ``ValueError`` where ``x`` cannot be what
    ``cfg`` reconstructs (binary cross-entropy needs a sigmoid output and data in [0, 1]) or
    UMAP has more neighbours than points. :func:`fit_seeds` calls it; callers that store or
    key on the config (records, checkpoints) call it first."""
    for f in dataclasses.fields(cfg):
        if isinstance(getattr(cfg, f.name), umap.Config):
            getattr(cfg, f.name).check_size(x.shape[0], config.flat_name((f.name, "n_neighbors")))
    aes = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)
           if isinstance(getattr(cfg, f.name), train.AEConfig)}
    if not any("auto" in (ae.loss, ae.output_activation) or ae.loss == "bce"
               for ae in aes.values()):
        return cfg
    lo, hi = float(jnp.min(x)), float(jnp.max(x))
    aes = {name: ae.for_range(lo, hi) for name, ae in aes.items()}
    bce = [name for name, ae in aes.items() if ae.loss == "bce"]
    for name in bce:
        if aes[name].output_activation != "sigmoid":
            raise ValueError(f"{config.flat_name((name, 'loss'))} 'bce' (binary cross-entropy) "
                             f"needs {config.flat_name((name, 'output_activation'))}='sigmoid', "
                             f"got {aes[name].output_activation!r}")
    if bce and (lo < 0.0 or hi > 1.0):
        losses = " and ".join(config.flat_name((name, "loss")) for name in bce)
        auto = ", ".join(f"{config.flat_name((bce[0], field))}='auto'"
                         for field in ("loss", "output_activation"))
        raise ValueError(
            f"{losses} 'bce' (binary cross-entropy) needs data in [0, 1], but x spans "
            f"[{lo:.4g}, {hi:.4g}]: rescale x (e.g. MinMaxScaler) or let the loss and output "
            f"activation be chosen from the data (e.g. {auto})")
    return dataclasses.replace(cfg, **aes)


def _pretrain(program: _Program, keys, x, n_pre: int, checkpoints, step, cache,
              every: int, on_epoch):
    """The pre-training phase, resumed from ``cache`` (or a shorter run's cache beside it:
    :func:`jaxclust.store.pretrain_start`), else from ``checkpoints`` at ``step``, where
    one holds it; returns the pre-trained states before k-means."""
    store = source = cache if cache is not None else checkpoints
    if cache is not None:
        source, step = pretrain_start(cache, n_pre) or (cache, None)
    if step is None:
        state, step = program.pre_init(keys, x), 0
    else:
        state = source.restore(step, program.abstract_state(keys, x, pretraining=True))
        if source is not store:
            source.close()
    for epoch in range(step + 1, n_pre + 1):
        state, losses = program.pre_epoch(state, x)
        # in the run's checkpoints, step n_pre holds the method's started state
        last = cache is not None and epoch == n_pre
        if store is not None and (last or (epoch < n_pre and every and epoch % every == 0)):
            store.save(epoch, state)
        if on_epoch:
            on_epoch("pre-train", epoch, n_pre, _addressable(losses), state)
    return state


def _consensus_start(program: _Program, state, x):
    """Every seed's method state started from the consensus of the seeds' k-means
    partitions (``fit_seeds(start="consensus")``)."""
    clustered = program.cluster(state, x)
    labels = np.asarray(to_host(program.pre_predict(clustered, x)))
    combined = consensus(labels, program.cfg.n_clusters, reference=central(labels))
    combined = jnp.asarray(combined, jnp.int32)
    if program.mesh is not None:
        combined = _place(combined, program.rows)
    return program.recentred_start(clustered, (x, combined))


def gathered(tree):
    """Every leaf of a (possibly multi-process) pytree, whole, on this process's device
    (PRNG keys included)."""
    def leaf(a):
        if jnp.issubdtype(a.dtype, jax.dtypes.prng_key):
            return jax.random.wrap_key_data(jnp.asarray(to_host(jax.random.key_data(a))))
        return jnp.asarray(to_host(a))

    return jax.tree.map(leaf, tree)


def _addressable(a):
    """``a`` itself where this process holds all of it, else gathered to the host."""
    return a if a.is_fully_addressable else to_host(a)


def _sharding(mesh: Mesh, axis: str) -> NamedSharding:
    """Arrays split along their leading axis over the mesh axis ``axis``."""
    return NamedSharding(mesh, PartitionSpec(axis))


def _place(a, sharding: NamedSharding) -> jax.Array:
    """``a`` (host array, memory map or jax array) laid out by ``sharding``; each process
    reads only the slices its own devices hold. PRNG keys travel as their key data."""
    if isinstance(a, jax.Array) and a.is_fully_addressable and jax.process_count() == 1:
        return jax.device_put(a, sharding)
    if jnp.issubdtype(a.dtype, jax.dtypes.prng_key):
        return jax.random.wrap_key_data(_place(jax.random.key_data(a), sharding))
    return jax.make_array_from_callback(a.shape, sharding, lambda index: np.asarray(a[index]))


def _seconds_since(t0: float, tree) -> float:
    jax.block_until_ready(tree)
    return time.perf_counter() - t0
