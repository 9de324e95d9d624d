"""The experiments runner on a user file: record names, the cached autoencoder, resuming."""
import json
import sys
from pathlib import Path

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments"))
import run  # noqa: E402


def _path(results, cell):
    return results / "other" / cell / "seed0.json"


def _rec(results, cell):
    return json.loads(_path(results, cell).read_text())


def test_runner_names_records_and_cache_by_the_file_stem(tmp_path):
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0]])
    y = np.repeat(np.arange(3), 40)
    x = (centres[y] + rng.normal(size=(120, 2))).astype(np.float32)
    np.savez(tmp_path / "blobs.npz", x=np.hstack([x, x[:, :1] - x[:, 1:]]), y=y)
    common = ["--dataset", str(tmp_path / "blobs.npz"), "--results", str(tmp_path / "results"),
              "--cache", str(tmp_path / "cache"), "--seeds", "0"]
    run.main(["--method", "kmeans", "--n-init", "3", *common])
    run.main(["--method", "aekm", "--ae-epochs", "2", "--hidden", "8", "--latent", "2",
              "--batch-size", "32", "--n-init", "3", *common])

    # the k-DAE authors' AE recipe reaches the pre-trained AE's config and its cache name
    xs = (x - x.min(0)) / (x.max(0) - x.min(0))  # BCE needs data in [0, 1]
    np.savez(tmp_path / "unit.npz", x=xs, y=y)
    run.main(["--method", "aekm", "--ae-recipe", "kdae", "--ae-epochs", "2", "--hidden", "8",
              "--latent", "2", "--batch-size", "32", "--n-init", "3", "--dataset",
              str(tmp_path / "unit.npz"), *common[2:]])
    rec = _rec(tmp_path / "results", "aekm_unit")["config"]
    assert rec["ae_activation"] == "elu" and rec["ae_batch_norm"]
    assert rec["ae_loss"] == "bce" and rec["ae_output_activation"] == "sigmoid"

    km = _rec(tmp_path / "results", "kmeans_blobs")
    assert km["metrics"]["acc"] > 0.95 and km["seed"] == 0 and km["extra"]["n_samples"] == 120
    ae = _rec(tmp_path / "results", "aekm_blobs")
    assert ae["extra"]["pretrained_ae"].startswith("pretrain_")
    assert (tmp_path / "cache" / ae["extra"]["pretrained_ae"] / "2").is_dir()

    # a finished seed is skipped, not run again
    before = _path(tmp_path / "results", "kmeans_blobs").stat().st_mtime_ns
    run.main(["--method", "kmeans", "--n-init", "3", *common])
    assert _path(tmp_path / "results", "kmeans_blobs").stat().st_mtime_ns == before

    # other data under the same name get their own cached autoencoder
    np.savez(tmp_path / "blobs.npz", x=np.hstack([x, x[:, :1] + x[:, 1:]]), y=y)
    run.main(["--method", "aekm", "--ae-epochs", "2", "--hidden", "8", "--latent", "2",
              "--batch-size", "32", "--n-init", "3", *common[:2], "--results",
              str(tmp_path / "results2"), *common[4:]])
    other = _rec(tmp_path / "results2", "aekm_blobs")
    assert other["extra"]["pretrained_ae"] != ae["extra"]["pretrained_ae"]


class _CutOff(Exception):
    pass


def test_clustering_phase_resumes_from_its_checkpoint_bit_for_bit(tmp_path, monkeypatch):
    """A k-DAE run cut off after its first clustering checkpoint and run again ends in the
    same state, byte for byte, as a run that was never interrupted."""
    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(2), 30)
    x = rng.uniform(size=(60, 6)).astype(np.float32) * 0.5 + 0.5 * y[:, None]
    np.savez(tmp_path / "two.npz", x=x, y=y)
    argv = ["--method", "kdae", "--dataset", str(tmp_path / "two.npz"), "--ae-epochs", "2",
            "--hidden", "8", "--latent", "2", "--member-hidden", "8", "--member-latent", "2",
            "--member-epochs", "1", "--batch-size", "16", "--n-init", "2", "--max-epochs", "4",
            "--checkpoint-every", "2", "--seeds", "0"]

    def sitting(name):
        return argv + ["--results", str(tmp_path / name / "results"),
                       "--cache", str(tmp_path / name / "cache")]

    run.main(sitting("straight"))
    log = run.log

    def cut_at_first_checkpoint(msg):
        log(msg)
        if msg.startswith("checkpoint kdae_"):
            raise _CutOff

    monkeypatch.setattr(run, "log", cut_at_first_checkpoint)
    with pytest.raises(_CutOff):
        run.main(sitting("cut"))
    assert not _path(tmp_path / "cut" / "results", "kdae_two").exists()
    monkeypatch.setattr(run, "log", log)
    run.main(sitting("cut"))

    records = [_rec(tmp_path / n / "results", "kdae_two")
               for n in ("straight", "cut")]
    assert records[1]["extra"]["resumed_at_epoch"] == 2
    assert "resumed_at_epoch" not in records[0]["extra"]
    assert records[0]["extra"]["cluster_epochs"] == records[1]["extra"]["cluster_epochs"] == 4
    assert records[0]["objective"] == records[1]["objective"]
    assert records[0]["metrics"] == records[1]["metrics"]
    finals = []
    for name in ("straight", "cut"):
        folder, = (tmp_path / name / "cache").glob("kdae_two_seed0_*")
        # steps count pre-training (2 epochs) and clustering epochs together
        assert sorted(p.name for p in folder.iterdir() if p.name.isdigit()) == ["4", "6"]
        finals.append(jax.tree.leaves(ocp.StandardCheckpointer().restore(folder / "6" / "default")))
    assert len(finals[0]) == len(finals[1]) > 10
    assert all(np.array_equal(a, b) for a, b in zip(*finals))
