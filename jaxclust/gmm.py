"""A Gaussian mixture with full (or diagonal) covariances, fitted by EM in JAX.

    state = fit(key, x, cfg)        # k-means starts (k-means++ runs), EM from each
    labels = predict(state, x)

As scikit-learn's ``GaussianMixture(covariance_type="full")`` (``"diag"`` with
``diagonal=True``): responsibilities from a k-means labelling start the first M-step
(``n_init`` starts, the fit of the highest log-likelihood kept); each
covariance gets ``reg_covar`` on its diagonal; EM stops once the mean log-likelihood changes
by less than ``tol`` (or after ``max_iter`` iterations). Pure and shape-static, so
``jax.vmap`` fits one mixture per seed.
"""
from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.scipy.linalg import solve_triangular
from jax.scipy.special import logsumexp

from jaxclust import kmeans


@dataclasses.dataclass(frozen=True)
class Config:
    """``n_components``; ``reg_covar`` added to each covariance's diagonal; stop when the
    mean log-likelihood moves less than ``tol``, or after ``max_iter`` EM iterations (0: the
    start's M-step alone);
    ``diagonal``: diagonal covariances (held as diagonal Cholesky factors); ``n_init``: k-means
    starts, each followed by EM, the fit of the highest mean log-likelihood kept."""

    n_components: int = 10
    reg_covar: float = 1e-6
    tol: float = 1e-3
    max_iter: int = 100
    diagonal: bool = False
    n_init: int = 1

    def __post_init__(self):
        if self.n_components < 1 or self.n_init < 1 or self.max_iter < 0:
            raise ValueError("n_components and n_init must be at least 1, max_iter at least 0")
        if self.reg_covar < 0 or self.tol < 0:
            raise ValueError("reg_covar and tol must be >= 0")


class State(NamedTuple):
    """``weights`` ``(k,)``, ``means`` ``(k, d)``, ``chol`` ``(k, d, d)`` the covariances'
    lower Cholesky factors, ``centre`` ``(d,)`` (the data's mean: fits run on centred
    data), ``log_likelihood`` ``()`` (mean per point at the last E-step), ``n_iter``,
    ``converged``."""

    weights: jax.Array
    means: jax.Array
    chol: jax.Array
    centre: jax.Array
    log_likelihood: jax.Array
    n_iter: jax.Array
    converged: jax.Array


def m_step(x: jax.Array, resp: jax.Array, reg_covar: float, diagonal: bool = False):
    """Weights ``(k,)``, means ``(k, d)`` and covariance Cholesky factors ``(k, d, d)`` from
    responsibilities ``(n, k)`` (a component without points keeps weight ≈ 0, mean 0 and
    covariance ``reg_covar·I``); ``diagonal`` keeps only the covariances' diagonals."""
    nk = jnp.sum(resp, axis=0) + 10 * jnp.finfo(x.dtype).eps
    means = (resp.T @ x) / nk[:, None]

    def cov(r, mu, n):
        diff = x - mu[None, :]
        c = (r[:, None] * diff).T @ diff / n
        eye = jnp.eye(x.shape[1], dtype=x.dtype)
        return (c * eye if diagonal else c) + reg_covar * eye

    covs = jax.vmap(cov, in_axes=(1, 0, 0))(resp, means, nk)
    return nk / jnp.sum(nk), means, jnp.linalg.cholesky(covs)


def log_gaussian(x: jax.Array, means: jax.Array, chol: jax.Array) -> jax.Array:
    """log N(xᵢ | μ_c, L_c L_cᵀ) ``(n, k)`` for ``x`` ``(n, d)``."""
    d = x.shape[1]

    def one(mu, lc):
        y = solve_triangular(lc, (x - mu[None, :]).T, lower=True)  # (d, n)
        return (-0.5 * (d * math.log(2 * math.pi) + jnp.sum(y * y, axis=0))
                - jnp.sum(jnp.log(jnp.diagonal(lc))))

    return jax.vmap(one, out_axes=1)(means, chol)


def _e_step(x, weights, means, chol):
    joint = log_gaussian(x, means, chol) + jnp.log(weights)[None, :]
    norm = logsumexp(joint, axis=1, keepdims=True)
    return jnp.exp(joint - norm), jnp.mean(norm)


def fit_from(x: jax.Array, resp: jax.Array, cfg: Config) -> State:
    """EM on ``x`` ``(n, d)`` from the responsibilities ``resp`` ``(n, k)`` of a start."""
    centre = jnp.mean(x, axis=0)
    xc = x - centre[None, :]
    params = m_step(xc, resp, cfg.reg_covar, cfg.diagonal)

    def cond(carry):
        _, _, it, change = carry
        return (it < cfg.max_iter) & (jnp.abs(change) >= cfg.tol)

    def body(carry):
        params, ll, it, _ = carry
        r, new_ll = _e_step(xc, *params)
        return m_step(xc, r, cfg.reg_covar, cfg.diagonal), new_ll, it + 1, new_ll - ll

    inf = jnp.asarray(jnp.inf, x.dtype)
    params, ll, it, change = jax.lax.while_loop(cond, body, (params, -inf, jnp.asarray(0), inf))
    if cfg.max_iter == 0:  # no E-step ran: the start's own likelihood
        ll = _e_step(xc, *params)[1]
    return State(*params, centre, ll, it, jnp.abs(change) < cfg.tol)


def fit(key: jax.Array, x: jax.Array, cfg: Config) -> State:
    """EM on ``x`` ``(n, d)`` from ``cfg.n_init`` k-means runs (k-means++ seeding; one run:
    from ``key`` itself, else from its splits, one after another); the fit of the highest
    mean log-likelihood is kept (a diverged one never)."""
    def from_kmeans(k):
        labels = kmeans.kmeans(k, x, cfg.n_components, n_init=1).labels
        return fit_from(x, jax.nn.one_hot(labels, cfg.n_components, dtype=x.dtype), cfg)

    if cfg.n_init == 1:
        return from_kmeans(key)
    fits = jax.lax.map(from_kmeans, jax.random.split(key, cfg.n_init))
    ll = jnp.where(jnp.isnan(fits.log_likelihood), -jnp.inf, fits.log_likelihood)
    return jax.tree.map(lambda a: a[jnp.argmax(ll)], fits)


def predict_proba(state: State, x: jax.Array) -> jax.Array:
    """Responsibilities ``(n, k)``."""
    return _e_step(x - state.centre[None, :], state.weights, state.means, state.chol)[0]


def predict(state: State, x: jax.Array) -> jax.Array:
    """The most responsible component of each point ``(n,)`` int32."""
    return jnp.argmax(predict_proba(state, x), axis=1).astype(jnp.int32)


def score(state: State, x: jax.Array) -> jax.Array:
    """The mean log-likelihood of ``x`` ``()``."""
    return _e_step(x - state.centre[None, :], state.weights, state.means, state.chol)[1]
