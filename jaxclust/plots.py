"""Figures (matplotlib, written to files): embeddings, choosing k, the experts of k-DAE/DAMIC."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from jaxclust import metrics


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def matched_order(table: np.ndarray) -> np.ndarray:
    """Row order of a contingency table ``(clusters, classes)`` that puts the cluster matched
    to class t (Hungarian, most shared points) in row t; unmatched clusters last."""
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(table, maximize=True)
    matched = rows[np.argsort(cols)]
    return np.concatenate([matched, np.setdiff1d(np.arange(table.shape[0]), matched)])


def embedding(path: Path, z: np.ndarray, labels: np.ndarray, y: np.ndarray | None,
              features: str = "embedding", title: str = "") -> None:
    """``z`` ``(n, m)`` (its 2-D PCA when m > 2) coloured by cluster, a legend with each
    cluster's size; with labels ``y`` ``(n,)`` beside it the confusion matrix (clusters in
    the order matched to the classes, counts written in) and NMI/ARI/ACC in the title.
    ``features`` names what ``z`` is (the method's ``features_name``)."""
    from sklearn.decomposition import PCA

    plt = _pyplot()
    labels = np.asarray(labels)
    proj = PCA(2).fit_transform(z) if z.shape[1] > 2 else z
    n_panels = 2 if y is not None else 1
    fig, axes = plt.subplots(1, n_panels, figsize=(6 * n_panels, 5.2))
    axes = np.atleast_1d(axes)
    ids, counts = np.unique(labels, return_counts=True)
    cmap = plt.get_cmap("tab20")
    for c, count in zip(ids, counts):
        own = labels == c
        axes[0].scatter(proj[own, 0], proj[own, 1], s=3, color=cmap(c % 20),
                        label=f"{c} ({count})")
    if ids.size <= 20:
        axes[0].legend(title="cluster (points)", fontsize=7, title_fontsize=7, markerscale=3,
                       loc="best", framealpha=0.7)
    how = "PCA of the " if z.shape[1] > 2 else ""
    axes[0].set_title(f"{how}{features}, coloured by cluster", fontsize=10)
    if y is not None:
        table = metrics.contingency(y, labels)
        order = matched_order(table)
        shown = table[order]
        axes[1].imshow(shown, cmap="Blues", aspect="auto")
        for (r, t), count in np.ndenumerate(shown):
            if count:
                axes[1].text(t, r, str(count), ha="center", va="center", fontsize=6,
                             color="white" if count > shown.max() / 2 else "black")
        axes[1].set_xticks(range(table.shape[1]), np.unique(y))
        axes[1].set_yticks(range(table.shape[0]), np.unique(labels)[order])
        axes[1].set_xlabel("true class")
        axes[1].set_ylabel("cluster (matched to the classes)")
        axes[1].set_title("confusion matrix", fontsize=10)
        m = metrics.evaluate(y, labels)
        title = (f"{title} " if title else "") + (f"NMI {m['nmi']:.3f}  ARI {m['ari']:.3f}  "
                                                  f"ACC {m['acc']:.3f}")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def select_k(path: Path, result, title: str = "") -> None:
    """G = L_train / L_validation, the silhouette and (when present) NMI against k, mean ±
    std over seeds, with the suggested k marked. ``result``: a :class:`jaxclust.select.SelectK`."""
    plt = _pyplot()
    panels = [("G = L_train / L_val", result.g), ("silhouette (held out)", result.silhouette)]
    if result.nmi is not None:
        panels.append(("NMI", result.nmi))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6))
    for ax, (name, values) in zip(axes, panels):
        ax.errorbar(result.ks, values.mean(axis=1), yerr=values.std(axis=1), marker="o")
        ax.axvline(result.suggested, color="grey", linestyle="--")
        ax.set_xticks(result.ks)
        ax.set_xlabel("k")
        ax.set_title(name)
    fig.suptitle(f"{title} suggested k = {result.suggested} ({result.criterion})".strip())
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def experts(path: Path, x: np.ndarray, x_hat: np.ndarray, errors: np.ndarray,
            title: str = "", row_names: list[str] | None = None) -> None:
    """Inputs ``x`` ``(m, d)`` (one per row) and every expert's reconstruction ``x_hat``
    ``(m, k, d)`` with its error ``errors`` ``(m, k)``; each row's winner (smallest error)
    framed in red. Square ``d`` (images) is drawn as images, anything else as curves."""
    plt = _pyplot()
    m, k, d = x_hat.shape
    side = int(round(np.sqrt(d)))
    fig, axes = plt.subplots(m, k + 1, figsize=(1.3 * (k + 1), 1.5 * m + 0.5), squeeze=False)
    for r in range(m):
        for i, ax in enumerate(axes[r]):
            row = x[r] if i == 0 else x_hat[r, i - 1]
            if side * side == d:
                ax.imshow(row.reshape(side, side), cmap="gray", vmin=0.0, vmax=max(1.0, x.max()))
            else:
                ax.plot(row, linewidth=0.8)
            ax.set_xticks([])
            ax.set_yticks([])
            name = row_names[r] if row_names else "input"
            ax.set_title(name if i == 0 else f"#{i - 1}: {errors[r, i - 1]:.3g}", fontsize=7)
            if i and i - 1 == int(np.argmin(errors[r])):
                for spine in ax.spines.values():
                    spine.set_color("red")
                    spine.set_linewidth(2)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
