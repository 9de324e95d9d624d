"""Clustering methods, one module each, each ending with its :class:`~base.Method` value;
:data:`REGISTRY` maps their names to them.

    from jaxclust.methods import get
    method = get("idec")
    cfg = method.make_config(n_clusters=10)
"""
from jaxclust.methods.base import Method, fit, never_done  # noqa: F401
from jaxclust.methods import (aekm, dac, damic, dcn, dec, dkm, imsat, kdae, kmeans, manifold,
                              rim, vade)

REGISTRY: dict[str, Method] = {m.name: m for m in (
    kmeans.METHOD, aekm.METHOD, dec.DEC, dec.IDEC, dcn.METHOD, kdae.METHOD, damic.METHOD,
    imsat.METHOD, rim.METHOD, dac.METHOD, manifold.N2D, manifold.DEC_N2D, manifold.IDEC_N2D,
    manifold.DCN_N2D, dkm.METHOD, dkm.ANNEALED, vade.METHOD)}


def get(name: str) -> Method:
    """The registered method called ``name``."""
    if name not in REGISTRY:
        raise ValueError(f"unknown method {name!r}; one of {', '.join(REGISTRY)}")
    return REGISTRY[name]
