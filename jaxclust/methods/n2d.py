"""N2D (McConville et al. 2019): the autoencoder's embedding → UMAP → a Gaussian mixture.

The shared pre-training phase (:mod:`jaxclust.methods.pretrain`) trains the autoencoder;
:func:`start` lays its embedding out with UMAP (:mod:`jaxclust.umap`) and fits a
full-covariance Gaussian mixture (:mod:`jaxclust.gmm`) to the layout. No clustering epochs.
New points are placed by UMAP's ``transform``; a point whose embedding equals a fitted one
(up to rounding) keeps that point's layout, so ``predict`` on the training data returns the
fitted labels.

Defaults are the authors' ``run.sh``: a d-500-500-2000-k autoencoder (MSE, Adam, batches of
256, Keras's Glorot initialisation) pre-trained 1000 epochs; UMAP to 10 dimensions with 20
neighbours and ``min_dist = 0``; the mixture's settings scikit-learn's defaults.
"""
from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxclust import gmm, train, umap
from jaxclust.methods import pretrain
from jaxclust.methods.base import Method


@dataclasses.dataclass(frozen=True)
class Config(pretrain.Config):
    """N2D settings (after ``n_clusters``, ``ae``, ``n_init``): ``umap`` (its
    ``n_components`` the paper sets to the number of clusters) and the mixture's
    ``reg_covar``, ``gmm_tol``, ``gmm_max_iter``."""

    ae: train.AEConfig = train.AEConfig(epochs=1000, kernel_init="glorot_uniform")
    umap: umap.Config = umap.Config(n_components=10, n_neighbors=20, min_dist=0.0)
    reg_covar: float = 1e-6
    gmm_tol: float = 1e-3
    gmm_max_iter: int = 100

    def mixture(self) -> gmm.Config:
        return gmm.Config(self.n_clusters, self.reg_covar, self.gmm_tol, self.gmm_max_iter)


class State(NamedTuple):
    """The pre-trained autoencoder (and its k-means), the fitted UMAP, the mixture on its
    layout, and the key of ``transform``'s negative samples."""

    pre: pretrain.State
    umap: umap.State
    gmm: gmm.State
    key: jax.Array


def start(pre: pretrain.State, x: jax.Array, cfg: Config) -> State:
    """UMAP of the embedding of ``x`` ``(n, d)``, then the mixture on its layout."""
    key, k_umap, k_gmm = jax.random.split(pre.ae.key, 3)
    fitted = umap.fit(k_umap, pretrain.embed(pre, x, cfg), cfg.umap)
    return State(pre, fitted, gmm.fit(k_gmm, fitted.embedding, cfg.mixture()), key)


def layout(state: State, x: jax.Array, cfg: Config) -> jax.Array:
    """UMAP layout ``(n, n_components)`` of ``x``'s embedding."""
    return umap.transform(state.key, state.umap, pretrain.embed(state.pre, x, cfg), cfg.umap)


def predict_proba(state: State, x: jax.Array, cfg: Config) -> jax.Array:
    """The mixture's responsibilities ``(n, k)``."""
    return gmm.predict_proba(state.gmm, layout(state, x, cfg))


def predict(state: State, x: jax.Array, cfg: Config) -> jax.Array:
    """The most responsible component ``(n,)``."""
    return jnp.argmax(predict_proba(state, x, cfg), axis=1).astype(jnp.int32)


def objective(state: State, x: jax.Array, cfg: Config) -> jax.Array:
    """The mixture's negative mean log-likelihood of the layout of ``x``."""
    return -gmm.score(state.gmm, layout(state, x, cfg))


METHOD = Method(
    name="n2d", config=Config,
    summary="N2D: autoencoder, then UMAP of the embedding, then a Gaussian mixture",
    pretrains=True, start=start, predict=predict, objective=objective, features=layout,
    predict_proba=predict_proba)
