"""One partition from the S partitions of a multi-seed run, by matching labels and voting.

    labels = consensus(labels_all, k, reference=best_seed)     # (n,)

Cluster ids are arbitrary per seed, so each seed's ids are first matched to a reference
partition's (the Hungarian assignment on their k × k contingency table, maximising the points
they share); then every point takes the id most seeds give it (ties: the reference's).
The vote becomes the next reference until it no longer changes (a few rounds). Cost
O(S·n + S·k³) time and O(S·n) memory: no n × n co-association matrix, so 70 000 points and
many seeds stay cheap. Labels only — no data, no ground truth.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment


def contingency(a: np.ndarray, b: np.ndarray, k: int) -> np.ndarray:
    """``(k, k)`` counts of points labelled i in ``a`` and j in ``b``."""
    return np.bincount(a * k + b, minlength=k * k).reshape(k, k)


def align(labels: np.ndarray, reference: np.ndarray, k: int) -> np.ndarray:
    """``labels`` ``(n,)`` renamed so that as many points as possible carry the same id as
    in ``reference`` ``(n,)`` (ids in ``[0, k)``)."""
    rows, cols = linear_sum_assignment(contingency(labels, reference, k), maximize=True)
    rename = np.empty(k, np.int64)
    rename[rows] = cols
    return rename[labels]


def vote(aligned: np.ndarray, reference: np.ndarray, k: int) -> np.ndarray:
    """Per point the id most of ``aligned``'s ``(S, n)`` rows give it; ties go to
    ``reference``'s id when it is among the most voted, else to the smallest id."""
    counts = np.zeros((k, aligned.shape[1]), np.int64)
    for row in aligned:
        np.add.at(counts, (row, np.arange(row.size)), 1)
    top = counts.max(axis=0)
    own = counts[reference, np.arange(reference.size)] == top
    return np.where(own, reference, counts.argmax(axis=0))


def consensus(labels_all, n_clusters: int | None = None, reference: int = 0,
              max_rounds: int = 10) -> np.ndarray:
    """The consensus partition ``(n,)`` of ``labels_all`` ``(S, n)`` (ids in
    ``[0, n_clusters)``; default: one more than the largest id). ``reference``: the seed whose
    ids the first matching uses (e.g. the one the method's objective keeps)."""
    labels_all = np.asarray(labels_all)
    if labels_all.ndim != 2 or labels_all.shape[0] < 1:
        raise ValueError(f"labels_all must be (S, n) with S >= 1, got shape {labels_all.shape}")
    if not np.issubdtype(labels_all.dtype, np.integer) or labels_all.min(initial=0) < 0:
        raise ValueError("labels_all must hold non-negative integer cluster ids")
    k = int(labels_all.max(initial=0)) + 1 if n_clusters is None else int(n_clusters)
    if labels_all.max(initial=0) >= k:
        raise ValueError(f"labels_all has an id >= n_clusters = {k}")
    if not 0 <= reference < labels_all.shape[0]:
        raise ValueError(f"reference must be in [0, {labels_all.shape[0]}), got {reference}")
    labels_all = labels_all.astype(np.int64)
    current = labels_all[reference]
    for _ in range(max_rounds):
        aligned = np.stack([align(row, current, k) for row in labels_all])
        new = vote(aligned, current, k)
        if np.array_equal(new, current):
            break
        current = new
    return current


def central(labels_all) -> int:
    """The seed whose partition agrees most with the others: ``argmax_s`` of its mean
    adjusted Rand index to the other seeds' partitions (ties: the first). Labels only.

    labels_all: ``(S, n)`` int, S ≥ 2.
    """
    from jaxclust.metrics import ari

    labels_all = np.asarray(labels_all)
    s = labels_all.shape[0]
    if s < 2:
        raise ValueError(f"central needs at least 2 partitions, got {s}")
    agree = np.zeros((s, s))
    for i in range(s):
        for j in range(i + 1, s):
            agree[i, j] = agree[j, i] = ari(labels_all[i], labels_all[j])
    return int(np.argmax(agree.sum(1)))
