"""Choosing without labels: the number of clusters (DEC's generalizability criterion) and,
for any method, one config among candidates (:func:`select_config`).

    res = select_k(methods.get("dec"), x, range(5, 16), cfg, n_seeds=3)
    res.suggested, res.g            # the suggested k; G = L_train / L_validation, (K, S)

The data are split once into a training and a held-out part. One autoencoder per seed is
pre-trained on the training part and shared by every k (the AE does not depend on k);
then, for each k, the method's clustering phase runs on the training part, with all seeds
in one vmapped program (:func:`jaxclust.runner.fit_seeds`). The method's own loss
(``method.objective``: DEC's KL(P‖Q), k-DAE's or DAMIC's loss, DCN's, …) is measured on
both parts: G = L_train / L_validation. Too many clusters fit the training points but not
unseen ones, so G drops sharply; the suggested k is the one just before the largest drop
of the seed-averaged G (DEC's MNIST figure: the drop from 9 to 10 gives k = 9).

G needs a network that can over-fit; on simple data (a few Gaussian blobs) it stays ≈ 1
for every k and says nothing. ``criterion="silhouette"`` suggests the k with the highest
silhouette of the held-out points' labels in the shared pre-trained embedding (one space
for every k, so the scores compare), which works there.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxclust import config, metrics, runner, store
from jaxclust.methods import Method, aekm, pretrain
from jaxclust.validation import check_data, check_labels, check_n_clusters


class SelectK(NamedTuple):
    """ks ``(K,)``; per k and seed ``(K, S)``: train_loss, val_loss, g, silhouette (held-out
    points, pre-trained embedding) and nmi (all points; ``None`` without labels);
    suggested: the k chosen by ``criterion``."""

    ks: np.ndarray
    train_loss: np.ndarray
    val_loss: np.ndarray
    g: np.ndarray
    silhouette: np.ndarray
    nmi: np.ndarray | None
    suggested: int
    criterion: str


def suggest_k(ks: Sequence[int], scores: np.ndarray, criterion: str = "g") -> int:
    """``scores`` ``(K,)`` or ``(K, S)``, averaged over seeds. ``"g"``: the k just before the
    largest drop of G; ``"silhouette"``: the k of the highest silhouette."""
    mean = np.asarray(scores, dtype=np.float64).reshape(len(ks), -1).mean(axis=1)
    if criterion == "g":
        return int(ks[int(np.argmax(mean[:-1] - mean[1:]))])
    if criterion == "silhouette":
        return int(ks[int(np.argmax(mean))])
    raise ValueError(f"criterion must be 'g' or 'silhouette', got {criterion!r}")


def select_k(method: Method, x, ks: Sequence[int], cfg, *, seed: int = 0,
             n_seeds: int = 1, y=None, val_fraction: float = 0.2, criterion: str = "g",
             silhouette_sample: int = 2000, on_k: Callable[[int, dict], None] | None = None,
             done: Mapping[int, dict] | None = None) -> SelectK:
    """Fit ``method`` for every k in ``ks`` and measure G = L_train / L_validation.

    method: a registered method that pre-trains an autoencoder and has a clustering phase
    (DEC, IDEC, DCN, k-DAE, DAMIC); cfg: its ``Config`` (``n_clusters`` is set
    per k); x ``(n, d)``; ks: at least two distinct k (sorted here); seeds ``seed …
    seed+n_seeds-1`` (``seed`` also draws the split); y ``(n,)``: optional labels for NMI;
    ``criterion``: how to suggest k (``"g"`` or ``"silhouette"``, see the module doc);
    the silhouette uses at most ``silhouette_sample`` held-out points. ``on_k(k, row)`` is
    called after each k with that k's numbers (arrays ``(S,)`` under ``train``, ``val``,
    ``g``, ``silhouette`` and, with labels, ``nmi``); ``done`` maps k to such a row from an
    earlier sitting with the same data, config and seeds: those k are not fitted again (the
    autoencoders are, being cheaper than a clustering phase per k and deterministic).
    """
    x = check_data(x)
    ks = np.asarray(sorted(set(int(k) for k in ks)))
    if ks.size < 2:
        raise ValueError(f"select_k needs at least two values of k, got {ks.tolist()}")
    if not (method.pretrains and method.train_epoch is not None):
        raise ValueError(f"{method.name} has no autoencoder phase to share across k and a "
                         "clustering phase after it; use dec, idec, dcn, kdae or damic")
    suggest_k([2, 3], np.zeros(2), criterion)  # rejects an unknown criterion early
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    y = None if y is None else check_labels(y, n_samples=x.shape[0])
    perm = np.random.default_rng(seed).permutation(x.shape[0])
    n_val = int(round(val_fraction * x.shape[0]))
    x_train, x_val = jnp.asarray(x[perm[n_val:]]), jnp.asarray(x[perm[:n_val]])
    for k in ks:
        check_n_clusters(int(k), min(x_train.shape[0], n_val))
    keys = runner.seed_keys(seed, n_seeds)
    cfg = runner.for_data(cfg, jnp.asarray(x))  # the states' predict/objective below take it
    pre_cfg = pretrain.phase_config(dataclasses.replace(cfg, n_clusters=int(ks[0])))
    pre = runner.fit_seeds(aekm.METHOD, keys, x_train, pre_cfg)
    z_val = jax.vmap(lambda s: pretrain.embed(s, x_val[:silhouette_sample], pre_cfg))(pre.states)
    rows = []
    for k in ks:
        if done and int(k) in done:
            rows.append({name: np.asarray(v) for name, v in done[int(k)].items()})
            continue
        cfg_k = dataclasses.replace(cfg, n_clusters=int(k))
        res = runner.fit_seeds(method, keys, x_train, cfg_k, pretrained=pre.states)
        loss = jax.vmap(lambda s, xs: method.objective(s, xs, cfg_k), in_axes=(0, None))
        row = {"train": np.asarray(loss(res.states, x_train)),
               "val": np.asarray(loss(res.states, x_val))}
        row["g"] = row["train"] / row["val"]
        val_labels = jax.vmap(lambda s: method.predict(s, x_val[:silhouette_sample], cfg_k))(
            res.states)
        row["silhouette"] = np.array([_silhouette(z, lab) for z, lab in zip(z_val, val_labels)])
        if y is not None:
            labels = jax.vmap(lambda s: method.predict(s, jnp.asarray(x), cfg_k))(res.states)
            row["nmi"] = np.array([metrics.nmi(y, np.asarray(lab)) for lab in labels])
        rows.append(row)
        if on_k:
            on_k(int(k), row)
    table = {name: np.stack([r[name] for r in rows]) for name in rows[0]}
    return SelectK(ks, table["train"], table["val"], table["g"], table["silhouette"],
                   table.get("nmi"), suggest_k(ks, table[criterion], criterion), criterion)


def _silhouette(z, labels) -> float:
    """scikit-learn's silhouette; -1 when every point landed in one cluster."""
    from sklearn.metrics import silhouette_score

    labels = np.asarray(labels)
    if np.unique(labels).size < 2:
        return -1.0
    return float(silhouette_score(np.asarray(z), labels))


# criterion → +1 where higher is better, −1 where lower is
CRITERIA = {"stability": 1, "silhouette": 1, "calinski_harabasz": 1, "davies_bouldin": -1}


class SelectConfig(NamedTuple):
    """candidates: the flat settings tried; scores: criterion → ``(C, S)`` (``stability``:
    ``(C,)``, one value per candidate); nmi ``(C, S)`` (``None`` without labels); chosen:
    the index of the candidate ``criterion`` prefers (mean over seeds)."""

    candidates: list
    scores: dict
    nmi: np.ndarray | None
    chosen: int
    criterion: str


def stability(labels_all) -> float:
    """Mean adjusted Rand index over the pairs of the seeds' partitions ``(S, n)`` (1: every
    seed finds the same clusters); 0 when a seed put every point in one cluster (a collapse
    is perfectly repeatable, and says nothing of the data)."""
    from sklearn.metrics import adjusted_rand_score

    labels_all = np.asarray(labels_all)
    if any(np.unique(row).size < 2 for row in labels_all):
        return 0.0
    pairs = [(i, j) for i in range(len(labels_all)) for j in range(i + 1, len(labels_all))]
    return float(np.mean([adjusted_rand_score(labels_all[i], labels_all[j]) for i, j in pairs]))


def internal_scores(x, labels) -> dict:
    """Silhouette, Calinski–Harabasz and Davies–Bouldin of ``labels`` ``(n,)`` on the points
    ``x`` ``(n, d)``; the worst value of each when the labels form one cluster."""
    from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score

    labels = np.asarray(labels)
    if np.unique(labels).size < 2:
        return {"silhouette": -1.0, "calinski_harabasz": 0.0, "davies_bouldin": np.inf}
    return {"silhouette": _silhouette(x, labels),
            "calinski_harabasz": float(calinski_harabasz_score(x, labels)),
            "davies_bouldin": float(davies_bouldin_score(x, labels))}


def select_config(method: Method, x, candidates: Sequence[Mapping], base: Mapping = (), *,
                  seed: int = 0, n_seeds: int = 3, criterion: str = "stability",
                  sample: int = 2000, preset: str = "paper", y=None, cache=None,
                  on_candidate: Callable[[int, dict], None] | None = None) -> SelectConfig:
    """Fit ``method`` with each candidate setting and choose one by a criterion that sees no
    labels.

    candidates: flat settings (:mod:`jaxclust.config` names), each applied over ``base``
    over ``preset``;
    seeds ``seed … seed + n_seeds − 1`` for every candidate. Criteria (``CRITERIA``):
    ``"stability"``, the mean pairwise ARI of the seeds' partitions (needs ``n_seeds ≥ 2``);
    ``"silhouette"``, ``"calinski_harabasz"``, ``"davies_bouldin"`` of each seed's labels
    measured in the input space ``x`` — one space for every candidate, so the scores compare
    (a method's own embedding would flatter the settings that squeeze it) — on ``sample``
    points drawn with ``seed``. ``y``: labels, only to report NMI per candidate; the choice
    never reads them. ``cache``: a folder where the pre-training phase of a method that
    pre-trains is kept (:func:`jaxclust.store.pretrain_cache`), so candidates with the same
    pre-training settings — and later runs — share it. ``on_candidate(i, row)`` is called
    after each candidate.
    """
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {', '.join(CRITERIA)}, got {criterion!r}")
    candidates = [dict(c) for c in candidates]
    if not candidates:
        raise ValueError("select_config needs at least one candidate")
    if criterion == "stability" and n_seeds < 2:
        raise ValueError("criterion 'stability' needs n_seeds >= 2")
    x = check_data(x)
    y = None if y is None else check_labels(y, n_samples=x.shape[0])
    # every candidate checked before the first fit
    cfgs = [config.build(method, preset, **{**dict(base), **c}) for c in candidates]
    rows = np.random.default_rng(seed).permutation(x.shape[0])[:sample]
    keys, xj = runner.seed_keys(seed, n_seeds), jnp.asarray(x)
    table = []
    for i, cfg in enumerate(cfgs):
        shared = (store.pretrain_cache(cache, pretrain.phase_config(cfg), xj, keys)
                  if cache is not None and method.pretrains else None)
        labels = np.asarray(runner.fit_seeds(method, keys, xj, cfg, pretrain_cache=shared).labels)
        per_seed = [internal_scores(x[rows], lab[rows]) for lab in labels]
        row = {name: np.array([s[name] for s in per_seed]) for name in per_seed[0]}
        row["stability"] = np.array(stability(labels) if n_seeds > 1 else np.nan)
        if y is not None:
            row["nmi"] = np.array([metrics.nmi(y, lab) for lab in labels])
        table.append(row)
        if on_candidate:
            on_candidate(i, row)
    scores = {name: np.stack([r[name] for r in table]) for name in CRITERIA}
    mean = scores[criterion].reshape(len(cfgs), -1).mean(axis=1)
    return SelectConfig(candidates, scores,
                        None if y is None else np.stack([r["nmi"] for r in table]),
                        int(np.argmax(CRITERIA[criterion] * mean)), criterion)
