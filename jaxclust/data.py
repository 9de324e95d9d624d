"""Data sets: ``load(name)`` → ``(x, y)`` with ``x`` float32 ``(n, d)`` and ``y`` int64 ``(n,)``.

Built in: ``digits`` (ships with scikit-learn) and ``synthetic`` (generated). Read from raw
files in a data directory (argument ``data_dir``, else ``$JAXCLUST_DATA``), laid out as::

    <data_dir>/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz
    <data_dir>/fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz
    <data_dir>/usps/usps.h5
    <data_dir>/20newsgroups/20news-bydate.tar.gz

``mnist8m:N`` is N deformed MNIST digits (:mod:`jaxclust.deformed`, generated from the raw
MNIST files once, deterministically, and kept as a uint8 ``.npy`` under ``$JAXCLUST_CACHE``,
else ``~/.cache/jaxclust``). Any other ``name`` that is a path to a ``.npy``, ``.npz``
(arrays ``x``, optional ``y``) or ``.csv`` file loads that file. Nothing is downloaded, and
no file is ever unpickled.
"""
from __future__ import annotations

import gzip
import os
import tarfile
from functools import partial
from pathlib import Path

import numpy as np

from jaxclust.validation import check_data, check_labels, check_n_clusters

BUILTIN = ("digits", "synthetic")
RAW = ("mnist", "fashion_mnist", "usps", "20news", "20news-body")
NAMES = BUILTIN + RAW
DEFORMED = "mnist8m:"
_FOLDERS = {"mnist": "mnist", "fashion_mnist": "fashion-mnist", "usps": "usps",
            "20news": "20newsgroups", "20news-body": "20newsgroups"}
_MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


def load(
    name: str,
    data_dir: str | os.PathLike | None = None,
    subset: int | None = None,
    *,
    seed: int = 0,
    source: str = "raw",
    n: int = 10_000,
    k: int = 4,
    label_column: str | None = None,
    r_min: float | None = None,
    value_range: tuple[float, float] | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Load a data set by name or from a user file.

    Args:
      name: one of ``digits``, ``synthetic``, ``mnist``, ``fashion_mnist``, ``usps``,
        ``20news`` (tf-idf of each message's Subject line and body), ``20news-body`` (of
        its body alone), ``mnist8m:N`` (N deformed MNIST digits), or a path to a
        ``.npy``/``.npz``/``.csv`` file.
      data_dir: folder holding the raw files (see the module docstring); defaults to
        ``$JAXCLUST_DATA``. Unused by the built-in sets.
      subset: keep this many samples, drawn at random without replacement with ``seed``.
      seed: seed of the subset draw and of the ``synthetic`` generator.
      source: ``"raw"`` (read the files) or ``"tfds"`` (tensorflow-datasets, optional;
        ``mnist`` and ``fashion_mnist`` only, prepared beforehand: nothing is downloaded;
        ``data_dir`` is then tfds's folder).
      n, k: size and number of clusters of ``synthetic``.
      label_column: for ``.csv`` files, the header name of the label column, if any.
      r_min: make the set imbalanced with :func:`imbalanced` (after ``subset``, same
        ``seed``).
      value_range: ``(lo, hi)``: map values in [0, 1] linearly onto [lo, hi] — e.g.
        ``(-1, 1)``, USPS's original range, which the Keras methods' loaders keep.

    Returns:
      ``x`` float32 ``(n, d)``; ``y`` int64 ``(n,)``, or ``None`` for a user file without
      labels.
    """
    if source not in ("raw", "tfds"):
        raise ValueError(f"source must be 'raw' or 'tfds', got {source!r}")
    if source == "tfds":
        x, y = _load_tfds(name, data_dir)
    elif name == "digits":
        x, y = _load_digits()
    elif name == "synthetic":
        x, y = make_synthetic(n=n, k=k, seed=seed)
    elif name.startswith(DEFORMED):
        count = name[len(DEFORMED):].replace("_", "")
        if not count.isdigit() or int(count) < 1:
            raise ValueError(f"{name!r}: the size after {DEFORMED!r} must be a positive "
                             "integer, e.g. mnist8m:1000000")
        x, y = deformed_mnist(int(count), data_dir)
        x = x.astype(np.float32) / 255.0
    elif name in RAW:
        folder = _resolve_dir(name, data_dir)
        x, y = {"mnist": _load_idx_pair, "fashion_mnist": _load_idx_pair,
                "usps": _load_usps, "20news": _load_20news,
                "20news-body": partial(_load_20news, subject=False)}[name](folder)
    elif Path(name).suffix.lower() in (".npy", ".npz", ".csv"):
        x, y = _load_user_file(Path(name), label_column)
    else:
        raise ValueError(
            f"unknown data set {name!r}: use one of {', '.join(NAMES)} "
            "or a path to a .npy, .npz or .csv file"
        )
    x = check_data(x)
    if y is not None:
        y = check_labels(y, n_samples=x.shape[0])
    if subset is not None:
        if not 1 <= subset <= x.shape[0]:
            raise ValueError(f"subset must be in [1, {x.shape[0]}], got {subset}")
        idx = np.sort(np.random.default_rng(seed).choice(x.shape[0], subset, replace=False))
        x = x[idx]
        y = None if y is None else y[idx]
    if r_min is not None:
        if y is None:
            raise ValueError("r_min needs labels: this data set has none")
        x, y = imbalanced(x, y, r_min, seed)
    if value_range is not None:
        lo, hi = map(float, value_range)
        if not lo < hi:
            raise ValueError(f"value_range must be (lo, hi) with lo < hi, got {value_range}")
        if x.min() < 0 or x.max() > 1:
            raise ValueError(f"value_range maps values in [0, 1], but {name} spans "
                             f"[{x.min():.4g}, {x.max():.4g}]")
        x = (lo + (hi - lo) * x).astype(np.float32)
    return x, y


def imbalanced(x: np.ndarray, y: np.ndarray, r_min: float, seed: int = 0):
    """Subsample ``(x, y)`` into uneven clusters, as DEC's imbalanced-MNIST experiment.

    The c-th smallest of the C classes keeps each of its points with probability
    ``r_min + (1 - r_min) * c / (C - 1)``: the first class about ``r_min`` of its points,
    the last all of them. Args: ``x`` ``(n, d)``, ``y`` ``(n,)``, ``r_min`` in (0, 1],
    ``seed`` of the draw. Returns the kept rows ``(m, d)``, ``(m,)`` in their order.
    """
    x = check_data(x)
    y = check_labels(y, n_samples=x.shape[0])
    if not 0.0 < r_min <= 1.0:
        raise ValueError(f"r_min must be in (0, 1], got {r_min}")
    classes, index = np.unique(y, return_inverse=True)
    if classes.size < 2:
        raise ValueError("imbalanced needs at least 2 classes in y")
    keep_prob = r_min + (1.0 - r_min) * np.arange(classes.size) / (classes.size - 1)
    keep = np.random.default_rng(seed).random(x.shape[0]) < keep_prob[index]
    return x[keep], y[keep]


def make_synthetic(n: int = 10_000, k: int = 4, d: int = 100, seed: int = 0,
                   spacing: float = 8.0, noise: float = 1.2):
    """The DAMIC/DCN synthetic set: ``x = sigmoid(W v)**2`` with ``v`` from k 2-D clusters.

    Cluster centres lie on a square grid with ``spacing`` (for k = 4:
    ``8 * {(0,0), (1,0), (0,1), (1,1)}``), ``v`` = centre + N(0, noise²) noise,
    ``W`` ∈ R^{d×2} with N(0, 1) entries; one ``seed`` draws W and the noise.
    Returns ``x`` float32 ``(n, d)``, ``y`` int64 ``(n,)`` (``n // k`` points per cluster,
    the first ``n % k`` clusters one more).
    """
    check_n_clusters(k, n)
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(k)))
    centres = spacing * np.array([(i % side, i // side) for i in range(k)], dtype=np.float64)
    y = np.arange(n) % k
    y.sort()
    v = centres[y] + noise * rng.standard_normal((n, 2))
    w = rng.standard_normal((d, 2))
    x = (1.0 / (1.0 + np.exp(-v @ w.T))) ** 2
    return x.astype(np.float32), y.astype(np.int64)


def _load_digits():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return (bunch.data / 16.0).astype(np.float32), bunch.target.astype(np.int64)


def _resolve_dir(name: str, data_dir) -> Path:
    root = data_dir if data_dir is not None else os.environ.get("JAXCLUST_DATA")
    if root is None:
        raise FileNotFoundError(
            f"no data directory for {name!r}: pass data_dir=... (CLI: --data-dir) or set "
            f"JAXCLUST_DATA to a folder holding {_FOLDERS[name]}/ with the raw files"
        )
    root = Path(root).expanduser()
    # Accept either the root (holding mnist/, usps/, ...) or the data set's own folder.
    folder = root / _FOLDERS[name]
    return folder if folder.is_dir() else root


def _require(folder: Path, filename: str, name: str) -> Path:
    path = folder / filename
    if not path.is_file():
        raise FileNotFoundError(
            f"{name} file {filename} not found in {folder}: put the raw file there "
            f"(layout: <data_dir>/{_FOLDERS[name]}/{filename}) or point data_dir / "
            "JAXCLUST_DATA at the folder that holds it"
        )
    return path


def _read_idx(path: Path) -> np.ndarray:
    """Read one gzipped IDX file (unsigned bytes) into an array of its stored shape."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if raw[:2] != b"\x00\x00" or raw[2] != 0x08:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _load_idx_pair(folder: Path):
    """MNIST / Fashion-MNIST: train + test (70 000), pixels / 255, flattened to 784."""
    name = "fashion_mnist" if "fashion" in folder.name else "mnist"
    arrays = [_read_idx(_require(folder, f, name)) for f in _MNIST_FILES]
    x = np.concatenate([arrays[0], arrays[2]]).reshape(-1, 784)
    y = np.concatenate([arrays[1], arrays[3]]).astype(np.int64)
    return x.astype(np.float32) / np.float32(255.0), y


def _load_usps(folder: Path):
    """USPS: train + test (9 298 × 256), values in [0, 1]."""
    import h5py

    with h5py.File(_require(folder, "usps.h5", "usps"), "r") as f:
        x = np.concatenate([f["train/data"][:], f["test/data"][:]])
        y = np.concatenate([f["train/target"][:], f["test/target"][:]])
    return np.clip(x, 0.0, 1.0).astype(np.float32), y.astype(np.int64)


def read_20news(data_dir: str | os.PathLike | None = None):
    """20 Newsgroups bydate (train + test, 18 846 messages) as text, decoded as latin-1 (as
    scikit-learn does) and split at the first blank line: ``(headers, bodies, y)``, two
    lists of str and the groups int64 ``(n,)`` (the 20 groups in sorted order)."""
    path = _require(_resolve_dir("20news", data_dir), "20news-bydate.tar.gz", "20news")
    headers, bodies, groups = [], [], []
    with tarfile.open(path, "r:gz") as tar:
        for member in tar:
            parts = member.name.split("/")
            if member.isfile() and len(parts) == 3:
                header, _, body = tar.extractfile(member).read().decode("latin-1").partition(
                    "\n\n")
                headers.append(header)
                bodies.append(body)
                groups.append(parts[1])
    _, y = np.unique(np.array(groups), return_inverse=True)
    return headers, bodies, y.astype(np.int64)


def tfidf(texts, n_words: int = 2000, sublinear_tf: bool = True):
    """tf-idf of the ``n_words`` most frequent terms, English stop words removed, rows
    L2-normalised: float32 ``(n, n_words)`` dense, and the boolean mask ``(n,)`` of the texts
    that kept a word (an all-zero row sits at distance 1 from every document and turns into a
    hub of nearest-neighbour graphs, so callers drop the others)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    x = TfidfVectorizer(max_features=n_words, stop_words="english", sublinear_tf=sublinear_tf,
                        dtype=np.float32).fit_transform(texts)
    keep = x.getnnz(axis=1) > 0
    return x.toarray(), keep


def _load_20news(folder: Path, n_words: int = 2000, subject: bool = True):
    """20 Newsgroups (:func:`read_20news`): :func:`tfidf` with sublinear tf (1 + log tf) of
    each message's Subject line (``subject``) and body, the other header lines (From,
    Organization, Lines, …) dropped; the messages left with none of the kept words are
    dropped (12 with the Subject line, 52 without). experiments/tuning/news20/ compares
    these with whole messages and raw tf.
    """
    headers, bodies, y = read_20news(folder)
    if subject:
        bodies = ["\n".join([line[len("Subject:"):] for line in header.splitlines()
                             if line.startswith("Subject:")] + [body])
                  for header, body in zip(headers, bodies)]
    x, keep = tfidf(bodies, n_words)
    return x[keep], y[keep]


def _load_user_file(path: Path, label_column: str | None):
    if not path.is_file():
        raise FileNotFoundError(f"data file {path} not found")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return np.load(path, allow_pickle=False), None
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            if "x" not in archive:
                raise ValueError(f"{path} has no array named 'x' (found: {list(archive)})")
            return archive["x"], (archive["y"] if "y" in archive else None)
    return _read_csv(path, label_column)


def _read_csv(path: Path, label_column: str | None):
    """A delimited text file (``,``, ``;`` or tab, detected): rows of numbers, an optional
    header row (detected when a cell is not a number, or when it reads ``0, 1, …, d−1`` as
    pandas writes a frame's default column names); a first column with an empty header is
    pandas's index and is dropped. Labels (``label_column``) may be numbers or strings
    (strings are numbered in sorted order)."""
    import csv

    with open(path, encoding="utf-8", newline="") as f:
        text = f.read()
    try:
        delimiter = csv.Sniffer().sniff(text[:65536], delimiters=",;\t").delimiter
    except csv.Error:
        delimiter = ","
    rows = [r for r in csv.reader(text.splitlines(), delimiter=delimiter) if r]
    if not rows:
        raise ValueError(f"{path} is empty")
    first = [c.strip() for c in rows[0]]
    counting = [str(i) for i in range(len(first))]
    has_header = (any(not _is_number(c) for c in first if c)
                  or first in (counting, ["", *counting[:-1]]))
    header, body = (first, rows[1:]) if has_header else (None, rows)
    if not body:
        raise ValueError(f"{path} has a header but no rows")
    width = len(rows[0])
    for i, r in enumerate(body):
        if len(r) != width:
            raise ValueError(f"{path}: row {i + 1 + has_header} has {len(r)} fields, the first "
                             f"row {width} (delimiter {delimiter!r})")
    cols = list(range(width))
    if header is not None and header[0] == "":
        cols = cols[1:]  # pandas's index column
    y = None
    if label_column is not None:
        if header is None or label_column not in header:
            raise ValueError(f"label column {label_column!r} not in the header of {path}: "
                             f"{header}")
        col = header.index(label_column)
        cols.remove(col)
        raw = [r[col].strip() for r in body]
        y = (np.array(raw, dtype=np.float64) if all(_is_number(v) for v in raw)
             else np.unique(raw, return_inverse=True)[1])
    cells = np.char.strip(np.array(body, dtype=str)[:, cols])
    cells[cells == ""] = "nan"  # an empty cell is a missing value
    try:
        return cells.astype(np.float64), y
    except ValueError:
        i, j = next((i, j) for i, j in np.ndindex(cells.shape) if not _is_number(cells[i, j]))
        raise ValueError(f"{path}: row {i + 1 + has_header}, column {cols[j] + 1}: "
                         f"{str(cells[i, j])!r} is not a number") from None


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def deformed_path(n: int) -> Path:
    """Where ``mnist8m:n`` is kept: ``$JAXCLUST_CACHE``, else ``~/.cache/jaxclust``."""
    root = os.environ.get("JAXCLUST_CACHE") or Path.home() / ".cache" / "jaxclust"
    return Path(root) / f"mnist8m_{n}.npy"


def deformed_mnist(n: int, data_dir=None) -> tuple[np.ndarray, np.ndarray]:
    """``mnist8m:n``, memory-mapped read-only: uint8 ``(n, 784)`` and int64 ``(n,)``;
    generated on first use from the raw MNIST files in ``data_dir`` (seed 0,
    :func:`jaxclust.deformed.generate`) and kept at :func:`deformed_path`."""
    from jaxclust import deformed

    def sources():
        x, y = _load_idx_pair(_resolve_dir("mnist", data_dir))
        return np.round(x * 255.0).astype(np.uint8), y

    return deformed.generate(deformed_path(n), n, sources)


def _load_tfds(name: str, data_dir):
    """``mnist``/``fashion_mnist`` from a tensorflow-datasets folder (``data_dir``, else
    tfds's default) that already holds them prepared: never downloads. Files prepared as
    ``array_record`` are read without TensorFlow; tfds's default ``tfrecord`` needs it."""
    try:
        import tensorflow_datasets as tfds
    except ImportError as err:
        raise ImportError(
            "source='tfds' needs tensorflow-datasets: pip install 'jaxclust[tfds]' "
            "(or use the default source='raw' with local files)"
        ) from err
    if name not in ("mnist", "fashion_mnist"):
        raise ValueError(f"source='tfds' supports mnist and fashion_mnist, not {name!r}")
    builder = tfds.builder(name, data_dir=data_dir)
    if not builder.is_prepared():
        raise FileNotFoundError(
            f"tensorflow-datasets has no prepared {name!r} under {builder.data_dir} and "
            f"jaxclust never downloads: prepare it on a machine with internet (`tfds build "
            f"{name} --data_dir DIR --file_format array_record`) or from the original files "
            "(README, 'tfds'), and pass data_dir=DIR; or use source='raw' with the original "
            "files")
    if str(getattr(builder.info.file_format, "value", "")) == "array_record":
        rows = [row for split in ("train", "test")
                for row in builder.as_data_source(split=split)]
        images = np.stack([row["image"] for row in rows])
        labels = np.array([row["label"] for row in rows])
    else:
        try:
            batch = tfds.as_numpy(builder.as_dataset(split="train+test", batch_size=-1))
        except ImportError as err:
            raise ImportError(
                f"{name!r} is prepared as tfrecord files, which tensorflow-datasets reads "
                "only with TensorFlow: pip install tensorflow-cpu, or prepare it again with "
                "--file_format array_record") from err
        images, labels = batch["image"], batch["label"]
    x = images.reshape(len(labels), -1).astype(np.float32) / 255.0
    return x, labels.astype(np.int64)
