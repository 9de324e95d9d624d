"""Choosing k: DEC's generalizability G and the silhouette criterion."""
import types

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from jaxclust import data, select
from jaxclust.methods import dec, get, imsat
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
    x, y = make_blobs(n_samples=600, centers=4, n_features=10, cluster_std=1.0, random_state=0)
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


def test_select_config_picks_the_blobs_k_by_internal_criteria_and_never_reads_labels():
    x, y = make_blobs(600, 5, centers=3, cluster_std=1.0, random_state=0)
    candidates = [{"n_clusters": k} for k in (2, 3, 5)]
    for criterion in ("silhouette", "calinski_harabasz", "davies_bouldin"):
        res = select.select_config(get("kmeans"), x, candidates, {"n_init": 1}, n_seeds=3,
                                   criterion=criterion)
        assert candidates[res.chosen] == {"n_clusters": 3} and res.nmi is None
    # labels under which k = 2 scores best add an NMI column and change nothing else
    misleading = (y == 0).astype(int)
    told = select.select_config(get("kmeans"), x, candidates, {"n_init": 1}, n_seeds=3,
                                criterion="davies_bouldin", y=misleading)
    assert int(np.argmax(told.nmi.mean(1))) == 0 and told.chosen == res.chosen == 1
    assert told.scores["stability"].shape == (3,) and told.scores["silhouette"].shape == (3, 3)
    assert select.stability(np.zeros((3, 50), int)) == 0.0  # collapse is not stability
    assert select.stability(np.tile(np.arange(50) % 3, (3, 1))) == 1.0
    with pytest.raises(ValueError, match="criterion must be one of"):
        select.select_config(get("kmeans"), x, candidates, criterion="nmi")
    with pytest.raises(ValueError, match="needs n_seeds >= 2"):
        select.select_config(get("kmeans"), x, candidates, n_seeds=1)


def test_select_config_shares_one_pretraining_between_candidates(tmp_path):
    x = np.asarray(data.load("digits", subset=200)[0])
    base = {"ae_hidden": (16,), "embedding_size": 3, "pretrain_epochs": 2, "n_clusters": 4,
            "clustering_epochs": 2}
    candidates = [{"lam": 0.1}, {"lam": 1.0}, {"lam": 0.1, "pretrain_epochs": 3}]
    cached = select.select_config(get("dcn"), x, candidates, base, n_seeds=2, cache=tmp_path)
    # the λ candidates share one pre-training; the 3-epoch one has its own
    assert len(list(tmp_path.glob("pretrain_*"))) == 2
    plain = select.select_config(get("dcn"), x, candidates, base, n_seeds=2)
    np.testing.assert_allclose(cached.scores["silhouette"], plain.scores["silhouette"],
                               atol=1e-5)


def test_select_config_builds_each_candidate_over_the_preset(monkeypatch):
    x = np.asarray(data.load("digits", subset=100)[0])
    seen = []

    def fake_fit_seeds(method, keys, xj, cfg, pretrain_cache=None):
        seen.append(cfg)
        return types.SimpleNamespace(labels=np.tile(np.arange(100) % 2, (len(keys), 1)))

    monkeypatch.setattr(select.runner, "fit_seeds", fake_fit_seeds)
    select.select_config(get("aekm"), x, [{"pretrain_epochs": 3}, {}], {"n_clusters": 2},
                         n_seeds=2, preset="small")
    assert [c.ae.epochs for c in seen] == [3, 100]  # candidate over preset
    assert all(c.ae.hidden == (256, 256, 512) for c in seen)
    with pytest.raises(ValueError, match="unknown preset"):
        select.select_config(get("aekm"), x, [{}], preset="bogus")
