"""UMAP in JAX against umap-learn's own functions, brute-force numpy and scipy."""
import dataclasses
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits
from sklearn.manifold import trustworthiness

from jaxclust import umap

umap_ = pytest.importorskip("umap.umap_")


@pytest.fixture(scope="module")
def digits():
    """Digits plus tiny noise, so that no two neighbour distances tie."""
    x = load_digits().data.astype(np.float32)
    return x + np.random.default_rng(0).normal(scale=1e-3, size=x.shape).astype(np.float32)


def _brute_knn(x, q, k):
    d = np.sqrt(((q.astype(np.float64)[:, None] - x.astype(np.float64)[None]) ** 2).sum(-1))
    idx = np.argsort(d, axis=1)[:, :k]
    return idx, np.take_along_axis(d, idx, axis=1)


def test_knn_equals_brute_force(key):
    x = np.asarray(jax.random.normal(key, (203, 5))) + 100.0  # off-centre: centring matters
    q = x[:37] + 0.01
    # runs of 8 columns (a partial last run), of 64 (fewer runs than k) and the default
    for (queries, ref), chunk in itertools.product(((None, x), (q, q)), (8, 64, 128)):
        idx, dist = umap.knn(jnp.asarray(x), 7, None if queries is None else jnp.asarray(q),
                             block_size=16, chunk=chunk)  # 203 and 37 rows: padded blocks
        ref_idx, ref_dist = _brute_knn(x, ref, 7)
        np.testing.assert_array_equal(np.asarray(idx), ref_idx)
        np.testing.assert_allclose(np.asarray(dist), ref_dist, atol=1e-4)
    idx, dist = umap.knn(jnp.asarray(x), 7)
    assert np.all(np.asarray(idx)[:, 0] == np.arange(203)) and np.all(np.asarray(dist)[:, 0] == 0)


def test_sigma_rho_and_graph_equal_umap_learn(digits):
    k = 15
    idx, dist = umap.knn(jnp.asarray(digits), k)
    ref_idx, ref_dist = _brute_knn(digits, digits, k)
    np.testing.assert_array_equal(np.asarray(idx), ref_idx)
    sigma, rho = umap.smooth_knn_dist(dist)
    ref_sigma, ref_rho = umap_.smooth_knn_dist(ref_dist.astype(np.float32), float(k))
    np.testing.assert_allclose(np.asarray(rho), ref_rho, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(sigma), ref_sigma, rtol=1e-4)

    graph, _, _ = umap.fuzzy_graph(jnp.asarray(digits), umap.Config(n_neighbors=k))
    ref, _, _ = umap_.fuzzy_simplicial_set(digits, k, np.random.RandomState(0), "euclidean",
                                          knn_indices=ref_idx,
                                          knn_dists=ref_dist.astype(np.float32))
    ours = sp.coo_matrix((np.asarray(graph.weight),
                          (np.asarray(graph.head), np.asarray(graph.tail))), shape=ref.shape)
    assert (ours.tocsr() > 0).sum() == ref.nnz  # the same edges, each once per direction
    assert abs(ours.tocsr() - ref.tocsr()).max() < 1e-5


@pytest.mark.parametrize("min_dist", [0.0, 0.1])
def test_ab_params_equal_umap_learn(min_dist):
    np.testing.assert_allclose(umap.ab_params(1.0, min_dist),
                               umap_.find_ab_params(1.0, min_dist), rtol=1e-6)


def test_spectral_init_spans_scipys_eigenvectors(digits, key):
    graph, _, _ = umap.fuzzy_graph(jnp.asarray(digits[:600]), umap.Config(n_neighbors=15))
    vecs = np.asarray(umap.spectral_init(graph, 600, 2, key))
    w = sp.coo_matrix((np.asarray(graph.weight, np.float64),
                       (np.asarray(graph.head), np.asarray(graph.tail))), shape=(600, 600))
    inv = sp.diags(1 / np.sqrt(np.asarray(w.sum(axis=0)).ravel()))
    lap = sp.identity(600) - inv @ w @ inv
    vals, ref = sp.linalg.eigsh(lap, 3, which="SM", tol=1e-8)
    ref = ref[:, np.argsort(vals)[1:]]
    q, _ = np.linalg.qr(vecs)
    # the two subspaces agree: every principal angle's cosine ≈ 1
    np.testing.assert_allclose(np.linalg.svd(q.T @ ref, compute_uv=False), 1.0, atol=1e-2)


@pytest.mark.slow  # ≈ 11 s (numba compiles umap-learn's layout); the benchmark measures it too
def test_layout_as_trustworthy_as_umap_learn(digits, key):
    """sklearn's trustworthiness (k = 10) of our layout within 0.01 of umap-learn's, both
    spectral-initialised with default settings on the 1797 digits."""
    ours = np.asarray(jax.jit(lambda k, x: umap.fit(k, x, umap.Config()).embedding)(
        key, jnp.asarray(digits)))
    theirs = umap_.UMAP(random_state=0).fit_transform(digits)
    t_ours = trustworthiness(digits, ours, n_neighbors=10)
    assert t_ours > trustworthiness(digits, theirs, n_neighbors=10) - 0.01
    assert t_ours > 0.97


def test_fit_is_deterministic_and_vmaps(key):
    x = jax.random.normal(key, (120, 6))
    cfg = umap.Config(n_neighbors=8, epochs=15)
    keys = jax.random.split(jax.random.key(3), 2)
    layout = jax.jit(lambda k, x: umap.fit(k, x, cfg).embedding)
    batched = jax.jit(jax.vmap(layout, in_axes=(0, None)))(keys, x)
    for i in range(2):
        single = layout(keys[i], x)
        np.testing.assert_allclose(np.asarray(batched[i]), np.asarray(single), atol=1e-4)
    np.testing.assert_array_equal(np.asarray(layout(keys[1], x)), np.asarray(single))
    assert not np.allclose(np.asarray(batched[0]), np.asarray(batched[1]))


def test_epochs_in_chunks_equal_one_pass(digits, monkeypatch):
    """The due edges handled a chunk at a time (a partial last chunk, chunks left empty)
    move the points as one pass over all of them does."""
    cfg = umap.Config(n_neighbors=15)
    graph = umap.prune(umap.fuzzy_graph(jnp.asarray(digits), cfg)[0], 50)
    y0 = umap.initial_layout(jax.random.key(0), graph, len(digits), cfg)
    capacity = umap._capacity(len(digits), 15)

    def layout(chunk):
        monkeypatch.setattr(umap, "_CHUNK", chunk)
        return np.asarray(umap.optimize(jax.random.key(1), y0, graph, 3, cfg, capacity))

    one = layout(capacity)
    for chunk in (1000, 4096):  # 16 / 4 chunks, the last partial; fewer hold due edges
        np.testing.assert_allclose(layout(chunk), one, atol=1e-5)


def test_transform_places_points_by_their_neighbours(digits, key):
    labels = load_digits().target
    fit_x, new_x = digits[:1400], digits[1400:]
    cfg = dataclasses.replace(umap.Config(), epochs=200)
    state = jax.jit(umap.fit, static_argnames="cfg")(key, jnp.asarray(fit_x), cfg=cfg)
    transform = jax.jit(umap.transform, static_argnames="cfg")
    # a fitted point keeps its place
    np.testing.assert_array_equal(
        np.asarray(transform(key, state, jnp.asarray(fit_x[:50]), cfg=cfg)),
        np.asarray(state.embedding[:50]))
    new = np.asarray(transform(key, state, jnp.asarray(new_x), cfg=cfg))
    assert np.isfinite(new).all()
    # a new point lands among the fitted points of its own digit about as often as its
    # nearest neighbour in the input space is of its digit (labels only score here)
    fitted = np.asarray(state.embedding)
    near_layout = np.argmin(((new[:, None] - fitted[None]) ** 2).sum(-1), axis=1)
    near_input = _brute_knn(fit_x, new_x, 1)[0][:, 0]
    acc_layout = np.mean(labels[:1400][near_layout] == labels[1400:])
    acc_input = np.mean(labels[:1400][near_input] == labels[1400:])
    assert acc_layout > acc_input - 0.05


def test_bad_settings_and_too_few_points_are_named(key):
    with pytest.raises(ValueError, match="init"):
        umap.Config(init="pca")
    with pytest.raises(ValueError, match="min_dist"):
        umap.Config(min_dist=2.0)
    with pytest.raises(ValueError, match="n_neighbors=15 needs more points"):
        umap.fit(key, jnp.zeros((10, 3)), umap.Config())


def test_the_estimator_takes_umap_learns_names_and_refuses_other_metrics(key):
    """``n_epochs`` and ``metric`` as umap-learn spells them: the estimator's layout is
    :func:`umap.fit`'s with ``epochs = n_epochs``; a metric the kNN search lacks, and zero
    epochs, are refused by name before any work."""
    from sklearn.utils._param_validation import InvalidParameterError

    from jaxclust.estimators import UMAP

    x = np.asarray(jax.random.normal(key, (120, 6)))
    est = UMAP(n_neighbors=8, n_epochs=15, metric="euclidean", random_state=3).fit(x)
    fit = jax.jit(umap.fit, static_argnums=2)
    ref = fit(jax.random.key(3), jnp.asarray(x), umap.Config(n_neighbors=8, epochs=15))
    np.testing.assert_allclose(est.embedding_, np.asarray(ref.embedding), atol=1e-5)
    assert UMAP().fit(x[:20]).config_.n_epochs(20) == 500  # None: umap-learn's default
    for bad, name in (({"metric": "cosine"}, "'metric'"), ({"n_epochs": 0}, "'n_epochs'")):
        with pytest.raises(InvalidParameterError, match=name):
            UMAP(**bad).fit(x)

