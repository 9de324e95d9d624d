"""Loss functions: pure functions of arrays, per sample, reduced by the caller."""
from __future__ import annotations

import jax
import jax.numpy as jnp

RECONSTRUCTION_KINDS = ("mse", "sse", "norm", "bce")
_BCE_EPS = 1e-7  # DAC clips its pair similarities to [ε, 1 − ε]
_NORM_FLOOR = 1e-12  # sqrt's gradient is infinite at 0


def reconstruction_error(x, x_hat, kind: str = "mse"):
    """Per-sample reconstruction error.

    Args:
      x: ``(B, d)`` data.
      x_hat: ``(B, d)`` reconstruction, or ``(k, B, d)`` for an ensemble of k decoders.
      kind: ``"mse"`` mean over features of the squared error; ``"sse"`` its sum
        ``‖x − x̂‖²``; ``"norm"`` its square root ``‖x − x̂‖`` (what the k-DAE authors' Keras
        code minimises; gradient finite at ``x̂ = x``); ``"bce"`` mean over features of the
        binary cross-entropy of data in [0, 1] against a sigmoid output, **given its logits**
        ``x_hat = h`` (the network's output before the sigmoid, ``logits=True`` in
        :class:`~jaxclust.nets.Autoencoder`): ``softplus(h) − x·h``, exact where the sigmoid
        saturates, with gradient ``σ(h) − x``.

    Returns:
      ``(B,)``, or ``(B, k)`` for an ensemble.
    """
    if kind not in RECONSTRUCTION_KINDS:
        raise ValueError(f"kind must be one of {RECONSTRUCTION_KINDS}, got {kind!r}")
    if x_hat.ndim == x.ndim + 1:
        x = x[None]
    if kind == "bce":
        err = jnp.mean(jnp.logaddexp(0.0, x_hat) - x * x_hat, axis=-1)
    else:
        sq = (x - x_hat) ** 2
        err = jnp.mean(sq, axis=-1) if kind == "mse" else jnp.sum(sq, axis=-1)
        if kind == "norm":
            err = jnp.sqrt(jnp.maximum(err, _NORM_FLOOR))
    return err.T if err.ndim == 2 else err


def soft_assignment(z, centroids, alpha: float = 1.0):
    """DEC's soft assignment q ``(B, k)``: a Student's t kernel, rows normalised.

    ``q_ij ∝ (1 + ‖z_i − μ_j‖² / α)^(−(α+1)/2)``, computed as a softmax of log-kernels.
    z: ``(B, e)``; centroids: ``(k, e)``.
    """
    d2 = jnp.sum((z[:, None, :] - centroids[None, :, :]) ** 2, axis=-1)
    return jax.nn.softmax(-(alpha + 1.0) / 2.0 * jnp.log1p(d2 / alpha), axis=-1)


def target_distribution(q):
    """DEC's auxiliary target p ``(B, k)``: ``p_ij ∝ q_ij² / f_j``, ``f_j = Σ_i q_ij``."""
    weight = q**2 / jnp.sum(q, axis=0, keepdims=True)
    return weight / jnp.sum(weight, axis=1, keepdims=True)


def dec_loss(p, q):
    """Per-sample ``KL(P‖Q) = Σ_j p_ij log(p_ij / q_ij)`` ``(B,)``; P is held fixed.

    No gradient flows through ``p``; ``0 log 0 = 0`` and ``q`` is floored at the smallest
    normal float, so there is no ``log(0)``.
    """
    p = jax.lax.stop_gradient(p)
    log_q = jnp.log(jnp.maximum(q, jnp.finfo(q.dtype).tiny))
    return jnp.sum(jax.scipy.special.xlogy(p, p) - p * log_q, axis=-1)


def dcn_loss(x, x_hat, z, centroids, labels, lam: float, kind: str = "mse"):
    """DCN's per-sample objective ``ℓ(x̂, x) + (λ/2) ‖z − m_{s}‖²`` ``(B,)``.

    x, x_hat: ``(B, d)`` (``x_hat`` logits for ``"bce"``); z: ``(B, e)``; centroids:
    ``(k, e)``; labels: ``(B,)`` int, the fixed assignment s. ``kind`` is the reconstruction
    error (see :func:`reconstruction_error`; ``"mse"`` averages over features, so λ is
    relative to a per-feature error).
    """
    dist = jnp.sum((z - centroids[labels]) ** 2, axis=-1)
    return reconstruction_error(x, x_hat, kind) + 0.5 * lam * dist


def kdae_loss(errors):
    """k-DAE's hard loss per sample ``min_i e_ti`` ``(B,)`` from errors ``(B, k)``.

    The gradient reaches only the autoencoder that reconstructs the sample best.
    """
    return jnp.min(errors, axis=-1)


def kdae_soft_loss(errors):
    """k-DAE's soft loss per sample ``−log Σ_i exp(−e_ti)`` ``(B,)``, via logsumexp."""
    return -jax.nn.logsumexp(-errors, axis=-1)


def damic_loss(gate_logits, errors):
    """DAMIC's per-sample mixture negative log-likelihood ``(B,)``.

    ``−log Σ_i p(c=i|x) exp(−d_i)``, computed as ``−logsumexp_i(log_softmax(gate)_i − d_i)``
    so that large distances (784-dim data, where ``exp(−d)`` underflows) stay finite.
    gate_logits: ``(B, k)``; errors: ``(B, k)``, the distances ``d(x, f_i(x))`` (DAMIC:
    ``½‖x − f_i(x)‖²``).
    """
    return -jax.nn.logsumexp(jax.nn.log_softmax(gate_logits, axis=-1) - errors, axis=-1)


def marginal_entropy(logits):
    """``H(Y)`` of the batch-marginal ``p̄ = mean_i softmax(logits_i)``: a scalar.

    logits: ``(B, k)``. Maximal (``log k``) when the clusters are used evenly.
    """
    p_bar = jnp.mean(jax.nn.softmax(logits, axis=-1), axis=0)
    return -jnp.sum(jax.scipy.special.xlogy(p_bar, p_bar))


def conditional_entropy(logits):
    """``H(Y|X)`` estimated on the batch: the mean entropy of ``softmax(logits_i)``, a scalar.

    logits: ``(B, k)``; computed from ``log_softmax`` (no ``log(0)``).
    """
    logp = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.mean(jnp.sum(jnp.exp(logp) * logp, axis=-1))


def rim_loss(logits, mu: float = 1.0):
    """Minus the weighted mutual information, ``H(Y|X) − μ·H(Y)``: a scalar.

    ``μ = 1`` is RIM's ``−I(X; Y)``; IMSAT's released code weighs the marginal by ``μ = 4``
    (METHODS.md writes the weight on the other term — see ``methods.imsat``).
    """
    return conditional_entropy(logits) - mu * marginal_entropy(logits)


def sat_loss(p_clean, logits_aug):
    """Self-augmented training: ``KL(p(y|x) ‖ p(y|T(x)))`` per sample ``(B,)``, the clean
    prediction ``p_clean`` ``(B, k)`` held fixed (no gradient flows into it)."""
    p = jax.lax.stop_gradient(p_clean)
    logq = jax.nn.log_softmax(logits_aug, axis=-1)
    return jnp.sum(jax.scipy.special.xlogy(p, p) - p * logq, axis=-1)


def _unit_rows(d):
    return d / (jnp.linalg.norm(d, axis=-1, keepdims=True) + 1e-12)


def vat_direction(logits_fn, x, p_clean, key, xi: float = 10.0):
    """Virtual adversarial direction: one power iteration (Miyato et al.).

    Starting from a random unit direction ``d`` per row, the gradient of
    ``Σ KL(p_clean ‖ softmax(logits_fn(x + xi·d)))`` w.r.t. ``d``, normalised per row.
    x: ``(B, d)``; p_clean: ``(B, k)``. Returns unit rows ``(B, d)`` (no gradient).
    """
    d = _unit_rows(jax.random.normal(key, x.shape, x.dtype))
    grad = jax.grad(lambda v: jnp.sum(sat_loss(p_clean, logits_fn(x + xi * v))))(d)
    return jax.lax.stop_gradient(_unit_rows(grad))


def random_direction(key, shape, dtype=jnp.float32):
    """Random unit rows ``shape = (B, d)`` (RPT's perturbation direction)."""
    return _unit_rows(jax.random.normal(key, shape, dtype))


def dac_loss(features, upper, lower):
    """DAC's pairwise loss on a batch: a scalar.

    features: ``(B, k)`` unit rows (L2-normalised softmax outputs); the similarity of a pair
    is their dot product ``g_ij`` in [0, 1]. Pairs with ``g ≥ upper`` are labelled "same"
    (r = 1), pairs with ``g < lower`` "different" (r = 0), the rest are left out; the loss is
    the mean binary cross-entropy ``−r log g − (1 − r) log(1 − g)`` over the selected pairs
    (labels from the current similarities, held fixed; ``g`` clipped away from 0 and 1).
    """
    sim = features @ features.T
    fixed = jax.lax.stop_gradient(sim)
    same = fixed >= upper
    selected = same | (fixed < lower)
    g = jnp.clip(sim, _BCE_EPS, 1.0 - _BCE_EPS)
    bce = -jnp.where(same, jnp.log(g), jnp.log1p(-g))
    return jnp.sum(jnp.where(selected, bce, 0.0)) / jnp.maximum(jnp.sum(selected), 1)
