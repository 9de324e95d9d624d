"""Deformed MNIST: identity at zero ranges, labels follow the sources, rows independent of
batching, and an interrupted generation resumed to the same file."""
import jax
import numpy as np
import pytest

from jaxclust import data, deformed
from jaxclust.deformed import Deformation


def _sources():
    """Ten constant 'digits' (value 20·c inside a centred 16×16 square), one per class."""
    images = np.zeros((10, 28, 28), np.uint8)
    for c in range(10):
        images[c, 6:22, 6:22] = 20 * c
    return images.reshape(10, -1), np.arange(10)


def test_zero_ranges_are_the_identity():
    image = np.random.default_rng(0).random((28, 28)).astype(np.float32)
    none = Deformation(alpha=0.0, rotation=0.0, scale=0.0, shear=0.0, shift=0.0)
    out = deformed.deform(jax.random.key(3), image, none)
    np.testing.assert_allclose(out, image, atol=1e-5)
    moved = deformed.deform(jax.random.key(3), image)
    assert float(np.abs(np.asarray(moved) - image).mean()) > 0.05


def test_labels_follow_the_source_images_and_rows_do_not_depend_on_batching(tmp_path):
    images, labels = _sources()
    key = jax.random.key(0)
    x, y = deformed.rows(key, 0, 40, images, labels)
    assert x.dtype == np.uint8 and x.shape == (40, 784) and y.dtype == np.int64
    assert np.unique(y).size > 5
    np.testing.assert_array_equal(x[:, 14 * 28 + 14], 20 * y)  # the centre keeps its value
    x2, y2 = deformed.rows(key, 25, 10, images, labels)
    np.testing.assert_array_equal(x2, x[25:35])
    np.testing.assert_array_equal(y2, y[25:35])
    a, _ = deformed.generate(tmp_path / "a.npy", 40, _sources, batch=7)
    np.testing.assert_array_equal(a, x)


def test_an_interrupted_generation_resumes_to_the_same_rows(tmp_path):
    path = tmp_path / "d.npy"

    def stop_after_two(done, n):
        if done == 14:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        deformed.generate(path, 30, _sources, batch=7, progress=stop_after_two)
    calls = []
    x, y = deformed.generate(path, 30, _sources, batch=7,
                             progress=lambda done, n: calls.append(done))
    assert calls == [21, 28, 30]  # the two finished batches are kept
    ref_x, ref_y = deformed.rows(jax.random.key(0), 0, 30, *_sources())
    np.testing.assert_array_equal(x, ref_x)
    np.testing.assert_array_equal(y, ref_y)
    again = deformed.generate(path, 30, lambda: pytest.fail("sources read for a complete file"))
    np.testing.assert_array_equal(again[0], ref_x)


def test_load_names_the_size_and_needs_mnist(tmp_path, monkeypatch):
    monkeypatch.setenv("JAXCLUST_CACHE", str(tmp_path))
    for bad in ("mnist8m:", "mnist8m:-3", "mnist8m:1e6"):
        with pytest.raises(ValueError, match="must be a positive integer"):
            data.load(bad)
    with pytest.raises(FileNotFoundError):
        data.load("mnist8m:10", data_dir=tmp_path)


@pytest.mark.data
def test_deformed_mnist_from_the_raw_files(data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("JAXCLUST_CACHE", str(tmp_path))
    x, y = data.load("mnist8m:300", data_dir=data_dir)
    assert x.shape == (300, 784) and x.dtype == np.float32 and 0 <= x.min() < x.max() <= 1
    assert (tmp_path / "mnist8m_300.npy").exists() and np.bincount(y, minlength=10).min() > 10
    mnist, labels = data.load("mnist", data_dir=data_dir)
    # still digits of their class: the nearest original has the row's label (measured .74)
    d2 = (x**2).sum(1)[:, None] - 2 * x @ mnist.T + (mnist**2).sum(1)[None]
    assert (labels[d2.argmin(1)] == y).mean() > 0.6
