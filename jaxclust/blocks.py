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
    activations live at a time; each block is sliced in place, the ``n mod block`` last rows
    are one more call, so the arrays are never copied); the same as ``fn(*arrays)`` when
    ``n ≤ block``."""
    n = arrays[0].shape[0]
    if n <= block:
        return fn(*arrays)
    full, rest = divmod(n, block)

    def one(i):
        return fn(*(jax.lax.dynamic_slice_in_dim(a, i * block, block) for a in arrays))

    out = jax.tree.map(lambda a: a.reshape(-1, *a.shape[2:]), jax.lax.map(one, jnp.arange(full)))
    if rest:
        tail = fn(*(a[full * block:] for a in arrays))
        out = jax.tree.map(lambda head, last: jnp.concatenate([head, last]), out, tail)
    return out
