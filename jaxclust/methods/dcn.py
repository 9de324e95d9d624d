"""DCN (Yang et al. 2017): joint reconstruction + k-means loss, online centroids.

Per mini-batch, alternating: (1) one optimiser step on the network with the centroids M and
the assignments s fixed, on ``ℓ(g(f(x)), x) + (λ/2)‖f(x) − M s‖²``; (2) re-assign each point
of the batch to its nearest centroid with the updated network; (3) DCN's online centroid
update with per-cluster counts (started at ``init_count``, 100 in the paper's code).

Scaling: the reconstruction term is the per-feature mean squared error (``ae.loss="mse"``)
and the distance a sum over the embedding dimensions, so ``lam`` weighs a per-feature
reconstruction error against a whole-embedding distance; ``lam = 0.1`` by default (as
ClustPy's 0.05·‖·‖², i.e. λ/2 = 0.05). With a summed reconstruction error (``"sse"``)
the same balance needs λ about d times larger (the digits study of λ:
``experiments/tuning/dcn_lam_digits/``).
"""
from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxclust import blocks, kmeans, nets, train
from jaxclust.losses import dcn_loss
from jaxclust.methods import pretrain
from jaxclust.methods.base import Method


@dataclasses.dataclass(frozen=True)
class Config(pretrain.Config):
    """DCN settings: ``lam`` (λ), clustering-phase ``optimizer``/``lr``/``batch_size``,
    ``epochs`` of joint training, ``init_count`` of the online centroid update."""

    lam: float = 0.1
    optimizer: str = "adam"
    lr: float = 1e-3
    batch_size: int = 256
    epochs: int = 50
    init_count: float = 100.0

    def tx(self) -> optax.GradientTransformation:
        if self.optimizer == "sgd":
            return optax.sgd(self.lr, momentum=0.9)
        if self.optimizer == "adam":
            return optax.adam(self.lr)
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {self.optimizer!r}")


class State(NamedTuple):
    """variables: AE flax variables; centroids ``(k, latent)``; counts ``(k,)``."""

    variables: Any
    opt_state: Any
    centroids: jax.Array
    counts: jax.Array
    step: jax.Array
    key: jax.Array


def from_pretrained(pre: pretrain.State, x: jax.Array, cfg: Config) -> State:
    """Start DCN from a pre-trained AE+KM state (``x`` unused: the common signature)."""
    return State(pre.ae.variables, cfg.tx().init(pre.ae.variables["params"]), pre.centroids,
                 jnp.full((cfg.n_clusters,), cfg.init_count, pre.centroids.dtype),
                 jnp.zeros((), jnp.int32), pre.ae.key)


def train_step(state: State, batch: jax.Array, cfg: Config):
    """Network step (M, s fixed) → re-assign → online centroid update, on ``batch`` ``(B, d)``.

    Returns the new state and the batch loss before the step.
    """
    module = cfg.ae.module(batch.shape[1])

    def loss_fn(params):
        (z, x_hat), variables = nets.forward(module, {**state.variables, "params": params},
                                             batch, train=True, logits=cfg.ae.loss == "bce")
        # s: the nearest centroid for the current network, held fixed for this step.
        labels = kmeans.nearest(jax.lax.stop_gradient(z), state.centroids)
        loss = dcn_loss(batch, x_hat, z, state.centroids, labels, cfg.lam, cfg.ae.loss)
        return jnp.mean(loss), variables

    state, loss = train.apply_gradients(state, loss_fn, cfg.tx())
    z = nets.embed(module, state.variables, batch)
    new_labels = kmeans.nearest(z, state.centroids)
    centroids, counts = kmeans.online_update(state.centroids, state.counts, z, new_labels)
    return state._replace(centroids=centroids, counts=counts), loss


def train_epoch(state: State, x: jax.Array, cfg: Config):
    """One shuffled pass of :func:`train_step`; returns the state and the mean loss."""
    return train.shuffled_epoch(train_step, state, x, cfg)


def embed(state: State, x: jax.Array, cfg: Config) -> jax.Array:
    return nets.embed(cfg.ae.module(x.shape[1]), state.variables, x, cfg.block_size)


def predict(state: State, x: jax.Array, cfg: Config) -> jax.Array:
    """Nearest centroid in the embedding: labels ``(n,)``."""
    return kmeans.nearest(embed(state, x, cfg), state.centroids, cfg.block_size)


def objective(state: State, x: jax.Array, cfg: Config) -> jax.Array:
    """Mean DCN loss on all of ``x`` with the current assignments (ranks seeds)."""
    module = cfg.ae.module(x.shape[1])

    def per_point(rows):
        z, x_hat = module.apply(state.variables, rows, logits=cfg.ae.loss == "bce")
        labels = kmeans.nearest(z, state.centroids)
        return dcn_loss(rows, x_hat, z, state.centroids, labels, cfg.lam, cfg.ae.loss)

    return jnp.mean(blocks.rowwise(per_point, x, block=cfg.block_size))


METHOD = Method(
    name="dcn", config=Config,
    summary="DCN: reconstruction + (λ/2)·k-means loss, online centroid updates",
    pretrains=True, start=from_pretrained, train_epoch=train_epoch, train_step=train_step,
    predict=predict, objective=objective, features=embed)
