"""The manifold head: after any method, UMAP of its final features, then a Gaussian mixture.

    method = head(dec.IDEC, "idec-n2d")      # IDEC, then UMAP → GMM on its embedding

N2D (McConville et al. 2019) is this head on the bare autoencoder (:data:`N2D`); on IDEC, DCN
and DEC it clusters the manifold of their trained embedding instead. The head runs once, in
``finish``, after the method's last clustering epoch; its state holds zero-filled
placeholders until then, so the state keeps one shape from start to end (checkpoints of the
clustering phase restore as before). New points are placed by UMAP's ``transform``; a point
whose features equal a fitted one's (up to rounding) keeps that point's layout, so
``predict`` on the training data returns the fitted labels.
"""
from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxclust import gmm, train, umap
from jaxclust.methods import aekm, dcn, dec
from jaxclust.methods.base import Method, never_done

# N2D's UMAP (the authors' run.sh): 10 dimensions, 20 neighbours, min_dist 0
N2D_UMAP = umap.Config(n_components=10, n_neighbors=20, min_dist=0.0)


class State(NamedTuple):
    """The method's own state, the UMAP of its features, the mixture on the layout, and the
    key of ``transform``'s negative samples."""

    inner: Any
    umap: umap.State
    gmm: gmm.State
    key: jax.Array


def _head_config(base: type, method_name: str) -> type:
    """``base`` (a method's Config) with the head's fields: ``umap`` and the mixture's
    ``reg_covar``, ``gmm_tol``, ``gmm_max_iter``, ``gmm_n_init``."""
    name = method_name.replace("-", "_").upper() + "Config"
    cls = dataclasses.make_dataclass(
        name, [("umap", umap.Config, dataclasses.field(default=N2D_UMAP)),
               ("reg_covar", float, dataclasses.field(default=1e-6)),
               ("gmm_tol", float, dataclasses.field(default=1e-3)),
               ("gmm_max_iter", int, dataclasses.field(default=100)),
               ("gmm_n_init", int, dataclasses.field(default=1))],
        bases=(base,), frozen=True)
    cls.__module__ = __name__
    cls.__doc__ = (f"{base.__module__}.{base.__qualname__} plus the manifold head: ``umap`` "
                   "(N2D's: 10-d, 20 neighbours, min_dist 0) and the mixture's "
                   "``reg_covar``, ``gmm_tol``, ``gmm_max_iter``, ``gmm_n_init``.")
    globals()[name] = cls  # importable by name: configs and states pickle
    return cls


def _mixture(cfg) -> gmm.Config:
    return gmm.Config(cfg.n_clusters, cfg.reg_covar, cfg.gmm_tol, cfg.gmm_max_iter,
                      n_init=cfg.gmm_n_init)


def head(method: Method, name: str, summary: str | None = None,
         defaults: tuple = ()) -> Method:
    """``method`` followed by the manifold head, registered as ``name``; ``defaults``
    ``(field, value)`` pairs override ``method``'s own."""

    def placeholders(inner, key, x, cfg) -> State:
        feats = jax.eval_shape(lambda s: method.features(s, x, cfg), inner)
        n, m, c, k = x.shape[0], feats.shape[1], cfg.umap.n_components, cfg.n_clusters
        zeros = jnp.zeros
        mixture = gmm.State(zeros((k,)), zeros((k, c)), jnp.broadcast_to(jnp.eye(c), (k, c, c)),
                            zeros((c,)), zeros(()), jnp.zeros((), jnp.int32),
                            jnp.zeros((), bool))
        return State(inner, umap.State(zeros((n, m)), zeros((n, c))), mixture, key)

    def finish(state: State, x, cfg) -> State:
        key, k_umap, k_gmm = jax.random.split(state.key, 3)
        fitted = umap.fit(k_umap, method.features(state.inner, x, cfg), cfg.umap)
        return State(state.inner, fitted, gmm.fit(k_gmm, fitted.embedding, _mixture(cfg)), key)

    def layout(state: State, x, cfg) -> jax.Array:
        """UMAP layout ``(n, n_components)`` of the method's features of ``x``."""
        return umap.transform(state.key, state.umap, method.features(state.inner, x, cfg),
                              cfg.umap)

    def predict_proba(state: State, x, cfg) -> jax.Array:
        return gmm.predict_proba(state.gmm, layout(state, x, cfg))

    def predict(state: State, x, cfg) -> jax.Array:
        return jnp.argmax(predict_proba(state, x, cfg), axis=1).astype(jnp.int32)

    def objective(state: State, x, cfg) -> jax.Array:
        """The mixture's negative mean log-likelihood of the layout of ``x``."""
        return -gmm.score(state.gmm, layout(state, x, cfg))

    def init(key, x, cfg) -> State:
        return placeholders(method.init(key, x, cfg), jax.random.fold_in(key, 1), x, cfg)

    def start(pre, x, cfg) -> State:
        return placeholders(method.start(pre, x, cfg), pre.ae.key, x, cfg)

    train_epoch = None
    if method.train_epoch is not None:
        def train_epoch(state: State, x, cfg):
            inner, loss = method.train_epoch(state.inner, x, cfg)
            return state._replace(inner=inner), loss

    return Method(
        name=name, config=_head_config(method.config, name),
        summary=summary or f"{method.name.upper()}, then UMAP of its features, then a "
                           "Gaussian mixture (N2D's head)",
        pretrains=method.pretrains, init=None if method.init is None else init,
        start=None if method.start is None else start,
        train_epoch=train_epoch, finish=finish, predict=predict, objective=objective,
        features=layout, features_name="UMAP layout", predict_proba=predict_proba,
        done=never_done if method.done is never_done else (lambda s: method.done(s.inner)),
        defaults=(*method.defaults, *defaults))


N2D = head(aekm.METHOD, "n2d",
           "N2D: autoencoder, then UMAP of the embedding, then a Gaussian mixture",
           defaults=(("ae", train.AEConfig(epochs=1000, kernel_init="glorot_uniform")),))
DEC_N2D = head(dec.DEC, "dec-n2d")
IDEC_N2D = head(dec.IDEC, "idec-n2d")
DCN_N2D = head(dcn.METHOD, "dcn-n2d")
