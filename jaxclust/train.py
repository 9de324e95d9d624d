"""What every method shares: the autoencoder config, the shuffled ``lax.scan`` epoch and
autoencoder pre-training.

A method's state is any pytree with a ``key`` field (a NamedTuple or flax struct); its
``train_step(state, batch) -> (state, loss)`` is pure, so :func:`run_epoch` can scan it.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxclust import nets
from jaxclust.losses import reconstruction_error


@dataclasses.dataclass(frozen=True)
class AEConfig:
    """Autoencoder architecture and its pre-training (defaults: DEC's d-500-500-2000-10).

    ``output_activation``: ``"none"``, ``"sigmoid"`` or ``"auto"``; ``loss``: ``"mse"``,
    ``"sse"``, ``"bce"`` (see :func:`reconstruction_error`) or ``"auto"``. ``"auto"`` is made
    concrete from the data's range before training (:meth:`for_range`, called by the runner).
    ``input_dropout``: denoising pre-training — each input feature is zeroed with this
    probability (DEC's stacked denoising AEs use 0.2); the target stays the clean input.
    ``compute_dtype``: ``"bfloat16"`` for bfloat16 matmuls on accelerators (float32 default).
    ``kernel_init``: ``"lecun_normal"`` (flax's default) or ``"glorot_uniform"`` (Keras's,
    as DEC-keras and IDEC pre-train).
    """

    hidden: tuple[int, ...] = (500, 500, 2000)
    latent: int = 10
    activation: str = "relu"
    batch_norm: bool = False
    output_activation: str = "none"
    loss: str = "mse"
    epochs: int = 50
    batch_size: int = 256
    lr: float = 1e-3
    input_dropout: float = 0.0
    compute_dtype: str = "float32"
    kernel_init: str = "lecun_normal"

    def for_range(self, lo: float, hi: float) -> AEConfig:
        """This config for data spanning [lo, hi]: an ``"auto"`` output activation becomes
        the sigmoid on data within [0, 1], else ``"none"``; an ``"auto"`` loss becomes binary
        cross-entropy behind a sigmoid output, else ``"mse"``."""
        out = self.output_activation
        if out == "auto":
            out = "sigmoid" if 0.0 <= lo and hi <= 1.0 else "none"
        loss = self.loss
        if loss == "auto":
            loss = "bce" if out == "sigmoid" else "mse"
        return dataclasses.replace(self, output_activation=out, loss=loss)

    def check_concrete(self) -> None:
        """``ValueError`` while an ``"auto"`` setting is left (networks need concrete ones)."""
        if "auto" in (self.output_activation, self.loss):
            raise ValueError("an 'auto' output activation or loss is not concrete: call "
                             "for_range (the runner does: runner.for_data) before building "
                             "the network")

    def module(self, n_features: int) -> nets.Autoencoder:
        self.check_concrete()
        return nets.Autoencoder(n_features, tuple(self.hidden), self.latent, self.activation,
                                self.batch_norm, self.output_activation, self.compute_dtype,
                                self.kernel_init)


class TrainState(NamedTuple):
    """A network being trained: flax variables, optax state, step count, PRNG key."""

    variables: Any
    opt_state: Any
    step: jax.Array
    key: jax.Array


def batch_indices(key: jax.Array, n: int, batch_size: int,
                  n_batches: int | None = None) -> jax.Array:
    """Shuffled mini-batch indices ``(n_batches, batch_size)``.

    By default one pass: a random permutation of ``range(n)`` cut into ``n // batch_size``
    batches, the remainder (a different set each pass) dropped so every step has the same
    shape and nothing recompiles. With ``n_batches``, as many batches as asked, drawn from
    consecutive independent permutations. ``batch_size`` is capped at n.
    """
    batch_size = min(batch_size, n)
    per_pass = n // batch_size
    n_batches = n_batches or per_pass
    n_passes = -(-n_batches // per_pass)
    perms = jax.vmap(lambda k: jax.random.permutation(k, n)[: per_pass * batch_size])(
        jax.random.split(key, n_passes))
    return perms.reshape(-1, batch_size)[:n_batches]


def run_epoch(train_step: Callable, state, data, batch_size: int):
    """One pass over shuffled mini-batches of ``data``, as a ``lax.scan``.

    ``data``: an array ``(n, ...)`` or a pytree of them (e.g. ``(x, labels)``); each step
    gets the same structure cut to a batch. Returns the new state and the per-step losses
    ``(n_batches,)``.
    """
    key, sub = jax.random.split(state.key)
    n = jax.tree.leaves(data)[0].shape[0]
    idx = batch_indices(sub, n, batch_size)
    state = state._replace(key=key)
    return jax.lax.scan(lambda s, i: train_step(s, jax.tree.map(lambda a: a[i], data)),
                        state, idx)


def shuffled_epoch(train_step: Callable, state, x: jax.Array, cfg):
    """One shuffled pass of ``train_step(state, batch, cfg)`` over ``x`` in batches of
    ``cfg.batch_size`` (:func:`run_epoch`); a state that counts epochs (an ``epoch`` field)
    gets ``epoch + 1``. Returns the state and the mean loss."""
    state, losses = run_epoch(lambda s, b: train_step(s, b, cfg), state, x, cfg.batch_size)
    if "epoch" in state._fields:
        state = state._replace(epoch=state.epoch + 1)
    return state, jnp.mean(losses)


def ae_init(key: jax.Array, x: jax.Array, cfg: AEConfig) -> TrainState:
    """A freshly initialised autoencoder for data ``x`` ``(n, d)`` and its Adam state."""
    k_init, k_state = jax.random.split(key)
    variables = cfg.module(x.shape[1]).init(k_init, x[:1])
    opt_state = optax.adam(cfg.lr).init(variables["params"])
    return TrainState(variables, opt_state, jnp.zeros((), jnp.int32), k_state)


def apply_gradients(state, loss_fn: Callable, tx: optax.GradientTransformation):
    """One optimiser step on ``state.variables["params"]``.

    ``state``: any NamedTuple with ``variables`` (flax), ``opt_state`` and ``step``;
    ``loss_fn(params) -> (loss, variables)`` (the variables carry updated BatchNorm
    statistics). Returns the state with new params, optimiser state, step + 1, and the loss.
    """
    (loss, variables), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        state.variables["params"])
    updates, opt_state = tx.update(grads, state.opt_state, variables["params"])
    variables = {**variables, "params": optax.apply_updates(variables["params"], updates)}
    return state._replace(variables=variables, opt_state=opt_state, step=state.step + 1), loss


def ae_train_step(cfg: AEConfig, n_features: int, state: TrainState, batch: jax.Array):
    """One Adam step on the mean reconstruction error of ``batch`` ``(B, d)``."""
    module = cfg.module(n_features)
    inputs = batch
    if cfg.input_dropout > 0:
        keep = jax.random.bernoulli(jax.random.fold_in(state.key, state.step),
                                    1.0 - cfg.input_dropout, batch.shape)
        inputs = jnp.where(keep, batch, 0.0)

    def loss_fn(params):
        (_, x_hat), variables = nets.forward(module, {**state.variables, "params": params},
                                             inputs, train=True, logits=cfg.loss == "bce")
        return jnp.mean(reconstruction_error(batch, x_hat, cfg.loss)), variables

    return apply_gradients(state, loss_fn, optax.adam(cfg.lr))


def ae_epoch(state: TrainState, x: jax.Array, cfg: AEConfig):
    """One pre-training epoch; returns the state and the mean loss."""
    step = lambda s, b: ae_train_step(cfg, x.shape[1], s, b)  # noqa: E731
    state, losses = run_epoch(step, state, x, cfg.batch_size)
    return state, jnp.mean(losses)


def pretrain(key: jax.Array, x: jax.Array, cfg: AEConfig) -> TrainState:
    """Pre-train an autoencoder for ``cfg.epochs`` epochs (pure; vmappable over keys)."""
    state = ae_init(key, x, cfg)
    state, _ = jax.lax.scan(lambda s, _: ae_epoch(s, x, cfg), state, None, length=cfg.epochs)
    return state


def member_batches(key: jax.Array, labels: jax.Array, k: int, batch_size: int,
                   n_steps: int) -> jax.Array:
    """Mini-batch indices ``(n_steps, k, batch_size)``: member i's batches are drawn (with
    replacement) from the points labelled i, so one ensemble step costs one batch per
    member. A member with no points draws uniformly (and is frozen by the caller)."""
    owned = labels[None, :] == jnp.arange(k)[:, None]  # (k, n)
    counts = jnp.sum(owned, axis=1, keepdims=True)
    p = jnp.where(counts > 0, owned / jnp.maximum(counts, 1), 1.0 / labels.shape[0])
    draw = lambda kk, pi: jax.random.choice(kk, labels.shape[0], (n_steps, batch_size), p=pi)  # noqa: E731
    return jnp.swapaxes(jax.vmap(draw)(jax.random.split(key, k), p), 0, 1)


def freeze_where(keep_old: jax.Array, old, new):
    """Per member of a stacked pytree: the ``old`` leaves where ``keep_old`` ``(k,)``."""
    def pick(a, b):
        return jnp.where(keep_old.reshape((-1,) + (1,) * (a.ndim - 1)), a, b)
    return jax.tree.map(pick, old, new)


def pretrain_ensemble(key: jax.Array, x: jax.Array, labels: jax.Array, k: int,
                      cfg: AEConfig) -> TrainState:
    """Pre-train k autoencoders at once, member i on the points labelled i.

    The members are one stacked pytree (leading axis k) stepped with ``jax.vmap``. Each
    runs ``cfg.epochs × max(1, n // (k·batch_size))`` steps — about ``cfg.epochs`` passes
    over an average-sized cluster. A member owning no point keeps its initial parameters.
    Returns the stacked ``TrainState``.
    """
    n, d = x.shape
    k_init, k_batches, k_states = jax.random.split(key, 3)
    states = jax.vmap(lambda kk: ae_init(kk, x, cfg))(jax.random.split(k_init, k))
    states = states._replace(key=jax.random.split(k_states, k))
    empty = jnp.bincount(labels, length=k) == 0
    n_steps = cfg.epochs * max(1, n // (k * cfg.batch_size))
    idx = member_batches(k_batches, labels, k, cfg.batch_size, n_steps)

    def step(states, idx_t):
        new, loss = jax.vmap(lambda s, b: ae_train_step(cfg, d, s, b))(states, x[idx_t])
        return freeze_where(empty, states, new), loss

    states, _ = jax.lax.scan(step, states, idx)
    return states


def train_classifier(key: jax.Array, x: jax.Array, labels: jax.Array, module,
                     epochs: int, batch_size: int, lr: float):
    """Train ``module`` (outputs logits ``(B, k)``) with cross-entropy on ``labels`` ``(n,)``
    (Adam, shuffled mini-batches); returns its flax variables."""
    k_init, k_state = jax.random.split(key)
    variables = module.init(k_init, x[:1])
    tx = optax.adam(lr)
    state = TrainState(variables, tx.init(variables["params"]), jnp.zeros((), jnp.int32), k_state)

    def step(state, batch):
        xb, yb = batch

        def loss_fn(params):
            variables = {**state.variables, "params": params}
            logits = module.apply(variables, xb)
            return (jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, yb)),
                    variables)

        return apply_gradients(state, loss_fn, tx)

    state, _ = jax.lax.scan(lambda s, _: run_epoch(step, s, (x, labels), batch_size), state,
                            None, length=epochs)
    return state.variables
