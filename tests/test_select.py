"""Choosing k: DEC's generalizability G and the silhouette criterion."""
import numpy as np
import pytest
from sklearn.datasets import make_blobs

from jaxclust.methods import dec, imsat
from jaxclust.methods import get
from jaxclust.select import select_k, suggest_k
from jaxclust.train import AEConfig

CFG = dec.Config(ae=AEConfig(hidden=(32,), latent=4, epochs=20, batch_size=64), n_init=3,
                 batch_size=64, epochs=10)


def test_g_criterion_picks_the_k_before_the_sharpest_drop():
    ks = np.arange(5, 16)
    g = np.array([1.0, 1.0, 0.99, 0.99, 0.98, 0.80, 0.79, 0.78, 0.78, 0.77, 0.77])  # 9 → 10
    assert suggest_k(ks, g) == 9
    assert suggest_k(ks, np.stack([g, g + 0.01], axis=1)) == 9  # averaged over seeds
    assert suggest_k(ks, -np.abs(ks - 7.0), "silhouette") == 7


def test_select_k_finds_the_blobs_and_reports_every_k():
    x, y = make_blobs(n_samples=1000, centers=4, n_features=10, cluster_std=1.0, random_state=0)
    x = (x - x.mean(0)) / x.std(0)
    seen = []
    res = select_k(get("dec"), x, [5, 3, 4, 4], CFG, y=y, criterion="silhouette",
                   on_k=lambda k, row: seen.append(k))
    assert seen == [3, 4, 5] and res.suggested == 4  # sorted, duplicates dropped
    assert res.g.shape == res.silhouette.shape == res.nmi.shape == (3, 1)
    np.testing.assert_allclose(res.g, res.train_loss / res.val_loss)
    assert np.all(res.val_loss > 0) and res.nmi[1, 0] > 0.95  # k = 4 recovers the blobs


def test_select_k_rejects_bad_arguments():
    x = np.random.default_rng(0).normal(size=(100, 5)).astype(np.float32)
    with pytest.raises(ValueError, match="two values"):
        select_k(get("dec"), x, [3], CFG)
    with pytest.raises(ValueError, match="criterion"):
        select_k(get("dec"), x, [2, 3], CFG, criterion="elbow")
    with pytest.raises(ValueError, match="autoencoder"):
        select_k(imsat.METHOD, x, [2, 3], imsat.Config())
    with pytest.raises(ValueError, match="val_fraction"):
        select_k(get("dec"), x, [2, 3], CFG, val_fraction=1.0)
