"""IMSAT (Hu et al. 2017): information maximisation with self-augmented training; RIM.

A classifier ``p(y|x)`` (an MLP d-1200-1200-k with BatchNorm and ReLU, softmax output) is
trained without labels to minimise

    R_SAT + λ · (H(Y|X) − μ · H(Y))

H(Y) from the mini-batch marginal, H(Y|X) the mean per-point entropy. R_SAT is
``KL(p(y|x) ‖ p(y|x + r))`` with the clean prediction held fixed, r a perturbation of
per-point radius ``ε(x) = eps_scale · (distance to the 10th nearest neighbour)``: random
(``augment="rpt"``) or virtual adversarial (``augment="vat"``, one power iteration).
``augment="none"`` drops R_SAT: that is RIM (plus ``l2``, its R(θ)).

On μ: METHODS.md writes the objective as ``R_SAT − λ[H(Y) − μ H(Y|X)]``; the authors' released
code (which gave the published 98.4 %) computes ``R_SAT + λ(H(Y|X) − μ H(Y))`` with μ = 4 —
μ weighs the marginal entropy. We follow the code; ``mu`` is a config field.

    state = init(key, x, cfg)
    for _ in range(cfg.epochs): state, loss = train_epoch(state, x, cfg)
    labels = predict(state, x, cfg)
"""
from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxclust import blocks, kmeans, nets, train
from jaxclust.losses import random_direction, rim_loss, sat_loss, vat_direction
from jaxclust.methods.base import Method
from jaxclust.methods.base import classifier_logits as logits
from jaxclust.methods.base import classifier_predict as predict
from jaxclust.methods.base import classifier_proba as predict_proba

AUGMENTS = ("none", "rpt", "vat")


@dataclasses.dataclass(frozen=True)
class Config:
    """IMSAT settings (defaults: the paper's MNIST setup).

    ``hidden``: the classifier's hidden sizes (BatchNorm + ReLU); ``augment``: ``"vat"``,
    ``"rpt"`` or ``"none"`` (RIM); ``lam`` (λ), ``mu`` (μ, on H(Y)); ``eps_scale`` and
    ``n_neighbors`` set the per-point radius; ``xi``: VAT's finite-difference step; Adam
    ``lr``, ``batch_size``, ``epochs``; ``weight_decay``: AdamW's decoupled decay of the
    parameters; ``l2``: the penalty ``l2/2 · ‖θ‖²`` added to the objective (RIM's R(θ); its
    gradient passes through Adam's scaling, as a weight-decay term in the loss does);
    ``block_size``: rows per block of the full-data passes.
    """

    n_clusters: int = 10
    hidden: tuple[int, ...] = (1200, 1200)
    augment: str = "vat"
    lam: float = 0.1
    mu: float = 4.0
    eps_scale: float = 0.25
    n_neighbors: int = 10
    xi: float = 10.0
    lr: float = 2e-3
    batch_size: int = 250
    epochs: int = 50
    weight_decay: float = 0.0
    l2: float = 0.0
    block_size: int = blocks.BLOCK

    def __post_init__(self):
        if self.augment not in AUGMENTS:
            raise ValueError(f"augment must be one of {AUGMENTS}, got {self.augment!r}")

    def module(self) -> nets.MLP:
        return nets.MLP((*self.hidden, self.n_clusters), "relu", batch_norm=True)

    def tx(self) -> optax.GradientTransformation:
        return optax.chain(optax.add_decayed_weights(self.l2),
                           optax.adamw(self.lr, weight_decay=self.weight_decay))


class State(NamedTuple):
    """variables: the classifier's flax variables (params, batch_stats); eps: each point's
    perturbation radius ``(n,)``."""

    variables: Any
    opt_state: Any
    eps: jax.Array
    step: jax.Array
    key: jax.Array


def neighbour_distance(x: jax.Array, k: int, chunk: int = 1024) -> jax.Array:
    """Euclidean distance from each row of ``x`` ``(n, d)`` to its k-th nearest other row
    ``(n,)``, computed in blocks of ``chunk`` rows (never the whole ``(n, n)`` matrix).

    The k + 1 smallest of a row's n distances are found in two stages: the k + 1 smallest
    of each ``chunk``-wide column slice, then of those candidates (exact: every one of the
    row's k + 1 smallest is among its slice's). On a CPU this is ≈ 10× faster than one
    ``top_k`` over all n columns (MNIST: 1 s against 11 s per block of 1 024 rows).
    """
    n, d = x.shape
    if not 1 <= k < n:
        raise ValueError(f"n_neighbors must be in [1, n), got {k} for n = {n}")
    size = min(chunk, n)
    blocks = jnp.pad(x, ((0, (-n) % size), (0, 0))).reshape(-1, size, d)
    width = max(size, k + 1)  # column slices hold at least k + 1 entries
    n_cols = -(-n // width) * width

    def kth_smallest(block):
        d2 = jnp.pad(kmeans.sq_distances(block, x), ((0, 0), (0, n_cols - n)),
                     constant_values=jnp.inf)
        cand = -jax.lax.top_k(-d2.reshape(size, -1, width), k + 1)[0]
        # the k+1 smallest include the point itself (distance 0)
        return -jax.lax.top_k(-cand.reshape(size, -1), k + 1)[0][:, k]

    kth = jax.lax.map(kth_smallest, blocks)
    return jnp.sqrt(jnp.maximum(kth.reshape(-1)[:n], 0.0))


def init(key: jax.Array, x: jax.Array, cfg: Config) -> State:
    """A fresh classifier and the per-point radii (zeros without augmentation)."""
    k_init, k_state = jax.random.split(key)
    variables = cfg.module().init(k_init, x[:1])
    if cfg.augment == "none":  # RIM: no perturbation, no neighbours to find
        eps = jnp.zeros(x.shape[:1], x.dtype)
    else:
        eps = cfg.eps_scale * neighbour_distance(x, cfg.n_neighbors)
    return State(variables, cfg.tx().init(variables["params"]), eps,
                 jnp.zeros((), jnp.int32), k_state)


def train_step(state: State, batch, cfg: Config):
    """One Adam step on ``batch = (x_b, eps_b)``, ``(B, d)`` and ``(B,)``; returns the
    state and the loss."""
    x_b, eps_b = batch
    module = cfg.module()
    k_dir = jax.random.fold_in(state.key, state.step)

    def loss_fn(params):
        variables = {**state.variables, "params": params}
        logits, new_vars = nets.forward(module, variables, x_b, train=True)
        loss = cfg.lam * rim_loss(logits, cfg.mu)
        if cfg.augment != "none":
            # perturbed passes use the batch's statistics but do not update the running ones
            logits_of = lambda v: nets.forward(module, variables, v, train=True)[0]  # noqa: E731
            p_clean = jax.nn.softmax(logits, axis=-1)
            if cfg.augment == "vat":
                d = vat_direction(logits_of, x_b, p_clean, k_dir, cfg.xi)
            else:
                d = random_direction(k_dir, x_b.shape, x_b.dtype)
            loss = loss + jnp.mean(sat_loss(p_clean, logits_of(x_b + eps_b[:, None] * d)))
        return loss, new_vars

    return train.apply_gradients(state, loss_fn, cfg.tx())


def train_epoch(state: State, x: jax.Array, cfg: Config):
    """One shuffled pass of :func:`train_step`; returns the state and the mean loss."""
    state, losses = train.run_epoch(lambda s, b: train_step(s, b, cfg), state,
                                    (x, state.eps), cfg.batch_size)
    return state, jnp.mean(losses)


def objective(state: State, x: jax.Array, cfg: Config) -> jax.Array:
    """``H(Y|X) − μ·H(Y)`` on all of ``x`` (ranks seeds; the SAT term is random)."""
    return rim_loss(logits(state, x, cfg), cfg.mu)


_FUNCTIONS = dict(config=Config, init=init, train_epoch=train_epoch, train_step=train_step,
                  predict=predict, predict_proba=predict_proba, objective=objective,
                  features=predict_proba, features_name="class probabilities")
METHOD = Method(name="imsat", summary="IMSAT: information maximisation with self-augmented "
                "training (VAT or random perturbations)", **_FUNCTIONS)
