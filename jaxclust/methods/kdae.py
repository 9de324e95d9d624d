"""k-DAE (Opochinsky et al.): one autoencoder per cluster; a point belongs to the
autoencoder that reconstructs it best.

The k autoencoders are ONE parameter pytree with a leading axis of size k, applied with
``jax.vmap``. Init: an autoencoder on all data → k-means on its embedding → member i
pre-trained on cluster i (BCE on data in [0, 1], else MSE; each member drawing its batches
from its own cluster) → joint training of all members on the hard loss
``Σ_t min_i ‖x_t − f_i(x_t)‖²`` (or the soft ``−Σ_t log Σ_i exp(−‖x_t − f_i(x_t)‖²)``).
Labels: ``argmin_i`` of the errors.
"""
from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxclust import nets, train
from jaxclust.losses import kdae_loss, kdae_soft_loss, reconstruction_error
from jaxclust.methods import pretrain
from jaxclust.methods.base import Method

# Clustering errors (losses.reconstruction_error kinds): the paper's ‖x − x̂‖², the code's ‖x − x̂‖.
ERRORS = ("sse", "norm")

# The paper's per-cluster autoencoder: d-1024-256-10, ELU; on its data (in [0, 1]) "auto"
# gives its sigmoid output and BCE pre-training, elsewhere a linear output and MSE.
PAPER_MEMBER = train.AEConfig(hidden=(1024, 256), latent=10, activation="elu",
                              output_activation="auto", loss="auto", epochs=10)


@dataclasses.dataclass(frozen=True)
class Config(pretrain.Config):
    """k-DAE settings.

    ``ae``: the initial autoencoder (on all data); ``member``: each cluster's autoencoder
    and its per-cluster pre-training; ``loss``: ``"hard"`` (eq. 1) or ``"soft"`` (eq. 4);
    ``error``: the clustering error (``"sse"`` = ‖x − x̂‖², the paper's eq. 1; ``"norm"`` =
    ‖x − x̂‖, what the authors' code minimises: each point's gradient has unit scale);
    joint training with Adam ``lr``, ``batch_size``, ``epochs``.
    """

    member: train.AEConfig = PAPER_MEMBER
    loss: str = "hard"
    error: str = "sse"
    lr: float = 1e-4
    batch_size: int = 256
    epochs: int = 40

    def __post_init__(self):
        if self.loss not in ("hard", "soft"):
            raise ValueError(f"loss must be 'hard' or 'soft', got {self.loss!r}")
        if self.error not in ERRORS:
            raise ValueError(f"error must be one of {ERRORS}, got {self.error!r}")


class State(NamedTuple):
    """variables: the k stacked members' flax variables (leading axis k); opt_state: Adam
    over them; owned: points each member won at init ``(k,)`` (0 = an idle member)."""

    variables: Any
    opt_state: Any
    owned: jax.Array
    step: jax.Array
    key: jax.Array


def from_labels(key: jax.Array, x: jax.Array, labels: jax.Array, cfg: Config) -> State:
    """Pre-train member i on the points labelled i, then the joint-training state."""
    k_pre, k_state = jax.random.split(key)
    members = train.pretrain_ensemble(k_pre, x, labels, cfg.n_clusters, cfg.member)
    return State(members.variables, optax.adam(cfg.lr).init(members.variables["params"]),
                 jnp.bincount(labels, length=cfg.n_clusters), jnp.zeros((), jnp.int32),
                 k_state)


def from_pretrained(pre: pretrain.State, x: jax.Array, cfg: Config) -> State:
    """Per-cluster pre-training on the k-means labels of a pre-trained AE+KM state."""
    return from_labels(jax.random.fold_in(pre.ae.key, 1), x, pretrain.predict(pre, x, cfg),
                       cfg)


def _loss_per_sample(errors, cfg: Config):
    return kdae_loss(errors) if cfg.loss == "hard" else kdae_soft_loss(errors)


def train_step(state: State, batch: jax.Array, cfg: Config):
    """One Adam step of all members on ``batch`` ``(B, d)``; returns state and loss."""
    module = cfg.member.module(batch.shape[1])

    def loss_fn(params):
        (_, x_hat), variables = nets.apply_ensemble(
            module, {**state.variables, "params": params}, batch, train=True)
        errors = reconstruction_error(batch, x_hat, cfg.error)  # (B, k)
        return jnp.mean(_loss_per_sample(errors, cfg)), variables

    return train.apply_gradients(state, loss_fn, optax.adam(cfg.lr))


def train_epoch(state: State, x: jax.Array, cfg: Config):
    """One shuffled pass of :func:`train_step`; returns the state and the mean loss."""
    return train.shuffled_epoch(train_step, state, x, cfg)


def errors(state: State, x: jax.Array, cfg: Config) -> jax.Array:
    """Each member's reconstruction error of each point ``(n, k)``."""
    return nets.ensemble_errors(cfg.member.module(x.shape[1]), state.variables, x, cfg.error,
                                cfg.block_size)


def reconstruct(state: State, x: jax.Array, cfg: Config) -> jax.Array:
    """Each expert's reconstruction of each point ``(n, k, d)``."""
    (_, x_hat), _ = nets.apply_ensemble(cfg.member.module(x.shape[1]), state.variables, x)
    return jnp.swapaxes(x_hat, 0, 1)


def predict(state: State, x: jax.Array, cfg: Config) -> jax.Array:
    """The member with the smallest error: labels ``(n,)``."""
    return jnp.argmin(errors(state, x, cfg), axis=1).astype(jnp.int32)


def objective(state: State, x: jax.Array, cfg: Config) -> jax.Array:
    """The mean k-DAE loss on all of ``x`` (ranks seeds)."""
    return jnp.mean(_loss_per_sample(errors(state, x, cfg), cfg))


METHOD = Method(
    name="kdae", config=Config,
    summary="k-DAE: one autoencoder per cluster; a point goes to the best reconstruction",
    pretrains=True, start=from_pretrained, train_epoch=train_epoch, train_step=train_step,
    predict=predict, objective=objective, features=errors,
    features_name="experts' reconstruction errors",
    reconstruct=reconstruct)
