import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxclust import data, train
from jaxclust.losses import dec_loss, soft_assignment, target_distribution
from jaxclust.methods import dec, pretrain


def np_q(z, mu, alpha):
    d2 = ((z[:, None, :] - mu[None]) ** 2).sum(-1)
    num = (1.0 + d2 / alpha) ** (-(alpha + 1.0) / 2.0)
    return num / num.sum(1, keepdims=True)


def np_p(q):
    w = q**2 / q.sum(0)
    return w / w.sum(1, keepdims=True)


@pytest.mark.parametrize("alpha", [1.0, 0.5, 3.0])
def test_soft_assignment_and_target_against_numpy(alpha):
    rng = np.random.default_rng(0)
    z = rng.standard_normal((40, 5))
    mu = rng.standard_normal((4, 5)) * 2
    q = soft_assignment(jnp.asarray(z, jnp.float32), jnp.asarray(mu, jnp.float32), alpha)
    np.testing.assert_allclose(q, np_q(z, mu, alpha), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(np.asarray(q).sum(1), 1.0, rtol=1e-6)
    p = target_distribution(q)
    np.testing.assert_allclose(p, np_p(np_q(z, mu, alpha)), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(np.asarray(p).sum(1), 1.0, rtol=1e-6)


def test_dec_loss_against_numpy_and_zero_p():
    rng = np.random.default_rng(1)
    q = rng.dirichlet(np.ones(5), 30)
    p = np_p(q)
    p[0] = [1.0, 0, 0, 0, 0]  # 0·log 0 must count as 0, not NaN
    ref = np.where(p > 0, p * np.log(np.where(p > 0, p, 1) / q), 0.0).sum(1)
    out = dec_loss(jnp.asarray(p, jnp.float32), jnp.asarray(q, jnp.float32))
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)


def test_dec_loss_gradient_matches_finite_differences_and_skips_p():
    rng = np.random.default_rng(2)
    with jax.enable_x64(True):
        z = jnp.asarray(rng.standard_normal((6, 3)))
        mu = jnp.asarray(rng.standard_normal((4, 3)))
        p_fixed = target_distribution(soft_assignment(z, mu))

        def loss(z):  # P held fixed
            return jnp.sum(dec_loss(p_fixed, soft_assignment(z, mu)))

        g = jax.grad(loss)(z)
        eps = 1e-6
        fd = np.zeros(z.shape)
        for i in range(6):
            for j in range(3):
                dz = jnp.zeros(z.shape).at[i, j].set(eps)
                fd[i, j] = (loss(z + dz) - loss(z - dz)) / (2 * eps)
        np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)

        # P computed from the same z inside the loss: still no gradient through P.
        def loss_inline(z):
            q = soft_assignment(z, mu)
            return jnp.sum(dec_loss(target_distribution(q), q))

        np.testing.assert_allclose(jax.grad(loss_inline)(z), g, rtol=1e-10)


SMALL = dec.Config(n_clusters=3, ae=train.AEConfig(hidden=(16,), latent=3, epochs=3, batch_size=32),
                   n_init=2, batch_size=32, epochs=5)


def _x():
    return jnp.asarray(data.load("synthetic", n=192, k=3)[0])


def test_stop_flag_freezes_a_converged_run_inside_vmap():
    x = _x()
    keys = jax.random.split(jax.random.key(0), 2)
    start = lambda k: dec.from_pretrained(pretrain.fit(k, x, SMALL), x, SMALL)  # noqa: E731
    states = jax.jit(jax.vmap(start))(keys)
    states = states._replace(done=jnp.array([True, False]))
    epoch = jax.jit(jax.vmap(dec.train_epoch, (0, None, None)), static_argnums=2)
    new, _ = epoch(states, x, SMALL)

    def as_np(s):
        return [np.asarray(jax.random.key_data(a)
                           if jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key) else a)
                for a in jax.tree.leaves(s)]

    for old_leaf, new_leaf in zip(as_np(states), as_np(new)):
        np.testing.assert_array_equal(old_leaf[0], new_leaf[0])  # seed 0 frozen
    assert not np.allclose(states.centroids[1], new.centroids[1])  # seed 1 moved


def test_tol_sets_done_after_an_update_with_few_changes():
    x = _x()
    state = jax.jit(lambda k: dec.from_pretrained(pretrain.fit(k, x, SMALL), x, SMALL))(
        jax.random.key(1))
    state = state._replace(step=jnp.asarray(5, jnp.int32))
    big_tol = dataclasses_replace(SMALL, tol=1.01)  # any change fraction is below it
    assert bool(dec.update_target(state, x, big_tol).done)
    at_start = state._replace(step=jnp.asarray(0, jnp.int32))
    assert not bool(dec.update_target(at_start, x, big_tol).done)
    assert not bool(dec.update_target(state, x, dataclasses_replace(SMALL, tol=0.0)).done)


def dataclasses_replace(cfg, **kw):
    import dataclasses

    return dataclasses.replace(cfg, **kw)


def test_idec_trains_the_decoder_and_dec_does_not():
    x = _x()
    pre = jax.jit(pretrain.fit, static_argnums=2)(jax.random.key(2), x, SMALL)
    for idec in (False, True):
        cfg = dataclasses_replace(SMALL, idec=idec)
        state = dec.from_pretrained(pre, x, cfg)
        new, _ = dec.train_epoch(state, x, cfg)
        dec_before = state.variables["params"]["decoder"]
        dec_after = new.variables["params"]["decoder"]
        moved = any(not np.allclose(a, b) for a, b in
                    zip(jax.tree.leaves(dec_before), jax.tree.leaves(dec_after)))
        assert moved == idec


DIGITS_AE = train.AEConfig(hidden=(256, 256, 512), epochs=50, batch_size=64)


@pytest.mark.parametrize("idec", [False, True])
def test_dec_and_idec_on_digits_improve_on_aekm(idec, digits_head):
    """Seed 0, Adam 1e-3, batch 64, full-data target every pass, run to the tol stop.

    The result moves with the CPU's float rounding through the pre-trained AE, so the test
    asserts the gain over the AE+KM start and a floor. Measured NMI, AE+KM → DEC / IDEC,
    seeds 0/1/2 — one 2-core machine: .746 → .810/.813, .768 → .800/.810, .760 → .799/.806;
    another: .729 → .787/.790, .775 → .817/.817, .766 → .811/.809 (gain ≥ .042 throughout).
    """
    cfg = dec.Config(10, DIGITS_AE, idec=idec, optimizer="adam", lr=1e-3, batch_size=64)
    start, end, state = digits_head(dec, cfg)
    assert bool(state.done)
    assert end >= start + 0.03 and end >= 0.77
