import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from jaxclust import nets, train
from jaxclust.estimators import DAMIC
from jaxclust.losses import reconstruction_error
from jaxclust.methods import pretrain

SMALL = train.AEConfig(hidden=(16, 8), latent=3, epochs=2, batch_size=32)


def _x(n=96, d=12, seed=0):
    return jnp.asarray(np.random.default_rng(seed).random((n, d)), jnp.float32)


def test_reconstruction_error_against_numpy():
    rng = np.random.default_rng(0)
    x = rng.random((5, 7))
    xh = rng.uniform(0.01, 0.99, (3, 5, 7))
    f32 = lambda a: jnp.asarray(a, jnp.float32)  # noqa: E731
    np.testing.assert_allclose(reconstruction_error(f32(x), f32(xh[0]), "mse"),
                               ((x - xh[0]) ** 2).mean(1), rtol=1e-5)
    np.testing.assert_allclose(reconstruction_error(f32(x), f32(xh), "sse"),
                               ((x[None] - xh) ** 2).sum(-1).T, rtol=1e-5)
    np.testing.assert_allclose(reconstruction_error(f32(x), f32(xh), "norm"),
                               np.sqrt(((x[None] - xh) ** 2).sum(-1).T), rtol=1e-5)
    # ‖x − x̂‖ at x̂ = x: zero, with a finite (zero) gradient instead of sqrt's 1/0.
    g = jax.grad(lambda h: reconstruction_error(f32(x), h, "norm").sum())(f32(x))
    assert np.isfinite(g).all() and float(jnp.abs(g).max()) == 0.0
    bce = -(x[None] * np.log(xh) + (1 - x[None]) * np.log(1 - xh)).mean(-1).T
    logits = np.log(xh) - np.log1p(-xh)
    np.testing.assert_allclose(reconstruction_error(f32(x), f32(logits), "bce"), bce, rtol=1e-5)
    with pytest.raises(ValueError, match="kind must be one of"):
        reconstruction_error(f32(x), f32(xh[0]), "l1")


def test_bce_from_logits_is_exact_where_the_sigmoid_saturates():
    # σ(±40) rounds to 0 or 1 in float32: a BCE of probabilities is inf (or, clipped, has a zero
    # gradient); from logits it equals float64 softplus(h) − x·h, with gradient (σ(h) − x) / d.
    x = np.array([[0.0, 1.0, 0.3, 1.0]])
    h = np.array([[40.0, -40.0, 40.0, 40.0]])
    ref = (np.logaddexp(0.0, h) - x * h).mean(-1)
    f32 = lambda a: jnp.asarray(a, jnp.float32)  # noqa: E731
    np.testing.assert_allclose(reconstruction_error(f32(x), f32(h), "bce"), ref, rtol=1e-6)
    g = jax.grad(lambda v: reconstruction_error(f32(x), v, "bce").sum())(f32(h))
    np.testing.assert_allclose(g, (1 / (1 + np.exp(-h)) - x) / 4, atol=1e-7)
    assert float(jnp.abs(g[0, 0])) == pytest.approx(0.25)  # the wrong side still learns


def test_autoencoder_shapes_and_mirror():
    ae = nets.Autoencoder(12, hidden=(16, 8), latent=3, output_activation="sigmoid")
    variables = ae.init(jax.random.key(0), _x()[:1])
    z, xh = ae.apply(variables, _x())
    assert z.shape == (96, 3) and xh.shape == (96, 12)
    assert float(xh.min()) >= 0.0 and float(xh.max()) <= 1.0
    kernels = [variables["params"]["decoder"][f"Dense_{i}"]["kernel"].shape for i in range(3)]
    assert kernels == [(3, 8), (8, 16), (16, 12)]


def test_ae_loss_gradients_match_finite_differences():
    ae = nets.Autoencoder(6, hidden=(5,), latent=2, activation="elu")
    x32 = _x(8, 6)
    params32 = ae.init(jax.random.key(1), x32[:1])["params"]
    with jax.enable_x64(True):
        x = jnp.asarray(np.asarray(x32), jnp.float64)
        params = jax.tree.map(lambda p: jnp.asarray(np.asarray(p), jnp.float64), params32)

        def loss(p):
            return jnp.mean(reconstruction_error(x, ae.apply({"params": p}, x)[1]))

        assert jax.tree.leaves(params)[0].dtype == jnp.float64
        check_grads(jax.jit(loss), (params,), order=1, modes=["rev"], atol=1e-6, rtol=1e-6)


def test_ensemble_equals_separate_autoencoders():
    ae = SMALL.module(12)
    x = _x()
    stacked = nets.init_ensemble(jax.random.key(2), ae, 4, x)
    (z, xh), _ = nets.apply_ensemble(ae, stacked, x)
    assert z.shape == (4, 96, 3) and xh.shape == (4, 96, 12)
    for i in range(4):
        member = jax.tree.map(lambda p: p[i], stacked)
        z_i, xh_i = ae.apply(member, x)
        np.testing.assert_allclose(xh[i], xh_i, rtol=1e-5, atol=1e-6)
    # Members are independently initialised.
    assert not np.allclose(xh[0], xh[1])


def test_batch_norm_updates_running_stats_only_in_training():
    cfg = train.AEConfig(hidden=(16,), latent=3, batch_norm=True, batch_size=32)
    state = train.ae_init(jax.random.key(0), _x(), cfg)
    assert "batch_stats" in state.variables
    new, _ = train.ae_epoch(state, _x(), cfg)
    before = jax.tree.leaves(state.variables["batch_stats"])
    after = jax.tree.leaves(new.variables["batch_stats"])
    assert any(not np.allclose(a, b) for a, b in zip(before, after))


def test_batch_indices_static_shape_and_permutation(key):
    idx = train.batch_indices(key, 100, 32)
    assert idx.shape == (3, 32)
    assert len(np.unique(idx)) == 96 and idx.max() < 100


def test_epoch_jit_equals_no_jit():
    x = _x()
    state = train.ae_init(jax.random.key(3), x, SMALL)
    eager, loss_e = train.ae_epoch(state, x, SMALL)
    jitted, loss_j = jax.jit(train.ae_epoch, static_argnames="cfg")(state, x, cfg=SMALL)
    np.testing.assert_allclose(loss_e, loss_j, rtol=1e-5)
    for a, b in zip(jax.tree.leaves(eager.variables), jax.tree.leaves(jitted.variables)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_pretraining_reduces_loss():
    x = _x(256, 12)
    cfg = train.AEConfig(hidden=(32,), latent=4, epochs=30, batch_size=32)
    state = train.ae_init(jax.random.key(0), x, cfg)
    _, first = train.ae_epoch(state, x, cfg)
    _, last = train.ae_epoch(train.pretrain(jax.random.key(0), x, cfg), x, cfg)
    assert float(last) < 0.5 * float(first)


AEKM_CFG = pretrain.Config(n_clusters=3, ae=SMALL, n_init=2)


def test_aekm_same_key_same_labels():
    x = _x()
    fit = jax.jit(pretrain.fit, static_argnames="cfg")
    a = pretrain.predict(fit(jax.random.key(5), x, cfg=AEKM_CFG), x, AEKM_CFG)
    b = pretrain.predict(fit(jax.random.key(5), x, cfg=AEKM_CFG), x, AEKM_CFG)
    np.testing.assert_array_equal(a, b)


def test_aekm_vmap_over_keys_equals_separate_fits():
    x = _x()
    keys = jax.random.split(jax.random.key(6), 2)
    states = jax.jit(jax.vmap(pretrain.fit, (0, None, None)), static_argnums=2)(keys, x, AEKM_CFG)
    fit = jax.jit(pretrain.fit, static_argnums=2)
    for i in range(2):
        single = fit(keys[i], x, AEKM_CFG)
        batched = jax.tree.map(lambda a: a[i], states)
        np.testing.assert_allclose(batched.centroids, single.centroids, rtol=1e-4, atol=1e-5)
        np.testing.assert_array_equal(pretrain.predict(batched, x, AEKM_CFG),
                                      pretrain.predict(single, x, AEKM_CFG))


def test_bfloat16_compute_keeps_float32_params_and_outputs_close():
    x = jnp.asarray(_x(), jnp.float32)
    cfg32 = train.AEConfig(hidden=(32, 16), latent=4, batch_size=8)
    cfg16 = dataclasses.replace(cfg32, compute_dtype="bfloat16")
    variables = cfg32.module(x.shape[1]).init(jax.random.key(0), x[:1])
    z32, xh32 = cfg32.module(x.shape[1]).apply(variables, x)
    z16, xh16 = cfg16.module(x.shape[1]).apply(variables, x)
    assert z16.dtype == xh16.dtype == jnp.float32
    np.testing.assert_allclose(z16, z32, rtol=0.05, atol=0.02)
    np.testing.assert_allclose(xh16, xh32, rtol=0.05, atol=0.02)
    state = train.ae_init(jax.random.key(1), x, cfg16)
    state, _ = jax.jit(train.ae_epoch, static_argnums=2)(state, x, cfg16)
    assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(state.variables["params"]))
    with pytest.raises(ValueError, match="compute_dtype"):
        dataclasses.replace(cfg32, compute_dtype="float16").module(3).init(
            jax.random.key(0), x[:1, :3])


def _assert_kernels_follow(params, name):
    """Every kernel in ``params`` follows the named initialiser: Glorot-uniform within
    ±√(6/(fan_in+fan_out)) with variance 2/(fan_in+fan_out), LeCun-normal with variance
    1/fan_in."""
    kernels = [leaf for path, leaf in jax.tree_util.tree_leaves_with_path(params)
               if path[-1].key == "kernel"]
    assert kernels
    for w in kernels:
        w = np.asarray(w, np.float64)
        fan_in, fan_out = w.shape
        if name == "glorot_uniform":
            var = 2.0 / (fan_in + fan_out)
            assert np.abs(w).max() <= np.sqrt(3.0 * var)
        else:
            var = 1.0 / fan_in
        assert abs(w.var() / var - 1.0) < 0.1


@pytest.mark.parametrize("name", ["lecun_normal", "glorot_uniform"])
def test_kernel_init_scales(name):
    ae = train.AEConfig(hidden=(400, 300), latent=200, kernel_init=name).module(500)
    _assert_kernels_follow(ae.init(jax.random.key(0), jnp.zeros((1, 500)))["params"], name)


@pytest.mark.parametrize("name", ["lecun_normal", "glorot_uniform"])
def test_kernel_init_reaches_damic_members_and_gate(name):
    """``member_kernel_init`` initialises DAMIC's experts and its gate."""
    cfg = DAMIC(n_clusters=300, member_hidden=(400, 300), member_latent=200,
                gate_hidden=(400, 400), member_kernel_init=name)._config()
    x = jnp.zeros((1, 500))
    member = cfg.member.for_range(0.0, 1.0).module(500)
    _assert_kernels_follow(member.init(jax.random.key(0), x)["params"], name)
    _assert_kernels_follow(cfg.gate().init(jax.random.key(1), x)["params"], name)


@pytest.mark.parametrize("lo, hi, output, loss", [
    (0.0, 1.0, "sigmoid", "bce"), (0.0, 0.5, "sigmoid", "bce"),
    (-0.1, 1.0, "none", "mse"), (0.0, 16.0, "none", "mse")])
def test_auto_output_and_loss_follow_the_data_range(lo, hi, output, loss):
    auto = train.AEConfig(output_activation="auto", loss="auto")
    assert (auto.for_range(lo, hi).output_activation, auto.for_range(lo, hi).loss) == (
        output, loss)
    # a concrete choice stays; an "auto" loss follows the output it is given
    assert train.AEConfig(loss="auto").for_range(lo, hi).loss == "mse"  # linear output
    assert train.AEConfig(output_activation="sigmoid", loss="auto").for_range(
        lo, hi).loss == "bce"
    assert SMALL.for_range(lo, hi) == SMALL
    with pytest.raises(ValueError, match="not concrete: call for_range"):
        auto.module(3)


def test_unknown_kernel_init_raises():
    with pytest.raises(ValueError, match="kernel_init"):
        train.AEConfig(kernel_init="he").module(3).init(jax.random.key(0), jnp.zeros((1, 3)))


def test_rowwise_equals_one_pass_and_keeps_shapes():
    from jaxclust.blocks import rowwise
    from jaxclust.nets import Autoencoder, embed

    x = jax.random.normal(jax.random.key(0), (1000, 12))
    module = Autoencoder(12, (16,), 3)
    variables = module.init(jax.random.key(1), x[:1])
    whole = module.apply(variables, x, method=module.encode)
    np.testing.assert_allclose(np.asarray(rowwise(
        lambda r: module.apply(variables, r, method=module.encode), x, block=128)),
        np.asarray(whole), rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(embed(module, variables, x)), np.asarray(whole))
    # the input is read in place: the program's scratch memory is about its output, not x
    big = jnp.ones((100_001, 64))
    scratch = jax.jit(lambda a: rowwise(lambda r: jnp.tanh(r @ jnp.ones((64, 8))), a)).lower(
        big).compile().memory_analysis().temp_size_in_bytes
    assert scratch < 0.25 * big.nbytes
    pair = rowwise(lambda a, b: {"s": a.sum(1) + b, "a": a}, x, jnp.arange(1000.0), block=300)
    assert pair["s"].shape == (1000,) and pair["a"].shape == (1000, 12)
    np.testing.assert_allclose(np.asarray(pair["s"]), np.asarray(x.sum(1) + jnp.arange(1000.0)),
                               rtol=1e-5)


def test_block_size_bounds_a_methods_full_data_pass_and_not_its_result():
    from jaxclust import config
    from jaxclust.methods import dec, get

    x = jax.random.uniform(jax.random.key(0), (3000, 20))
    small, large = (config.build(get("dec"), n_clusters=3, ae_hidden=(2000,), block_size=b)
                    for b in (128, 1024))
    state = jax.jit(lambda k, a: dec.from_pretrained(
        pretrain.init(k, a, pretrain.phase_config(small)), a, small))(jax.random.key(1), x)

    def scratch(cfg):
        return jax.jit(lambda s, a: dec.predict_proba(s, a, cfg)).lower(
            state, x).compile().memory_analysis().temp_size_in_bytes

    assert scratch(small) * 4 < scratch(large)  # the 2000-wide activations: 128 vs 1024 rows
    proba = jax.jit(dec.predict_proba, static_argnums=2)
    np.testing.assert_allclose(np.asarray(proba(state, x, small)),
                               np.asarray(proba(state, x, large)), rtol=1e-5)
    with pytest.raises(ValueError, match="block_size"):
        config.build(get("dec"), block_size=0)
