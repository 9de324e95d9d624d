"""DAC (Chang et al. 2017): deep adaptive clustering by pairwise "same cluster?" labels.

A network maps x to k softmax outputs, L2-normalised to unit ``features``; the similarity
of two points is their dot product. Pairs more similar than an upper threshold are taken as
"same cluster", less similar than a lower one as "different", and the network is trained on
these self-made labels (:func:`jaxclust.losses.dac_loss`). The thresholds tighten after every
epoch, ``upper = upper0 − λ``, ``lower = lower0 + lam_ratio·λ``, λ growing by ``lam_step``;
a run is done when ``upper ≤ lower`` (a per-seed flag, so ``vmap`` over seeds works).
Labels: ``argmax`` of the features. The paper uses a convolutional network on images; this
is the MLP version (d-1200-1200-k, BatchNorm, ReLU).
"""
from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxclust import blocks, nets, train
from jaxclust.losses import dac_loss
from jaxclust.methods.base import Method, flag_done
from jaxclust.methods.base import classifier_predict as predict
from jaxclust.methods.base import classifier_proba as predict_proba


@dataclasses.dataclass(frozen=True)
class Config:
    """DAC settings: network ``hidden`` sizes; thresholds ``upper0``, ``lower0``,
    ``lam_step`` (λ added per epoch), ``lam_ratio``; Adam ``lr``, ``batch_size``; ``epochs``
    at most (a run stops earlier when the thresholds meet); ``block_size``: rows per block of
    the full-data passes."""

    n_clusters: int = 10
    hidden: tuple[int, ...] = (1200, 1200)
    upper0: float = 0.95
    lower0: float = 0.455
    lam_step: float = 0.009
    lam_ratio: float = 0.1
    lr: float = 1e-3
    batch_size: int = 256
    epochs: int = 60
    block_size: int = blocks.BLOCK

    def module(self) -> nets.MLP:
        return nets.MLP((*self.hidden, self.n_clusters), "relu", batch_norm=True)

    def thresholds(self, lam):
        """``(upper, lower)`` at λ."""
        return self.upper0 - lam, self.lower0 + self.lam_ratio * lam


class State(NamedTuple):
    """variables: the network's flax variables; lam: λ; done: thresholds have met."""

    variables: Any
    opt_state: Any
    lam: jax.Array
    done: jax.Array
    step: jax.Array
    key: jax.Array


def features(variables, x, cfg: Config, train_mode: bool = False):
    """Unit feature rows ``(B, k)`` (and the updated variables in training mode)."""
    logits, variables = nets.forward(cfg.module(), variables, x, train=train_mode)
    p = jax.nn.softmax(logits, axis=-1)
    return p / jnp.linalg.norm(p, axis=-1, keepdims=True), variables


def init(key: jax.Array, x: jax.Array, cfg: Config) -> State:
    """A fresh network, λ = 0."""
    k_init, k_state = jax.random.split(key)
    variables = cfg.module().init(k_init, x[:1])
    return State(variables, optax.adam(cfg.lr).init(variables["params"]),
                 jnp.zeros((), x.dtype), jnp.asarray(False), jnp.zeros((), jnp.int32), k_state)


def train_step(state: State, batch: jax.Array, cfg: Config):
    """One Adam step on the pairs of ``batch`` ``(B, d)`` at the current thresholds."""
    upper, lower = cfg.thresholds(state.lam)

    def loss_fn(params):
        f, variables = features({**state.variables, "params": params}, batch, cfg, True)
        return dac_loss(f, upper, lower), variables

    return train.apply_gradients(state, loss_fn, optax.adam(cfg.lr))


def train_epoch(state: State, x: jax.Array, cfg: Config):
    """One shuffled pass, then the thresholds tighten; a finished run is left unchanged."""
    new, losses = train.run_epoch(lambda s, b: train_step(s, b, cfg), state, x, cfg.batch_size)
    lam = new.lam + cfg.lam_step
    upper, lower = cfg.thresholds(lam)
    new = new._replace(lam=lam, done=upper <= lower)
    return jax.tree.map(lambda a, b: jnp.where(state.done, a, b), state, new), jnp.mean(losses)


def objective(state: State, x: jax.Array, cfg: Config, sample: int = 2048) -> jax.Array:
    """DAC's loss at the current thresholds on the first ``sample`` points (ranks seeds)."""
    f, _ = features(state.variables, x[:sample], cfg)
    return dac_loss(f, *cfg.thresholds(state.lam))


METHOD = Method(
    name="dac", config=Config,
    summary="DAC: pairwise same-cluster training on self-made labels, tightening thresholds",
    init=init, train_epoch=train_epoch, train_step=train_step, predict=predict,
    predict_proba=predict_proba, objective=objective, features=predict_proba, done=flag_done,
    features_name="class probabilities")
