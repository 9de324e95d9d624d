"""DAMIC (Chazan et al. 2019): a mixture of autoencoders with a gating network.

k autoencoders (the same vmapped ensemble as k-DAE) plus a gate ``p(c=i|x)`` (an MLP with a
softmax over k). Loss ``−Σ_t log Σ_i p(c_t=i|x_t) exp(−½‖x_t − f_i(x_t)‖²)``, computed with
``logsumexp``. Init: an autoencoder on all data → k-means on its embedding → the gate trained
as a classifier on the k-means labels, member i pre-trained on cluster i → joint training of
gate and members. Labels: ``argmax_i p(c=i|x)``.
"""
from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxclust import blocks, nets, train
from jaxclust.losses import damic_loss, reconstruction_error
from jaxclust.methods import kdae, pretrain
from jaxclust.methods.base import Method


@dataclasses.dataclass(frozen=True)
class Config(pretrain.Config):
    """DAMIC settings.

    ``ae``: the initial autoencoder; ``member``: each expert autoencoder and its
    per-cluster pre-training; ``gate_hidden``/``gate_epochs``: the gating network and its
    pre-training as a classifier of the k-means labels (initialised as the members,
    ``member.kernel_init``); joint Adam ``lr``, ``batch_size``,
    ``epochs``. ``variance``: σ² of each expert's Gaussian likelihood, the distance being
    ``‖x − f_i(x)‖² / (2σ²)`` (the paper: σ² = 1). Where reconstruction errors are small
    (the synthetic set: ≈ 1e-3 per point) σ² = 1 leaves the experts' likelihoods
    almost equal and the gate without a signal; a σ² of the errors' order restores it.
    """

    member: train.AEConfig = kdae.PAPER_MEMBER
    gate_hidden: tuple[int, ...] = (512, 512)
    gate_epochs: int = 10
    variance: float = 1.0
    lr: float = 1e-4
    batch_size: int = 256
    epochs: int = 40

    def __post_init__(self):
        if not self.variance > 0:
            raise ValueError(f"variance must be positive, got {self.variance}")

    def gate(self) -> nets.MLP:
        return nets.MLP((*self.gate_hidden, self.n_clusters), self.member.activation,
                        kernel_init=self.member.kernel_init)


class State(NamedTuple):
    """members: the k stacked experts' flax variables; gate: the gate's variables;
    opt_state: Adam over both; owned: points per expert at init ``(k,)``."""

    members: Any
    gate: Any
    opt_state: Any
    owned: jax.Array
    step: jax.Array
    key: jax.Array


def _trainable(members, gate):
    return {"members": members["params"], "gate": gate["params"]}


def from_labels(key: jax.Array, x: jax.Array, labels: jax.Array, cfg: Config) -> State:
    """Pre-train the gate on ``labels`` and expert i on the points labelled i."""
    k_members, k_gate, k_state = jax.random.split(key, 3)
    members = train.pretrain_ensemble(k_members, x, labels, cfg.n_clusters, cfg.member)
    gate = train.train_classifier(k_gate, x, labels, cfg.gate(), cfg.gate_epochs,
                                  cfg.batch_size, 1e-3)
    opt_state = optax.adam(cfg.lr).init(_trainable(members.variables, gate))
    return State(members.variables, gate, opt_state,
                 jnp.bincount(labels, length=cfg.n_clusters), jnp.zeros((), jnp.int32), k_state)


def from_pretrained(pre: pretrain.State, x: jax.Array, cfg: Config) -> State:
    """Gate and expert pre-training on the k-means labels of a pre-trained AE+KM state."""
    return from_labels(jax.random.fold_in(pre.ae.key, 1), x, pretrain.predict(pre, x, cfg),
                       cfg)


def _distances(squared_errors, cfg: Config):
    """The Gaussian likelihood's distances ``‖x − f_i(x)‖² / (2σ²)``."""
    return squared_errors / (2.0 * cfg.variance)


def train_step(state: State, batch: jax.Array, cfg: Config):
    """One Adam step of the gate and all experts on ``batch`` ``(B, d)``."""
    module = cfg.member.module(batch.shape[1])

    def loss_fn(trainable):
        members = {**state.members, "params": trainable["members"]}
        (_, x_hat), members = nets.apply_ensemble(module, members, batch, train=True)
        dist = _distances(reconstruction_error(batch, x_hat, "sse"), cfg)  # (B, k)
        logits = cfg.gate().apply({**state.gate, "params": trainable["gate"]}, batch)
        return jnp.mean(damic_loss(logits, dist)), members

    trainable = _trainable(state.members, state.gate)
    (loss, members), grads = jax.value_and_grad(loss_fn, has_aux=True)(trainable)
    updates, opt_state = optax.adam(cfg.lr).update(grads, state.opt_state)
    trainable = optax.apply_updates(trainable, updates)
    return state._replace(members={**members, "params": trainable["members"]},
                          gate={**state.gate, "params": trainable["gate"]},
                          opt_state=opt_state, step=state.step + 1), loss


def train_epoch(state: State, x: jax.Array, cfg: Config):
    """One shuffled pass of :func:`train_step`; returns the state and the mean loss."""
    return train.shuffled_epoch(train_step, state, x, cfg)


def errors(state: State, x: jax.Array, cfg: Config) -> jax.Array:
    """Each expert's reconstruction error ``‖x − f_i(x)‖²`` of each point ``(n, k)``."""
    return nets.ensemble_errors(cfg.member.module(x.shape[1]), state.members, x, "sse",
                                cfg.block_size)


def gate_logits(state: State, x: jax.Array, cfg: Config) -> jax.Array:
    """The gate's outputs ``(n, k)``, in row blocks."""
    return blocks.rowwise(lambda rows: cfg.gate().apply(state.gate, rows), x,
                          block=cfg.block_size)


def predict_proba(state: State, x: jax.Array, cfg: Config) -> jax.Array:
    """The gate's probabilities ``p(c=i|x)`` ``(n, k)``."""
    return jax.nn.softmax(gate_logits(state, x, cfg), axis=-1)


def reconstruct(state: State, x: jax.Array, cfg: Config) -> jax.Array:
    """Each expert's reconstruction of each point ``(n, k, d)``."""
    (_, x_hat), _ = nets.apply_ensemble(cfg.member.module(x.shape[1]), state.members, x)
    return jnp.swapaxes(x_hat, 0, 1)


def predict(state: State, x: jax.Array, cfg: Config) -> jax.Array:
    """``argmax_i p(c=i|x)``: labels ``(n,)``."""
    return jnp.argmax(gate_logits(state, x, cfg), axis=-1).astype(jnp.int32)


def objective(state: State, x: jax.Array, cfg: Config) -> jax.Array:
    """The mean DAMIC loss on all of ``x`` (ranks seeds)."""
    dist = _distances(errors(state, x, cfg), cfg)
    return jnp.mean(damic_loss(gate_logits(state, x, cfg), dist))


METHOD = Method(
    name="damic", config=Config,
    summary="DAMIC: a mixture of autoencoders with a gating network",
    pretrains=True, start=from_pretrained, train_epoch=train_epoch, train_step=train_step,
    predict=predict, predict_proba=predict_proba, objective=objective, features=errors,
    features_name="experts' reconstruction errors",
    reconstruct=reconstruct)
