"""The Gaussian mixture against scikit-learn's GaussianMixture and scipy's densities."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import multivariate_normal
from sklearn.mixture import GaussianMixture

from jaxclust import gmm, kmeans

# jitted: a whole fit compiles once instead of op by op
fit = jax.jit(gmm.fit, static_argnames="cfg")
fit_from = jax.jit(gmm.fit_from, static_argnames="cfg")

def _blobs(seed=0, k=4, d=3, n=250):
    rng = np.random.default_rng(seed)
    parts = [rng.multivariate_normal(rng.normal(scale=5, size=d),
                                     np.cov(rng.normal(size=(d, d + 2))), n) for _ in range(k)]
    return np.concatenate(parts).astype(np.float32) + 50.0  # off-centre


def test_log_gaussian_equals_scipy():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 3))
    means = rng.normal(size=(2, 3))
    covs = np.stack([np.cov(rng.normal(size=(3, 6))) for _ in range(2)])
    ours = gmm.log_gaussian(jnp.asarray(x, jnp.float32), jnp.asarray(means, jnp.float32),
                            jnp.linalg.cholesky(jnp.asarray(covs, jnp.float32)))
    ref = np.stack([multivariate_normal(m, c).logpdf(x) for m, c in zip(means, covs)], 1)
    np.testing.assert_allclose(np.asarray(ours), ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("diagonal", [False, True])
def test_em_equals_scikit_learn_from_the_same_start(key, diagonal):
    x = _blobs()
    k = 4
    cfg = gmm.Config(n_components=k, tol=1e-6, max_iter=300, diagonal=diagonal)
    resp = np.eye(k)[np.asarray(kmeans.kmeans(key, jnp.asarray(x), k, n_init=1).labels)]
    ours = fit_from(jnp.asarray(x), jnp.asarray(resp, jnp.float32), cfg=cfg)
    # scikit-learn from the M-step of the same responsibilities (float64)
    x64 = x.astype(np.float64)
    nk = resp.sum(0)
    means = resp.T @ x64 / nk[:, None]
    covs = np.stack([((resp[:, c, None] * (x64 - means[c])).T @ (x64 - means[c])) / nk[c]
                     + 1e-6 * np.eye(3) for c in range(k)])
    if diagonal:
        covs = np.diagonal(covs, axis1=1, axis2=2)
    ref = GaussianMixture(k, covariance_type="diag" if diagonal else "full", tol=1e-6,
                          max_iter=300, weights_init=nk / nk.sum(), means_init=means,
                          precisions_init=1 / covs if diagonal else np.linalg.inv(covs)
                          ).fit(x64)
    assert bool(ours.converged)
    np.testing.assert_allclose(float(ours.log_likelihood), ref.lower_bound_, rtol=1e-4)
    np.testing.assert_allclose(float(gmm.score(ours, jnp.asarray(x))), ref.score(x64),
                               rtol=1e-4)
    np.testing.assert_array_equal(np.asarray(gmm.predict(ours, jnp.asarray(x))),
                                  ref.predict(x64))
    np.testing.assert_allclose(np.asarray(gmm.predict_proba(ours, jnp.asarray(x))).sum(1), 1.0,
                               rtol=1e-5)


def test_no_em_iteration_is_the_starts_m_step():
    x = _blobs()
    labels = np.arange(len(x)) % 3  # a start unlike the blobs: EM would move it
    state = fit_from(jnp.asarray(x), jnp.asarray(np.eye(3)[labels], jnp.float32),
                     cfg=gmm.Config(n_components=3, max_iter=0, diagonal=True))
    x64 = x.astype(np.float64)
    for c in range(3):
        np.testing.assert_allclose(np.asarray(state.means[c] + state.centre),
                                   x64[labels == c].mean(0), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(np.diagonal(np.asarray(state.chol[c])) ** 2,
                                   x64[labels == c].var(0) + 1e-6, rtol=1e-3)
    assert int(state.n_iter) == 0
    np.testing.assert_allclose(float(state.log_likelihood),
                               float(gmm.score(state, jnp.asarray(x))), rtol=1e-5)


def test_a_component_without_points_stays_finite():
    x = _blobs(k=2)
    resp = np.zeros((len(x), 3), np.float32)
    resp[:250, 0] = resp[250:, 1] = 1.0  # component 2 owns nothing
    state = fit_from(jnp.asarray(x), jnp.asarray(resp), cfg=gmm.Config(n_components=3))
    assert np.isfinite(float(state.log_likelihood))
    assert np.isfinite(np.asarray(gmm.predict_proba(state, jnp.asarray(x)))).all()


def test_vmap_over_keys_equals_separate_fits():
    x = jnp.asarray(_blobs(seed=2))
    cfg = gmm.Config(n_components=4)
    keys = jax.random.split(jax.random.key(5), 3)
    batched = jax.jit(jax.vmap(lambda k: gmm.fit(k, x, cfg).log_likelihood))(keys)
    single = [float(fit(k, x, cfg=cfg).log_likelihood) for k in keys]
    np.testing.assert_allclose(np.asarray(batched), single, rtol=1e-5)


def test_several_starts_keep_the_most_likely_fit():
    x = jnp.asarray(_blobs(seed=3, k=8, d=2, n=60))  # 8 blobs, 5 components: starts differ
    key = jax.random.key(0)
    single = [fit(k, x, cfg=gmm.Config(n_components=5)) for k in jax.random.split(key, 6)]
    lls = [float(s.log_likelihood) for s in single]
    assert max(lls) - min(lls) > 1e-3  # the check below would be vacuous otherwise
    best = fit(key, x, cfg=gmm.Config(n_components=5, n_init=6))
    np.testing.assert_allclose(float(best.log_likelihood), max(lls), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(best.means),
                               np.asarray(single[int(np.argmax(lls))].means), rtol=1e-5)
    with pytest.raises(ValueError, match="n_init"):
        gmm.Config(n_init=0)
