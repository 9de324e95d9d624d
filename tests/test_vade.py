"""VaDE's ELBO against float64 numpy, γ as the Bayes posterior, gradients, the pre-trained
start, and runs."""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from jaxclust import config, metrics, nets, runner
from jaxclust.methods import get, pretrain
from jaxclust.methods.vade import Prior, log_joint, module, neg_elbo, vae_params


def _reference(x, x_hat, mean, log_var, z, logits, means, p_log_var):
    """The paper's negative ELBO (Bernoulli decoder, one z sample), float64, per point."""
    log_pi = logits - logsumexp(logits)
    var_q, var_c = np.exp(log_var), np.exp(p_log_var)
    out = []
    for i in range(len(x)):
        rec = -np.sum(x[i] * np.log(x_hat[i]) + (1 - x[i]) * np.log(1 - x_hat[i]))
        joint = np.array([log_pi[c] + multivariate_normal(means[c], np.diag(var_c[c])).logpdf(z[i])
                          for c in range(len(logits))])
        log_gamma = joint - logsumexp(joint)
        gamma = np.exp(log_gamma)
        cross = 0.5 * np.sum(np.log(2 * np.pi * var_c) + (var_q[i] + (mean[i] - means) ** 2)
                             / var_c, axis=1)
        entropy = 0.5 * np.sum(1 + np.log(2 * np.pi * var_q[i]))
        out.append(rec + np.sum(gamma * (cross - log_pi + log_gamma)) - entropy)
    return np.array(out)


def _inputs(seed, far=False, tiny=False):
    rng = np.random.default_rng(seed)
    b, d, latent, k = 12, 6, 3, 4
    x = rng.uniform(size=(b, d))
    x_hat = rng.uniform(0.05, 0.95, size=(b, d))
    mean, log_var = rng.normal(size=(b, latent)), rng.normal(scale=0.5, size=(b, latent))
    z = mean + np.exp(0.5 * log_var) * rng.normal(size=(b, latent))
    logits, means = rng.normal(size=k), rng.normal(scale=2, size=(k, latent))
    p_log_var = rng.normal(scale=0.3, size=(k, latent))
    if far:  # a naive exp(log p(z|c)) underflows to 0/0 for these points
        mean[:3] += 200.0
        z[:3] += 200.0
    if tiny:  # near-degenerate components: p(z|c) spans hundreds of orders of magnitude
        p_log_var[:2] = np.log(1e-4)
    return x, x_hat, mean, log_var, z, logits, means, p_log_var


@pytest.mark.parametrize("far, tiny", [(False, False), (True, False), (False, True)])
def test_neg_elbo_equals_float64_numpy(far, tiny):
    x, x_hat, mean, log_var, z, logits, means, p_log_var = _inputs(0, far, tiny)
    f32 = lambda a: jnp.asarray(a, jnp.float32)  # noqa: E731
    ours = neg_elbo(f32(x), f32(np.log(x_hat) - np.log1p(-x_hat)), f32(mean), f32(log_var), f32(z),
                    Prior(f32(logits), f32(means), f32(p_log_var)), "bce")
    assert np.isfinite(np.asarray(ours)).all()
    np.testing.assert_allclose(np.asarray(ours), _reference(x, x_hat, mean, log_var, z, logits,
                                                            means, p_log_var), rtol=2e-4)


def test_gamma_is_the_bayes_posterior_and_sums_to_one():
    _, _, _, _, z, logits, means, p_log_var = _inputs(1)
    prior = Prior(*(jnp.asarray(a, jnp.float32) for a in (logits, means, p_log_var)))
    gamma = np.asarray(jax.nn.softmax(log_joint(jnp.asarray(z, jnp.float32), prior), axis=1))
    pi = np.exp(logits) / np.exp(logits).sum()
    dens = np.stack([pi[c] * multivariate_normal(means[c], np.diag(np.exp(p_log_var[c]))).pdf(z)
                     for c in range(len(pi))], 1)
    np.testing.assert_allclose(gamma, dens / dens.sum(1, keepdims=True), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(gamma.sum(1), 1.0, rtol=1e-6)


def test_gradients():
    x, x_hat, mean, log_var, z, logits, means, p_log_var = (
        jnp.asarray(a) for a in _inputs(2))

    def f(x_hat, mean, log_var, means, p_log_var):
        return jnp.sum(neg_elbo(x, x_hat, mean, log_var, z, Prior(logits, means, p_log_var),
                                "bce"))

    check_grads(f, (x_hat, mean, log_var, means, p_log_var), order=1, modes=["rev"],
                atol=1e-2, rtol=1e-2)


def test_pretrained_weights_drop_in():
    """The VAE's mean head and decoder compute exactly the pre-trained autoencoder."""
    method = get("vade")
    x = jax.random.uniform(jax.random.key(0), (20, 12))
    cfg = runner.for_data(config.build(method, ae_hidden=(16, 8), embedding_size=3), x)
    ae_vars = cfg.ae.module(12).init(jax.random.key(1), x)
    vae = module(cfg, 12)
    params = vae_params(jax.random.key(2), vae, ae_vars["params"])
    mean, _, x_hat = vae.apply({"params": params}, x, jnp.zeros((20, 3)))
    z, ae_x_hat = cfg.ae.module(12).apply(ae_vars, x)
    np.testing.assert_allclose(np.asarray(mean), np.asarray(z), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(np.asarray(x_hat), np.asarray(ae_x_hat), rtol=1e-6, atol=1e-6)
    assert np.asarray(nets.embed(cfg.ae.module(12), ae_vars, x)).shape == (20, 3)


def test_batch_norm_is_refused():
    with pytest.raises(ValueError, match="ae_batch_norm"):
        config.build(get("vade"), ae_batch_norm=True)
    with pytest.raises(ValueError, match="prior_start"):
        config.build(get("vade"), prior_start="kmeans")


def test_the_partition_prior_start_is_the_start_partitions_moments():
    """``prior_start="partition"``: μ_c, σ²_c are the mean and variance of the embedding over
    the start's k-means groups (float64 numpy), π uniform; ``"em"`` moves away from them."""
    method = get("vade")
    x = jax.random.uniform(jax.random.key(0), (200, 12))
    cfg = runner.for_data(config.build(method, n_clusters=4, ae_hidden=(16,), embedding_size=3,
                                       pretrain_epochs=2, n_init=2, prior_start="partition"), x)
    pre = jax.tree.map(lambda a: a[0], runner.fit_seeds(
        get("aekm"), runner.seed_keys(0, 1), x, pretrain.phase_config(cfg)).states)
    z = np.asarray(pretrain.embed(pre, x, cfg), np.float64)
    labels = np.asarray(pretrain.predict(pre, x, cfg))
    prior = method.start(pre, x, cfg).prior
    for c in range(4):
        members = z[labels == c]
        np.testing.assert_allclose(np.asarray(prior.means[c]), members.mean(0), rtol=1e-4,
                                   atol=1e-5)
        np.testing.assert_allclose(np.exp(np.asarray(prior.log_var[c])),
                                   members.var(0) + 1e-6, rtol=1e-3, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(prior.logits), 0.0)
    em = method.start(pre, x, dataclasses.replace(cfg, prior_start="em")).prior
    assert not np.allclose(np.asarray(em.means), np.asarray(prior.means), atol=1e-3)


def test_vade_on_digits_keeps_its_start_and_seeds_equal_single_fits():
    from sklearn.datasets import load_digits

    d = load_digits()
    x, y = jnp.asarray(d.data[:600] / 16.0, jnp.float32), d.target[:600]
    method = get("vade")
    cfg = runner.for_data(config.build(method, n_clusters=10, ae_hidden=(64,), embedding_size=10,
                                       pretrain_epochs=40, pretrain_batch_size=64, n_init=3,
                                       clustering_epochs=10, clustering_batch_size=50), x)
    assert cfg.ae.loss == "bce"  # the paper's Bernoulli decoder on data in [0, 1]
    both = runner.fit_seeds(method, runner.seed_keys(0, 2), x, cfg)
    one = runner.fit_seeds(method, runner.seed_keys(1, 1), x, cfg)
    np.testing.assert_array_equal(np.asarray(both.labels[1]), np.asarray(one.labels[0]))
    pre = jax.tree.map(lambda a: a[0], runner.fit_seeds(
        get("aekm"), runner.seed_keys(0, 1), x, pretrain.phase_config(cfg)).states)
    start = metrics.evaluate(y, np.asarray(pretrain.predict(pre, x, cfg)))["nmi"]
    nmi = metrics.evaluate(y, np.asarray(both.labels[0]))["nmi"]
    assert nmi > start - 0.05 and nmi > 0.6
    state = jax.tree.map(lambda a: a[0], both.states)
    proba = np.asarray(method.predict_proba(state, x, cfg))
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(proba.argmax(1), np.asarray(both.labels[0]))
    assert np.isfinite(float(both.objectives[0]))


def test_learning_rate_decays_floors_and_warms_up():
    from jaxclust.methods.vade import learning_rate

    paper = config.build(get("vade"))
    warm = config.build(get("vade"), warmup_epochs=3)
    for epoch in (0, 3, 9, 10, 25, 400):
        want = max(0.002 * 0.9 ** (epoch // 10), 0.0002)
        assert np.isclose(float(learning_rate(jnp.asarray(epoch), paper)), want, rtol=1e-6)
        ramp = min(1.0, (epoch + 1) / 4)
        assert np.isclose(float(learning_rate(jnp.asarray(epoch), warm)), want * ramp, rtol=1e-6)
    with pytest.raises(ValueError, match="warmup_epochs must be >= 0"):
        config.build(get("vade"), warmup_epochs=-1)
