"""Checks on user input, shared by every public entry point.

Each check raises a ``TypeError`` (wrong kind of value) or ``ValueError`` (right kind, bad
content) whose message names the problem and where it is, before anything reaches XLA.
"""
from __future__ import annotations

import numpy as np


def check_data(x, name: str = "x") -> np.ndarray:
    """Validate a data matrix and return it as a float32 numpy array.

    Args:
      x: array-like ``(n, d)`` of real numbers.
      name: how the argument is called in error messages.

    Returns:
      ``(n, d)`` float32 numpy array.
    """
    if hasattr(x, "toarray") and hasattr(x, "nnz"):  # scipy.sparse
        raise TypeError(f"{name} is a sparse matrix; sparse input is not supported: pass "
                        f"{name}.toarray()")
    try:
        arr = np.asarray(x)
    except Exception as err:  # ragged lists and the like
        raise TypeError(f"{name} could not be converted to an array: {err}") from err
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_
    ):
        raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{name} must be real, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D (n_samples, n_features), got shape {arr.shape}"
            + (" — reshape a single feature with x.reshape(-1, 1)" if arr.ndim == 1 else "")
        )
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has 0 samples (shape {arr.shape})")
    if arr.shape[1] == 0:
        raise ValueError(f"{name} has 0 features (shape {arr.shape})")
    arr = arr.astype(np.float32, copy=False)
    finite = np.isfinite(arr)
    if not finite.all():
        bad_rows = np.flatnonzero(~finite.all(axis=1))
        kind = "NaN" if np.isnan(arr[bad_rows[0]]).any() else "inf"
        raise ValueError(
            f"{name} contains NaN or inf in {bad_rows.size} rows "
            f"(first: row {bad_rows[0]}, which has {kind}); clean or impute them first"
        )
    return arr


def check_n_clusters(n_clusters, n_samples: int) -> int:
    """Validate the number of clusters against the number of samples."""
    if isinstance(n_clusters, bool) or not isinstance(n_clusters, (int, np.integer)):
        raise TypeError(f"n_clusters must be an int, got {type(n_clusters).__name__}")
    if n_clusters < 1:
        raise ValueError(f"n_clusters must be at least 1, got {n_clusters}")
    if n_clusters > n_samples:
        raise ValueError(
            f"n_clusters={n_clusters} is larger than the number of samples ({n_samples})"
        )
    return int(n_clusters)


def check_labels(y, n_samples: int | None = None, name: str = "y") -> np.ndarray:
    """Validate a label vector ``(n,)`` and return it as an int64 numpy array."""
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (n_samples,), got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_):
        if np.issubdtype(arr.dtype, np.floating) and np.all(np.isfinite(arr)) and np.all(
            arr == np.round(arr)
        ):
            arr = arr.astype(np.int64)
        else:
            raise TypeError(f"{name} must hold integer labels, got dtype {arr.dtype}")
    if n_samples is not None and arr.shape[0] != n_samples:
        raise ValueError(
            f"{name} has {arr.shape[0]} labels but there are {n_samples} samples"
        )
    return arr.astype(np.int64, copy=False)


def check_positive_int(value, name: str) -> int:
    """Validate a hyper-parameter that must be an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return int(value)
