"""Two processes on this machine (``jax.distributed`` over gloo) give the same labels as one:
seeds split over the processes, and one seed's rows split over them; their checkpoints
resume a cut-off run to the same labels."""
import shutil
import socket
import subprocess
import sys

import numpy as np
import pytest

from jaxclust import cli, data

ARGS = ["--n-clusters", "10", "--ae-hidden", "32", "--embedding-size", "5",
        "--pretrain-epochs", "3", "--pretrain-batch-size", "64", "--n-init", "2",
        "--clustering-epochs", "3", "--clustering-batch-size", "64", "--no-plot",
        "--no-progress"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _two_processes(argv, out):
    port = _free_port()
    procs = [subprocess.Popen(
        [sys.executable, "-m", "jaxclust.cli", *argv, "--out", str(out), "--coordinator",
         f"127.0.0.1:{port}", "--num-processes", "2", "--process-id", str(i)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for i in range(2)]
    logs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], logs


def _fit(tmp_path) -> list[str]:
    x, _ = data.load("digits")
    np.save(tmp_path / "x.npy", x[:1792])  # rows divide evenly over 2 processes
    return ["fit", "dec", "--dataset", str(tmp_path / "x.npy"), *ARGS]


def _same_labels(a, b):
    for out in ("labels_all.npy", "labels.npy"):
        np.testing.assert_array_equal(np.load(a / out), np.load(b / out))


def test_two_processes_split_the_seeds_as_one_and_resume_from_their_checkpoints(tmp_path):
    fit, one, two = _fit(tmp_path), tmp_path / "one", tmp_path / "two"
    assert cli.main([*fit, "--seeds", "2", "--out", str(one)]) == 0
    _two_processes([*fit, "--seeds", "2", "--checkpoint-every", "1"], two)
    _same_labels(two, one)
    # cut off before the last clustering epoch (3 pre-training + 3 clustering = step 6)
    shutil.rmtree(two / "checkpoints" / "6")
    (two / "labels_all.npy").unlink()
    _two_processes([*fit, "--seeds", "2", "--checkpoint-every", "1", "--resume"], two)
    assert (two / "checkpoints" / "6").is_dir()
    _same_labels(two, one)


@pytest.mark.slow  # one process over two row shards: tests/test_runner.py (mesh data = 2)
def test_two_processes_split_one_seeds_rows_as_one(tmp_path):
    fit = [*_fit(tmp_path), "--seeds", "1"]
    assert cli.main([*fit, "--out", str(tmp_path / "one")]) == 0
    _two_processes([*fit, "--mesh-data", "2"], tmp_path / "two")
    _same_labels(tmp_path / "two", tmp_path / "one")
