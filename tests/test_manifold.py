"""The manifold head (N2D and the head on other methods) through the runner."""
import jax
import numpy as np
from sklearn.datasets import load_digits

from jaxclust import config, metrics, runner
from jaxclust.methods import fit, get

SMALL = dict(n_clusters=10, ae_hidden=(64,), embedding_size=5, pretrain_epochs=40,
             pretrain_batch_size=64, n_init=3, umap_epochs=100)


def _digits(n=600):
    d = load_digits()
    return (d.data[:n] / 16.0).astype(np.float32), d.target[:n]


def test_n2d_predicts_its_fitted_labels():
    x, y = _digits()
    method = get("n2d")
    cfg = config.build(method, **SMALL)
    keys = runner.seed_keys(0, 2)
    res = runner.fit_seeds(method, keys, x, cfg)
    predict = jax.jit(method.predict, static_argnums=2)
    for s in range(2):
        state = jax.tree.map(lambda a: a[s], res.states)
        # predict on the fitted points returns the fitted labels (each keeps its layout)
        np.testing.assert_array_equal(np.asarray(predict(state, x, cfg)),
                                      np.asarray(res.labels[s]))
    # the manifold step clusters the digits far better than chance
    assert metrics.evaluate(y, np.asarray(res.labels[0]))["nmi"] > 0.6


def test_head_runs_after_the_clustering_epochs_as_one_pure_function(key):
    x = jax.numpy.asarray(_digits(400)[0])
    method = get("idec-n2d")
    cfg = config.build(method, **SMALL, clustering_epochs=2, clustering_batch_size=64)
    state = jax.jit(lambda k: fit(method, k, x, cfg))(key)
    # finish filled the head: a fitted layout and a mixture whose weights sum to 1
    assert np.asarray(state.umap.embedding).std() > 0
    np.testing.assert_allclose(float(state.gmm.weights.sum()), 1.0, rtol=1e-5)
    # the head's input is IDEC's trained embedding
    np.testing.assert_allclose(np.asarray(state.umap.data),
                               np.asarray(get("idec").features(state.inner, x, cfg)),
                               atol=1e-5)


def test_too_few_points_for_umaps_neighbours_is_named():
    import pytest

    x, _ = _digits(15)
    with pytest.raises(ValueError, match="umap_n_neighbors=20 needs more points"):
        runner.fit_seeds(get("n2d"), runner.seed_keys(0, 1), x, config.build(get("n2d")))
