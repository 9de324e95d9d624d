import os

import numpy as np
import pytest

from jaxclust import data


def test_digits():
    x, y = data.load("digits")
    assert x.shape == (1797, 64) and x.dtype == np.float32
    assert x.min() == 0.0 and x.max() == 1.0
    assert set(np.unique(y)) == set(range(10))


def test_synthetic_recipe_and_determinism():
    x, y = data.load("synthetic", n=400, k=4, seed=3)
    assert x.shape == (400, 100) and x.dtype == np.float32
    assert np.bincount(y).tolist() == [100] * 4
    # x = sigmoid(.)**2 lies in (0, 1).
    assert x.min() >= 0.0 and x.max() <= 1.0
    x2, y2 = data.load("synthetic", n=400, k=4, seed=3)
    np.testing.assert_array_equal(x, x2)
    assert not np.array_equal(x, data.load("synthetic", n=400, k=4, seed=4)[0])


def test_synthetic_is_the_sigmoid_square_of_a_rank2_map():
    # sqrt(x) = sigmoid(W v) so logit(sqrt(x)) = W v has rank 2.
    x, _ = data.load("synthetic", n=300, k=4, seed=0)
    s = np.sqrt(x.astype(np.float64)).clip(1e-6, 1 - 1e-6)
    logits = np.log(s / (1 - s))
    sv = np.linalg.svd(logits[np.abs(logits).max(axis=1) < 10], compute_uv=False)
    assert sv[2] / sv[0] < 1e-3


def test_subset_is_deterministic_and_sized():
    x, y = data.load("digits", subset=100, seed=1)
    x2, y2 = data.load("digits", subset=100, seed=1)
    assert x.shape == (100, 64)
    np.testing.assert_array_equal(y, y2)
    with pytest.raises(ValueError, match="subset must be in"):
        data.load("digits", subset=5000)



def test_imbalanced_keeps_each_class_with_its_probability():
    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(10), 20_000)
    x = rng.normal(size=(y.size, 2)).astype(np.float32)
    xs, ys = data.imbalanced(x, y, 0.1, seed=3)
    kept = np.bincount(ys, minlength=10) / 20_000
    np.testing.assert_allclose(kept, 0.1 + 0.9 * np.arange(10) / 9, atol=0.01)
    assert kept[9] == 1.0 and xs.shape == (ys.size, 2)
    np.testing.assert_array_equal(data.imbalanced(x, y, 0.1, seed=3)[1], ys)  # deterministic
    x2, y2 = data.load("digits", r_min=0.5)
    assert np.bincount(y2)[0] < np.bincount(y2)[9] == np.bincount(data.load("digits")[1])[9]
    with pytest.raises(ValueError, match="r_min"):
        data.imbalanced(x, y, 0.0)
    with pytest.raises(ValueError, match="2 classes"):
        data.imbalanced(x[:5], np.zeros(5, int), 0.5)

def test_user_files(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.random((20, 3))
    y = rng.integers(0, 2, 20)
    np.save(tmp_path / "a.npy", x)
    np.savez(tmp_path / "b.npz", x=x, y=y)
    header = "f1,label,f2,f3"
    table = np.column_stack([x[:, 0], y, x[:, 1], x[:, 2]])
    np.savetxt(tmp_path / "c.csv", table, delimiter=",", header=header, comments="")
    xa, ya = data.load(str(tmp_path / "a.npy"))
    assert ya is None and np.allclose(xa, x)
    xb, yb = data.load(str(tmp_path / "b.npz"))
    assert np.array_equal(yb, y)
    xc, yc = data.load(str(tmp_path / "c.csv"), label_column="label")
    assert xc.shape == (20, 3) and np.array_equal(yc, y) and np.allclose(xc, x)


def test_pickled_npy_is_refused(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="pickle"):
        data.load(str(tmp_path / "obj.npy"))


def test_unknown_name_and_missing_files(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="unknown data set 'nope'"):
        data.load("nope")
    with pytest.raises(FileNotFoundError, match=r"train-images-idx3-ubyte.gz not found in"):
        data.load("mnist", data_dir=tmp_path)
    monkeypatch.delenv("JAXCLUST_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="JAXCLUST_DATA"):
        data.load("usps")


def test_tfds_missing_is_a_clear_error():
    try:
        import tensorflow_datasets  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match=r"jaxclust\[tfds\]"):
            data.load("mnist", source="tfds")
    else:
        pytest.skip("tensorflow-datasets installed")


MNIST_COUNTS = [6903, 7877, 6990, 7141, 6824, 6313, 6876, 7293, 6825, 6958]
USPS_COUNTS = [1553, 1269, 929, 824, 852, 716, 834, 792, 708, 821]


@pytest.mark.data
@pytest.mark.parametrize("name,shape,counts", [
    ("mnist", (70000, 784), MNIST_COUNTS),
    ("fashion_mnist", (70000, 784), [7000] * 10),
    ("usps", (9298, 256), USPS_COUNTS),
])
def test_raw_image_sets(data_dir, name, shape, counts):
    x, y = data.load(name, data_dir=data_dir)
    assert x.shape == shape and x.dtype == np.float32
    assert x.min() == 0.0 and x.max() == 1.0
    assert np.bincount(y).tolist() == counts


@pytest.mark.data
@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_tfds_prepared_sets_hold_the_raw_files_pairs(data_dir, name):
    """A folder prepared by tensorflow-datasets (README, 'tfds'; ``$JAXCLUST_TFDS_DIR``) read
    by ``source="tfds"``: the same (image, label) pairs as the raw files, in tfds's order."""
    pytest.importorskip("tensorflow_datasets")
    tfds_dir = os.environ.get("JAXCLUST_TFDS_DIR")
    if not tfds_dir:
        pytest.skip("JAXCLUST_TFDS_DIR (a prepared tensorflow-datasets folder) not set")
    xt, yt = data.load(name, source="tfds", data_dir=tfds_dir)
    xr, yr = data.load(name, data_dir=data_dir)

    def pairs(x, y):
        return sorted(zip(map(bytes, np.rint(x * 255).astype(np.uint8)), y.tolist()))

    assert xt.shape == xr.shape and pairs(xt, yt) == pairs(xr, yr)


@pytest.mark.data
def test_20news(data_dir):
    x, y = data.load("20news", data_dir=data_dir)
    assert x.shape == (18834, 2000) and x.dtype == np.float32  # 12 empty messages dropped
    assert len(np.unique(y)) == 20
    assert np.allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-4)
    headers, bodies, groups = data.read_20news(data_dir)
    assert len(headers) == len(bodies) == groups.size == 18846
    assert np.bincount(groups).min() > 0 and groups.max() == 19
    # the body alone: 52 messages keep no word (12 once their Subject line is added)
    xb, yb = data.load("20news-body", data_dir=data_dir)
    assert xb.shape == (18794, 2000) and len(np.unique(yb)) == 20
    assert np.allclose(np.linalg.norm(xb, axis=1), 1.0, atol=1e-4)


def test_tfidf_masks_empty_texts_and_weights_terms():
    texts = ["moon moon moon orbit", "orbit tides", "the and of", "moon tides tides"]
    for sublinear in (False, True):
        x, keep = data.tfidf(texts, n_words=3, sublinear_tf=sublinear)
        assert x.shape == (4, 3) and x.dtype == np.float32
        assert keep.tolist() == [True, True, False, True]  # stop words only: no kept word
        assert np.allclose(np.linalg.norm(x[keep], axis=1), 1.0) and not x[~keep].any()
    # vocabulary sorted: moon, orbit, tides; the first text's moon/orbit weight ratio is its
    # tf ratio times the idf ratio (equal idf: both words in two texts)
    raw, _ = data.tfidf(texts, n_words=3, sublinear_tf=False)
    sub, _ = data.tfidf(texts, n_words=3, sublinear_tf=True)
    assert np.isclose(raw[0, 0] / raw[0, 1], 3.0)
    assert np.isclose(sub[0, 0] / sub[0, 1], 1 + np.log(3))


def test_value_range_maps_zero_one_linearly_and_refuses_other_data(tmp_path):
    x, _ = data.load("digits")
    lo_hi, _ = data.load("digits", value_range=(-1, 1))
    np.testing.assert_allclose(lo_hi, 2 * x - 1, atol=1e-6)
    with pytest.raises(ValueError, match="lo < hi"):
        data.load("digits", value_range=(1, -1))
    np.save(tmp_path / "big.npy", np.full((5, 2), 3.0, np.float32))
    with pytest.raises(ValueError, match=r"maps values in \[0, 1\]"):
        data.load(str(tmp_path / "big.npy"), value_range=(-1, 1))


def test_csv_as_pandas_writes_it_and_bad_cells_named(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.random((6, 3)).round(4)
    rows = [",".join(map(str, r)) for r in x]
    # DataFrame(x).to_csv(index=False): a header 0,1,2 that is not a sample
    (tmp_path / "noindex.csv").write_text("0,1,2\n" + "\n".join(rows) + "\n")
    # DataFrame(x).to_csv(): the index is a column with an empty header, not a feature
    (tmp_path / "index.csv").write_text(
        ",0,1,2\n" + "\n".join(f"{i},{r}" for i, r in enumerate(rows)) + "\n")
    # semicolons, string labels
    names = ["cat", "dog", "cat", "eel", "dog", "cat"]
    (tmp_path / "semi.csv").write_text(
        "a;b;kind;c\n" + "\n".join(f"{r[0]};{r[1]};{n};{r[2]}" for r, n in zip(x, names)) + "\n")
    for name in ("noindex.csv", "index.csv"):
        got, _ = data.load(str(tmp_path / name))
        np.testing.assert_allclose(got, x)
    got, y = data.load(str(tmp_path / "semi.csv"), label_column="kind")
    np.testing.assert_allclose(got, x)
    np.testing.assert_array_equal(y, [0, 1, 0, 2, 1, 0])
    (tmp_path / "text.csv").write_text("a,b\n1,2\n3,five\n")
    with pytest.raises(ValueError, match=r"row 3, column 2: 'five' is not a number"):
        data.load(str(tmp_path / "text.csv"))
    (tmp_path / "ragged.csv").write_text("1,2\n3\n")
    with pytest.raises(ValueError, match="row 2 has 1 fields"):
        data.load(str(tmp_path / "ragged.csv"))


def test_sparse_input_is_refused_by_name():
    from scipy import sparse

    from jaxclust.validation import check_data

    with pytest.raises(TypeError, match=r"sparse input is not supported: pass x.toarray\(\)"):
        check_data(sparse.random(5, 4, density=0.5, format="csr"))


class _FakeTfds:
    """The slice of tensorflow-datasets that ``source="tfds"`` uses; any download fails."""

    def __init__(self, prepared: bool, rows: list[dict]):
        self.prepared, self.rows = prepared, rows

    def builder(self, name, data_dir=None):
        fake, folder = self, f"{data_dir}/{name}/3.0.1"

        class Builder:
            data_dir = folder
            info = type("Info", (), {"file_format": type("F", (), {"value": "array_record"})})

            def is_prepared(self):
                return fake.prepared

            def as_data_source(self, split):
                return fake.rows[:2] if split == "train" else fake.rows[2:]

            def download_and_prepare(self, *args, **kwargs):
                raise AssertionError("jaxclust must never download")

        return Builder()


def test_tfds_source_never_downloads_and_reads_array_record(monkeypatch, tmp_path, capsys):
    import sys

    from jaxclust import cli

    rng = np.random.default_rng(0)
    rows = [{"image": rng.integers(0, 256, (28, 28, 1), dtype=np.uint8), "label": i % 10}
            for i in range(3)]
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", _FakeTfds(False, rows))
    with pytest.raises(FileNotFoundError, match="never downloads.*tfds build mnist"):
        data.load("mnist", source="tfds", data_dir=str(tmp_path))
    assert cli.main(["fit", "kmeans", "--dataset", "mnist", "--source", "tfds",
                     "--data-dir", str(tmp_path), "--no-plot", "--out", str(tmp_path)]) == 2
    assert "never downloads" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", _FakeTfds(True, rows))
    x, y = data.load("fashion_mnist", source="tfds", data_dir=str(tmp_path))
    assert x.shape == (3, 784) and x.dtype == np.float32
    np.testing.assert_allclose(x[2], rows[2]["image"].ravel() / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y, [0, 1, 2])
    with pytest.raises(ValueError, match="supports mnist and fashion_mnist"):
        data.load("usps", source="tfds")
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)  # not installed
    with pytest.raises(ImportError, match=r"pip install 'jaxclust\[tfds\]'"):
        data.load("mnist", source="tfds")
