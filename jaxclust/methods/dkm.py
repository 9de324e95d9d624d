"""DKM (Moradi Fard, Thonet & Gaussier, "Deep k-Means", arXiv 1806.10069): k-means made
differentiable, trained jointly with the autoencoder.

Per point: ``‖x − x̂‖² + λ Σ_k softmax_k(−α‖z − r_k‖²) ‖z − r_k‖²``; the network and the
representatives ``r`` ``(k, latent)`` take the same Adam steps — no discrete assignment step.
As α → ∞ the second term is the hard k-means loss. This is the pre-trained variant of the
authors' code (``dkm.py -p``): the autoencoder pre-trained (summed squared error, Adam,
batches of 256, TensorFlow's Glorot initialisation, 50 epochs), ``r`` from k-means on its
embedding, then α = 1000 held constant for 100 epochs (their 20 α values × 5 epochs).
Labels: the nearest representative.
"""
from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxclust import kmeans, nets, train
from jaxclust.losses import reconstruction_error
from jaxclust.methods import pretrain
from jaxclust.methods.base import Method


@dataclasses.dataclass(frozen=True)
class Config(pretrain.Config):
    """DKM settings (after ``n_clusters``, ``ae``, ``n_init``): ``lam`` (λ), ``alpha`` (α,
    the softmax's inverse temperature), Adam ``lr``, ``batch_size``, ``epochs``."""

    ae: train.AEConfig = train.AEConfig(loss="sse", kernel_init="glorot_uniform")
    lam: float = 1.0
    alpha: float = 1000.0
    lr: float = 1e-3
    batch_size: int = 256
    epochs: int = 100


class State(NamedTuple):
    """The autoencoder's flax ``variables``, the representatives ``reps`` ``(k, latent)``,
    Adam's state over both, the step count and the key of the shuffles."""

    variables: Any
    reps: jax.Array
    opt_state: Any
    step: jax.Array
    key: jax.Array


def soft_kmeans(z: jax.Array, reps: jax.Array, alpha: float) -> jax.Array:
    """Σ_k softmax_k(−α d_k) d_k per point ``(B,)``, d_k = ‖z − r_k‖² computed as a
    difference (no cancellation); the softmax shifts by the smallest distance, so no exp
    underflows to 0/0 however large α."""
    d = jnp.sum((z[:, None, :] - reps[None, :, :]) ** 2, axis=-1)
    return jnp.sum(jax.nn.softmax(-alpha * d, axis=1) * d, axis=1)


def loss(params, variables, module, x: jax.Array, cfg: Config, train: bool = False):
    """Per-point DKM loss ``(B,)`` for ``params = (ae_params, reps)`` (``variables``: the
    autoencoder's others, e.g. BatchNorm statistics), and the updated variables."""
    ae_params, reps = params
    (z, x_hat), variables = nets.forward(module, {**variables, "params": ae_params}, x,
                                         train=train)
    return (reconstruction_error(x, x_hat, cfg.ae.loss)
            + cfg.lam * soft_kmeans(z, reps, cfg.alpha)), variables


def from_pretrained(pre: pretrain.State, x: jax.Array, cfg: Config) -> State:
    """Representatives from the pre-training's k-means (``x`` unused)."""
    params = (pre.ae.variables["params"], pre.centroids)
    return State(pre.ae.variables, pre.centroids, optax.adam(cfg.lr).init(params),
                 jnp.zeros((), jnp.int32), pre.ae.key)


def train_step(state: State, batch: jax.Array, cfg: Config):
    """One Adam step on the mean loss of ``batch`` ``(B, d)``; returns the state and it."""
    module = cfg.ae.module(batch.shape[1])
    params = (state.variables["params"], state.reps)

    def mean_loss(p):
        per_point, variables = loss(p, state.variables, module, batch, cfg, train=True)
        return jnp.mean(per_point), variables

    (value, variables), grads = jax.value_and_grad(mean_loss, has_aux=True)(params)
    updates, opt_state = optax.adam(cfg.lr).update(grads, state.opt_state, params)
    ae_params, reps = optax.apply_updates(params, updates)
    return state._replace(variables={**variables, "params": ae_params}, reps=reps,
                          opt_state=opt_state, step=state.step + 1), value


def train_epoch(state: State, x: jax.Array, cfg: Config):
    """One shuffled pass of :func:`train_step`; returns the state and the mean loss."""
    state, losses = train.run_epoch(lambda s, b: train_step(s, b, cfg), state, x,
                                    cfg.batch_size)
    return state, jnp.mean(losses)


def embed(state: State, x: jax.Array, cfg: Config) -> jax.Array:
    return nets.embed(cfg.ae.module(x.shape[1]), state.variables, x)


def predict(state: State, x: jax.Array, cfg: Config) -> jax.Array:
    """The nearest representative: labels ``(n,)``."""
    return kmeans.assign(embed(state, x, cfg), state.reps)[0]


def objective(state: State, x: jax.Array, cfg: Config) -> jax.Array:
    """The mean DKM loss on all of ``x`` (ranks seeds)."""
    module = cfg.ae.module(x.shape[1])
    params = (state.variables["params"], state.reps)
    return jnp.mean(nets.rowwise(lambda rows: loss(params, state.variables, module, rows,
                                                   cfg)[0], x))


METHOD = Method(
    name="dkm", config=Config,
    summary="DKM: reconstruction + λ·softmax-weighted k-means loss, all by gradient",
    pretrains=True, start=from_pretrained, train_epoch=train_epoch, train_step=train_step,
    predict=predict, objective=objective, features=embed)
