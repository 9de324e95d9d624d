"""Flax (linen) networks: the MLP autoencoder and vmapped ensembles of them.

Parameters are plain pytrees (flax variable dicts), so an ensemble of k autoencoders is one
pytree with a leading axis of size k, applied with ``jax.vmap``.
"""
from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxclust.blocks import BLOCK, rowwise
from jaxclust.losses import reconstruction_error

ACTIVATIONS = {"relu": nn.relu, "elu": nn.elu}
OUTPUT_ACTIVATIONS = {"none": lambda h: h, "sigmoid": nn.sigmoid}
# Dense kernel initialisers: flax's default, and Keras's (used by DEC-keras and IDEC).
KERNEL_INITS = {"lecun_normal": nn.initializers.lecun_normal(),
                "glorot_uniform": nn.initializers.glorot_uniform()}


class MLP(nn.Module):
    """Dense layers ``sizes``; ``activation`` (and optional BatchNorm) between them.

    The last layer is linear unless ``final_activation`` is given. Input ``(..., d)``.
    ``compute_dtype``: ``"bfloat16"`` runs the layers in bfloat16 (parameters stay float32,
    the output is cast back to the input's dtype) — for accelerators with fast bfloat16 matmuls.
    ``kernel_init``: a key of ``KERNEL_INITS``. ``__call__(h, train, logits=True)`` skips the
    final activation (a loss that takes logits, e.g. binary cross-entropy, is then exact).
    """

    sizes: Sequence[int]
    activation: str = "relu"
    batch_norm: bool = False
    final_activation: str = "none"
    compute_dtype: str = "float32"
    kernel_init: str = "lecun_normal"

    @nn.compact
    def __call__(self, h, train: bool = False, logits: bool = False):
        if self.compute_dtype not in ("float32", "bfloat16"):
            raise ValueError(f"compute_dtype must be 'float32' or 'bfloat16', "
                             f"got {self.compute_dtype!r}")
        act = ACTIVATIONS[self.activation]
        in_dtype = h.dtype
        dtype = jnp.bfloat16 if self.compute_dtype == "bfloat16" else None  # None: as inputs
        for i, size in enumerate(self.sizes):
            h = nn.Dense(size, dtype=dtype, kernel_init=KERNEL_INITS[self.kernel_init])(h)
            if i < len(self.sizes) - 1:
                if self.batch_norm:
                    h = nn.BatchNorm(use_running_average=not train, momentum=0.9)(h)
                h = act(h)
        final = "none" if logits else self.final_activation
        return OUTPUT_ACTIVATIONS[final](h).astype(in_dtype)


class Autoencoder(nn.Module):
    """MLP autoencoder ``d → hidden… → latent → …hidden reversed → d``.

    Attributes:
      n_features: input/output dimension d.
      hidden: encoder hidden sizes, e.g. ``(500, 500, 2000)``; the decoder mirrors them.
      latent: embedding size (linear, no activation).
      activation: ``"relu"`` or ``"elu"``.
      batch_norm: BatchNorm after every hidden layer (needs ``train`` and ``batch_stats``).
      output_activation: ``"none"`` (MSE on raw values) or ``"sigmoid"`` (data in [0, 1]).
      compute_dtype: ``"float32"`` or ``"bfloat16"`` (see :class:`MLP`).
      kernel_init: ``"lecun_normal"`` (flax's default) or ``"glorot_uniform"`` (Keras's).

    ``__call__(x)`` returns ``(z, x_hat)``: ``(B, latent)`` and ``(B, d)``; with
    ``logits=True``, ``x_hat`` is the decoder's output before ``output_activation`` (what
    :func:`~jaxclust.losses.reconstruction_error` takes for ``"bce"``).
    """

    n_features: int
    hidden: Sequence[int] = (500, 500, 2000)
    latent: int = 10
    activation: str = "relu"
    batch_norm: bool = False
    output_activation: str = "none"
    compute_dtype: str = "float32"
    kernel_init: str = "lecun_normal"

    def setup(self):
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {list(ACTIVATIONS)}, "
                             f"got {self.activation!r}")
        if self.output_activation not in OUTPUT_ACTIVATIONS:
            raise ValueError(f"output_activation must be one of {list(OUTPUT_ACTIVATIONS)}, "
                             f"got {self.output_activation!r}")
        if self.kernel_init not in KERNEL_INITS:
            raise ValueError(f"kernel_init must be one of {list(KERNEL_INITS)}, "
                             f"got {self.kernel_init!r}")
        self.encoder = MLP((*self.hidden, self.latent), self.activation, self.batch_norm,
                           compute_dtype=self.compute_dtype, kernel_init=self.kernel_init)
        self.decoder = MLP((*reversed(self.hidden), self.n_features), self.activation,
                           self.batch_norm, self.output_activation, self.compute_dtype,
                           self.kernel_init)

    def encode(self, x, train: bool = False):
        return self.encoder(x, train)

    def decode(self, z, train: bool = False, logits: bool = False):
        return self.decoder(z, train, logits)

    def __call__(self, x, train: bool = False, logits: bool = False):
        z = self.encode(x, train)
        return z, self.decode(z, train, logits)


def forward(module: nn.Module, variables, x, train: bool = False, method=None, **kwargs):
    """Apply ``module`` (``kwargs`` passed on, e.g. ``logits``); in training mode also return
    the updated BatchNorm statistics.

    Returns ``(outputs, variables)``: ``variables`` is unchanged unless ``train`` and the
    module has ``batch_stats``.
    """
    if train and "batch_stats" in variables:
        out, updates = module.apply(variables, x, train=True, method=method,
                                    mutable=["batch_stats"], **kwargs)
        return out, {**variables, **updates}
    return module.apply(variables, x, train=False, method=method, **kwargs), variables


def init_ensemble(key: jax.Array, module: nn.Module, k: int, x: jax.Array):
    """k independently initialised variable sets, stacked on a leading axis of size k."""
    return jax.vmap(lambda kk: module.init(kk, x[:1]))(jax.random.split(key, k))


def apply_ensemble(module: nn.Module, variables, x: jax.Array, train: bool = False, **kwargs):
    """Apply each of the k stacked members to the same ``x`` ``(B, d)`` (``kwargs`` as
    :func:`forward`).

    Returns ``((z, x_hat), variables)`` with ``z`` ``(k, B, latent)`` and ``x_hat``
    ``(k, B, d)``.
    """
    return jax.vmap(lambda v: forward(module, v, x, train, **kwargs))(variables)


def embed(module: nn.Module, variables, x: jax.Array, block: int = BLOCK) -> jax.Array:
    """Encoder output ``(n, latent)`` in inference mode (in blocks of ``block`` rows:
    :func:`jaxclust.blocks.rowwise`)."""
    return rowwise(lambda rows: module.apply(variables, rows, method=module.encode), x,
                   block=block)


def ensemble_errors(module: nn.Module, variables, x: jax.Array, kind: str,
                    block: int = BLOCK) -> jax.Array:
    """Reconstruction error of every point by every stacked member ``(n, k)``, computed in
    blocks of ``block`` rows so the ``(k, n, d)`` reconstructions never exist at once."""

    def block_errors(xb):
        (_, x_hat), _ = apply_ensemble(module, variables, xb, logits=kind == "bce")
        return reconstruction_error(xb, x_hat, kind)

    return rowwise(block_errors, x, block=block)
