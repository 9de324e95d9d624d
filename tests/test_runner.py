"""Many seeds in one program: equal to single fits, sharded over 8 devices, resumable."""
import os
import subprocess
import sys
import dataclasses
import textwrap
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from jaxclust import data, runner, store, train
from jaxclust.methods import aekm, damic, dec, fit, imsat, kdae, pretrain

AE = train.AEConfig(hidden=(32, 32), latent=4, epochs=3, batch_size=64)
DEC = dec.Config(n_clusters=6, ae=AE, n_init=2, optimizer="adam", lr=1e-3, batch_size=64,
                 epochs=4, tol=0.0)


def _x(n=384):
    return jnp.asarray(data.load("digits")[0][:n])


def _leaves_close(a, b, rtol=1e-3, atol=2e-3):
    """Equal to float tolerance. Summation order differs between a batched and a single
    program; Adam divides by sqrt(ν), so on a weight whose gradient is ~0 that rounding
    noise can move it by up to ``lr`` (1e-3) per step: hence ``atol``."""
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        if jnp.issubdtype(u.dtype, jax.dtypes.prng_key):
            u, v = jax.random.key_data(u), jax.random.key_data(v)
        np.testing.assert_allclose(np.asarray(u, np.float64), np.asarray(v, np.float64),
                                   rtol=rtol, atol=atol)


def test_seeds_equal_single_fits():
    x = _x()
    res = runner.fit_seeds(dec.DEC, runner.seed_keys(5, 2), x, DEC)
    assert res.labels.shape == (2, x.shape[0]) and res.objectives.shape == (2,)
    assert res.epochs == AE.epochs + DEC.epochs
    fit_dec = jax.jit(fit, static_argnums=(0, 3))
    for i in range(2):
        single = fit_dec(dec.DEC, jax.random.key(5 + i), x, DEC)
        np.testing.assert_array_equal(res.labels[i], dec.predict(single, x, DEC))
        _leaves_close(jax.tree.map(lambda a: a[i], res.states), single)
        np.testing.assert_allclose(res.objectives[i], dec.objective(single, x, DEC), rtol=1e-4)


@pytest.mark.slow
def test_aekm_runs_through_fit_seeds():
    x = _x(256)
    km = runner.fit_seeds(aekm.METHOD, runner.seed_keys(0, 2), x, km_cfg(6))
    assert km.epochs == AE.epochs and km.states.centroids.shape == (2, 6, AE.latent)
    single = jax.jit(pretrain.fit, static_argnames="cfg")(jax.random.key(1), x, cfg=km_cfg(6))
    np.testing.assert_array_equal(km.labels[1], pretrain.predict(single, x, km_cfg(6)))


def km_cfg(k):
    return pretrain.Config(k, AE, 2)


@pytest.mark.slow
@pytest.mark.parametrize("module", [kdae, damic])
def test_mixtures_run_through_fit_seeds(module):
    x = _x(256)
    member = train.AEConfig(hidden=(16,), latent=3, epochs=2, batch_size=64)
    extra = {"gate_hidden": (16,), "gate_epochs": 2} if module is damic else {}
    cfg = module.Config(n_clusters=4, ae=AE, n_init=2, member=member, batch_size=64,
                        epochs=2, **extra)
    res = runner.fit_seeds(module.METHOD, runner.seed_keys(0, 2), x, cfg)
    single = jax.jit(fit, static_argnums=(0, 3))(module.METHOD, jax.random.key(1), x, cfg)
    np.testing.assert_array_equal(res.labels[1], module.predict(single, x, cfg))


class _Stop(Exception):
    pass


@pytest.mark.parametrize("stop_at", [("pre-train", 2), ("cluster", 2)])
def test_resume_after_interrupt_gives_the_same_run(tmp_path, stop_at):
    x, keys = _x(), runner.seed_keys(0, 2)
    full = runner.fit_seeds(dec.DEC, keys, x, DEC)

    seen = {}

    def interrupt(phase, epoch, total, losses, state):
        if (phase, epoch) == stop_at:
            seen["state"] = state
            raise _Stop

    with pytest.raises(_Stop):
        runner.fit_seeds(dec.DEC, keys, x, DEC, checkpoints=store.Checkpoints(tmp_path, DEC),
                           checkpoint_every=1, on_epoch=interrupt)
    ckpt = store.Checkpoints(tmp_path, DEC)
    done = AE.epochs * (stop_at[0] == "cluster") + stop_at[1]
    assert ckpt.latest_step() == done
    if stop_at[0] == "cluster":  # the cut-off run, looked at from its checkpoint
        epoch, states, labels, _ = runner.restore_seeds(dec.DEC, keys, x, DEC, ckpt)
        assert epoch == stop_at[1]
        _leaves_close(states, seen["state"], rtol=0, atol=0)
        np.testing.assert_array_equal(
            labels, jax.vmap(lambda s: dec.predict(s, x, DEC))(seen["state"]))
    else:
        with pytest.raises(ValueError, match="no checkpoint of dec's clustering phase"):
            runner.restore_seeds(dec.DEC, keys, x, DEC, ckpt)
    resumed = runner.fit_seeds(dec.DEC, keys, x, DEC, checkpoints=ckpt, resume=True)
    np.testing.assert_array_equal(resumed.labels, full.labels)
    _leaves_close(resumed.states, full.states, rtol=0, atol=0)


def test_a_longer_pretraining_continues_a_shorter_ones_cache(tmp_path):
    x, keys = _x(), runner.seed_keys(0, 2)
    short = dataclasses.replace(DEC, ae=dataclasses.replace(AE, epochs=AE.epochs - 1))

    def cache(cfg):
        return store.pretrain_cache(tmp_path, pretrain.phase_config(cfg), x, keys)

    runner.fit_seeds(dec.DEC, keys, x, short, pretrain_cache=cache(short))
    source, step = store.pretrain_start(cache(DEC), AE.epochs)
    assert source.directory == cache(short).directory and step == AE.epochs - 1
    # a shorter run never starts from a longer one's end, nor from other seeds' cache
    assert store.pretrain_start(cache(dataclasses.replace(
        DEC, ae=dataclasses.replace(AE, epochs=1))), 1) is None
    assert store.pretrain_start(store.pretrain_cache(
        tmp_path, pretrain.phase_config(DEC), x, runner.seed_keys(1, 2)), AE.epochs) is None

    trained = []
    continued = runner.fit_seeds(
        dec.DEC, keys, x, DEC, pretrain_cache=cache(DEC),
        on_epoch=lambda phase, epoch, *_: trained.append(epoch) if phase == "pre-train" else 0)
    assert trained == [AE.epochs] and cache(DEC).latest_step() == AE.epochs
    full = runner.fit_seeds(dec.DEC, keys, x, DEC)
    np.testing.assert_array_equal(continued.labels, full.labels)
    _leaves_close(continued.states, full.states, rtol=0, atol=0)


def test_bad_arguments_are_clear(tmp_path):
    x = _x(64)
    with pytest.raises(TypeError, match="PRNG keys"):
        runner.fit_seeds(dec.DEC, jnp.arange(2), x, DEC)
    with pytest.raises(ValueError, match="needs checkpoints"):
        runner.fit_seeds(dec.DEC, runner.seed_keys(0, 2), x, DEC, resume=True)
    store.Checkpoints(tmp_path, DEC)
    with pytest.raises(ValueError, match="another config"):
        store.Checkpoints(tmp_path, DEC.__class__(n_clusters=3))
    # the block size changes memory, never results: the same store (and the same cache)
    store.Checkpoints(tmp_path, dataclasses.replace(DEC, block_size=7))
    keys = runner.seed_keys(0, 2)
    assert (store.pretrain_cache(tmp_path, DEC, x, keys).directory
            == store.pretrain_cache(tmp_path, dataclasses.replace(DEC, block_size=7), x,
                                    keys).directory)
    with pytest.raises(ValueError, match="divisor"):
        runner.seed_mesh(data=2, devices=jax.devices()[:1])


def test_recentre_moves_centroids_to_the_groups_means_in_float64():
    x = _x(128)
    state = pretrain.init(jax.random.key(0), x, pretrain.phase_config(DEC))
    state = state._replace(centroids=jnp.full((DEC.n_clusters, AE.latent), 7.0))
    labels = np.arange(128) % 4  # groups 4 and 5 own no point
    moved = pretrain.recentre(state, x, jnp.asarray(labels), DEC)
    z = np.asarray(pretrain.embed(state, x, DEC), np.float64)
    want = np.stack([z[labels == g].mean(0) for g in range(4)])
    np.testing.assert_allclose(np.asarray(moved.centroids[:4]), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(moved.centroids[4:], 7.0)


def test_consensus_start_puts_every_seed_on_one_partition():
    # overlapping blobs: the four seeds' autoencoders + k-means split them differently
    x, truth = make_blobs(384, n_features=16, centers=8, cluster_std=3.0, random_state=0)
    x = jnp.asarray(((x - x.mean(0)) / x.std(0)).astype(np.float32))
    cfg = pretrain.Config(8, dataclasses.replace(AE, epochs=20), 1)
    own = runner.fit_seeds(aekm.METHOD, runner.seed_keys(0, 4), x, cfg)
    shared = runner.fit_seeds(aekm.METHOD, runner.seed_keys(0, 4), x, cfg, start="consensus")
    pairs = [(i, j) for i in range(4) for j in range(i + 1, 4)]

    def agreement(labels):
        return np.mean([adjusted_rand_score(labels[i], labels[j]) for i, j in pairs])

    assert agreement(own.labels) + 0.05 < agreement(shared.labels) and \
        agreement(shared.labels) > 0.9
    assert min(adjusted_rand_score(truth, lab) for lab in shared.labels) > \
        min(adjusted_rand_score(truth, lab) for lab in own.labels) + 0.05
    # one seed repeated: its consensus is its own partition, so the start is its own
    same = jnp.stack([runner.seed_keys(2, 1)[0]] * 3)
    np.testing.assert_array_equal(
        runner.fit_seeds(aekm.METHOD, same, x, cfg, start="consensus").labels[0],
        own.labels[2])
    with pytest.raises(ValueError, match="start must be one of"):
        runner.fit_seeds(dec.DEC, runner.seed_keys(0, 2), x, DEC, start="shared")
    with pytest.raises(ValueError, match="does not"):
        runner.fit_seeds(imsat.METHOD, runner.seed_keys(0, 2), x, imsat.Config(),
                         start="consensus")


SHARDED = textwrap.dedent("""
    import jax, jax.numpy as jnp, numpy as np
    from tests.test_runner import DEC, _x, _leaves_close
    from jaxclust import runner
    from jaxclust.methods import dec
    import pytest
    assert jax.device_count() == 8, jax.devices()
    with pytest.raises(ValueError, match="divide evenly"):
        runner.fit_seeds(dec.DEC, runner.seed_keys(0, 3), _x(), DEC, mesh=runner.seed_mesh())
    x, keys = _x(), runner.seed_keys(0, 8)
    sharded = runner.fit_seeds(dec.DEC, keys, x, DEC, mesh=runner.seed_mesh())
    assert len(sharded.labels.sharding.device_set) == 8
    one = runner.fit_seeds(dec.DEC, keys, x, DEC,
                           mesh=runner.seed_mesh(devices=jax.devices()[:1]))
    rows = runner.fit_seeds(dec.DEC, keys, x, DEC, mesh=runner.seed_mesh(data=2))
    np.testing.assert_array_equal(sharded.labels, one.labels)
    np.testing.assert_array_equal(rows.labels, one.labels)
    shared = runner.fit_seeds(dec.DEC, keys, x, DEC, start="consensus")
    shared_rows = runner.fit_seeds(dec.DEC, keys, x, DEC, mesh=runner.seed_mesh(data=2),
                                   start="consensus")
    np.testing.assert_array_equal(shared_rows.labels, shared.labels)
    # one device = single fits: test_seeds_equal_single_fits
    _leaves_close(sharded.states, one.states)
    print("OK")
""")


def test_eight_seeds_sharded_over_eight_devices_equal_one_device():
    root = Path(__file__).resolve().parents[1]
    flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=8"
    env = {**os.environ, "XLA_FLAGS": flags,
           "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(root)}
    out = subprocess.run([sys.executable, "-c", SHARDED], env=env, cwd=root,
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0 and "OK" in out.stdout, out.stderr[-3000:]


def test_head_from_pretrained_skips_pretraining_and_equals_the_manual_composition():
    x = _x(256)
    keys = runner.seed_keys(3, 2)
    pre = runner.fit_seeds(aekm.METHOD, keys, x, pretrain.phase_config(DEC))
    phases = []
    res = runner.fit_seeds(dec.DEC, keys, x, DEC, pretrained=pre.states,
                           on_epoch=lambda phase, *_: phases.append(phase))
    assert set(phases) == {"start", "cluster"} and res.epochs == AE.epochs + DEC.epochs
    cluster = jax.jit(pretrain.cluster, static_argnames="cfg")
    head = jax.jit(dec.from_pretrained, static_argnames="cfg")
    epoch = jax.jit(dec.train_epoch, static_argnames="cfg")
    for i in range(2):
        pre_i = jax.tree.map(lambda a: a[i], pre.states)
        state = head(cluster(pre_i, x, cfg=pretrain.phase_config(DEC)), x, cfg=DEC)
        for _ in range(DEC.epochs):
            state, _ = epoch(state, x, cfg=DEC)
        np.testing.assert_array_equal(res.labels[i], dec.predict(state, x, DEC))


def test_pretrained_must_match_the_seeds_and_have_a_head():
    x = _x(128)
    pre = runner.fit_seeds(aekm.METHOD, runner.seed_keys(0, 1), x, pretrain.phase_config(DEC))
    with pytest.raises(ValueError, match="seeds"):
        runner.fit_seeds(dec.DEC, runner.seed_keys(0, 2), x, DEC, pretrained=pre.states)
    with pytest.raises(ValueError, match="pre-trained"):
        runner.fit_seeds(imsat.METHOD, runner.seed_keys(0, 1), x, imsat.Config(),
                         pretrained=pre.states)


def test_best_seed_skips_diverged_seeds():
    assert runner.best_seed([3.0, float("nan"), 1.0, float("inf")]) == 2
    assert runner.best_seed([float("nan"), float("nan")]) == 0
