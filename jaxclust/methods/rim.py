"""RIM (Krause et al. 2010): regularised information maximisation, ``min H(Y|X) − H(Y) +
R(θ)`` for a softmax classifier — IMSAT without self-augmentation. The functions are
IMSAT's; only the defaults differ: no augmentation, μ = 1 (the plain mutual information),
λ = 1 and R(θ) = ``l2``/2 · ‖θ‖² in the objective, l2 = 0.03 (the penalty's study:
``experiments/tuning/imsat_rpt_rim_sub10000/``)."""
from __future__ import annotations

from jaxclust.methods import imsat

METHOD = imsat.METHOD._replace(
    name="rim", summary="RIM: regularised information maximisation (IMSAT without "
    "augmentation, an L2 penalty)",
    defaults=(("augment", "none"), ("lam", 1.0), ("mu", 1.0), ("l2", 0.03)))
