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


def embedding(path: Path, z: np.ndarray, labels: np.ndarray, y: np.ndarray | None) -> None:
    """2-D PCA of ``z`` ``(n, m)`` coloured by cluster; beside it the confusion matrix when
    labels ``y`` ``(n,)`` exist."""
    from sklearn.decomposition import PCA

    plt = _pyplot()
    proj = PCA(2).fit_transform(z) if z.shape[1] > 2 else z
    n_panels = 2 if y is not None else 1
    fig, axes = plt.subplots(1, n_panels, figsize=(5.5 * n_panels, 5))
    axes = np.atleast_1d(axes)
    axes[0].scatter(proj[:, 0], proj[:, 1], c=labels, s=3, cmap="tab20")
    axes[0].set_title("embedding (PCA), coloured by cluster")
    if y is not None:
        axes[1].imshow(metrics.contingency(y, labels), cmap="Blues")
        axes[1].set_xlabel("true class")
        axes[1].set_ylabel("cluster")
        axes[1].set_title("confusion matrix")
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
