"""Data that stays on disk: rows of a ``.npy`` file streamed to the device in shuffled
mini-batches and in fixed-size blocks, read ahead by a background thread.

    rows = stream.NpyRows("runs/cache/mnist8m_10000000.npy")  # (n, 784) uint8 on disk
    step = jax.jit(lambda s, xb: dec.train_step(s, (stream.as_float(xb), None), cfg))
    for idx, xb in stream.shuffled_batches(rows, seed=0, batch_size=256, n_steps=1000):
        state, loss = step(state, xb)
    z = stream.map_blocks(jax.jit(lambda xb: embed(stream.as_float(xb))), rows)  # (n, m)

Rows are read with ``os.pread`` rather than a memory map: what was read stays in the
operating system's page cache, not in the process (a memory map counts every page it
touched in the process's resident set — the whole file after one epoch). uint8 rows travel
as uint8 (a quarter of float32's bytes) and become floats on the device (:func:`as_float`).
One thread reads and places ``ahead`` batches or blocks in advance (``os.pread`` and the
device copy release the GIL), so reading overlaps the device's work; the in-device path
(the whole array on the device) stays the default wherever the data fits.
"""
from __future__ import annotations

import os
import queue
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator

import jax
import jax.numpy as jnp
import numpy as np

_END = object()


class NpyRows:
    """Read-only row access to a 2-d C-order ``.npy`` file ``(n, d)`` without loading it.

    ``shape``, ``dtype``; ``rows[i:j]`` (one read) and ``take(idx)`` (``idx`` ``(B,)``
    ints, any order; one read per run of consecutive rows) return numpy arrays.
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        with open(self.path, "rb") as f:
            read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                           (2, 0): np.lib.format.read_array_header_2_0}.get(
                np.lib.format.read_magic(f))
            if read_header is None:
                raise ValueError(f"{self.path}: unsupported .npy format version")
            shape, fortran, dtype = read_header(f)
            self._offset = f.tell()
        if len(shape) != 2 or fortran:
            raise ValueError(f"{self.path}: streaming needs a 2-d C-order array, got shape "
                             f"{shape}{' (Fortran order)' if fortran else ''}")
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)
        self._row_bytes = shape[1] * self.dtype.itemsize
        self._fd = os.open(self.path, os.O_RDONLY)
        weakref.finalize(self, os.close, self._fd)

    def __len__(self) -> int:
        return self.shape[0]

    def _read(self, start: int, count: int, out: np.ndarray):
        """Rows ``start … start + count − 1`` into ``out`` (reads until complete: one call
        may return less, e.g. beyond 2 GB)."""
        view, pos = memoryview(out).cast("B"), self._offset + start * self._row_bytes
        while len(view):
            got = os.preadv(self._fd, [view], pos)
            if got == 0:
                raise OSError(f"{self.path}: the file ends before row {start + count}")
            view, pos = view[got:], pos + got

    def __getitem__(self, rows: slice) -> np.ndarray:
        if not isinstance(rows, slice) or rows.step not in (None, 1):
            raise TypeError("NpyRows supports contiguous slices rows[i:j]; use take(idx)")
        start, stop, _ = rows.indices(len(self))
        out = np.empty((max(stop - start, 0), self.shape[1]), self.dtype)
        if len(out):
            self._read(start, len(out), out)
        return out

    def take(self, idx) -> np.ndarray:
        idx = np.asarray(idx, np.int64)
        if idx.ndim != 1 or (idx.size and (idx.min() < 0 or idx.max() >= len(self))):
            raise IndexError(f"row indices must be a 1-d array in [0, {len(self)})")
        out = np.empty((idx.size, self.shape[1]), self.dtype)
        breaks = np.flatnonzero(np.diff(idx) != 1) + 1  # runs of consecutive rows
        for lo, hi in zip(np.r_[0, breaks], np.r_[breaks, idx.size]):
            self._read(int(idx[lo]), int(hi - lo), out[lo:hi])
        return out


def as_float(xb: jax.Array) -> jax.Array:
    """Rows as float32: uint8 pixels scaled to [0, 1] (as :mod:`jaxclust.data` loads them),
    any other dtype cast."""
    if xb.dtype == jnp.uint8:
        return xb.astype(jnp.float32) / 255.0
    return xb.astype(jnp.float32)


def prefetch(items: Iterable, ahead: int = 2) -> Iterator:
    """``items`` produced by a background thread up to ``ahead`` in advance (a generator's
    body — reading, ``jax.device_put`` — runs in that thread). An error in the producer is
    raised here; leaving the loop early stops the producer."""
    q: queue.Queue = queue.Queue(ahead)
    stop = threading.Event()

    def produce():
        try:
            for item in items:
                if stop.is_set():
                    return
                q.put(item)
        except BaseException as err:  # noqa: BLE001 — handed to the consumer
            q.put(err)
            return
        q.put(_END)

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    try:
        while (item := q.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                q.get(timeout=0.1)
            except queue.Empty:
                pass


def shuffled_indices(n: int, seed: int, batch_size: int, n_steps: int,
                     group: int = 1, chunk: int = 1) -> Iterator[np.ndarray]:
    """Row indices of ``n_steps`` shuffled mini-batches, ``group`` batches at a time:
    arrays ``(g, batch_size)``, ``g = group`` except at the end of a pass or of the steps.

    Each pass over the data permutes runs of ``chunk`` consecutive rows (``chunk = 1``: a
    permutation of ``range(n)``); the rows of each group — whole runs — are shuffled among
    themselves and cut into batches; what does not fill a batch at the end of a pass is
    dropped (as :func:`jaxclust.train.batch_indices`). ``chunk > 1`` reads a group with one
    read per run instead of one per row (the file's order is mixed at the scale of runs:
    keep ``group · batch_size / chunk`` runs per group large).
    """
    if not 0 < batch_size <= n:
        raise ValueError(f"batch_size must be in [1, {n}], got {batch_size}")
    if group < 1 or chunk < 1 or chunk > n:
        raise ValueError(f"group and chunk must be >= 1 (chunk <= n), got {group}, {chunk}")
    if chunk > 1 and (group * batch_size) % chunk:
        raise ValueError(f"group * batch_size ({group * batch_size}) must be a multiple of "
                         f"chunk ({chunk})")
    rng = np.random.default_rng(seed)
    n_chunks, step = n // chunk, 0
    per_pass = n_chunks * chunk // batch_size
    while step < n_steps:
        order = rng.permutation(n_chunks)
        seq = (order[:, None] * chunk + np.arange(chunk)).reshape(-1)
        for b in range(0, min(per_pass, n_steps - step), group):
            g = min(group, per_pass - b, n_steps - step - b)
            window = seq[b * batch_size:(b + g) * batch_size]
            if chunk > 1:
                window = rng.permutation(window)
            yield window.reshape(g, batch_size)
        step += per_pass


def shuffled_batches(rows: NpyRows, seed: int, batch_size: int, n_steps: int,
                     group: int | None = None, chunk: int = 1,
                     ahead: int = 4) -> Iterator[tuple[np.ndarray, jax.Array]]:
    """``(idx, xb)`` for ``n_steps`` shuffled mini-batches (:func:`shuffled_indices`): the
    host indices ``(B,)`` (to gather per-row targets) and the rows ``(B, d)`` on the device
    in the file's dtype, read ``ahead`` in advance. With ``group``: ``group`` batches at a
    time, ``(g, B)`` and ``(g, B, d)`` (for a ``lax.scan`` of steps: one call, one transfer
    per group)."""
    def batches():
        for idx in shuffled_indices(len(rows), seed, batch_size, n_steps, group or 1, chunk):
            flat = idx.reshape(-1)
            order = np.sort(flat)  # ascending: consecutive rows are one read
            xb = rows.take(order)[np.searchsorted(order, flat)].reshape(*idx.shape, -1)
            yield (idx, jax.device_put(xb)) if group else (idx[0], jax.device_put(xb[0]))

    yield from prefetch(batches(), ahead)


def map_blocks(fn: Callable, rows: NpyRows, block: int = 65_536, ahead: int = 2):
    """``fn`` (a jitted function of a block ``(block, d)`` in the file's dtype → a pytree of
    ``(block, …)`` arrays) over all rows in order; the results gathered on the host, a
    pytree of numpy arrays ``(n, …)``. The last block is zero-padded to ``block`` rows (one
    compiled shape) and its padding dropped."""
    n = len(rows)
    block = min(block, n)

    def blocks():
        for start in range(0, n, block):
            xb = rows[start:start + block]
            if len(xb) < block:
                xb = np.concatenate([xb, np.zeros((block - len(xb), xb.shape[1]), xb.dtype)])
            yield jax.device_put(xb)

    out = None
    for i, xb in enumerate(prefetch(blocks(), ahead)):
        res = jax.tree.map(np.asarray, fn(xb))
        if out is None:
            out = jax.tree.map(lambda a: np.empty((n, *a.shape[1:]), a.dtype), res)
        start = i * block
        stop = min(start + block, n)
        jax.tree.map(lambda o, r: o.__setitem__(slice(start, stop), r[:stop - start]), out, res)
    return out
