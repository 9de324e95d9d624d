"""The config surface (flat parameters, presets, checks), the registry and the record."""
import json

import numpy as np
import pytest

from jaxclust import cli, config, record
from jaxclust.methods import REGISTRY, get


@pytest.mark.parametrize("name", list(REGISTRY))
def test_flatten_inverts_build_for_every_method(name):
    method = get(name)
    cfg = method.make_config()
    flat = config.flatten(cfg)
    assert [p.name for p in config.params(method)] == list(flat)
    assert config.build(method, **flat) == cfg
    # every flat parameter reaches its field
    for p in config.params(method):
        if p.kind == "int" and p.name != "n_clusters":
            value = (p.default or 0) + 3
            assert config.flatten(config.build(method, **{p.name: value}))[p.name] == value


def test_registry_defaults_and_presets():
    assert config.flatten(get("idec").make_config())["clustering_optimizer"] == "adam"
    assert config.flatten(get("dec").make_config())["clustering_optimizer"] == "sgd"
    assert get("rim").make_config().augment == "none"
    small = config.flatten(config.build(get("damic"), "small"))
    assert small["ae_hidden"] == (256, 256, 512) and small["clustering_lr"] == 1e-3
    assert small["member_hidden"] == (256, 64) and small["pretrain_epochs"] == 100
    assert config.flatten(config.build(get("dec"), "small"))["clustering_lr"] == 0.01
    assert config.build(get("imsat"), "small") == get("imsat").make_config()
    # explicit values win over the preset
    assert config.build(get("dec"), "small", pretrain_epochs=7).ae.epochs == 7


@pytest.mark.parametrize("values, error, match", [
    ({"pretrain_lr": -1.0}, ValueError, "pretrain_lr must be >= 0"),
    ({"pretrain_lr": 0.0}, ValueError, "pretrain_lr must be > 0"),
    ({"pretrain_epochs": 1.5}, TypeError, "pretrain_epochs must be an int"),
    ({"ae_hidden": (0,)}, ValueError, "ae_hidden must be >= 1"),
    ({"clustering_optimizer": "rmsprop"}, ValueError, "clustering_optimizer must be one of"),
    ({"ae_batch_norm": 1}, TypeError, "ae_batch_norm must be True or False"),
    ({"bogus": 1}, TypeError, "dec has no parameter bogus"),
    ({"clustering_batch_size": 0}, ValueError, "clustering_batch_size must be >= 1"),
    ({"alpha": 0.0}, ValueError, "alpha must be > 0"),
])
def test_bad_values_are_refused_by_name(values, error, match):
    with pytest.raises(error, match=match):
        config.build(get("dec"), **values)


def test_umaps_neighbours_are_at_least_two_in_the_config_and_the_estimator():
    from jaxclust.estimators import N2D

    with pytest.raises(ValueError, match="umap_n_neighbors must be >= 2, got 1"):
        config.build(get("n2d"), umap_n_neighbors=1)
    with pytest.raises(ValueError, match=r"'umap_n_neighbors' .* range \[2, inf\)"):
        N2D(n_clusters=2, umap_n_neighbors=1).fit(np.ones((10, 3)))


def test_cli_help_lists_each_methods_own_flags(capsys):
    with pytest.raises(SystemExit):
        cli.main(["fit", "damic", "--help"])
    out = capsys.readouterr().out
    assert "--variance" in out and "--member-hidden" in out and "--gamma" not in out
    with pytest.raises(SystemExit):
        cli.main(["fit", "idec", "--help"])
    assert "(default: adam)" in capsys.readouterr().out


def _record(**changes):
    rec = record.make(method="dec", dataset="digits", seed=0,
                      metrics={"acc": 0.5, "nmi": 0.4, "ari": 0.3}, objective=float("nan"),
                      epochs=3, config=config.flatten(get("dec").make_config()),
                      preset="paper", chosen_by="paper", wall_time_s=1.0,
                      command="jaxclust fit dec")
    return {**rec, **changes}


def test_record_schema(tmp_path):
    rec = _record()
    assert rec["objective"] is None  # NaN is not JSON
    assert rec["config"]["ae_hidden"] == [500, 500, 2000] and rec["versions"]["jax"]
    record.write(tmp_path / "r.json", rec)
    assert json.loads((tmp_path / "r.json").read_text()) == rec
    with pytest.raises(ValueError, match="chosen_by"):
        record.check(_record(chosen_by="seed 0 looked good"))
    bad = _record()
    del bad["git_commit"]
    with pytest.raises(ValueError, match="missing"):
        record.write(tmp_path / "bad.json", bad)
