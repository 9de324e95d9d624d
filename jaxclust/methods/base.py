"""A clustering method as a value, and the one pure composition of its phases.

Every ``jaxclust/methods/<name>.py`` ends with a :class:`Method` naming its pure functions
(as optax's ``GradientTransformation`` names ``init``/``update``). The runner, the CLI, the
estimators and selection read these values and never ask a module what it can do.

A run has up to three phases:

1. ``pretrains``: the shared autoencoder pre-training + k-means phase
   (:mod:`jaxclust.methods.pretrain`), ``cfg.ae.epochs`` epochs; then
   ``start(pre_state, x, cfg)`` builds the method's state from it.
   Otherwise ``init(key, x, cfg)`` builds it from a key.
2. ``epochs(cfg)`` calls of ``train_epoch(state, x, cfg) -> (state, loss)``; a seed whose
   ``done(state)`` is set is frozen by its ``train_epoch``, and the host loop may end once
   every seed is done.
3. ``finish(state, x, cfg) -> state``, where the method has a last step after its epochs
   (the manifold head of :mod:`jaxclust.methods.manifold`).
4. ``predict(state, x, cfg) -> (n,)`` labels; ``objective(state, x, cfg) -> ()`` the
   method's own unsupervised loss (lower is better: it ranks seeds);
   ``features(state, x, cfg) -> (n, m)``: what ``transform`` returns and the plots project.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxclust import blocks


def never_done(state) -> jax.Array:
    """The ``done`` of a method that always runs its full number of epochs."""
    return jnp.asarray(False)


def flag_done(state) -> jax.Array:
    """The ``done`` of a method whose state holds a per-seed ``done`` flag."""
    return state.done


def classifier_logits(state, x: jax.Array, cfg) -> jax.Array:
    """Logits ``(n, k)`` of a method whose model is one classifier network (IMSAT, RIM,
    DAC: ``state.variables`` of ``cfg.module()``), in inference mode (running BatchNorm
    statistics), in row blocks of ``cfg.block_size``."""
    return blocks.rowwise(lambda rows: cfg.module().apply(state.variables, rows), x,
                          block=cfg.block_size)


def classifier_proba(state, x: jax.Array, cfg) -> jax.Array:
    """The classifier's ``p(y|x)`` ``(n, k)``: softmax of :func:`classifier_logits`."""
    return jax.nn.softmax(classifier_logits(state, x, cfg), axis=-1)


def classifier_predict(state, x: jax.Array, cfg) -> jax.Array:
    """The classifier's labels ``(n,)``: ``argmax_y p(y|x)``."""
    return jnp.argmax(classifier_logits(state, x, cfg), axis=-1).astype(jnp.int32)


class Method(NamedTuple):
    """A clustering method (see the module doc for the phases).

    name: its registry and CLI name; config: its frozen ``Config`` dataclass; defaults:
    ``(field, value)`` pairs overriding ``config``'s own defaults (IDEC is DEC's functions
    with other defaults); pretrains: whether it starts from the shared pre-training phase (then
    ``start``, else ``init``); train_epoch: ``None`` for a method without a clustering
    phase; train_step: the single update, for users' own loops; predict_proba: soft
    assignments ``(n, k)`` where the method has them; reconstruct: each expert's
    reconstruction ``(n, k, d)`` for mixtures of autoencoders; summary: one line;
    features_name: what ``features`` returns, in words (figures' titles).
    """

    name: str
    config: type
    summary: str
    predict: Callable
    objective: Callable
    features: Callable
    pretrains: bool = False
    init: Callable | None = None
    start: Callable | None = None
    train_epoch: Callable | None = None
    train_step: Callable | None = None
    finish: Callable | None = None
    predict_proba: Callable | None = None
    reconstruct: Callable | None = None
    done: Callable = never_done
    defaults: tuple[tuple[str, Any], ...] = ()
    features_name: str = "embedding"

    def make_config(self, **fields):
        """``config`` with this method's defaults, then ``fields``, applied."""
        return self.config(**{**dict(self.defaults), **fields})

    def epochs(self, cfg) -> int:
        """Epochs of the clustering phase (0 for a method without one)."""
        return 0 if self.train_epoch is None else cfg.epochs


def fit(method: Method, key: jax.Array, x: jax.Array, cfg):
    """Every phase of ``method`` on ``x`` ``(n, d)``: one pure function of ``key`` (so
    ``jax.vmap`` over keys trains many seeds). Returns the final state."""
    from jaxclust.methods import pretrain

    if method.pretrains:
        state = method.start(pretrain.fit(key, x, cfg), x, cfg)
    else:
        state = method.init(key, x, cfg)
    if method.epochs(cfg):
        state, _ = jax.lax.scan(lambda s, _: method.train_epoch(s, x, cfg), state, None,
                                length=method.epochs(cfg))
    if method.finish is not None:
        state = method.finish(state, x, cfg)
    return state

