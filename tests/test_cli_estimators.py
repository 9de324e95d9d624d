import json

import jax.numpy as jnp
import numpy as np
import pytest

from jaxclust import cli, consensus, data, metrics, record, runner
from jaxclust.estimators import AEKMeans
from jaxclust.methods import kdae


def test_cli_fit_writes_labels_metrics_and_plot(tmp_path, capsys):
    out = tmp_path / "run"
    rc = cli.main(["fit", "aekm", "--dataset", "digits", "--subset", "300",
                   "--pretrain-epochs", "2", "--n-init", "2", "--no-progress",
                   "--out", str(out)])
    assert rc == 0
    labels = np.load(out / "labels.npy")
    rec = json.loads((out / "seed0.json").read_text())
    record.check(rec)
    _, y = data.load("digits", subset=300)
    assert labels.shape == (300,)
    assert rec["metrics"]["nmi"] == pytest.approx(metrics.nmi(y, labels))
    assert rec["method"] == "aekm" and rec["config"]["pretrain_epochs"] == 2
    assert rec["preset"] == "paper" and rec["config"]["ae_hidden"] == [500, 500, 2000]
    assert rec["command"].startswith("jaxclust fit aekm --dataset digits")
    assert (out / "embedding.png").stat().st_size > 0
    assert "NMI" in capsys.readouterr().out


def test_cli_user_file_without_labels(tmp_path, capsys):
    x, _ = data.load("synthetic", n=200, k=4)
    np.save(tmp_path / "x.npy", x)
    assert cli.main(["fit", "kmeans", "--dataset", str(tmp_path / "x.npy"),
                     "--no-progress", "--no-plot", "--out", str(tmp_path / "o")]) == 2
    assert "--n-clusters is required" in capsys.readouterr().err
    assert cli.main(["fit", "kmeans", "--dataset", str(tmp_path / "x.npy"),
                     "--n-clusters", "4", "--no-progress", "--out", str(tmp_path / "o")]) == 0
    assert np.load(tmp_path / "o" / "labels.npy").shape == (200,)


def test_cli_reports_bad_input_clearly(tmp_path, capsys):
    x = np.ones((10, 3))
    x[3, 1] = np.nan
    np.save(tmp_path / "bad.npy", x)
    assert cli.main(["fit", "aekm", "--dataset", str(tmp_path / "bad.npy"), "--n-clusters", "2",
                     "--no-progress"]) == 2
    assert "NaN or inf in 1 rows (first: row 3" in capsys.readouterr().err


def test_aekmeans_estimator():
    x, y = data.load("digits", subset=300)
    est = AEKMeans(n_clusters=10, ae_hidden=(32,), embedding_size=5, pretrain_epochs=3,
                   pretrain_batch_size=32, n_init=2, random_state=0)
    labels = est.fit_predict(x)
    assert labels.shape == (300,) and est.cluster_centers_.shape == (10, 5)
    np.testing.assert_array_equal(est.predict(x), labels)
    assert est.transform(x).shape == (300, 5)
    with pytest.raises(ValueError, match="pretrain_batch_size"):
        AEKMeans(pretrain_batch_size=0).fit(x)


@pytest.mark.parametrize("cls", ["DEC", "IDEC"])
def test_dec_estimators(cls):
    from jaxclust import estimators

    x, _ = data.load("digits", subset=300)
    est = getattr(estimators, cls)(n_clusters=10, ae_hidden=(32,), embedding_size=5,
                                   pretrain_epochs=3, pretrain_batch_size=32, n_init=2,
                                   clustering_batch_size=32, clustering_epochs=3,
                                   random_state=0)
    with pytest.warns(Warning, match="did not converge"):
        labels = est.fit_predict(x)
    assert est.transform(x).shape == (300, 5)
    q = est.predict_proba(x)
    assert q.shape == (300, 10)
    np.testing.assert_allclose(q.sum(1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(q.argmax(1), labels)
    assert est.n_iter_ == 3 + 3 and np.isfinite(est.objective_)
    assert est.get_params()["clustering_optimizer"] == ("adam" if cls == "IDEC" else "sgd")


def test_dcn_estimator():
    from jaxclust.estimators import DCN

    x, _ = data.load("digits", subset=300)
    est = DCN(n_clusters=10, ae_hidden=(32,), embedding_size=5, pretrain_epochs=2,
              pretrain_batch_size=32, n_init=2, clustering_batch_size=32, clustering_epochs=2,
              random_state=0)
    labels = est.fit_predict(x)
    assert labels.shape == (300,) and est.cluster_centers_.shape == (10, 5)
    np.testing.assert_array_equal(est.predict(x), labels)
    assert est.transform(x).shape == (300, 5) and np.isfinite(est.objective_)


def test_kdae_estimator():
    from jaxclust.estimators import KDAE

    x, _ = data.load("digits", subset=300)
    est = KDAE(n_clusters=4, ae_hidden=(32,), embedding_size=5, pretrain_epochs=2,
               pretrain_batch_size=32, n_init=2, member_hidden=(16,), member_latent=3,
               member_epochs=2, member_batch_size=32, clustering_batch_size=32,
               clustering_epochs=2, random_state=0)
    labels = est.fit_predict(x)
    err = est.transform(x)
    assert err.shape == (300, 4)
    np.testing.assert_array_equal(err.argmin(1), labels)
    assert np.isfinite(est.objective_)
    # error="norm" (the authors' code's ‖x − x̂‖) reaches the config; its errors are the
    # square roots of the default ones, so the labels are the same.
    norm_cfg = runner.for_data(est.set_params(error="norm")._config(), jnp.asarray(x))
    assert norm_cfg.error == "norm" and norm_cfg.member == est.config_.member
    np.testing.assert_allclose(kdae.errors(est.state_, jnp.asarray(x), norm_cfg),
                               np.sqrt(err), rtol=1e-4)
    with pytest.raises(ValueError, match="'error' parameter"):
        est.set_params(error="l1").fit(x)


def test_damic_estimator():
    from jaxclust.estimators import DAMIC

    x, _ = data.load("synthetic", n=200, k=4)
    est = DAMIC(n_clusters=4, ae_hidden=(32,), embedding_size=4, pretrain_epochs=2,
                pretrain_batch_size=32, n_init=2, member_hidden=(16,), member_latent=2,
                member_epochs=2, member_batch_size=32, gate_hidden=(16,), gate_epochs=2,
                clustering_batch_size=32, clustering_epochs=2, random_state=0)
    labels = est.fit_predict(x)
    proba = est.predict_proba(x)
    assert proba.shape == (200, 4)
    np.testing.assert_array_equal(proba.argmax(1), labels)
    assert est.transform(x).shape == (200, 4) and "gate_hidden" in est.get_params()
    assert "loss" not in est.get_params() and "variance" in est.get_params()


@pytest.mark.slow
@pytest.mark.parametrize("method", ["dec", "idec", "dcn", "kdae", "damic", "imsat", "rim",
                                    "dac"])
def test_cli_every_deep_method(tmp_path, method):
    out = tmp_path / method
    small = (["--hidden", "16"] if method in ("imsat", "rim", "dac") else
             ["--ae-hidden", "16", "--pretrain-epochs", "1", "--n-init", "1"])
    assert cli.main(["fit", method, "--dataset", "digits", "--subset", "200", *small,
                     "--clustering-epochs", "1", "--no-progress", "--out", str(out)]) == 0
    rec = json.loads((out / "seed0.json").read_text())
    assert rec["method"] == method and 0.0 <= rec["metrics"]["nmi"] <= 1.0
    assert np.load(out / "labels.npy").shape == (200,)
    assert (out / "experts.png").exists() == (method in ("kdae", "damic"))


def test_cli_experts_figure_and_select_k(tmp_path, capsys):
    small = ["--dataset", "digits", "--subset", "200", "--ae-hidden", "16",
             "--pretrain-epochs", "1", "--clustering-epochs", "1", "--n-init", "1",
             "--no-progress"]
    assert cli.main(["fit", "kdae", *small, "--member-hidden", "16", "--expert-index", "7",
                     "--out", str(tmp_path / "kdae")]) == 0
    assert (tmp_path / "kdae" / "experts.png").stat().st_size > 0
    assert cli.main(["select-k", "dec", "--k", "3,4", *small,
                     "--out", str(tmp_path / "sel")]) == 0
    record = json.loads((tmp_path / "sel" / "select_k.json").read_text())
    assert record["ks"] == [3, 4] and record["criterion"] == "g"
    assert np.asarray(record["g"]).shape == (2, 1) and (tmp_path / "sel" / "select_k.png").exists()
    assert "suggested k" in capsys.readouterr().out
    # Resuming reuses the finished k (identical numbers) and fits only the new one.
    assert cli.main(["select-k", "dec", "--k", "3,4,5", *small, "--resume",
                     "--out", str(tmp_path / "sel")]) == 0
    assert "k = [3, 4] already done" in capsys.readouterr().out
    resumed = json.loads((tmp_path / "sel" / "select_k.json").read_text())
    assert resumed["ks"] == [3, 4, 5] and resumed["g"][:2] == record["g"]
    assert cli.main(["select-k", "dec", "--k", "3,4", *small, "--resume",
                     "--pretrain-lr", "0.01", "--out", str(tmp_path / "sel")]) == 2
    assert "other settings" in capsys.readouterr().err
    assert cli.main(["select-k", "dec", "--k", "3-5", *small]) == 2
    assert "--k must be" in capsys.readouterr().err
    assert cli.main(["fit", "kdae", *small, "--expert-index", "200"]) == 2
    assert "--expert-index must be in [0, 200)" in capsys.readouterr().err


def test_estimator_n_seeds_keeps_the_best_objective_and_exposes_all():
    x, _ = data.load("digits", subset=300)
    params = dict(n_clusters=10, ae_hidden=(32,), embedding_size=5, pretrain_epochs=2,
                  pretrain_batch_size=32, n_init=2)
    est = AEKMeans(n_seeds=3, random_state=4, keep="objective", **params).fit(x)
    assert est.labels_all_.shape == (3, 300) and est.scores_all_.shape == (3,)
    assert est.best_seed_ == int(np.argmin(est.scores_all_))
    np.testing.assert_array_equal(est.labels_, est.labels_all_[est.best_seed_])
    assert est.inertia_ == pytest.approx(est.scores_all_.min())
    single = AEKMeans(random_state=5, **params).fit(x)  # seed 4 + 1
    np.testing.assert_array_equal(single.labels_, est.labels_all_[1])
    np.testing.assert_array_equal(single.consensus_labels_, single.labels_)
    assert est.consensus_labels_.shape == (300,) and est.consensus_labels_.max() < 10
    central = AEKMeans(n_seeds=3, random_state=4, **params).fit(x)  # keep="central"
    np.testing.assert_array_equal(central.labels_all_, est.labels_all_)
    assert central.best_seed_ == consensus.central(est.labels_all_)
    with pytest.raises(ValueError, match="'n_seeds' parameter"):
        AEKMeans(n_seeds=0, **params).fit(x)
    shared = AEKMeans(n_seeds=3, random_state=4, start="consensus", **params).fit(x)
    want = runner.fit_seeds(AEKMeans._method, runner.seed_keys(4, 3), x, est.config_,
                            start="consensus")
    np.testing.assert_array_equal(shared.labels_all_, want.labels)


def test_only_autoencoder_methods_offer_a_consensus_start(tmp_path):
    from jaxclust.estimators import IMSAT

    with pytest.raises(ValueError, match="'start' parameter"):
        IMSAT(start="consensus").fit(np.random.default_rng(0).random((20, 4)))
    with pytest.raises(SystemExit):  # the flag exists for autoencoder methods only
        cli.main(["fit", "imsat", "--dataset", "digits", "--start", "consensus",
                  "--out", str(tmp_path)])


def test_cli_seeds_checkpoints_and_resume(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["fit", "aekm", "--dataset", "digits", "--subset", "300", "--pretrain-epochs",
            "2", "--ae-hidden", "16", "--n-init", "2", "--seeds", "2", "--no-progress",
            "--no-plot", "--out", str(out)]
    assert cli.main([*argv, "--checkpoint-every", "1"]) == 0
    printed = capsys.readouterr().out
    recs = [json.loads((out / f"seed{s}.json").read_text()) for s in (0, 1)]
    assert [r["seed"] for r in recs] == [0, 1] and sum(r["extra"]["kept"] for r in recs) == 1
    nmis = [r["metrics"]["nmi"] for r in recs]
    assert f"over 2 seeds: NMI {np.mean(nmis):.4f}" in printed
    assert "consensus of the 2 seeds: NMI" in printed
    assert np.load(out / "labels_consensus.npy").shape == (300,)
    first = np.load(out / "labels_all.npy")
    assert first.shape == (2, 300)
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["1", "2", "config.json"]
    assert cli.main([*argv, "--resume"]) == 0
    np.testing.assert_array_equal(np.load(out / "labels_all.npy"), first)


@pytest.mark.parametrize("cls", ["IMSAT", "RIM"])
def test_imsat_and_rim_estimators(cls):
    from jaxclust import estimators

    x, _ = data.load("synthetic", n=200, k=4)
    est = getattr(estimators, cls)(n_clusters=4, hidden=(16,), clustering_epochs=2,
                                   clustering_batch_size=50, n_seeds=2, random_state=0)
    labels = est.fit_predict(x)
    proba = est.predict_proba(x)
    assert proba.shape == (200, 4) and est.labels_all_.shape == (2, 200)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(proba.argmax(1), labels)
    assert est.get_params()["augment"] == ("vat" if cls == "IMSAT" else "none")


def test_dac_estimator():
    from jaxclust.estimators import DAC

    x, _ = data.load("synthetic", n=200, k=4)
    est = DAC(n_clusters=4, hidden=(16,), clustering_batch_size=50, clustering_epochs=2,
              random_state=0).fit(x)
    proba = est.predict_proba(x)
    assert proba.shape == (200, 4) and est.n_iter_ == 2
    np.testing.assert_array_equal(proba.argmax(1), est.labels_)


def test_auto_reconstruction_follows_the_data_range_and_bce_is_refused_outside_it(tmp_path,
                                                                                  capsys):
    """k-DAE/DAMIC's experts (and VaDE's decoder) default to ``"auto"``: the sigmoid and BCE
    on data in [0, 1], a linear output and MSE elsewhere — DAMIC with every default recovers
    three blobs. BCE chosen explicitly on data outside [0, 1], or on a linear output, is
    refused by name before training."""
    from sklearn.datasets import make_blobs
    from sklearn.metrics import adjusted_rand_score

    from jaxclust.estimators import DAMIC

    x, y = make_blobs(1000, 10, centers=3, random_state=0)
    est = DAMIC(n_clusters=3, random_state=0).fit(x)
    assert adjusted_rand_score(y, est.labels_) >= 0.95
    assert (est.config_.member.loss, est.config_.member.output_activation) == ("mse", "none")
    np.testing.assert_array_equal(est.predict(x), est.labels_)
    with pytest.raises(ValueError, match=r"member_loss 'bce'.*needs data in \[0, 1\]"):
        DAMIC(n_clusters=3, member_loss="bce", member_output_activation="sigmoid").fit(x[:50])
    args = ["fit", "aekm", "--dataset", "digits", "--subset", "50", "--ae-loss", "bce",
            "--pretrain-epochs", "1", "--no-plot", "--no-progress", "--out", str(tmp_path)]
    assert cli.main(args) != 0
    assert "ae_loss 'bce' (binary cross-entropy) needs ae_output_activation='sigmoid'" in (
        capsys.readouterr().err)
    assert cli.main([*args, "--ae-output-activation", "sigmoid"]) == 0


def test_divergence_is_an_error_in_the_cli_and_a_warning_in_the_estimator(tmp_path, capsys):
    args = ["fit", "aekm", "--dataset", "digits", "--subset", "100", "--ae-hidden", "8",
            "--pretrain-epochs", "2", "--n-init", "1", "--pretrain-lr", "1e6", "--no-progress",
            "--out", str(tmp_path)]
    assert cli.main(args) == 3
    err = capsys.readouterr().err
    assert "training diverged (seed 0: loss NaN or inf from pre-train epoch" in err
    assert "lower the learning rates" in err and "Traceback" not in err
    x = np.asarray(data.load("digits", subset=100)[0])
    with pytest.warns(RuntimeWarning, match="training diverged"):
        AEKMeans(n_clusters=3, ae_hidden=(8,), pretrain_epochs=2, n_init=1,
                 pretrain_lr=1e6).fit(x)


def test_top_level_help_and_version_do_not_import_jax():
    import subprocess
    import sys

    code = ("import sys; from jaxclust import cli\n"
            "for argv in (['--help'], ['--version']):\n"
            "    try: cli.main(argv)\n"
            "    except SystemExit: pass\n"
            "print('jax' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("False") and "select-k" in out.stdout


def test_estimator_warns_when_fewer_clusters_come_back():
    from jaxclust.estimators import KMeans

    x = np.repeat(np.eye(2, dtype=np.float32), 10, axis=0)  # two distinct points only
    with pytest.warns(UserWarning, match="in 2 of the 3 clusters asked for"):
        KMeans(n_clusters=3, n_init=1).fit(x)
