"""Full-data passes in fixed-size row blocks: peak memory O(block), whatever n."""
from __future__ import annotations

import jax
import jax.numpy as jnp

# Rows per block of a full-data pass (:func:`rowwise`): activations of a 2000-wide layer
# take block × 2000 × 4 bytes (32 MB), whatever n.
BLOCK = 4096


def rowwise(fn, *arrays: jax.Array, block: int = BLOCK):
    """``fn(*rows)`` (rows ``(B, …)`` of each array → a pytree of ``(B, …)`` arrays) on all
    ``n`` rows of ``arrays`` in blocks of ``block`` rows (``lax.map``: one block's
    activations live at a time); the same as ``fn(*arrays)`` when ``n ≤ block``."""
    n = arrays[0].shape[0]
    if n <= block:
        return fn(*arrays)
    pad = (-n) % block
    blocks = [jnp.pad(a, ((0, pad),) + ((0, 0),) * (a.ndim - 1)).reshape(-1, block,
                                                                         *a.shape[1:])
              for a in arrays]
    out = jax.lax.map(lambda rows: fn(*rows), blocks)
    return jax.tree.map(lambda a: a.reshape(-1, *a.shape[2:])[:n], out)
