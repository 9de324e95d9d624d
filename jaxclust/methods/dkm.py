"""DKM (Moradi Fard, Thonet & Gaussier, "Deep k-Means", arXiv 1806.10069): k-means made
differentiable, trained jointly with the autoencoder.

Per point: ``‖x − x̂‖² + λ Σ_k softmax_k(−α‖z − r_k‖²) ‖z − r_k‖²``; the network and the
representatives ``r`` ``(k, latent)`` take the same Adam steps — no discrete assignment step.
As α → ∞ the second term is the hard k-means loss. Labels: the nearest representative.
The authors' code (github.com/MaziarMF/deep-k-means, ``dkm.py``) has two variants, both here:

- ``dkm`` (``dkm.py -p``): the autoencoder pre-trained (summed squared error, Adam, batches
  of 256, TensorFlow's Glorot initialisation, 50 epochs), ``r`` from k-means on its
  embedding, then α = 1000 held constant for 100 epochs (their 20 α values × 5 epochs).
- ``dkm-annealed`` (``dkm.py -a``): no pre-training, ``r`` drawn uniformly from [−1, 1], and
  α annealed: α₁ = 0.1, α_{i+1} = 2^{1/ln(i+1)²} α_i, 5 epochs per value, 40 values
  (200 epochs). One addition of ours (``reseed_empty``, on by default here): a representative
  nearest to no point after an epoch is moved onto a point, as k-means treats an empty
  cluster — a random start in [−1, 1] can otherwise own nothing for the whole run.
"""
from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxclust import blocks, kmeans, nets, train
from jaxclust.losses import reconstruction_error
from jaxclust.methods import pretrain
from jaxclust.methods.base import Method


@dataclasses.dataclass(frozen=True)
class Config(pretrain.Config):
    """DKM settings (after ``n_clusters``, ``ae``, ``n_init``): ``lam`` (λ), ``alpha`` (α,
    the softmax's inverse temperature; with ``anneal`` its first value, raised every
    ``epochs_per_alpha`` epochs by the authors' factor 2^{1/ln(i+1)²}), ``reps_init``
    (``"kmeans"`` on the pre-trained embedding or ``"uniform"`` in [−1, 1]), Adam ``lr``,
    ``batch_size``, ``epochs``; ``reseed_empty``: after each epoch, a representative that
    is nearest to no point moves onto the embedded point farthest from its own
    representative, as k-means re-seeds an empty cluster (not in the authors' code; the
    default of ``dkm-annealed``, whose random representatives can otherwise stay empty)."""

    ae: train.AEConfig = train.AEConfig(loss="sse", kernel_init="glorot_uniform")
    lam: float = 1.0
    alpha: float = 1000.0
    anneal: bool = False
    epochs_per_alpha: int = 5
    reps_init: str = "kmeans"
    lr: float = 1e-3
    batch_size: int = 256
    epochs: int = 100
    reseed_empty: bool = False

    def __post_init__(self):
        if self.reps_init not in ("kmeans", "uniform"):
            raise ValueError(f"reps_init must be 'kmeans' or 'uniform', got {self.reps_init!r}")
        if self.epochs_per_alpha < 1:
            raise ValueError(f"epochs_per_alpha must be >= 1, got {self.epochs_per_alpha}")

    def alphas(self) -> jax.Array:
        """α of every epoch ``(epochs,)``."""
        i = jnp.arange(self.epochs) // self.epochs_per_alpha if self.anneal else 0
        # log α_i = log α_1 + ln 2 · Σ_{j=2}^{i+1} 1/ln(j)²  (the authors' recurrence)
        steps = jnp.concatenate([jnp.zeros(1), jnp.cumsum(
            1.0 / jnp.log(jnp.arange(2, self.epochs // self.epochs_per_alpha + 3.0)) ** 2)])
        return self.alpha * jnp.exp(jnp.log(2.0) * steps[i]) * jnp.ones(self.epochs)


class State(NamedTuple):
    """The autoencoder's flax ``variables``, the representatives ``reps`` ``(k, latent)``,
    Adam's state over both, the step and epoch counts (α follows ``epoch``) and the key of
    the shuffles."""

    variables: Any
    reps: jax.Array
    opt_state: Any
    step: jax.Array
    epoch: jax.Array
    key: jax.Array


def soft_kmeans(z: jax.Array, reps: jax.Array, alpha: float) -> jax.Array:
    """Σ_k softmax_k(−α d_k) d_k per point ``(B,)``, d_k = ‖z − r_k‖² computed as a
    difference (no cancellation); the softmax shifts by the smallest distance, so no exp
    underflows to 0/0 however large α."""
    d = jnp.sum((z[:, None, :] - reps[None, :, :]) ** 2, axis=-1)
    return jnp.sum(jax.nn.softmax(-alpha * d, axis=1) * d, axis=1)


def loss(params, variables, module, x: jax.Array, cfg: Config, alpha, train: bool = False):
    """Per-point DKM loss ``(B,)`` at inverse temperature ``alpha`` for ``params =
    (ae_params, reps)`` (``variables``: the autoencoder's others, e.g. BatchNorm
    statistics), and the updated variables."""
    ae_params, reps = params
    (z, x_hat), variables = nets.forward(module, {**variables, "params": ae_params}, x,
                                         train=train, logits=cfg.ae.loss == "bce")
    return (reconstruction_error(x, x_hat, cfg.ae.loss)
            + cfg.lam * soft_kmeans(z, reps, alpha)), variables


def from_pretrained(pre: pretrain.State, x: jax.Array, cfg: Config) -> State:
    """The (pre-trained, or with ``ae.epochs = 0`` freshly initialised) autoencoder; the
    representatives from its k-means, or uniform in [−1, 1] (``reps_init``; ``x`` unused)."""
    key, k_reps = jax.random.split(pre.ae.key)
    reps = (pre.centroids if cfg.reps_init == "kmeans" else
            jax.random.uniform(k_reps, pre.centroids.shape, minval=-1.0, maxval=1.0))
    params = (pre.ae.variables["params"], reps)
    return State(pre.ae.variables, reps, optax.adam(cfg.lr).init(params),
                 jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32), key)


def train_step(state: State, batch: jax.Array, cfg: Config):
    """One Adam step on the mean loss of ``batch`` ``(B, d)``; returns the state and it."""
    module = cfg.ae.module(batch.shape[1])
    params = (state.variables["params"], state.reps)

    alpha = cfg.alphas()[jnp.minimum(state.epoch, cfg.epochs - 1)]

    def mean_loss(p):
        per_point, variables = loss(p, state.variables, module, batch, cfg, alpha, train=True)
        return jnp.mean(per_point), variables

    (value, variables), grads = jax.value_and_grad(mean_loss, has_aux=True)(params)
    updates, opt_state = optax.adam(cfg.lr).update(grads, state.opt_state, params)
    ae_params, reps = optax.apply_updates(params, updates)
    return state._replace(variables={**variables, "params": ae_params}, reps=reps,
                          opt_state=opt_state, step=state.step + 1), value


def train_epoch(state: State, x: jax.Array, cfg: Config):
    """One shuffled pass of :func:`train_step`, then ``epoch + 1`` (and, with
    ``reseed_empty``, empty representatives moved); returns the state and the mean loss."""
    state, mean_loss = train.shuffled_epoch(train_step, state, x, cfg)
    if cfg.reseed_empty:
        z = embed(state, x, cfg)
        labels = kmeans.nearest(z, state.reps, cfg.block_size)
        counts = jnp.bincount(labels, length=cfg.n_clusters)
        state = state._replace(reps=kmeans.reseed_empty(state.reps, counts, z, state.reps,
                                                        labels))
    return state, mean_loss


def embed(state: State, x: jax.Array, cfg: Config) -> jax.Array:
    return nets.embed(cfg.ae.module(x.shape[1]), state.variables, x, cfg.block_size)


def predict(state: State, x: jax.Array, cfg: Config) -> jax.Array:
    """The nearest representative: labels ``(n,)``."""
    return kmeans.nearest(embed(state, x, cfg), state.reps, cfg.block_size)


def objective(state: State, x: jax.Array, cfg: Config) -> jax.Array:
    """The mean DKM loss on all of ``x`` at the last α (ranks seeds)."""
    module = cfg.ae.module(x.shape[1])
    params, alpha = (state.variables["params"], state.reps), cfg.alphas()[-1]
    return jnp.mean(blocks.rowwise(lambda rows: loss(params, state.variables, module, rows,
                                                   cfg, alpha)[0], x, block=cfg.block_size))


_FUNCTIONS = dict(config=Config, pretrains=True, start=from_pretrained,
                  train_epoch=train_epoch, train_step=train_step, predict=predict,
                  objective=objective, features=embed)
METHOD = Method(
    name="dkm", summary="DKM: reconstruction + λ·softmax-weighted k-means loss, all by "
    "gradient (pre-trained autoencoder, α = 1000)", **_FUNCTIONS)
ANNEALED = Method(
    name="dkm-annealed", summary="DKM without pre-training: random representatives, α "
    "annealed from 0.1 over 40 values, empty representatives re-seeded", **_FUNCTIONS,
    defaults=(("ae", train.AEConfig(loss="sse", kernel_init="glorot_uniform", epochs=0)),
              ("alpha", 0.1), ("anneal", True), ("epochs", 200), ("reps_init", "uniform"),
              ("reseed_empty", True)))
