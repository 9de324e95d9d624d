"""DEC (Xie et al. 2016) and IDEC (Guo et al. 2017): KL to the auxiliary target P.

Pre-trained autoencoder → k-means on z → joint updates of the encoder and the centroids on
``KL(P‖Q)`` (DEC) or ``L_rec + γ·KL(P‖Q)`` (IDEC, decoder kept). P is recomputed from the
whole data set at the start of every :func:`train_epoch` — one target-update interval of
``cfg.update_interval`` mini-batches (default: one pass over the data, as the paper) — or,
with ``target="batch"``, from each mini-batch's own q (as ClustPy). A run stops when fewer
than ``tol`` of the points change label between two updates; the stop is a flag inside the
state, so under ``jax.vmap`` a finished seed freezes while the others go on.

    state = from_pretrained(pre, x, cfg)      # pre: the shared pre-training phase
    while not state.done: state, loss = train_epoch(state, x, cfg)
    labels = predict(state, x, cfg)
"""
from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxclust import nets, train
from jaxclust.losses import dec_loss, reconstruction_error, soft_assignment, target_distribution
from jaxclust.methods import pretrain
from jaxclust.methods.base import Method, flag_done


@dataclasses.dataclass(frozen=True)
class Config(pretrain.Config):
    """DEC/IDEC settings (after the pre-training fields ``n_clusters``, ``ae``, ``n_init``).

    ``gamma``: weight of the KL term; ``idec=False`` (DEC) drops the reconstruction term.
    ``optimizer``: ``"sgd"`` (momentum 0.9, the paper's) or ``"adam"`` (IDEC's).
    ``update_interval``: mini-batches between target updates (None: one pass).
    ``epochs``: at most this many target updates (a run stops earlier at ``tol``).
    ``target="batch"`` with ``tol=0`` makes no pass over all the data at all (no stop test).
    """

    idec: bool = False
    gamma: float = 0.1
    alpha: float = 1.0
    optimizer: str = "sgd"
    lr: float = 0.01
    batch_size: int = 256
    update_interval: int | None = None
    target: str = "full"
    tol: float = 0.001
    epochs: int = 200

    def __post_init__(self):
        if self.target not in ("full", "batch"):
            raise ValueError(f"target must be 'full' or 'batch', got {self.target!r}")
        if self.optimizer not in ("sgd", "adam"):
            raise ValueError(f"optimizer must be 'sgd' or 'adam', got {self.optimizer!r}")

    def tx(self) -> optax.GradientTransformation:
        if self.optimizer == "sgd":
            return optax.sgd(self.lr, momentum=0.9)
        return optax.adam(self.lr)


class State(NamedTuple):
    """variables: AE flax variables; centroids ``(k, latent)``; p ``(n, k)`` the current
    target; labels ``(n,)`` at the last target update; done: the stop flag; delta: the
    fraction of labels changed at the last update."""

    variables: Any
    centroids: jax.Array
    opt_state: Any
    p: jax.Array
    labels: jax.Array
    done: jax.Array
    delta: jax.Array
    step: jax.Array
    key: jax.Array


def from_pretrained(pre: pretrain.State, x: jax.Array, cfg: Config) -> State:
    """Start DEC from a pre-trained AE+KM state (autoencoder and k-means centroids)."""
    trainable = {"params": pre.ae.variables["params"], "centroids": pre.centroids}
    q = _q(pre.ae.variables, pre.centroids, x, cfg)
    return State(pre.ae.variables, pre.centroids, cfg.tx().init(trainable),
                 target_distribution(q), jnp.argmax(q, axis=1).astype(jnp.int32),
                 jnp.asarray(False), jnp.asarray(1.0, x.dtype), jnp.zeros((), jnp.int32),
                 pre.ae.key)


def _q(variables, centroids, x, cfg: Config):
    z = nets.embed(cfg.ae.module(x.shape[1]), variables, x, cfg.block_size)
    return soft_assignment(z, centroids, cfg.alpha)


def train_step(state: State, batch, cfg: Config):
    """One joint update of encoder (and decoder for IDEC) and centroids.

    batch: ``(x_b, p_b)``, ``(B, d)`` and ``(B, k)`` (``p_b`` ignored with target="batch").
    Returns the new state and the loss.
    """
    x_b, p_b = batch
    module = cfg.ae.module(x_b.shape[1])

    def loss_fn(trainable):
        variables = {**state.variables, "params": trainable["params"]}
        if cfg.idec:
            (z, x_hat), variables = nets.forward(module, variables, x_b, train=True,
                                                 logits=cfg.ae.loss == "bce")
        else:
            z, variables = nets.forward(module, variables, x_b, train=True, method=module.encode)
        q = soft_assignment(z, trainable["centroids"], cfg.alpha)
        p = target_distribution(q) if cfg.target == "batch" else p_b
        loss = jnp.mean(dec_loss(p, q))
        if cfg.idec:
            loss = jnp.mean(reconstruction_error(x_b, x_hat, cfg.ae.loss)) + cfg.gamma * loss
        return loss, variables

    trainable = {"params": state.variables["params"], "centroids": state.centroids}
    (loss, variables), grads = jax.value_and_grad(loss_fn, has_aux=True)(trainable)
    updates, opt_state = cfg.tx().update(grads, state.opt_state, trainable)
    trainable = optax.apply_updates(trainable, updates)
    variables = {**variables, "params": trainable["params"]}
    return state._replace(variables=variables, centroids=trainable["centroids"],
                          opt_state=opt_state, step=state.step + 1), loss


def update_target(state: State, x: jax.Array, cfg: Config) -> State:
    """Recompute P and the labels on all of ``x``; set ``done`` when fewer than ``tol``
    of the labels changed since the last update (never at the very first update)."""
    q = _q(state.variables, state.centroids, x, cfg)
    labels = jnp.argmax(q, axis=1).astype(jnp.int32)
    delta = jnp.mean((labels != state.labels).astype(x.dtype))
    done = state.done | ((state.step > 0) & (delta < cfg.tol))
    return state._replace(p=target_distribution(q), labels=labels, done=done, delta=delta)


def train_epoch(state: State, x: jax.Array, cfg: Config):
    """One target-update interval: update P (and the stop flag), then
    ``cfg.update_interval`` mini-batch steps (default one pass). A finished run is left
    unchanged. Returns the state and the mean loss."""
    freeze = lambda done, old, new: jax.tree.map(  # noqa: E731
        lambda a, b: jnp.where(done, a, b), old, new)
    if cfg.target == "full" or cfg.tol > 0:
        state = freeze(state.done, state, update_target(state, x, cfg))
    key, sub = jax.random.split(state.key)
    idx = train.batch_indices(sub, x.shape[0], cfg.batch_size, cfg.update_interval)
    # P and the labels (n rows each) stay out of the loop's carry: the steps only read P
    step = lambda s, i: train_step(s, (x[i], state.p[i]), cfg)  # noqa: E731
    new, losses = jax.lax.scan(step, state._replace(key=key, p=None, labels=None), idx)
    new = new._replace(p=state.p, labels=state.labels)
    return freeze(state.done, state, new), jnp.mean(losses)


def embed(state: State, x: jax.Array, cfg: Config) -> jax.Array:
    return nets.embed(cfg.ae.module(x.shape[1]), state.variables, x, cfg.block_size)


def predict_proba(state: State, x: jax.Array, cfg: Config) -> jax.Array:
    """Soft assignments q ``(n, k)``."""
    return _q(state.variables, state.centroids, x, cfg)


def predict(state: State, x: jax.Array, cfg: Config) -> jax.Array:
    """``argmax_j q_ij``: labels ``(n,)``."""
    return jnp.argmax(predict_proba(state, x, cfg), axis=1).astype(jnp.int32)


def objective(state: State, x: jax.Array, cfg: Config) -> jax.Array:
    """Mean ``KL(P‖Q)`` on all of ``x`` (the unsupervised score used to rank seeds)."""
    q = predict_proba(state, x, cfg)
    return jnp.mean(dec_loss(target_distribution(q), q))


_FUNCTIONS = dict(config=Config, pretrains=True, start=from_pretrained, train_epoch=train_epoch,
                  train_step=train_step, predict=predict, predict_proba=predict_proba,
                  objective=objective, features=embed, done=flag_done)
DEC = Method(name="dec", summary="DEC: KL(P‖Q) to a sharpened target, encoder and centroids",
             **_FUNCTIONS)
IDEC = Method(name="idec", summary="IDEC: DEC plus the reconstruction term (Adam)",
              defaults=(("idec", True), ("optimizer", "adam"), ("lr", 1e-3)), **_FUNCTIONS)
