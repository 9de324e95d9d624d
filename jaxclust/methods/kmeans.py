"""k-means on the raw features (:func:`jaxclust.kmeans.kmeans`: k-means++ restarts, Lloyd
iterations) as a method: its whole fit is ``init``; no clustering epochs."""
from __future__ import annotations

import dataclasses

import jax

from jaxclust import blocks, kmeans
from jaxclust.methods.base import Method


@dataclasses.dataclass(frozen=True)
class Config:
    """``n_clusters``; ``n_init`` k-means++ restarts; at most ``max_iter`` Lloyd iterations,
    stopping when the centroids move less than ``tol`` (scikit-learn's relative tolerance);
    ``block_size``: rows per block when assigning new points."""

    n_clusters: int = 10
    n_init: int = 20
    max_iter: int = 300
    tol: float = 1e-4
    block_size: int = blocks.BLOCK


def init(key: jax.Array, x: jax.Array, cfg: Config) -> kmeans.KMeansResult:
    """The best of ``cfg.n_init`` k-means runs on ``x`` ``(n, d)``."""
    return kmeans.kmeans(key, x, cfg.n_clusters, n_init=cfg.n_init, max_iter=cfg.max_iter,
                         tol=cfg.tol)


def predict(state: kmeans.KMeansResult, x: jax.Array, cfg: Config) -> jax.Array:
    """Nearest centroid: labels ``(n,)``."""
    return kmeans.nearest(x, state.centroids, cfg.block_size)


def distances(state: kmeans.KMeansResult, x: jax.Array, cfg: Config) -> jax.Array:
    """Euclidean distances ``(n, k)`` to the centroids."""
    return jax.numpy.sqrt(kmeans.sq_distances(x, state.centroids))


def objective(state: kmeans.KMeansResult, x: jax.Array, cfg: Config) -> jax.Array:
    """The inertia of ``x`` with the fitted centroids."""
    return kmeans.inertia(x, state.centroids, predict(state, x, cfg))


METHOD = Method(name="kmeans", config=Config, summary="k-means (k-means++ restarts)",
                init=init, predict=predict, objective=objective, features=distances,
                features_name="squared distances to the centroids")
