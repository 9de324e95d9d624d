"""The shared pre-training phase: an autoencoder, then k-means on its embedding.

Every autoencoder method starts here (``Method.pretrains``); its ``Config`` extends
:class:`Config`, so these functions read ``n_clusters``, ``ae`` and ``n_init`` from any of
them. The runner drives the phase:

    state = init(key, x, cfg)
    for _ in range(cfg.ae.epochs): state, loss = train_epoch(state, x, cfg)
    state = cluster(state, x, cfg)        # k-means (cfg.n_init restarts) on the embedding

or :func:`fit` for all of it as one pure function of the key.
"""
from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxclust import blocks, kmeans, nets, train


@dataclasses.dataclass(frozen=True)
class Config:
    """``n_clusters``; the autoencoder and its pre-training ``ae``; k-means restarts;
    ``block_size``: rows per block of every full-data pass (memory ∝ block_size)."""

    n_clusters: int = 10
    ae: train.AEConfig = train.AEConfig()
    n_init: int = 20
    block_size: int = blocks.BLOCK


def phase_config(cfg: Config) -> Config:
    """The pre-training part of any method's config (what a cached pre-training depends on)."""
    return Config(cfg.n_clusters, cfg.ae, cfg.n_init, cfg.block_size)


class State(NamedTuple):
    """The pre-trained autoencoder and k-means centroids ``(k, latent)`` on its embedding."""

    ae: train.TrainState
    centroids: jax.Array


def init(key: jax.Array, x: jax.Array, cfg: Config) -> State:
    """A fresh autoencoder; centroids are zeros until :func:`cluster`."""
    return State(train.ae_init(key, x, cfg.ae), jnp.zeros((cfg.n_clusters, cfg.ae.latent)))


def train_epoch(state: State, x: jax.Array, cfg: Config):
    """One autoencoder pre-training epoch; returns the state and the mean loss."""
    ae, loss = train.ae_epoch(state.ae, x, cfg.ae)
    return state._replace(ae=ae), loss


def embed(state: State, x: jax.Array, cfg: Config) -> jax.Array:
    """The embedding ``(n, latent)``."""
    return nets.embed(cfg.ae.module(x.shape[1]), state.ae.variables, x, cfg.block_size)


def cluster(state: State, x: jax.Array, cfg: Config) -> State:
    """k-means (``cfg.n_init`` restarts) on the embedding of ``x``."""
    key, sub = jax.random.split(state.ae.key)
    res = kmeans.kmeans(sub, embed(state, x, cfg), cfg.n_clusters, n_init=cfg.n_init)
    return State(state.ae._replace(key=key), res.centroids)


def recentre(state: State, x: jax.Array, labels: jax.Array, cfg: Config) -> State:
    """Centroids moved to the means of the embedding over ``labels``' groups ``(n,)`` (ids in
    ``[0, k)``; a group with no point keeps its centroid): a partition found elsewhere (the
    seeds' consensus) as this autoencoder's k-means start."""
    z = embed(state, x, cfg)
    counts = jax.ops.segment_sum(jnp.ones(z.shape[0], z.dtype), labels, cfg.n_clusters)
    sums = jax.ops.segment_sum(z, labels, cfg.n_clusters)
    means = sums / jnp.maximum(counts, 1.0)[:, None]
    return state._replace(centroids=jnp.where(counts[:, None] > 0, means, state.centroids))


def predict(state: State, x: jax.Array, cfg: Config) -> jax.Array:
    """Nearest centroid in the embedding: labels ``(n,)``."""
    return kmeans.nearest(embed(state, x, cfg), state.centroids, cfg.block_size)


def objective(state: State, x: jax.Array, cfg: Config) -> jax.Array:
    """k-means inertia in the embedding."""
    z = embed(state, x, cfg)
    return kmeans.inertia(z, state.centroids, kmeans.nearest(z, state.centroids,
                                                             cfg.block_size))


def fit(key: jax.Array, x: jax.Array, cfg: Config) -> State:
    """The whole phase: pre-train ``cfg.ae.epochs`` epochs, then k-means (pure)."""
    state = init(key, x, cfg)
    state, _ = jax.lax.scan(lambda s, _: train_epoch(s, x, cfg), state, None,
                            length=cfg.ae.epochs)
    return cluster(state, x, cfg)
