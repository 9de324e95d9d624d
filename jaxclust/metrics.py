"""Clustering metrics: ACC (Hungarian matching), NMI and ARI.

All functions take true labels and predicted cluster ids ``(n,)`` of any integer values;
they are invariant to relabelling the clusters.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn import metrics as skm

from jaxclust.validation import check_labels


def _pair(y_true, y_pred):
    y_true = check_labels(y_true, name="y_true")
    y_pred = check_labels(y_pred, n_samples=y_true.shape[0], name="y_pred")
    return y_true, y_pred


def contingency(y_true, y_pred) -> np.ndarray:
    """Counts ``(n_clusters, n_classes)``: entry ``[c, t]`` = points in cluster c of class t."""
    y_true, y_pred = _pair(y_true, y_pred)
    _, t = np.unique(y_true, return_inverse=True)
    _, c = np.unique(y_pred, return_inverse=True)
    table = np.zeros((c.max() + 1, t.max() + 1), dtype=np.int64)
    np.add.at(table, (c, t), 1)
    return table


def accuracy(y_true, y_pred) -> float:
    """Unsupervised clustering accuracy: the best one-to-one map of clusters to classes.

    ``ACC = max_m (1/n) sum_i 1{y_true_i = m(y_pred_i)}``, solved exactly with the
    Hungarian algorithm on the contingency table. Clusters left unmatched (more clusters
    than classes) count as wrong.
    """
    table = contingency(y_true, y_pred)
    rows, cols = linear_sum_assignment(table, maximize=True)
    return float(table[rows, cols].sum() / table.sum())


def nmi(y_true, y_pred, average_method: str = "arithmetic") -> float:
    """Normalised mutual information.

    ``average_method``: ``"arithmetic"`` (scikit-learn's default, DEC) or ``"geometric"``
    (``sqrt(H(T) H(C))``, DAMIC); also ``"min"``/``"max"``.
    """
    y_true, y_pred = _pair(y_true, y_pred)
    return float(
        skm.normalized_mutual_info_score(y_true, y_pred, average_method=average_method)
    )


def ari(y_true, y_pred) -> float:
    """Adjusted Rand index."""
    y_true, y_pred = _pair(y_true, y_pred)
    return float(skm.adjusted_rand_score(y_true, y_pred))


def evaluate(y_true, y_pred) -> dict[str, float]:
    """``{"acc", "nmi", "ari"}`` (NMI with the arithmetic mean) plus ``"nmi_geometric"``."""
    return {
        "acc": accuracy(y_true, y_pred),
        "nmi": nmi(y_true, y_pred),
        "ari": ari(y_true, y_pred),
        "nmi_geometric": nmi(y_true, y_pred, average_method="geometric"),
    }
