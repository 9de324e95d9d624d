"""VaDE (Jiang et al., "Variational Deep Embedding", IJCAI 2017): a VAE whose prior is a
Gaussian mixture; a point's cluster is its posterior over the mixture's components.

Generative model: c ~ Cat(π), z | c ~ N(μ_c, diag σ²_c), x | z ~ Bernoulli(decoder(z))
(or a unit-variance Gaussian for unbounded data). Inference: q(z|x) = N(μ̃(x), diag σ̃²(x))
from an encoder with two heads, q(c|x) ≈ γ = p(c | z) at the sampled z. One Monte-Carlo
sample of z per point (the reparameterisation) gives the per-point negative ELBO

    −log p(x|z) + Σ_c γ_c [½ Σ_j (log 2πσ²_cj + (σ̃²_j + (μ̃_j − μ_cj)²) / σ²_cj)
                            − log π_c + log γ_c] − ½ Σ_j (1 + log 2πσ̃²_j),

minimised over the network and the prior (π as softmax logits, μ_c, log σ²_c) together.
γ is computed in log-space (log-softmax), variances are floored, so neither far-away points
nor tiny variances give 0/0.

The recipe is the authors' code (github.com/slim1017/VaDE, ``VaDE.py``, MNIST): the shared
autoencoder pre-training (d-500-500-2000-10, Keras's Glorot init, sigmoid output) gives the
encoder's mean head and the decoder, the variance head starts fresh; a diagonal Gaussian
mixture on the embedding (EM from the pre-training's k-means) gives μ_c, σ²_c, and π starts
uniform; then Adam (lr 0.002, ε 1e-4), the rate × 0.9 every 10 epochs down to 0.0002,
batches of 100, 500 epochs. Labels: the argmax of γ at the encoder's mean (deterministic).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, NamedTuple, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jaxclust import blocks, gmm, kmeans, nets, train
from jaxclust.losses import reconstruction_error
from jaxclust.methods import pretrain
from jaxclust.methods.base import Method

_LOG_VAR_MIN, _LOG_VAR_MAX = math.log(1e-6), 30.0  # variances in [1e-6, e^30]
_LOG_2PI = math.log(2 * math.pi)
PRIOR_STARTS = ("em", "partition")


@dataclasses.dataclass(frozen=True)
class Config(pretrain.Config):
    """VaDE settings (after ``n_clusters``, ``ae``, ``n_init``): Adam's ``lr`` and ``adam_eps``,
    the rate multiplied by ``lr_decay`` every ``decay_every`` epochs down to ``min_lr``, and
    over the first ``warmup_epochs`` epochs by (epoch + 1) / (warmup_epochs + 1) (0: none, as
    the paper); ``batch_size``; ``epochs``; ``prior_start``: the mixture prior fitted by EM
    from the start partition (``"em"``, the paper's), or that partition's own per-cluster
    means and variances (``"partition"``: one M-step, so the prior keeps the start — the
    seeds' consensus with ``start="consensus"``). ``ae.loss``: ``"bce"`` is a Bernoulli
    decoder (data in [0, 1], sigmoid output), ``"mse"``/``"sse"`` a unit-variance Gaussian
    one; ``"auto"`` (default) the Bernoulli one on data in [0, 1] (the paper's on MNIST),
    else the Gaussian."""

    ae: train.AEConfig = train.AEConfig(output_activation="auto", loss="auto",
                                        kernel_init="glorot_uniform")
    lr: float = 0.002
    lr_decay: float = 0.9
    decay_every: int = 10
    min_lr: float = 0.0002
    warmup_epochs: int = 0
    adam_eps: float = 1e-4
    batch_size: int = 100
    epochs: int = 500
    prior_start: str = "em"

    def __post_init__(self):
        if self.ae.batch_norm:
            raise ValueError("VaDE's encoder has no BatchNorm: ae_batch_norm must be False")
        if self.prior_start not in PRIOR_STARTS:
            raise ValueError(f"prior_start must be one of {PRIOR_STARTS}, "
                             f"got {self.prior_start!r}")


class VAE(nn.Module):
    """The pre-training's autoencoder with a second (log-variance) encoder head.

    ``__call__(x, eps)`` returns ``(mean, log_var, x_hat)`` — ``(B, latent)`` twice and the
    decoding ``(B, d)`` of ``z = mean + exp(log_var / 2) · eps`` (before the output activation
    with ``logits=True``). The trunk, ``mean`` and
    ``decoder`` have the parameter layout of :class:`~jaxclust.nets.Autoencoder`'s encoder
    and decoder, so pre-trained weights drop in (:func:`vae_params`).
    """

    n_features: int
    hidden: Sequence[int]
    latent: int
    activation: str
    output_activation: str
    compute_dtype: str
    kernel_init: str

    def setup(self):
        dense = lambda size: nn.Dense(size, kernel_init=nets.KERNEL_INITS[self.kernel_init])  # noqa: E731
        self.trunk = nets.MLP(tuple(self.hidden), self.activation,
                              compute_dtype=self.compute_dtype, kernel_init=self.kernel_init)
        self.mean = dense(self.latent)
        self.log_var = dense(self.latent)
        self.decoder = nets.MLP((*reversed(self.hidden), self.n_features), self.activation,
                                False, self.output_activation, self.compute_dtype,
                                self.kernel_init)

    def encode(self, x):
        h = nets.ACTIVATIONS[self.activation](self.trunk(x))
        return self.mean(h), jnp.clip(self.log_var(h), _LOG_VAR_MIN, _LOG_VAR_MAX)

    def __call__(self, x, eps, logits: bool = False):
        mean, log_var = self.encode(x)
        return mean, log_var, self.decoder(mean + jnp.exp(0.5 * log_var) * eps, logits=logits)


def module(cfg: Config, n_features: int) -> VAE:
    ae = cfg.ae
    ae.check_concrete()
    return VAE(n_features, tuple(ae.hidden), ae.latent, ae.activation, ae.output_activation,
               ae.compute_dtype, ae.kernel_init)


class Prior(NamedTuple):
    """The mixture prior: ``logits`` ``(k,)`` (π = softmax), ``means`` and ``log_var``
    ``(k, latent)``."""

    logits: jax.Array
    means: jax.Array
    log_var: jax.Array


class State(NamedTuple):
    """The VAE's flax ``variables``, the ``prior``, Adam's state over both, the step and
    epoch counts (the learning rate follows ``epoch``) and the key of shuffles and samples."""

    variables: Any
    prior: Prior
    opt_state: Any
    step: jax.Array
    epoch: jax.Array
    key: jax.Array


def log_joint(z: jax.Array, prior: Prior) -> jax.Array:
    """log π_c + log N(z | μ_c, diag σ²_c) ``(B, k)`` for ``z`` ``(B, latent)``."""
    log_var = jnp.clip(prior.log_var, _LOG_VAR_MIN, _LOG_VAR_MAX)
    sq = (z[:, None, :] - prior.means[None]) ** 2 / jnp.exp(log_var)[None]
    return (jax.nn.log_softmax(prior.logits)[None]
            - 0.5 * jnp.sum(_LOG_2PI + log_var[None] + sq, axis=-1))


def neg_elbo(x, x_hat, mean, log_var, z, prior: Prior, kind: str) -> jax.Array:
    """The per-point negative ELBO ``(B,)`` (module doc) of a batch ``x`` ``(B, d)``, its
    decoding ``x_hat`` (logits for ``"bce"``), the encoder's ``mean``/``log_var`` and the
    sample ``z`` ``(B, latent)``; ``kind``: ``"bce"`` (Bernoulli decoder) or ``"mse"``/``"sse"``
    (½‖x − x̂‖² + const)."""
    if kind == "bce":
        nll = x.shape[-1] * reconstruction_error(x, x_hat, "bce")
    else:
        nll = 0.5 * reconstruction_error(x, x_hat, "sse") + 0.5 * x.shape[-1] * _LOG_2PI
    log_gamma = jax.nn.log_softmax(log_joint(z, prior), axis=1)
    p_log_var = jnp.clip(prior.log_var, _LOG_VAR_MIN, _LOG_VAR_MAX)
    cross = 0.5 * jnp.sum(_LOG_2PI + p_log_var[None]
                          + (jnp.exp(log_var)[:, None] + (mean[:, None] - prior.means[None]) ** 2)
                          / jnp.exp(p_log_var)[None], axis=-1)  # −E_q log p(z|c)  (B, k)
    log_pi = jax.nn.log_softmax(prior.logits)[None]
    entropy = 0.5 * jnp.sum(1.0 + _LOG_2PI + log_var, axis=-1)
    return nll + jnp.sum(jnp.exp(log_gamma) * (cross - log_pi + log_gamma), axis=1) - entropy


def loss(params, vae: VAE, x: jax.Array, eps: jax.Array, kind: str) -> jax.Array:
    """Per-point negative ELBO ``(B,)`` of ``params = (vae_params, prior)`` with noise ``eps``."""
    vae_params, prior = params
    mean, log_var, x_hat = vae.apply({"params": vae_params}, x, eps, logits=kind == "bce")
    return neg_elbo(x, x_hat, mean, log_var, mean + jnp.exp(0.5 * log_var) * eps, prior, kind)


def vae_params(key: jax.Array, vae: VAE, ae_params) -> Any:
    """The VAE's parameters from the autoencoder's: its encoder's hidden layers → ``trunk``,
    its last encoder layer → ``mean``, its decoder → ``decoder``; ``log_var`` initialised
    from ``key``."""
    fresh = vae.init(key, jnp.zeros((1, vae.n_features)), jnp.zeros((1, vae.latent)))["params"]
    enc = ae_params["encoder"]
    last = f"Dense_{len(vae.hidden)}"
    return {**fresh, "trunk": {k: v for k, v in enc.items() if k != last},
            "mean": enc[last], "decoder": ae_params["decoder"]}


def from_pretrained(pre: pretrain.State, x: jax.Array, cfg: Config) -> State:
    """The VAE from the pre-trained autoencoder; μ_c, σ²_c from a diagonal Gaussian mixture
    on its embedding of ``x``, by EM from the pre-training's k-means labels (or those labels'
    own means and variances: ``cfg.prior_start``); π uniform."""
    n_features = x.shape[1]
    vae = module(cfg, n_features)
    key, k_init = jax.random.split(pre.ae.key)
    params = vae_params(k_init, vae, pre.ae.variables["params"])
    z = nets.embed(cfg.ae.module(n_features), pre.ae.variables, x, cfg.block_size)
    start = jax.nn.one_hot(kmeans.nearest(z, pre.centroids, cfg.block_size), cfg.n_clusters,
                           dtype=z.dtype)
    mix_cfg = gmm.Config(cfg.n_clusters, diagonal=True)
    if cfg.prior_start == "partition":
        mix_cfg = dataclasses.replace(mix_cfg, max_iter=0)
    mix = gmm.fit_from(z, start, mix_cfg)
    var = jnp.diagonal(mix.chol, axis1=1, axis2=2) ** 2
    prior = Prior(jnp.zeros(cfg.n_clusters), mix.means + mix.centre[None], jnp.log(var))
    adam = optax.scale_by_adam(eps=cfg.adam_eps)
    return State({"params": params}, prior, adam.init((params, prior)),
                 jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32), key)


def learning_rate(epoch: jax.Array, cfg: Config) -> jax.Array:
    """``max(lr · lr_decay^⌊epoch / decay_every⌋, min_lr) · min(1, (epoch + 1) /
    (warmup_epochs + 1))``. A warm-up keeps Adam's first steps — each moves every weight by
    about the rate, whatever its gradient — from shifting the whole embedding away from the
    mixture it starts from."""
    warmup = jnp.minimum(1.0, (epoch + 1) / (cfg.warmup_epochs + 1))
    return jnp.maximum(cfg.lr * cfg.lr_decay ** (epoch // cfg.decay_every), cfg.min_lr) * warmup


def train_step(state: State, batch: jax.Array, cfg: Config):
    """One Adam step on the mean negative ELBO of ``batch`` ``(B, d)`` (one z sample per
    point, drawn from ``state.key`` and ``state.step``); returns the state and the loss."""
    vae = module(cfg, batch.shape[1])
    eps = jax.random.normal(jax.random.fold_in(state.key, state.step),
                            (batch.shape[0], cfg.ae.latent))
    params = (state.variables["params"], state.prior)
    value, grads = jax.value_and_grad(
        lambda p: jnp.mean(loss(p, vae, batch, eps, cfg.ae.loss)))(params)
    updates, opt_state = optax.scale_by_adam(eps=cfg.adam_eps).update(grads, state.opt_state)
    lr = learning_rate(state.epoch, cfg)
    vae_params_, prior = jax.tree.map(lambda p, u: p - lr * u, params, updates)
    return state._replace(variables={"params": vae_params_}, prior=prior, opt_state=opt_state,
                          step=state.step + 1), value


def train_epoch(state: State, x: jax.Array, cfg: Config):
    """One shuffled pass of :func:`train_step`, then ``epoch + 1``; returns the state and
    the mean loss."""
    return train.shuffled_epoch(train_step, state, x, cfg)


def embed(state: State, x: jax.Array, cfg: Config) -> jax.Array:
    """The encoder's mean μ̃(x) ``(n, latent)``."""
    vae = module(cfg, x.shape[1])
    return blocks.rowwise(lambda rows: vae.apply(state.variables, rows, method=vae.encode)[0], x,
                          block=cfg.block_size)


def predict_proba(state: State, x: jax.Array, cfg: Config) -> jax.Array:
    """γ = p(c | μ̃(x)) ``(n, k)``."""
    return jax.nn.softmax(log_joint(embed(state, x, cfg), state.prior), axis=1)


def predict(state: State, x: jax.Array, cfg: Config) -> jax.Array:
    """The most probable component of each point ``(n,)``."""
    return jnp.argmax(log_joint(embed(state, x, cfg), state.prior), axis=1).astype(jnp.int32)


def objective(state: State, x: jax.Array, cfg: Config) -> jax.Array:
    """The mean negative ELBO on all of ``x`` (one z sample per point from ``state.key``)."""
    eps = jax.random.normal(state.key, (x.shape[0], cfg.ae.latent))
    params, vae = (state.variables["params"], state.prior), module(cfg, x.shape[1])
    return jnp.mean(blocks.rowwise(lambda rows, e: loss(params, vae, rows, e, cfg.ae.loss), x,
                                 eps, block=cfg.block_size))


METHOD = Method(
    name="vade", config=Config,
    summary="VaDE: a VAE with a Gaussian-mixture prior; clusters from q(c|x)",
    pretrains=True, start=from_pretrained, train_epoch=train_epoch, train_step=train_step,
    predict=predict, predict_proba=predict_proba, objective=objective, features=embed,
    features_name="encoder mean")
