"""The experiments runner on a table config over user files: records, the shared
pre-training cache, skipping finished seeds, resuming, and the committed configs."""
import json
import os
import sys
from pathlib import Path

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments"))
import run  # noqa: E402

from jaxclust import config, metrics  # noqa: E402
from jaxclust.methods import get  # noqa: E402

AE = ('ae_hidden = [8], embedding_size = 2, pretrain_epochs = 2, pretrain_batch_size = 32, '
      'n_init = 3')


def _table(path: Path, cells: dict) -> str:
    lines = ['doc = "a test table"', "order = 0"]
    for name, body in cells.items():
        lines += [f'[cells."{name}"]', *body]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _rec(results: Path, table: str, cell: str, seed: int = 0) -> dict:
    return json.loads((results / table / cell / f"seed{seed}.json").read_text())


def _blobs(tmp_path, sign=-1.0):
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0]])
    y = np.repeat(np.arange(3), 40)
    x = (centres[y] + rng.normal(size=(120, 2))).astype(np.float32)
    np.savez(tmp_path / "blobs.npz", x=np.hstack([x, x[:, :1] + sign * x[:, 1:]]), y=y)
    return x, y


def test_runner_writes_records_shares_the_pretraining_and_skips_finished_seeds(tmp_path):
    x, y = _blobs(tmp_path)
    xs = (x - x.min(0)) / (x.max(0) - x.min(0))  # BCE needs data in [0, 1]
    np.savez(tmp_path / "unit.npz", x=xs, y=y)
    blobs, unit = str(tmp_path / "blobs.npz"), str(tmp_path / "unit.npz")
    table = _table(tmp_path / "t.toml", {
        "kmeans_blobs": ['method = "kmeans"', f'dataset = "{blobs}"', 'chosen_by = "paper"',
                         "config = {n_init = 3}"],
        "aekm_blobs": ['method = "aekm"', f'dataset = "{blobs}"', 'chosen_by = "default"',
                       f"config = {{{AE}}}"],
        "dec_blobs": ['method = "dec"', f'dataset = "{blobs}"', 'chosen_by = "default"',
                      f"config = {{{AE}, clustering_epochs = 2}}"],
        "rim_blobs": ['method = "rim"', f'dataset = "{blobs}"', 'chosen_by = "default"',
                      'preset = "small"', "config = {hidden = [8], clustering_epochs = 2}"],
        "aekm_unit": ['method = "aekm"', f'dataset = "{unit}"', 'chosen_by = "labels"',
                      f'config = {{{AE}, ae_activation = "elu", ae_batch_norm = true, '
                      'ae_output_activation = "sigmoid", ae_loss = "bce"}']})
    results = tmp_path / "results"
    common = ["--results", str(results), "--cache", str(tmp_path / "cache"), "--seeds", "0"]
    run.main([table, *common])

    km = _rec(results, "t", "kmeans_blobs")
    assert km["metrics"]["acc"] > 0.95 and km["seed"] == 0 and km["extra"]["n_samples"] == 120
    assert km["config"]["n_init"] == 3 and km["chosen_by"] == "paper"
    labels = np.load(results / "t" / "kmeans_blobs" / "seed0.labels.npz")["labels"]
    assert metrics.evaluate(y, labels)["acc"] == km["metrics"]["acc"]
    assert km["command"].startswith(f"python experiments/run.py {table} --cells kmeans_blobs")
    unit_cfg = _rec(results, "t", "aekm_unit")["config"]
    assert unit_cfg["ae_activation"] == "elu" and unit_cfg["ae_batch_norm"]
    ae, dec = _rec(results, "t", "aekm_blobs"), _rec(results, "t", "dec_blobs")
    # one pre-training for both methods; AE+KM is DEC's start
    assert ae["extra"]["pretrained_ae"] == dec["extra"]["pretrained_ae"]
    assert dec["extra"]["aekm_metrics"] == ae["metrics"]
    assert (tmp_path / "cache" / ae["extra"]["pretrained_ae"] / "2").is_dir()
    assert dec["epochs"] == 4 and np.isfinite(dec["objective"])
    rim = _rec(results, "t", "rim_blobs")  # no pre-training phase
    assert rim["extra"]["cluster_epochs"] == 2 and "pretrained_ae" not in rim["extra"]
    small = config.build(get("rim"), "small", n_clusters=3, hidden=[8], clustering_epochs=2)
    assert rim["preset"] == "small"
    assert rim["config"] == json.loads(json.dumps(config.flatten(small)))
    assert "--preset small" in run.fit_command(run.load_table(table)["cells"]["rim_blobs"],
                                               run.build_parser().parse_args([table]))

    # a finished seed is skipped, not run again
    path = results / "t" / "kmeans_blobs" / "seed0.json"
    before = path.stat().st_mtime_ns
    run.main([table, "--cells", "kmeans_blobs", *common])
    assert path.stat().st_mtime_ns == before

    # other data under the same name get their own pre-training
    _blobs(tmp_path, sign=1.0)
    run.main([table, "--cells", "aekm_blobs", "--results", str(tmp_path / "results2"),
              *common[2:]])
    other = _rec(tmp_path / "results2", "t", "aekm_blobs")
    assert other["extra"]["pretrained_ae"] != ae["extra"]["pretrained_ae"]
    with pytest.raises(SystemExit):
        run.main([table, "--cells", "nope", *common])


def test_a_cell_whose_seeds_start_together_runs_and_skips_them_together(tmp_path):
    _blobs(tmp_path)
    blobs = str(tmp_path / "blobs.npz")
    table = _table(tmp_path / "t.toml", {
        "dec_shared": ['method = "dec"', f'dataset = "{blobs}"', 'chosen_by = "default"',
                       'start = "consensus"', f"config = {{{AE}, clustering_epochs = 2}}"],
        "dec_own": ['method = "dec"', f'dataset = "{blobs}"', 'chosen_by = "default"',
                    'start = "own"', f"config = {{{AE}, clustering_epochs = 2}}"]})
    results = tmp_path / "results"
    common = ["--results", str(results), "--cache", str(tmp_path / "cache")]
    run.main([table, *common, "--seeds", "0", "1", "2"])
    recs = [_rec(results, "t", "dec_shared", s) for s in range(3)]
    assert {r["extra"]["start"] for r in recs} == {"consensus"}
    assert all(r["extra"]["seeds_in_run"] == [0, 1, 2] for r in recs)
    assert len({r["wall_time_s"] for r in recs}) == 1
    assert recs[0]["command"].endswith(f"--seeds 0 1 2 --results {run.from_root(results)} "
                                       f"--cache {run.from_root(tmp_path / 'cache')}")
    # the same program as the library's: seeds 0-2 started from their consensus
    cfg = config.build(get("dec"), n_clusters=3, ae_hidden=[8], embedding_size=2,
                       pretrain_epochs=2, pretrain_batch_size=32, n_init=3,
                       clustering_epochs=2)
    x = np.load(blobs)["x"]
    res = run.runner.fit_seeds(get("dec"), run.runner.seed_keys(0, 3), x, cfg,
                               start="consensus")
    for s in range(3):
        labels = np.load(results / "t" / "dec_shared" / f"seed{s}.labels.npz")["labels"]
        np.testing.assert_array_equal(labels, res.labels[s])
    # its pair: the same seeds, together, on the same pre-training, each from its own start
    own = [_rec(results, "t", "dec_own", s) for s in range(3)]
    assert [r["extra"]["pretrained_ae"] for r in own] == [r["extra"]["pretrained_ae"]
                                                          for r in recs]
    assert [r["extra"]["aekm_metrics"] for r in own] == [r["extra"]["aekm_metrics"]
                                                         for r in recs]
    assert "--start consensus" in run.fit_command(run.load_table(table)["cells"]["dec_shared"],
                                                  run.build_parser().parse_args([table]))
    with pytest.raises(SystemExit):  # seeds 1-2 have records, 3 has none: not one set
        run.main([table, *common, "--seeds", "1", "2", "3"])


class _CutOff(Exception):
    pass


def test_clustering_phase_resumes_from_its_checkpoint_bit_for_bit(tmp_path, monkeypatch):
    """A k-DAE run cut off after its first clustering checkpoint and run again ends in the
    same state, byte for byte, as a run that was never interrupted."""
    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(2), 30)
    x = rng.uniform(size=(60, 6)).astype(np.float32) * 0.5 + 0.5 * y[:, None]
    np.savez(tmp_path / "two.npz", x=x, y=y)
    table = _table(tmp_path / "t.toml", {"kdae_two": [
        'method = "kdae"', f'dataset = "{tmp_path / "two.npz"}"', 'chosen_by = "default"',
        "config = {ae_hidden = [8], embedding_size = 2, pretrain_epochs = 2, "
        "pretrain_batch_size = 16, clustering_batch_size = 16, n_init = 2, member_hidden = "
        "[8], member_latent = 2, member_epochs = 1, member_batch_size = 16, "
        "clustering_epochs = 4}"]})

    def sitting(name):
        return [table, "--checkpoint-every", "2", "--seeds", "0", "--results",
                str(tmp_path / name / "results"), "--cache", str(tmp_path / name / "cache")]

    run.main(sitting("straight"))
    log = run.log

    def cut_at_first_checkpoint(msg):
        log(msg)
        if msg.startswith("checkpoint kdae_"):
            raise _CutOff

    monkeypatch.setattr(run, "log", cut_at_first_checkpoint)
    with pytest.raises(_CutOff):
        run.main(sitting("cut"))
    assert not (tmp_path / "cut" / "results" / "t" / "kdae_two" / "seed0.json").exists()
    peeked = []
    monkeypatch.setattr(run, "log", peeked.append)
    run.main([*sitting("cut"), "--peek"])  # a look at the cut-off run writes nothing
    assert "kdae_two seed 0 at clustering epoch 2: NMI" in peeked[0]
    assert not (tmp_path / "cut" / "results" / "t" / "kdae_two" / "seed0.json").exists()
    monkeypatch.setattr(run, "log", log)
    run.main(sitting("cut"))

    records = [_rec(tmp_path / n / "results", "t", "kdae_two") for n in ("straight", "cut")]
    peeked.clear()
    monkeypatch.setattr(run, "log", peeked.append)
    run.main([*sitting("straight"), "--peek"])  # the last checkpoint: the recorded run
    assert f"epoch 4: NMI {records[0]['metrics']['nmi']:.4f}" in peeked[0]
    assert f"ACC {records[0]['metrics']['acc']:.4f} objective" in peeked[0]
    assert records[1]["extra"]["resumed_at_epoch"] == 2
    assert "resumed_at_epoch" not in records[0]["extra"]
    assert records[0]["extra"]["cluster_epochs"] == records[1]["extra"]["cluster_epochs"] == 4
    assert records[0]["metrics"] == records[1]["metrics"]
    assert records[0]["objective"] == records[1]["objective"]
    finals = []
    for name in ("straight", "cut"):
        folder, = (tmp_path / name / "cache").glob("kdae_two_seed0_*")
        # steps count pre-training (2 epochs) and clustering epochs together
        assert sorted(p.name for p in folder.iterdir() if p.name.isdigit()) == ["4", "6"]
        finals.append(jax.tree.leaves(ocp.StandardCheckpointer().restore(folder / "6" / "default")))
    assert len(finals[0]) == len(finals[1]) > 10
    assert all(np.array_equal(a, b) for a, b in zip(*finals))


def test_every_committed_table_config_builds():
    """Each cell names a registered method (or scikit-learn's spectral clustering) and
    settings its Config accepts."""
    specs = run.tables()
    assert len(specs) >= 10 and [s["order"] for s in specs.values()] == sorted(
        s["order"] for s in specs.values())
    for spec in specs.values():
        assert spec["doc"] and spec["cells"]
        for cell, c in spec["cells"].items():
            assert c["chosen_by"] in ("paper", "default", "label-free", "labels"), cell
            if c["method"] != "sc":
                config.build(get(c["method"]), **c.get("config", {}))


def test_each_cell_is_one_jaxclust_fit_command_with_the_same_config():
    """``run.py TABLE --fit-commands``: every cell (but spectral clustering) parses as a
    ``jaxclust fit`` command that builds the cell's Config and loads the cell's data."""
    import shlex

    from jaxclust import cli

    opts = run.build_parser().parse_args(["x", "--data-dir", "d"])
    parser = cli._build_parser()
    n = 0
    for spec in run.tables().values():
        for c in spec["cells"].values():
            if c["method"] == "sc":
                continue
            argv = shlex.split(run.fit_command(c, opts))[1:]
            args = parser.parse_args(argv)
            assert (args.dataset, args.subset, args.r_min) == (
                c["dataset"], c.get("subset"), c.get("r_min"))
            method = get(c["method"])
            assert config.from_args(method, args, args.preset) == config.build(
                method, c.get("preset", "paper"), **c.get("config", {}))
            n += 1
    assert n > 80


def test_data_per_seed_draws_the_synthetic_set_with_each_seed():
    cell = {"dataset": "synthetic", "subset": 50}
    x0, _ = run.load_cell_data(cell, None, 0)
    np.testing.assert_array_equal(run.load_cell_data(cell, None, 3)[0], x0)
    varied = [run.load_cell_data({**cell, "data_per_seed": True}, None, s)[0] for s in (0, 3)]
    np.testing.assert_array_equal(varied[0], x0)
    assert not np.allclose(varied[1], x0)


def test_select_config_script_chooses_one_candidate_over_several_cells(tmp_path, monkeypatch,
                                                                       capsys):
    import select_config

    _blobs(tmp_path)
    blobs = str(tmp_path / "blobs.npz")
    table = _table(tmp_path / "t.toml", {
        name: ['method = "kmeans"', f'dataset = "{blobs}"', 'chosen_by = "default"',
               f"config = {{n_init = {n}}}"] for name, n in (("a", 2), ("b", 3))})
    monkeypatch.setattr(select_config, "HERE", tmp_path)
    args = [table, "a", "b", "--candidate", "n_clusters=2", "--candidate", "n_clusters=3",
            "--candidate", "n_clusters=6 max_iter=50", "--seeds", "2", "--first-seed", "5",
            "--out", "k"]
    select_config.main(args)
    out = json.loads((tmp_path / "selection" / "k.json").read_text())
    assert out["chosen"] == {"n_clusters": 3} and out["mean_rank"][1] == 1.0
    assert out["cells"] == ["a", "b"] and len(out["scores"]["b"]["silhouette"]) == 3
    assert out["seeds"] == [5, 6]
    for bad, message in ((["--candidate", "bogus=1"], "kmeans has no parameter bogus"),
                         (["--candidate", "n_clusters"], "is not name=value"),
                         ([], "give --param with --values, or --candidate")):
        with pytest.raises(SystemExit):
            select_config.main([table, "a", *bad, "--out", "k"])
        assert message in capsys.readouterr().err


def test_recorded_commands_name_paths_from_the_repository_root(tmp_path, monkeypatch):
    """Started anywhere, a record's command runs from the repository root as written."""
    import select_config

    monkeypatch.chdir(tmp_path)
    root, here = Path(run.__file__).resolve().parents[1], tmp_path.resolve()
    data, cache = os.path.relpath(here / "d", root), os.path.relpath(here.parent / "c", root)
    opts = run.build_parser().parse_args(["t", "--data-dir", "d", "--cache", "../c",
                                          "--checkpoint-every", "5"])
    assert run._passed(opts) == ["--data-dir", data, "--checkpoint-every", "5",
                                 "--cache", cache]
    assert select_config._root_argv(["t", "a", "--data-dir", "d", "--cache=../c"]) == [
        "t", "a", "--data-dir", data, f"--cache={cache}"]
