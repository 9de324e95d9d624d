"""One partition from the S partitions of a multi-seed run. Labels only — no data, no
ground truth.

    labels = consensus(labels_all, k, reference=0)     # (n,), ids named as seed 0's

:func:`consensus` needs no matching of ids between seeds. Two points are close when many
seeds put them together (co-association, Fred & Jain 2005); k-means on the points'
concatenated one-hot memberships minimises exactly that dissimilarity (the squared distance
of two such rows is 2·(S − seeds that agree)), the median-partition reading of Topchy, Jain &
Punch (2005). Points with the same labels in every seed are one weighted row, so the cost is
O(U·k·S) per iteration for U ≤ n distinct label vectors — no n × n matrix.

:func:`voted` is the other classic: each seed's ids matched to a reference partition's (the
Hungarian assignment on their k × k contingency table), then every point takes the id most
seeds give it. It fails where seeds split and merge different clusters (no matching is right)
and is kept as the comparison the experiments report beside the consensus. Which of the two
is the consensus was decided over the table cells whose seeds had kept their labels then (so
by ACC, across cells, as `runner.kept_seed`'s default was): at or above the seeds' mean ACC in
140 of 170 cells for the co-association partition (+.027 on average, worst cell −.038), 122
for the vote (+.011, −.114), 133 for whichever of the two and the seeds has the highest
average NMI to the seeds (+.019, −.096).
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


def _checked(labels_all, n_clusters, reference) -> tuple[np.ndarray, int]:
    """``labels_all`` as ``(S, n)`` int64 and the number of ids ``k``, or a ``ValueError``."""
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
    return labels_all.astype(np.int64), k


def voted(labels_all, n_clusters: int | None = None, reference: int = 0,
          max_rounds: int = 10) -> np.ndarray:
    """The seeds' partitions ``labels_all`` ``(S, n)`` matched and voted into one ``(n,)``
    (ids in ``[0, n_clusters)``; default: one more than the largest id). ``reference``: the
    seed whose ids the first matching uses (e.g. the one the method's objective keeps)."""
    labels_all, k = _checked(labels_all, n_clusters, reference)
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


def consensus(labels_all, n_clusters: int | None = None, reference: int = 0,
              restarts: int = 10, max_iter: int = 100, seed: int = 0) -> np.ndarray:
    """The partition ``(n,)`` into ``n_clusters`` groups (default: one more than the largest
    id) whose members most of the seeds' partitions ``labels_all`` ``(S, n)`` put together:
    weighted k-means (k-means++ starts, ``restarts`` of them, the lowest cost kept) on the
    distinct rows of their one-hot memberships. Ids matched to those of seed ``reference``
    (the runner: the seed of the lowest objective); deterministic under ``seed``."""
    labels_all, k = _checked(labels_all, n_clusters, reference)
    s = labels_all.shape[0]
    rows, inverse, weight = np.unique(labels_all.T, axis=0, return_inverse=True,
                                      return_counts=True)  # (U, S) distinct label vectors
    inverse = inverse.reshape(-1)
    if rows.shape[0] <= k:
        return align(inverse, labels_all[reference], k)
    weight = weight.astype(np.float64)
    rng = np.random.default_rng(seed)
    best, best_cost = None, np.inf
    for _ in range(restarts):
        owner = _onehot_kmeans(rows, weight, k, s, rng, max_iter)
        cost = float(weight @ _onehot_sq_dist(rows, _frequencies(rows, weight, owner, k))
                     [np.arange(rows.shape[0]), owner])
        if cost < best_cost:
            best, best_cost = owner, cost
    return align(best[inverse], labels_all[reference], k)


def _frequencies(rows, weight, owner, k) -> np.ndarray:
    """``(k, S, k)``: per group and seed, the weighted share of the group's rows with each
    id — the mean of their one-hot memberships (zeros for an empty group)."""
    s = rows.shape[1]
    freq = np.zeros((k, s, k))
    for j in range(s):
        np.add.at(freq, (owner, j, rows[:, j]), weight)
    total = np.bincount(owner, weight, minlength=k)
    return freq / np.maximum(total, 1e-300)[:, None, None]


def _onehot_sq_dist(rows, freq) -> np.ndarray:
    """``(U, k)`` squared distances between rows' one-hot memberships and the groups' means:
    ``S − 2·Σ_s freq[c, s, rows[u, s]] + ‖freq[c]‖²``."""
    s = rows.shape[1]
    shared = freq[:, np.arange(s), rows].sum(-1)  # (k, U)
    return (s - 2.0 * shared + (freq ** 2).sum((1, 2))[:, None]).T


def _onehot_kmeans(rows, weight, k, s, rng, max_iter) -> np.ndarray:
    """One weighted Lloyd run from a k-means++ start: the group ``(U,)`` of each row; a group
    left empty takes the row that costs most where it is."""
    u = rows.shape[0]
    first = rng.choice(u, p=weight / weight.sum())
    centres = [first]
    nearest = (rows != rows[first]).sum(1).astype(np.float64)  # = squared distance / 2
    for _ in range(1, k):
        p = weight * nearest
        nxt = rng.choice(u, p=p / p.sum()) if p.sum() > 0 else rng.choice(u)
        centres.append(nxt)
        nearest = np.minimum(nearest, (rows != rows[nxt]).sum(1))
    freq = np.zeros((k, s, k))
    freq[np.arange(k)[:, None], np.arange(s)[None], rows[centres]] = 1.0
    owner = _onehot_sq_dist(rows, freq).argmin(1)
    for _ in range(max_iter):
        for c in np.setdiff1d(np.arange(k), owner):
            d = _onehot_sq_dist(rows, _frequencies(rows, weight, owner, k))
            cost = weight * d[np.arange(u), owner]
            cost[np.bincount(owner, minlength=k)[owner] <= 1] = -1.0  # never empty another
            owner[np.argmax(cost)] = c
        new = _onehot_sq_dist(rows, _frequencies(rows, weight, owner, k)).argmin(1)
        if np.array_equal(new, owner):
            break
        owner = new
    return owner
