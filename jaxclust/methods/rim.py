"""RIM (Krause et al. 2010): regularised information maximisation, ``min H(Y|X) − H(Y) +
R(θ)`` for a softmax classifier — IMSAT without self-augmentation. The functions are
IMSAT's; only the defaults differ: no augmentation, μ = 1 (the plain mutual information),
λ = 1 and R(θ) = ``l2``/2 · ‖θ‖² in the objective, l2 = 0.03.

On the penalty (10 000 MNIST images, 2 seeds, ``experiments/tuning/``): in the objective
(through Adam) it gives ACC .58–.62 for l2 in [0.005, 0.1] and collapses to one cluster at
0.3; as AdamW's decoupled decay (``weight_decay``) ACC stays .40–.51 for 1e-4 … 0.5."""
from __future__ import annotations

import dataclasses

from jaxclust.methods.imsat import (  # noqa: F401  (RIM's public functions are IMSAT's)
    State, fit, init, logits, objective, predict, predict_proba, train_epoch, train_step)
from jaxclust.methods.imsat import Config as _IMSATConfig


@dataclasses.dataclass(frozen=True)
class Config(_IMSATConfig):
    """IMSAT's config with RIM's defaults (see ``methods.imsat.Config``)."""

    augment: str = "none"
    lam: float = 1.0
    mu: float = 1.0
    l2: float = 0.03
