"""RIM (Krause et al. 2010): regularised information maximisation, ``min H(Y|X) − H(Y) +
R(θ)`` for a softmax classifier — IMSAT without self-augmentation. The functions are
IMSAT's; only the defaults differ: no augmentation, μ = 1 (the plain mutual information),
λ = 1 and an L2 penalty ``weight_decay`` as R(θ)."""
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
    weight_decay: float = 1e-4
