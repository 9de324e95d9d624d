"""k-means in JAX: k-means++ seeding, Lloyd iterations, restarts, DCN's online update.

Every function is pure and shape-static, so ``kmeans`` can sit inside ``jax.jit`` and be
``jax.vmap``-ed over PRNG keys (one k-means per seed).
"""
from __future__ import annotations

import math
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp


class KMeansResult(NamedTuple):
    """centroids ``(k, d)``, labels ``(n,)`` int32, inertia ``()``, n_iter ``()`` int32."""

    centroids: jax.Array
    labels: jax.Array
    inertia: jax.Array
    n_iter: jax.Array


def sq_distances(x: jax.Array, centroids: jax.Array) -> jax.Array:
    """Squared Euclidean distances ``(n, k)`` between ``x`` ``(n, d)`` and ``centroids`` ``(k, d)``.

    Uses ``‖x‖² − 2 x·c + ‖c‖²`` (one matmul), clipped at 0 against rounding.
    """
    x_sq = jnp.sum(x * x, axis=1, keepdims=True)
    c_sq = jnp.sum(centroids * centroids, axis=1)[None, :]
    return jnp.maximum(x_sq - 2.0 * x @ centroids.T + c_sq, 0.0)


def assign(x: jax.Array, centroids: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Nearest centroid of each point: labels ``(n,)`` int32 and squared distances ``(n, k)``."""
    d2 = sq_distances(x, centroids)
    return jnp.argmin(d2, axis=1).astype(jnp.int32), d2


def inertia(x: jax.Array, centroids: jax.Array, labels: jax.Array) -> jax.Array:
    """Sum of squared distances of each point to its own centroid, computed directly."""
    diff = x - centroids[labels]
    return jnp.sum(diff * diff)


def kmeans_plusplus(key: jax.Array, x: jax.Array, k: int, n_trials: int | None = None) -> jax.Array:
    """Greedy k-means++ seeding (as scikit-learn): centroids ``(k, d)``.

    Each new centre is the best of ``n_trials`` (default ``2 + ⌊ln k⌋``) candidates drawn with
    probability ∝ D², the squared distance to the closest centre chosen so far.
    """
    n = x.shape[0]
    n_trials = n_trials or 2 + int(math.log(k))
    key_first, key_rest = jax.random.split(key)
    first = x[jax.random.randint(key_first, (), 0, n)]
    centroids = jnp.zeros((k, x.shape[1]), x.dtype).at[0].set(first)
    closest = sq_distances(x, first[None])[:, 0]

    def add_centre(i, carry):
        centroids, closest = carry
        total = jnp.sum(closest)
        # All remaining mass zero (fewer distinct points than k): draw uniformly.
        probs = jnp.where(total > 0, closest / jnp.where(total > 0, total, 1.0), 1.0 / n)
        cand = jax.random.choice(jax.random.fold_in(key_rest, i), n, (n_trials,), p=probs)
        cand_d2 = jnp.minimum(closest[:, None], sq_distances(x, x[cand]))  # (n, trials)
        best = jnp.argmin(jnp.sum(cand_d2, axis=0))
        return centroids.at[i].set(x[cand[best]]), cand_d2[:, best]

    centroids, _ = jax.lax.fori_loop(1, k, add_centre, (centroids, closest))
    return centroids


def lloyd_update(x: jax.Array, centroids: jax.Array) -> tuple[jax.Array, jax.Array]:
    """One Lloyd step: assign, then move each centroid to the mean of its points.

    An empty cluster is re-seeded at one of the points farthest from their centroid (the
    j-th empty cluster takes the j-th farthest point), so no centroid becomes NaN.
    Returns the new centroids ``(k, d)`` and the labels ``(n,)`` they were computed from.
    """
    k = centroids.shape[0]
    labels, d2 = assign(x, centroids)
    counts = jax.ops.segment_sum(jnp.ones_like(labels, x.dtype), labels, k)
    sums = jax.ops.segment_sum(x, labels, k)
    means = sums / jnp.maximum(counts, 1.0)[:, None]
    own_d2 = jnp.take_along_axis(d2, labels[:, None], axis=1)[:, 0]
    _, farthest = jax.lax.top_k(own_d2, k)
    empty = counts == 0
    rank = jnp.clip(jnp.cumsum(empty) - 1, 0, k - 1)
    return jnp.where(empty[:, None], x[farthest[rank]], means), labels


def _single_run(key, x, k, max_iter, tol):
    """k-means++ then Lloyd until the labels stop changing or the centres move < tol."""
    centroids = kmeans_plusplus(key, x, k)

    def cond(state):
        _, _, shift, changed, it = state
        return (it < max_iter) & (shift > tol) & changed

    def body(state):
        centroids, labels, _, _, it = state
        new, new_labels = lloyd_update(x, centroids)
        shift = jnp.sum((new - centroids) ** 2)
        return new, new_labels, shift, jnp.any(new_labels != labels), it + 1

    labels0 = jnp.full((x.shape[0],), -1, jnp.int32)
    init = (centroids, labels0, jnp.asarray(jnp.inf, x.dtype), jnp.asarray(True), jnp.int32(0))
    centroids, _, _, _, n_iter = jax.lax.while_loop(cond, body, init)
    labels, _ = assign(x, centroids)
    return KMeansResult(centroids, labels, inertia(x, centroids, labels), n_iter)


@partial(jax.jit, static_argnames=("k", "n_init", "max_iter"))
def kmeans(key: jax.Array, x: jax.Array, k: int, n_init: int = 10, max_iter: int = 300,
           tol: float = 1e-4) -> KMeansResult:
    """k-means with ``n_init`` k-means++ restarts (vmapped); the lowest inertia wins.

    Args:
      key: PRNG key.
      x: ``(n, d)`` float data.
      k: number of clusters (static).
      n_init: restarts, each from its own key (static).
      max_iter: Lloyd iterations per restart at most (static).
      tol: stop when the squared centre shift falls below ``tol`` × the mean feature
        variance (scikit-learn's relative tolerance), or when no label changes.

    Returns:
      ``KMeansResult`` of the best restart. Data are centred internally (better float32
      precision of the matmul distances); the centroids are returned in input coordinates.
    """
    x = jnp.asarray(x)
    mean = jnp.mean(x, axis=0)
    xc = x - mean
    tol_abs = tol * jnp.mean(jnp.var(x, axis=0))
    runs = jax.vmap(_single_run, (0, None, None, None, None))(
        jax.random.split(key, n_init), xc, k, max_iter, tol_abs)
    best = jnp.argmin(runs.inertia)
    res = jax.tree.map(lambda a: a[best], runs)
    return res._replace(centroids=res.centroids + mean)


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
