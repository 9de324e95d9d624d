"""Streaming rows from disk: reads equal numpy's, batches cover each pass once, block
passes equal the in-memory function, training on streamed batches equals training on the
same batches in memory, and reading does not keep the file in the process."""
import threading
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxclust import stream, train


@pytest.fixture()
def u8(tmp_path):
    x = np.random.default_rng(0).integers(0, 256, (1000, 12), dtype=np.uint8)
    np.save(tmp_path / "x.npy", x)
    return x, stream.NpyRows(tmp_path / "x.npy")


def test_rows_read_as_numpy_does(u8, tmp_path):
    x, rows = u8
    assert rows.shape == x.shape and rows.dtype == np.uint8 and len(rows) == 1000
    np.testing.assert_array_equal(rows[10:437], x[10:437])
    np.testing.assert_array_equal(rows[990:2000], x[990:])
    idx = np.array([5, 6, 7, 3, 999, 0, 0, 500, 501])  # runs, reversals, repeats
    np.testing.assert_array_equal(rows.take(idx), x[idx])
    f = np.random.default_rng(1).normal(size=(50, 3)).astype(np.float32)
    np.save(tmp_path / "f.npy", f)
    np.testing.assert_array_equal(stream.NpyRows(tmp_path / "f.npy").take([49, 2]), f[[49, 2]])
    with pytest.raises(IndexError, match=r"in \[0, 1000\)"):
        rows.take([1000])
    with pytest.raises(TypeError, match="contiguous slices"):
        rows[::2]
    cut = tmp_path / "cut.npy"
    cut.write_bytes((tmp_path / "x.npy").read_bytes()[:-100])  # a truncated copy
    with pytest.raises(OSError, match="ends before row 1000"):
        stream.NpyRows(cut)[990:]
    np.save(tmp_path / "c.npy", np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="2-d C-order"):
        stream.NpyRows(tmp_path / "c.npy")
    np.save(tmp_path / "fo.npy", np.asfortranarray(np.zeros((4, 3))))
    with pytest.raises(ValueError, match="Fortran"):
        stream.NpyRows(tmp_path / "fo.npy")


def test_shuffled_indices_cover_each_pass_once_and_follow_the_seed():
    batches = [b[0] for b in stream.shuffled_indices(103, seed=3, batch_size=10, n_steps=25)]
    assert len(batches) == 25 and all(b.shape == (10,) for b in batches)
    first_pass = np.concatenate(batches[:10])
    assert np.unique(first_pass).size == 100  # 10 batches of one permutation, 3 dropped
    again = [b[0] for b in stream.shuffled_indices(103, seed=3, batch_size=10, n_steps=25)]
    assert all(np.array_equal(a, b) for a, b in zip(batches, again))
    other = next(stream.shuffled_indices(103, seed=4, batch_size=10, n_steps=1))
    assert not np.array_equal(other[0], batches[0])
    # groups of 4 batches read in runs of 5 rows: a pass is whole runs, each row once
    groups = list(stream.shuffled_indices(103, seed=0, batch_size=10, n_steps=12, group=4,
                                          chunk=5))
    assert [g.shape for g in groups] == [(4, 10), (4, 10), (2, 10), (2, 10)]  # 10 per pass
    one_pass = np.concatenate([g.reshape(-1) for g in groups[:3]])
    assert np.unique(one_pass).size == 100 and np.unique(one_pass // 5).size == 20
    with pytest.raises(ValueError, match="batch_size"):
        next(stream.shuffled_indices(5, 0, 6, 1))
    with pytest.raises(ValueError, match="multiple of chunk"):
        next(stream.shuffled_indices(100, 0, 10, 1, group=1, chunk=3))


def test_map_blocks_equals_the_function_on_all_rows(u8):
    x, rows = u8
    fn = jax.jit(lambda xb: {"s": jnp.sum(stream.as_float(xb), axis=1),
                             "z": stream.as_float(xb)[:, :2] * 2.0})
    out = stream.map_blocks(fn, rows, block=128)  # 1000 = 7 × 128 + 104 (padded block)
    full = fn(jnp.asarray(x))
    np.testing.assert_allclose(out["s"], np.asarray(full["s"]), rtol=1e-6)
    np.testing.assert_array_equal(out["z"], np.asarray(full["z"]))
    assert out["s"].shape == (1000,)
    np.testing.assert_allclose(np.asarray(stream.as_float(jnp.asarray(x[:3]))),
                               x[:3] / np.float32(255.0), rtol=2e-7)


def test_training_on_streamed_batches_equals_training_in_memory(u8):
    x, rows = u8
    cfg = train.AEConfig(hidden=(8,), latent=2, batch_size=32, epochs=1)
    step = jax.jit(lambda s, b: train.ae_train_step(cfg, 12, s, stream.as_float(b)))
    streamed = memory = train.ae_init(jax.random.key(0), jnp.zeros((1, 12)), cfg)
    for idx, xb in stream.shuffled_batches(rows, seed=1, batch_size=32, n_steps=40):
        streamed, _ = step(streamed, xb)
        memory, _ = step(memory, jnp.asarray(x[idx]))
    jax.tree.map(np.testing.assert_array_equal, streamed.variables, memory.variables)
    assert int(streamed.step) == 40
    # grouped batches through a scan of the same step: the same as the batches one by one
    scan = jax.jit(lambda s, g: jax.lax.scan(lambda c, b: step(c, b), s, g))
    grouped = single = train.ae_init(jax.random.key(0), jnp.zeros((1, 12)), cfg)
    for idx, xg in stream.shuffled_batches(rows, seed=2, batch_size=32, n_steps=20, group=8,
                                           chunk=4):
        assert xg.shape == (*idx.shape, 12)
        grouped, _ = scan(grouped, xg)
        for i in idx:
            single, _ = step(single, jnp.asarray(x[i]))
    jax.tree.map(np.testing.assert_allclose, grouped.variables, single.variables)
    assert int(grouped.step) == 20


def test_prefetch_hands_over_the_producers_error_and_stops_when_left_early():
    def broken():
        yield 1
        raise RuntimeError("disk gone")

    with pytest.raises(RuntimeError, match="disk gone"):
        list(stream.prefetch(broken()))
    produced = []

    def endless():
        i = 0
        while True:
            produced.append(i)
            yield i
            i += 1

    before = threading.active_count()
    for item in stream.prefetch(endless(), ahead=2):
        if item == 5:
            break
    assert threading.active_count() == before and len(produced) < 20


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")
def test_a_block_pass_does_not_keep_the_file_in_the_process(tmp_path):
    n, d = 320_000, 784  # 250 MB of uint8
    np.lib.format.open_memmap(tmp_path / "big.npy", "w+", np.uint8, (n, d))[:] = 7
    rows = stream.NpyRows(tmp_path / "big.npy")
    fn = jax.jit(lambda xb: jnp.sum(stream.as_float(xb), axis=1))
    stream.map_blocks(fn, rows, block=8192)  # compile, warm up

    def hwm():
        return int(next(line for line in Path("/proc/self/status").read_text().splitlines()
                        if line.startswith("VmHWM")).split()[1]) * 1024

    Path("/proc/self/clear_refs").write_text("5")  # reset the high-water mark
    base = hwm()
    out = stream.map_blocks(fn, rows, block=8192)
    assert out.shape == (n,) and np.allclose(out, d * 7 / 255.0)
    assert hwm() - base < 80e6  # a memory map holds all 250 MB (measured: +300 MB)
