"""k-means in JAX: k-means++ seeding, Lloyd iterations, restarts, DCN's online update,
mini-batch k-means for data on the host.

Every function but :func:`minibatch_kmeans` (a host loop over jitted steps) is pure and
shape-static, so ``kmeans`` can sit inside ``jax.jit`` and be ``jax.vmap``-ed over PRNG keys
(one k-means per seed).
"""
from __future__ import annotations

import math
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxclust.blocks import BLOCK, rowwise


class KMeansResult(NamedTuple):
    """centroids ``(k, d)``, labels ``(n,)`` int32, inertia ``()``, n_iter ``()`` int32."""

    centroids: jax.Array
    labels: jax.Array
    inertia: jax.Array
    n_iter: jax.Array


def sq_distances(x: jax.Array, centroids: jax.Array) -> jax.Array:
    """Squared Euclidean distances ``(n, k)`` between ``x`` ``(n, d)`` and ``centroids`` ``(k, d)``.

    Uses ``‖x‖² − 2 x·c + ‖c‖²`` (one matmul) after centring both on the centroids' mean (so
    data far from the origin lose no precision to cancellation), clipped at 0 against rounding.
    """
    shift = jnp.mean(centroids, axis=0, keepdims=True)
    x, centroids = x - shift, centroids - shift
    x_sq = jnp.sum(x * x, axis=1, keepdims=True)
    c_sq = jnp.sum(centroids * centroids, axis=1)[None, :]
    return jnp.maximum(x_sq - x @ (2.0 * centroids).T + c_sq, 0.0)


def assign(x: jax.Array, centroids: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Nearest centroid of each point: labels ``(n,)`` int32 and squared distances ``(n, k)``
    (the whole ``(n, k)`` matrix at once; :func:`nearest` for the labels in row blocks)."""
    d2 = sq_distances(x, centroids)
    return jnp.argmin(d2, axis=1).astype(jnp.int32), d2


def nearest(x: jax.Array, centroids: jax.Array, block: int = BLOCK) -> jax.Array:
    """The nearest centroid of each point ``(n,)`` int32, in blocks of ``block`` rows
    (memory O(block · k), whatever n)."""
    return rowwise(lambda rows: assign(rows, centroids)[0], x, block=block)


def inertia(x: jax.Array, centroids: jax.Array, labels: jax.Array,
            block: int = BLOCK) -> jax.Array:
    """Sum of squared distances of each point ``x`` ``(n, d)`` to its own centroid
    (``centroids`` ``(k, d)``, ``labels`` ``(n,)``), from direct differences, in blocks of
    ``block`` rows (no ``(n, d)`` temporary)."""
    return jnp.sum(own_sq_distances(x, centroids, labels, block))


def own_sq_distances(x: jax.Array, centroids: jax.Array, labels: jax.Array,
                     block: int = BLOCK) -> jax.Array:
    """Squared distance ``(n,)`` of each point to its own centroid, from direct differences,
    in blocks of ``block`` rows (no ``(n, d)`` temporary)."""

    def own_d2(rows, row_labels):
        diff = rows - centroids[row_labels]
        return jnp.sum(diff * diff, axis=1)

    return rowwise(own_d2, x, labels, block=block)


def kmeans_plusplus(key: jax.Array, x: jax.Array, k: int, n_trials: int | None = None) -> jax.Array:
    """Greedy k-means++ seeding (as scikit-learn): centroids ``(k, d)``.

    Each new centre is the best of ``n_trials`` (default ``2 + ⌊ln k⌋``) candidates drawn with
    probability ∝ D², the squared distance to the closest centre chosen so far. Distances
    are ``‖x‖² − 2 x·c + ‖c‖²`` with x and c centred on the data's mean, the shift of x
    folded into one term per candidate (precise far from the origin; no copy of ``x``).
    """
    mean = jnp.mean(x, axis=0, keepdims=True)
    return _plusplus(key, x, mean, centred_sq_norms(x, mean), k, n_trials)


def centred_sq_norms(x: jax.Array, shift: jax.Array) -> jax.Array:
    """``‖x_i − shift‖²`` ``(n,)`` for the rows of ``x`` ``(n, d)`` (``shift`` ``(1, d)``),
    in row blocks (never an ``(n, d)`` temporary)."""
    return rowwise(lambda rows: jnp.sum((rows - shift) ** 2, axis=1), x)


def _plusplus(key, x, mean, x_sq, k, n_trials=None):
    """:func:`kmeans_plusplus` given the data's ``mean`` ``(1, d)`` and ``x_sq`` ``(n,)`` =
    ``‖x_i − mean‖²``."""
    n = x.shape[0]
    n_trials = n_trials or 2 + int(math.log(k))

    def d2_to(rows):  # (n, m): squared distances to the points x[rows]
        # (x − m)·(c − m) = x·(c − m) − m·(c − m): the shift goes into a per-column term.
        c = x[rows] - mean
        const = jnp.sum(c * c, axis=1) + 2.0 * jnp.sum(mean * c, axis=1)
        return jnp.maximum(x_sq[:, None] - x @ (2.0 * c).T + const[None, :], 0.0)

    key_first, key_rest = jax.random.split(key)
    first = jax.random.randint(key_first, (1,), 0, n)
    centroids = jnp.zeros((k, x.shape[1]), x.dtype).at[0].set(x[first[0]])
    closest = d2_to(first)[:, 0]

    def add_centre(i, carry):
        centroids, closest = carry
        total = jnp.sum(closest)
        # All remaining mass zero (fewer distinct points than k): draw uniformly.
        probs = jnp.where(total > 0, closest / jnp.where(total > 0, total, 1.0), 1.0 / n)
        cand = jax.random.choice(jax.random.fold_in(key_rest, i), n, (n_trials,), p=probs)
        cand_d2 = jnp.minimum(closest[:, None], d2_to(cand))  # (n, trials)
        best = jnp.argmin(jnp.sum(cand_d2, axis=0))
        return centroids.at[i].set(x[cand[best]]), cand_d2[:, best]

    centroids, _ = jax.lax.fori_loop(1, k, add_centre, (centroids, closest))
    return centroids


# Entries of the largest (k, n) matrix a Lloyd step builds at once (64 MB in float32).
MAX_ELEMENTS = 2 ** 24


def lloyd_step(x: jax.Array, centroids: jax.Array) -> tuple[jax.Array, jax.Array]:
    """One Lloyd step: assign every point, then move each centroid to its points' mean.

    Distances are taken relative to the centroids' mean (float32 precision far from the origin,
    without a centred copy of ``x``). The cross products are one matmul laid out ``(k, n)`` (on
    XLA:CPU ≈ 5× faster than ``(n, k)`` for small ``d``: the arg-min then reduces a major
    axis); beyond ``MAX_ELEMENTS`` entries that matrix is built for one block of rows at a time
    (memory O(k · block), whatever n). The centroid sums are a segment sum: n·d additions,
    where a one-hot matmul costs k·n·d multiply-adds (on the CPU 2× faster at k = 10, 29× at
    256). An empty cluster is re-seeded at one of the points farthest from their centroid (the
    j-th empty cluster takes the j-th farthest point), so no centroid becomes NaN.

    Args:
      x: ``(n, d)``; centroids: ``(k, d)``.

    Returns:
      New centroids ``(k, d)`` and the labels ``(n,)`` int32 they were computed from.
    """
    k = centroids.shape[0]
    shift = jnp.mean(centroids, axis=0, keepdims=True)
    c = centroids - shift
    # argmin_j ‖x − c_j‖² = argmin_j (‖c_j − s‖²/2 − (x − s)·(c_j − s)) for any shift s (‖x‖²
    # is the same for every j), and (x − s)·(c_j − s) = x·(c_j − s) − s·(c_j − s): centring
    # on the centroids' mean costs one term per centroid, not a copy of x.
    bias = (0.5 * jnp.sum(c * c, axis=1) + jnp.sum(shift * c, axis=1))[:, None]

    def block(xb):  # labels (B,), the block's sums (k, d) and counts (k,)
        labels = jnp.argmin(bias - c @ xb.T, axis=0).astype(jnp.int32)
        return (labels, jax.ops.segment_sum(xb, labels, k),
                jnp.bincount(labels, length=k).astype(x.dtype))

    n, rows = x.shape[0], max(1, MAX_ELEMENTS // k)
    if n <= rows:
        labels, sums, counts = block(x)
    else:  # full blocks sliced in place (x is never copied), then the last n mod rows
        full, rest = divmod(n, rows)
        labels, sums, counts = jax.lax.map(
            lambda i: block(jax.lax.dynamic_slice_in_dim(x, i * rows, rows)), jnp.arange(full))
        labels, sums, counts = labels.reshape(-1), jnp.sum(sums, 0), jnp.sum(counts, 0)
        if rest:
            last = block(x[full * rows:])
            labels = jnp.concatenate([labels, last[0]])
            sums, counts = sums + last[1], counts + last[2]
    means = sums / jnp.maximum(counts, 1.0)[:, None]
    return reseed_empty(means, counts, x, centroids, labels), labels


def reseed_empty(target: jax.Array, counts: jax.Array, x: jax.Array, centroids: jax.Array,
                 labels: jax.Array) -> jax.Array:
    """``target`` ``(k, d)`` with the row of each cluster that owns no point (``counts``
    ``(k,)`` = 0) replaced by one of the points of ``x`` ``(n, d)`` farthest from their own
    centroid (``centroids[labels]``): the j-th empty cluster takes the j-th farthest point.
    The top-k search runs only when some cluster is empty (under ``vmap``: always)."""
    k = counts.shape[0]
    empty = counts == 0

    def fill(target):
        _, farthest = jax.lax.top_k(own_sq_distances(x, centroids, labels), k)
        rank = jnp.clip(jnp.cumsum(empty) - 1, 0, k - 1)
        return jnp.where(empty[:, None], x[farthest[rank]], target)

    return jax.lax.cond(jnp.any(empty), fill, lambda t: t, target)


def _lloyd(x, centroids, max_iter, tol):
    """Lloyd iterations from ``centroids`` ``(k, d)`` until no label changes, the centres
    move less than ``tol`` (squared), or ``max_iter``. Returns the centroids ``(k, d)``
    and the iterations used ``()``."""

    def cond(state):
        _, _, active, n_iter = state
        return active & (n_iter < max_iter)

    def body(state):
        centroids, labels, _, n_iter = state
        new, new_labels = lloyd_step(x, centroids)
        active = (jnp.sum((new - centroids) ** 2) > tol) & jnp.any(new_labels != labels)
        return new, new_labels, active, n_iter + 1

    init = (centroids, jnp.full((x.shape[0],), -1, jnp.int32), jnp.array(True), jnp.array(0))
    centroids, _, _, n_iter = jax.lax.while_loop(cond, body, init)
    return centroids, n_iter


@partial(jax.jit, static_argnames=("k", "n_init", "max_iter"))
def kmeans(key: jax.Array, x: jax.Array, k: int, n_init: int = 10, max_iter: int = 300,
           tol: float = 1e-4) -> KMeansResult:
    """k-means with ``n_init`` k-means++ restarts; the lowest inertia wins.

    Args:
      key: PRNG key.
      x: ``(n, d)`` float data.
      k: number of clusters (static).
      n_init: restarts, each from its own key (static).
      max_iter: Lloyd iterations per restart at most (static).
      tol: stop when the squared centre shift falls below ``tol`` × the mean feature
        variance (scikit-learn's relative tolerance), or when no label changes.

    Returns:
      ``KMeansResult`` of the best restart. The restarts run one after another, each to
      its own convergence (batching them would run every restart as long as the slowest:
      ≈ 2.5× the Lloyd steps on MNIST). Distances are taken relative to the data's or
      the centroids' mean (float32 precision far from the origin) without a centred copy of
      ``x``: memory beyond the data is O(block).
    """
    x = jnp.asarray(x)
    mean = jnp.mean(x, axis=0, keepdims=True)
    x_sq = centred_sq_norms(x, mean)
    tol_abs = tol * jnp.mean(x_sq) / x.shape[1]  # × the mean feature variance
    seeds = jax.vmap(_plusplus, (0, None, None, None, None))(
        jax.random.split(key, n_init), x, mean, x_sq, k)

    def restart(carry, seed):  # Lloyd, then the exact inertia (direct differences)
        x, tol_abs = carry
        centroids, n_iter = _lloyd(x, seed, max_iter, tol_abs)
        labels = nearest(x, centroids)
        return carry, (centroids, labels, inertia(x, centroids, labels), n_iter)

    # The data pass through as the carry: XLA copies a large array that a loop only reads.
    _, (centroids, labels, inertias, n_iter) = jax.lax.scan(restart, (x, tol_abs), seeds)
    best = jnp.argmin(inertias)
    return KMeansResult(centroids[best], labels[best], inertias[best], n_iter[best])


def online_update(centroids: jax.Array, counts: jax.Array, z: jax.Array,
                  labels: jax.Array) -> tuple[jax.Array, jax.Array]:
    """DCN's online centroid update for a mini-batch.

    Per point assigned to cluster j, in order: ``c_j ← c_j + 1``,
    ``m_j ← m_j − (m_j − z_i) / c_j``. Processing a batch in sequence gives exactly
    ``m_j ← (c_j m_j + Σ_{i∈j} z_i) / (c_j + n_j)``, computed here in one step.

    Args:
      centroids: ``(k, e)``; counts: ``(k,)`` float (DCN starts them at 100);
      z: ``(B, e)`` embeddings; labels: ``(B,)`` int cluster of each point.

    Returns:
      New centroids ``(k, e)`` and counts ``(k,)``; clusters with no point are unchanged.
    """
    one_hot = jax.nn.one_hot(labels, centroids.shape[0], dtype=z.dtype)
    n_j = jnp.sum(one_hot, axis=0)
    new_counts = counts + n_j
    sums = one_hot.T @ z
    new = (counts[:, None] * centroids + sums) / jnp.maximum(new_counts, 1e-12)[:, None]
    return jnp.where((n_j > 0)[:, None], new, centroids), new_counts


@jax.jit
def _minibatch_step(centroids, counts, batch):
    return online_update(centroids, counts, batch, nearest(batch, centroids))


@jax.jit
def _labels_and_inertia(rows, centroids):
    labels = nearest(rows, centroids)
    return labels, inertia(rows, centroids, labels)


def minibatch_kmeans(key: jax.Array, x, k: int, batch_size: int = 1024, n_steps: int = 300,
                     init_size: int | None = None, block: int = 65_536) -> KMeansResult:
    """Mini-batch k-means (Sculley 2010), for data beyond what full Lloyd passes afford or
    that stays on the host: ``x`` ``(n, d)`` may be a numpy array or memory map, and only
    the rows drawn (or one ``block`` of rows at the end) are on the device at a time.

    k-means++ on ``init_size`` rows drawn at random (default ``3 · batch_size``, at least k);
    then ``n_steps`` steps, each on ``batch_size`` rows drawn at random: every row goes to
    its nearest centroid, and each centroid becomes the running mean of all rows it has been
    given (:func:`online_update`, counts from 0: Sculley's per-centre rate 1/count). A
    centroid that is never given a row stays at its seed. Final labels and inertia from one
    pass over ``x`` in blocks. Deterministic under ``key``.

    Returns ``KMeansResult`` (``n_iter`` = ``n_steps``).
    """
    n = x.shape[0]
    if not 1 <= k <= n:
        raise ValueError(f"k must be in [1, n = {n}], got {k}")
    if batch_size < 1 or n_steps < 0:
        raise ValueError(f"batch_size must be >= 1 and n_steps >= 0, got {batch_size}, "
                         f"{n_steps}")

    def drawn(index):  # the rows at ``index`` (sorted: a memory map reads them in order)
        return jnp.asarray(x[np.sort(np.asarray(index))], jnp.float32)

    key_init, key_seed, key_steps = jax.random.split(key, 3)
    m = min(n, max(k, init_size or 3 * batch_size))
    centroids = kmeans_plusplus(key_seed, drawn(jax.random.choice(key_init, n, (m,), False)), k)
    counts = jnp.zeros((k,), jnp.float32)
    for step in range(n_steps):
        index = jax.random.randint(jax.random.fold_in(key_steps, step), (batch_size,), 0, n)
        centroids, counts = _minibatch_step(centroids, counts, drawn(index))
    labels, total = [], jnp.zeros((), jnp.float32)
    for start in range(0, n, block):
        lab, part = _labels_and_inertia(jnp.asarray(x[start:start + block], jnp.float32),
                                        centroids)
        labels.append(lab)
        total = total + part
    return KMeansResult(centroids, jnp.concatenate(labels), total, jnp.asarray(n_steps))
