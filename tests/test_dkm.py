"""DKM's loss against float64 numpy, its hard limit, its gradients, and a run."""
import jax
import jax.numpy as jnp
import numpy as np
from jax.test_util import check_grads
from scipy.special import logsumexp

from jaxclust import config, metrics, runner
from jaxclust.methods import get, pretrain
from jaxclust.methods.dkm import soft_kmeans


def _reference(z, reps, alpha):
    d = ((z[:, None, :] - reps[None]) ** 2).sum(-1)
    logits = -alpha * d
    w = np.exp(logits - logsumexp(logits, axis=1, keepdims=True))
    return (w * d).sum(1)


def test_soft_kmeans_equals_float64_numpy_even_far_away():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(50, 4))
    z[:5] += 1e3  # far from every representative: a naive exp(−α d) is 0/0
    reps = rng.normal(size=(3, 4))
    for alpha in (0.1, 10.0, 1000.0):
        ours = soft_kmeans(jnp.asarray(z, jnp.float32), jnp.asarray(reps, jnp.float32), alpha)
        assert np.isfinite(np.asarray(ours)).all()
        np.testing.assert_allclose(np.asarray(ours), _reference(z, reps, alpha), rtol=2e-4)


def test_large_alpha_is_the_hard_kmeans_loss():
    rng = np.random.default_rng(1)
    z, reps = rng.normal(size=(40, 3)), rng.normal(size=(5, 3))
    hard = ((z[:, None] - reps[None]) ** 2).sum(-1).min(1)
    ours = soft_kmeans(jnp.asarray(z, jnp.float32), jnp.asarray(reps, jnp.float32), 1e6)
    np.testing.assert_allclose(np.asarray(ours), hard, rtol=1e-5)


def test_gradients():
    rng = np.random.default_rng(2)
    z, reps = jnp.asarray(rng.normal(size=(6, 3))), jnp.asarray(rng.normal(size=(4, 3)))
    check_grads(lambda z, r: soft_kmeans(z, r, 2.0), (z, reps), order=1, modes=["rev"],
                atol=1e-2, rtol=1e-2)


def test_dkm_keeps_its_kmeans_start_on_digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    x, y = jnp.asarray(d.data[:800] / 16.0, jnp.float32), d.target[:800]
    method = get("dkm")
    cfg = config.build(method, n_clusters=10, ae_hidden=(64,), embedding_size=10,
                       pretrain_epochs=30, pretrain_batch_size=64, n_init=5,
                       clustering_epochs=10, clustering_batch_size=64)
    res = runner.fit_seeds(method, runner.seed_keys(0, 1), x, cfg)
    start = runner.fit_seeds(get("aekm"), runner.seed_keys(0, 1), x, pretrain.phase_config(cfg))
    nmi = metrics.evaluate(y, np.asarray(res.labels[0]))["nmi"]
    nmi_start = metrics.evaluate(y, np.asarray(start.labels[0]))["nmi"]
    assert nmi > nmi_start - 0.05 and nmi > 0.6
    state = jax.tree.map(lambda a: a[0], res.states)
    np.testing.assert_array_equal(np.asarray(method.predict(state, x, cfg)),
                                  np.asarray(res.labels[0]))


def test_annealed_alphas_follow_the_authors_recurrence():
    cfg = get("dkm-annealed").make_config()
    ref = [0.1]
    for i in range(1, 40):  # dkm.py -a: alphas[i] = 2 ** (1 / log(i + 1) ** 2) * alphas[i - 1]
        ref.append(2 ** (1 / np.log(i + 1) ** 2) * ref[-1])
    alphas = np.asarray(cfg.alphas())
    assert alphas.shape == (200,) and cfg.ae.epochs == 0 and cfg.reps_init == "uniform"
    np.testing.assert_allclose(alphas, np.repeat(ref, 5), rtol=1e-5)
    np.testing.assert_array_equal(np.asarray(get("dkm").make_config().alphas()), 1000.0)


def test_dkm_annealed_runs_without_pretraining():
    from sklearn.datasets import load_digits

    x = jnp.asarray(load_digits().data[:600] / 16.0, jnp.float32)
    method = get("dkm-annealed")
    cfg = config.build(method, n_clusters=10, ae_hidden=(64,), embedding_size=10, n_init=1,
                       clustering_epochs=20, epochs_per_alpha=2, clustering_batch_size=64)
    losses = []
    res = runner.fit_seeds(method, runner.seed_keys(0, 1), x, cfg,
                           on_epoch=lambda phase, e, t, loss, s: loss is not None
                           and losses.append(float(loss[0])))
    state = jax.tree.map(lambda a: a[0], res.states)
    assert int(state.epoch) == 20 and res.epochs == 20 and len(losses) == 20
    assert losses[-1] < 0.5 * losses[0]
    assert float(jnp.abs(state.reps).max()) < 10 and np.isfinite(float(res.objectives[0]))


def test_reseed_empty_moves_a_representative_that_owns_no_point():
    from sklearn.datasets import make_blobs

    x, _ = make_blobs(300, 4, centers=3, random_state=0)
    x = jnp.asarray((x - x.min(0)) / (x.max(0) - x.min(0)), jnp.float32)
    method = get("dkm-annealed")
    cfg = config.build(method, n_clusters=3, ae_hidden=(16,), embedding_size=2,
                       clustering_epochs=1, clustering_batch_size=64)
    state = method.start(pretrain.init(jax.random.key(0), x, pretrain.phase_config(cfg)), x,
                         cfg)
    state = state._replace(reps=state.reps.at[2].set(1e3))  # far from every point
    for reseed in (False, True):
        cfg_r = config.build(method, n_clusters=3, ae_hidden=(16,), embedding_size=2,
                             clustering_epochs=1, clustering_batch_size=64,
                             reseed_empty=reseed)
        new, _ = method.train_epoch(state, x, cfg_r)
        z = np.asarray(method.features(new, x, cfg_r))
        owned = np.bincount(np.asarray(method.predict(new, x, cfg_r)), minlength=3)
        if reseed:  # on an embedded point: it owns that point at least
            assert owned[2] >= 1
            assert np.min(np.abs(z - np.asarray(new.reps[2])).sum(1)) < 1e-5
        else:
            assert owned[2] == 0
