import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.cluster import KMeans as SKKMeans
from sklearn.datasets import make_blobs

from jaxclust import data, kmeans as km, metrics
from jaxclust.estimators import KMeans


def test_sq_distances_against_numpy_float64():
    rng = np.random.default_rng(0)
    x = rng.random((50, 784)).astype(np.float32)  # pixel-like, 784-dim
    c = rng.random((7, 784)).astype(np.float32)
    ref = ((x[:, None, :].astype(np.float64) - c[None].astype(np.float64)) ** 2).sum(-1)
    np.testing.assert_allclose(km.sq_distances(x, c), ref, rtol=1e-4)


@pytest.mark.parametrize("seed", [0, 1])
def test_inertia_matches_sklearn_on_digits(seed):
    x, _ = data.load("digits")
    ours = km.kmeans(jax.random.key(seed), x, 10, n_init=10)
    ref = SKKMeans(10, n_init=10, random_state=seed).fit(x)
    assert float(ours.inertia) <= 1.01 * ref.inertia_
    # The reported inertia is the true one of the returned centroids and labels.
    x64 = x.astype(np.float64)
    direct = ((x64 - np.asarray(ours.centroids, np.float64)[np.asarray(ours.labels)]) ** 2).sum()
    assert float(ours.inertia) == pytest.approx(direct, rel=1e-4)


def test_blobs_labels_agree_with_sklearn_up_to_permutation(key):
    x, y = make_blobs(600, centers=5, n_features=8, cluster_std=0.5, random_state=3)
    ours = km.kmeans(key, x.astype(np.float32), 5, n_init=5)
    ref = SKKMeans(5, n_init=5, random_state=0).fit(x)
    assert metrics.accuracy(ref.labels_, np.asarray(ours.labels)) == 1.0
    assert float(ours.inertia) == pytest.approx(ref.inertia_, rel=1e-4)


def test_deterministic_under_fixed_key(key):
    x, _ = data.load("digits", subset=500)
    a = km.kmeans(key, x, 8, n_init=3)
    b = km.kmeans(key, x, 8, n_init=3)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.centroids, b.centroids)


def test_vmap_over_keys_equals_separate_calls(key):
    x, _ = data.load("digits", subset=400)
    keys = jax.random.split(key, 4)
    batched = jax.vmap(lambda k: km.kmeans(k, x, 6, n_init=2))(keys)
    for i in range(4):
        single = km.kmeans(keys[i], x, 6, n_init=2)
        np.testing.assert_array_equal(batched.labels[i], single.labels)
        np.testing.assert_allclose(batched.centroids[i], single.centroids, rtol=1e-5, atol=1e-6)


def test_more_clusters_than_distinct_points_gives_no_nan(key):
    x = np.repeat(np.eye(3, dtype=np.float32), 10, axis=0)  # 3 distinct points, 30 rows
    res = km.kmeans(key, x, 5, n_init=2)
    assert np.all(np.isfinite(res.centroids))
    assert float(res.inertia) == pytest.approx(0.0, abs=1e-6)


def test_empty_cluster_is_reseeded_at_farthest_point():
    x = jnp.array([[0.0], [0.1], [10.0]])
    centroids = jnp.array([[0.05], [100.0]])  # the second centroid owns no point
    new, labels = km.lloyd_step(x, centroids)
    np.testing.assert_array_equal(labels, [0, 0, 0])
    np.testing.assert_allclose(new[1], [10.0])


def test_online_update_is_running_mean_from_count_one():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((40, 3)).astype(np.float32)
    labels = rng.integers(0, 2, 40)
    centroids = z[[np.flatnonzero(labels == 0)[0], np.flatnonzero(labels == 1)[0]]]
    # Start from the first point of each cluster with count 1, then feed the rest in batches.
    first = {0: np.flatnonzero(labels == 0)[0], 1: np.flatnonzero(labels == 1)[0]}
    rest = np.array([i for i in range(40) if i not in first.values()])
    c, counts = jnp.asarray(centroids), jnp.ones(2)
    for batch in np.array_split(rest, 4):
        c, counts = km.online_update(c, counts, z[batch], labels[batch])
    for j in range(2):
        np.testing.assert_allclose(c[j], z[labels == j].mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(counts, np.bincount(labels))


def test_online_update_matches_sequential_formula_with_count_100():
    rng = np.random.default_rng(1)
    c0 = rng.standard_normal((3, 4))
    z = rng.standard_normal((10, 4))
    labels = rng.integers(0, 3, 10)
    m, cnt = c0.copy(), np.full(3, 100.0)
    for zi, j in zip(z, labels):  # the paper's per-point update, in float64
        cnt[j] += 1
        m[j] -= (m[j] - zi) / cnt[j]
    new, counts = km.online_update(jnp.asarray(c0, jnp.float32), jnp.full(3, 100.0),
                                   jnp.asarray(z, jnp.float32), jnp.asarray(labels))
    np.testing.assert_allclose(new, m, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(counts, cnt)


def test_estimator_contract():
    x, y = data.load("digits")
    est = KMeans(n_clusters=10, n_init=4, random_state=0)
    assert est.get_params()["n_clusters"] == 10 and not hasattr(est, "labels_")
    labels = est.fit_predict(x)
    assert labels.shape == (1797,) and est.cluster_centers_.shape == (10, 64)
    np.testing.assert_array_equal(est.predict(x), labels)
    dist = est.transform(x[:5])
    assert dist.shape == (5, 10)
    np.testing.assert_array_equal(dist.argmin(1), labels[:5])
    assert est.n_iter_ >= 1 and est.inertia_ > 0
    assert metrics.nmi(y, labels) > 0.7
    with pytest.raises(ValueError, match="features"):
        est.predict(x[:, :10])
    with pytest.raises(ValueError, match="larger than the number of samples"):
        KMeans(n_clusters=20).fit(x[:5])


@pytest.mark.parametrize("offset", [100.0, 1000.0])
def test_assign_far_from_the_origin_equals_float64(offset):
    rng = np.random.default_rng(3)
    centroids = rng.normal(size=(10, 10)) + offset
    x = centroids[rng.integers(0, 10, 5000)] + rng.normal(scale=0.7, size=(5000, 10))
    ref = ((x[:, None] - centroids[None]) ** 2).sum(-1).argmin(1)
    xf, cf = jnp.asarray(x, jnp.float32), jnp.asarray(centroids, jnp.float32)
    np.testing.assert_array_equal(np.asarray(km.assign(xf, cf)[0]), ref)
    np.testing.assert_array_equal(np.asarray(km.lloyd_step(xf, cf)[1]), ref)
    np.testing.assert_array_equal(np.asarray(km.nearest(xf, cf, block=512)), ref)


def test_lloyd_step_in_blocks_equals_one_pass(monkeypatch):
    rng = np.random.default_rng(4)
    x = jnp.asarray(rng.normal(size=(1003, 6)), jnp.float32)
    c = x[:7]
    whole = km.lloyd_step(x, c)
    monkeypatch.setattr(km, "MAX_ELEMENTS", 7 * 100)  # blocks of 100 rows, then 3 rows
    blocked = km.lloyd_step(x, c)
    np.testing.assert_array_equal(np.asarray(blocked[1]), np.asarray(whole[1]))
    np.testing.assert_allclose(np.asarray(blocked[0]), np.asarray(whole[0]), rtol=1e-5,
                               atol=1e-6)


def test_minibatch_kmeans_close_to_lloyd_and_the_same_from_a_memory_map(tmp_path):
    x, _ = data.load("digits")
    key = jax.random.key(0)
    res = km.minibatch_kmeans(key, x, 10, batch_size=256, n_steps=300)
    lloyd = km.kmeans(key, x, 10, n_init=1)
    assert float(res.inertia) <= 1.02 * float(lloyd.inertia)  # measured 1.002
    np.testing.assert_allclose(res.inertia, km.inertia(x, res.centroids, res.labels), rtol=1e-5)
    np.testing.assert_array_equal(res.labels, km.nearest(x, res.centroids))
    np.save(tmp_path / "x.npy", x)
    mapped = km.minibatch_kmeans(key, np.load(tmp_path / "x.npy", mmap_mode="r"), 10,
                                 batch_size=256, n_steps=300, block=500)
    np.testing.assert_allclose(mapped.centroids, res.centroids, rtol=1e-6)
    np.testing.assert_array_equal(mapped.labels, res.labels)
    with pytest.raises(ValueError, match="k must be in"):
        km.minibatch_kmeans(key, x[:5], 10)


def test_reseed_empty_takes_the_farthest_points_in_order():
    x = jnp.array([[0.0], [1.0], [10.0], [-7.0]])
    centroids = jnp.array([[0.5], [50.0], [60.0]])  # clusters 1 and 2 own no point
    labels = jnp.zeros(4, jnp.int32)
    target = jnp.array([[1.0], [2.0], [3.0]])
    out = km.reseed_empty(target, jnp.array([4, 0, 0]), x, centroids, labels)
    np.testing.assert_allclose(np.asarray(out), [[1.0], [10.0], [-7.0]])
    same = km.reseed_empty(target, jnp.array([2, 1, 1]), x, centroids, labels)
    np.testing.assert_array_equal(np.asarray(same), np.asarray(target))


def test_kmeans_is_translation_invariant_far_from_the_origin():
    rng = np.random.default_rng(5)
    centres = rng.normal(scale=3.0, size=(6, 8))
    x = (centres[rng.integers(0, 6, 3000)] + rng.normal(size=(3000, 8))).astype(np.float32)
    near = km.kmeans(jax.random.key(0), jnp.asarray(x), 6, n_init=3)
    far = km.kmeans(jax.random.key(0), jnp.asarray(x + 1000.0), 6, n_init=3)
    assert metrics.ari(np.asarray(near.labels), np.asarray(far.labels)) == pytest.approx(1.0)
    np.testing.assert_allclose(np.asarray(far.centroids) - 1000.0, np.asarray(near.centroids),
                               atol=2e-3)
    assert float(far.inertia) == pytest.approx(float(near.inertia), rel=1e-3)
