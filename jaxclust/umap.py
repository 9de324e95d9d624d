"""UMAP (McInnes, Healy & Melville 2018) in JAX: every step a pure, shape-static function.

    graph = fuzzy_graph(x, cfg)                  # exact kNN in row blocks → fuzzy union
    state = fit(key, x, cfg)                     # spectral (or random) start, then SGD
    y_new = transform(state, x_new, cfg)         # place new points among the fitted ones

Follows umap-learn's definitions: ρᵢ the distance to the nearest other point, σᵢ by binary
search so that Σⱼ exp(−(dᵢⱼ − ρᵢ)/σᵢ) = log₂ k, the fuzzy union w = a + aᵀ − a∘aᵀ, the
low-dimensional similarity 1 / (1 + a‖Δ‖^{2b}) with ``a, b`` fitted to ``min_dist``, edges
sampled in proportion to their weight, ``negative_sample_rate`` negatives per sample, a
learning rate decaying linearly from ``learning_rate`` and each gradient coordinate clipped at
4. Two choices are ours: an epoch applies all its edge updates at once (scatter-adds from the
epoch's start positions, not one edge after the other), and the graph is an edge list of
static length ``2·n·k`` (unused slots have weight 0 and are never sampled), so :func:`fit` is
one jittable function of its key that ``jax.vmap`` runs for many seeds. No n×n matrix is ever
formed: distances are computed ``cfg.block_size`` rows at a time.
"""
from __future__ import annotations

import dataclasses
import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

_SMOOTH_K_TOLERANCE = 1e-5
_MIN_K_DIST_SCALE = 1e-3
_CLIP = 4.0
_CHUNK = 65536  # due edges per step of an epoch's loop: its temporaries stay in cache


MIN_NEIGHBORS = 2  # a point's neighbours include itself: at least one other


@dataclasses.dataclass(frozen=True)
class Config:
    """UMAP settings (umap-learn's names and defaults).

    ``epochs``: layout epochs; 0 picks umap-learn's default (500 up to 10 000 points, else
    200). ``init``: ``"spectral"`` (the normalised graph Laplacian's leading eigenvectors, by
    LOBPCG) or ``"random"`` (uniform in [−10, 10]). ``block_size``: query rows per distance
    block of the kNN search (memory ``block_size × n``).
    """

    n_components: int = 2
    n_neighbors: int = 15
    min_dist: float = 0.1
    spread: float = 1.0
    epochs: int = 0
    init: str = "spectral"
    learning_rate: float = 1.0
    negative_sample_rate: int = 5
    repulsion_strength: float = 1.0
    block_size: int = 1024

    def __post_init__(self):
        if self.init not in ("spectral", "random"):
            raise ValueError(f"init must be 'spectral' or 'random', got {self.init!r}")
        if self.n_neighbors < MIN_NEIGHBORS:
            raise ValueError(f"n_neighbors must be at least {MIN_NEIGHBORS}, "
                             f"got {self.n_neighbors}")
        if self.n_components < 1:
            raise ValueError(f"n_components must be at least 1, got {self.n_components}")
        if not 0 <= self.min_dist <= self.spread:
            raise ValueError(f"min_dist must lie in [0, spread={self.spread}], "
                             f"got {self.min_dist}")
        if self.negative_sample_rate < 0 or self.epochs < 0 or self.block_size < 1:
            raise ValueError("negative_sample_rate and epochs must be ≥ 0, block_size ≥ 1")

    def n_epochs(self, n: int) -> int:
        return self.epochs or (500 if n <= 10_000 else 200)

    def check_size(self, n: int, name: str = "n_neighbors") -> None:
        """Raise ``ValueError`` unless ``n`` points leave each one ``n_neighbors`` others."""
        if n <= self.n_neighbors:
            raise ValueError(f"UMAP with {name}={self.n_neighbors} needs more points than "
                             f"that, but x has {n} samples: lower {name}")


@functools.lru_cache(maxsize=None)
def ab_params(spread: float, min_dist: float) -> tuple[float, float]:
    """``a, b`` of the curve 1 / (1 + a x^{2b}) fitted by least squares to
    1 for x < min_dist and exp(−(x − min_dist)/spread) beyond (umap-learn's fit, 300 points
    on [0, 3·spread])."""
    from scipy.optimize import curve_fit

    xv = np.linspace(0, spread * 3, 300)
    yv = np.where(xv < min_dist, 1.0, np.exp(-(xv - min_dist) / spread))
    (a, b), _ = curve_fit(lambda x, a, b: 1.0 / (1.0 + a * x ** (2 * b)), xv, yv)
    return float(a), float(b)


# --------------------------------------------------------------------------------------------
# The graph
# --------------------------------------------------------------------------------------------

def knn(x: jax.Array, k: int, queries: jax.Array | None = None, block_size: int = 1024,
        chunk: int = 128):
    """Exact k nearest neighbours among the rows of ``x`` ``(n, d)`` of each query row
    (default: ``x`` itself, so each point is its own first neighbour at distance 0).

    Candidates come from ``‖q‖² − 2 q·x + ‖x‖²`` on centred data, ``block_size`` queries at
    a time. The columns are cut into runs of ``chunk``: a run holding one of the k nearest
    has its minimum among the k smallest run minima, so only those k runs are searched (a
    top-k over ``k · chunk`` candidates instead of all n: on a 2-core CPU 2.6× faster at
    n = 70 000). The k kept are then re-measured directly as ‖q − x‖ and sorted. Returns
    indices ``(m, k)`` int32 and distances ``(m, k)``, nearest first.
    """
    q = x if queries is None else queries
    m, n = q.shape[0], x.shape[0]
    centre = jnp.mean(x, axis=0, keepdims=True)
    xc, qc = x - centre, q - centre
    n_runs = -(-n // chunk)
    xc = jnp.pad(xc, ((0, n_runs * chunk - n), (0, 0)))
    # padding columns are never nearer than a real point
    x_sq = jnp.pad(jnp.sum(xc[:n] * xc[:n], axis=1), (0, n_runs * chunk - n),
                   constant_values=jnp.inf)[None, :]
    runs = min(k, n_runs)
    bs = min(block_size, m)
    pad = -m % bs
    blocks = jnp.pad(qc, ((0, pad), (0, 0))).reshape(-1, bs, q.shape[1])

    def one_block(qb):
        d2 = (jnp.sum(qb * qb, axis=1, keepdims=True) - 2.0 * qb @ xc.T + x_sq
              ).reshape(bs, n_runs, chunk)
        _, best = jax.lax.top_k(-jnp.min(d2, axis=2), runs)  # (bs, runs)
        cand = jnp.take_along_axis(d2, best[:, :, None], axis=1).reshape(bs, runs * chunk)
        _, j = jax.lax.top_k(-cand, k)
        idx = jnp.take_along_axis(
            (best[:, :, None] * chunk + jnp.arange(chunk)[None, None, :]).reshape(bs, runs * chunk),
            j, axis=1)
        dist = jnp.sqrt(jnp.sum((qb[:, None, :] - xc[idx]) ** 2, axis=-1))
        order = jnp.argsort(dist, axis=1)
        return (jnp.take_along_axis(idx, order, axis=1),
                jnp.take_along_axis(dist, order, axis=1))

    idx, dist = jax.lax.map(one_block, blocks)
    return (idx.reshape(-1, k)[:m].astype(jnp.int32), dist.reshape(-1, k)[:m])


def smooth_knn_dist(dist: jax.Array, local_connectivity: float = 1.0, n_iter: int = 64,
                    row_floor: bool = False):
    """σᵢ and ρᵢ ``(m,)`` from the sorted kNN distances ``(m, k)`` (umap-learn's
    ``smooth_knn_dist``): ρᵢ interpolates the non-zero distances at ``local_connectivity``;
    σᵢ solves Σ_{j≥1} exp(−max(dᵢⱼ − ρᵢ, 0)/σ) = log₂ k by bisection (all rows at once, a row
    frozen once within 1e-5), floored at 1e-3 × the mean distance (the row's if ρᵢ > 0 or
    ``row_floor``, else all rows')."""
    m, k = dist.shape
    target = math.log2(k)
    nonzero = dist > 0
    # the non-zero distances, in order, moved to the front of each row
    order = jnp.argsort(~nonzero, axis=1, stable=True)
    nz = jnp.take_along_axis(dist, order, axis=1)
    n_nz = jnp.sum(nonzero, axis=1)
    index = int(math.floor(local_connectivity))
    interp = local_connectivity - index
    if index > 0:
        rho = nz[:, index - 1]
        if interp > _SMOOTH_K_TOLERANCE:
            rho = rho + interp * (nz[:, min(index, k - 1)] - nz[:, index - 1])
    else:
        rho = interp * nz[:, 0]
    rho = jnp.where(n_nz >= local_connectivity, rho,
                    jnp.where(n_nz > 0, jnp.max(dist, axis=1), 0.0))

    rest = dist[:, 1:] - rho[:, None]

    def bisect(_, carry):
        lo, hi, mid, done = carry
        psum = jnp.sum(jnp.where(rest > 0, jnp.exp(-rest / mid[:, None]), 1.0), axis=1)
        done_now = done | (jnp.abs(psum - target) < _SMOOTH_K_TOLERANCE)
        above = psum > target
        new_hi = jnp.where(above, mid, hi)
        new_lo = jnp.where(above, lo, mid)
        new_mid = jnp.where(above | jnp.isfinite(hi), (new_lo + new_hi) / 2.0, mid * 2.0)
        keep = lambda old, new: jnp.where(done_now, old, new)  # noqa: E731
        return keep(lo, new_lo), keep(hi, new_hi), keep(mid, new_mid), done_now

    ones = jnp.ones((m,), dist.dtype)
    _, _, sigma, _ = jax.lax.fori_loop(
        0, n_iter, bisect, (0.0 * ones, jnp.inf * ones, ones, jnp.zeros((m,), bool)))
    floor = _MIN_K_DIST_SCALE * jnp.where((rho > 0) | row_floor, jnp.mean(dist, axis=1),
                                          jnp.mean(dist))
    return jnp.maximum(sigma, floor), rho


def membership(idx: jax.Array, dist: jax.Array, sigma: jax.Array, rho: jax.Array,
               self_loops: bool = False) -> jax.Array:
    """Directed membership strengths ``(m, k)``: exp(−(dᵢⱼ − ρᵢ)/σᵢ), 1 within ρᵢ, and 0
    for a point's edge to itself (unless ``self_loops``: the query and the fitted sets differ)."""
    excess = dist - rho[:, None]
    w = jnp.where((excess <= 0) | (sigma[:, None] == 0), 1.0,
                  jnp.exp(-excess / sigma[:, None]))
    if not self_loops:
        w = jnp.where(idx == jnp.arange(idx.shape[0])[:, None], 0.0, w)
    return w


class Graph(NamedTuple):
    """The symmetric fuzzy graph as an edge list: ``head``, ``tail`` ``(E,)`` int32 and
    ``weight`` ``(E,)``, E = 2·n·k; each undirected edge appears once per direction, and
    unused slots have weight 0."""

    head: jax.Array
    tail: jax.Array
    weight: jax.Array


def fuzzy_union(idx: jax.Array, w: jax.Array) -> Graph:
    """Symmetrise the directed kNN memberships ``w`` ``(n, k)`` by fuzzy union
    a + aᵀ − a∘aᵀ. Every directed edge and its reverse are listed, sorted by (head, tail);
    of each duplicate pair the first keeps the union weight and the second gets 0."""
    n, k = idx.shape
    rows = jnp.repeat(jnp.arange(n, dtype=jnp.int32), k)
    cols = idx.reshape(-1)
    vals = w.reshape(-1)
    head = jnp.concatenate([rows, cols])
    tail = jnp.concatenate([cols, rows])
    order = jnp.lexsort((tail, head))
    head, tail = head[order], tail[order]
    # forward weight: a_ij where (i, j) is a listed kNN edge; entries from the reversed copy
    # contribute a_ji to the same (head, tail) slot
    fwd = jnp.concatenate([vals, jnp.zeros_like(vals)])[order]
    rev = jnp.concatenate([jnp.zeros_like(vals), vals])[order]
    same = jnp.concatenate([jnp.zeros((1,), bool),
                            (head[1:] == head[:-1]) & (tail[1:] == tail[:-1])])
    nxt_same = jnp.concatenate([same[1:], jnp.zeros((1,), bool)])
    # a pair listed twice: both the kNN edge i→j and the reverse of j→i
    a = fwd + jnp.where(nxt_same, jnp.roll(fwd, -1), 0.0)
    b = rev + jnp.where(nxt_same, jnp.roll(rev, -1), 0.0)
    weight = jnp.where(same, 0.0, a + b - a * b)
    return Graph(head, tail, weight)


def fuzzy_graph(x: jax.Array, cfg: Config) -> tuple[Graph, jax.Array, jax.Array]:
    """The fuzzy simplicial set of ``x`` ``(n, d)``: the graph, and σ, ρ ``(n,)``."""
    idx, dist = knn(x, cfg.n_neighbors, block_size=cfg.block_size)
    sigma, rho = smooth_knn_dist(dist)
    return fuzzy_union(idx, membership(idx, dist, sigma, rho)), sigma, rho


def prune(graph: Graph, n_epochs: int, max_weight=None) -> Graph:
    """Drop (weight 0) the edges too weak to be sampled once in ``n_epochs``: those below
    ``max_weight`` (default: the largest weight) / n_epochs."""
    max_weight = jnp.max(graph.weight) if max_weight is None else max_weight
    keep = graph.weight >= max_weight / n_epochs
    return graph._replace(weight=jnp.where(keep, graph.weight, 0.0))


# --------------------------------------------------------------------------------------------
# The layout
# --------------------------------------------------------------------------------------------

def spectral_init(graph: Graph, n: int, dim: int, key: jax.Array, n_iter: int = 200):
    """The ``dim`` leading non-trivial eigenvectors ``(n, dim)`` of D^-½ W D^-½ (the
    smallest of the normalised Laplacian, as umap-learn's spectral layout): by LOBPCG on
    I + D^-½ W D^-½ from a random block of 2·(dim + 1) vectors (the extra half speeds
    convergence), or a dense eigendecomposition for graphs too small for LOBPCG."""
    from jax.experimental.sparse.linalg import lobpcg_standard

    deg = jax.ops.segment_sum(graph.weight, graph.head, n)
    inv_sqrt = jnp.where(deg > 0, jax.lax.rsqrt(jnp.maximum(deg, 1e-30)), 0.0)
    w = graph.weight * inv_sqrt[graph.head] * inv_sqrt[graph.tail]
    block = 2 * (dim + 1)
    if 5 * block >= n:
        dense = jnp.zeros((n, n), w.dtype).at[graph.head, graph.tail].add(w)
        return jnp.linalg.eigh(dense)[1][:, ::-1][:, 1:dim + 1]

    def matmul(v):  # (n, c) -> (n, c)
        return v + jax.ops.segment_sum(w[:, None] * v[graph.tail], graph.head, n)

    _, vecs, _ = lobpcg_standard(matmul, jax.random.normal(key, (n, block)), m=n_iter)
    return vecs[:, 1:dim + 1]


def _scale(y: jax.Array) -> jax.Array:
    """Each coordinate mapped onto [0, 10] (umap-learn's last step before the SGD)."""
    lo, hi = jnp.min(y, axis=0, keepdims=True), jnp.max(y, axis=0, keepdims=True)
    return 10.0 * (y - lo) / jnp.where(hi > lo, hi - lo, 1.0)


def initial_layout(key: jax.Array, graph: Graph, n: int, cfg: Config) -> jax.Array:
    """``(n, n_components)`` start of the SGD: spectral (scaled to max |coordinate| 10, plus
    N(0, 1e-4) noise) or uniform in [−10, 10]; then each coordinate scaled onto [0, 10]."""
    k_eig, k_noise = jax.random.split(key)
    if cfg.init == "random":
        y = jax.random.uniform(key, (n, cfg.n_components), minval=-10.0, maxval=10.0)
    else:
        y = spectral_init(graph, n, cfg.n_components, k_eig)
        y = y * (10.0 / jnp.max(jnp.abs(y)))
        y = y + 1e-4 * jax.random.normal(k_noise, y.shape)
    return _scale(y)


def _random_indices(key: jax.Array, streams: jax.Array, draws: int, n: int) -> jax.Array:
    """Integers in [0, n), ``(draws, len(streams))``: draw r of stream s is an integer hash
    (Wellons' "lowbias32") of (s, r) and a 32-bit seed from ``key`` — ~50× cheaper on CPU
    than ``randint`` for the millions of negative samples of an epoch; the modulo bias is
    below n / 2³²."""
    seed = jax.random.bits(key, (), jnp.uint32)
    h = (streams.astype(jnp.uint32)[None, :] * jnp.uint32(draws)
         + jnp.arange(draws, dtype=jnp.uint32)[:, None]) * jnp.uint32(0x9E3779B9)
    h = h + seed
    h = (h ^ (h >> 16)) * jnp.uint32(0x7FEB352D)
    h = (h ^ (h >> 15)) * jnp.uint32(0x846CA68B)
    h = h ^ (h >> 16)
    return (h % jnp.uint32(n)).astype(jnp.int32)


class _Schedule(NamedTuple):
    """Per edge: epochs between samples, the epoch of the next sample and of the next
    negative samples (umap-learn's ``epochs_per_sample`` bookkeeping)."""

    every: jax.Array
    next_sample: jax.Array
    next_negative: jax.Array


def optimize(key: jax.Array, y: jax.Array, graph: Graph, n_epochs: int, cfg: Config,
             capacity: int, fixed: jax.Array | None = None,
             initial_alpha: float | None = None, streams: jax.Array | None = None,
             max_weight=None) -> jax.Array:
    """``n_epochs`` epochs of UMAP's SGD on the layout ``y`` ``(m, c)``; returns it.

    Without ``fixed``, edges join rows of ``y`` and both ends move (fit); with ``fixed``
    ``(n, c)`` (transform), edge tails and negative samples are rows of ``fixed``, which
    does not move. Each epoch, every due edge pulls its ends together and pushes its head
    from up to ``negative_sample_rate`` random points (what it is owed beyond that carries
    over to its next sample), all from the epoch's start positions, summed by scatter-adds —
    in chunks of ``_CHUNK`` due edges, only as many chunks as there are due edges, so the
    temporaries stay small (1.3–1.4× faster at 70 000 points than one pass over all of them).
    An epoch handles at most ``capacity`` due edges (see :func:`_capacity`);
    any more stay due for the next epoch, where the search for due edges starts further on.
    ``streams`` ``(E,)``: each edge's stream of negative samples (default: its position).
    An edge is sampled every ``max_weight / weight`` epochs (default: the largest weight).
    """
    a, b = ab_params(cfg.spread, cfg.min_dist)
    gamma, rate = cfg.repulsion_strength, cfg.negative_sample_rate
    alpha0 = cfg.learning_rate if initial_alpha is None else initial_alpha
    m = y.shape[0]
    n_tail = m if fixed is None else fixed.shape[0]
    n_edges = graph.head.shape[0]
    capacity = min(capacity, n_edges)
    streams = jnp.arange(n_edges) if streams is None else streams
    max_weight = jnp.max(graph.weight) if max_weight is None else max_weight
    every = jnp.where(graph.weight > 0, max_weight / jnp.where(
        graph.weight > 0, graph.weight, 1.0), jnp.inf)
    sched = _Schedule(every, every, every / max(rate, 1))

    n_chunks_max = -(-capacity // _CHUNK)
    chunk = -(-capacity // n_chunks_max)  # equal chunks of at most _CHUNK
    capacity = chunk * n_chunks_max

    def moves(delta, y, ends, e, on, n_neg, key):
        """``delta`` ``(m, c)`` plus the moves of one chunk of due edges ``e`` (``on``: real
        ones), added in place."""
        head = graph.head[e]
        yh = y[head]
        diff = yh - ends[graph.tail[e]]
        d2 = jnp.sum(diff * diff, axis=1, keepdims=True)
        safe = jnp.where(d2 > 0, d2, 1.0)
        coeff = jnp.where(d2 > 0, -2.0 * a * b * safe ** (b - 1.0) / (a * safe ** b + 1.0), 0.0)
        grad = jnp.where(on[:, None], jnp.clip(coeff * diff, -_CLIP, _CLIP), 0.0)
        delta = delta.at[head].add(grad)
        if fixed is None:
            delta = delta.at[graph.tail[e]].add(-grad)
        if not rate:
            return delta
        others = _random_indices(key, streams[e], rate, n_tail)

        def negative(push, r_other):
            r, other = r_other
            use = (r < n_neg) & (other != head if fixed is None else True)
            diff = yh - ends[other]
            d2 = jnp.sum(diff * diff, axis=1, keepdims=True)
            coeff = jnp.where(d2 > 0, 2.0 * gamma * b
                              / ((0.001 + d2) * (a * jnp.where(d2 > 0, d2, 1.0) ** b + 1.0)),
                              0.0)
            g = jnp.where(coeff > 0, jnp.clip(coeff * diff, -_CLIP, _CLIP), _CLIP)
            return push + jnp.where(use[:, None], g, 0.0), None

        push, _ = jax.lax.scan(negative, jnp.zeros_like(yh), (jnp.arange(rate), others))
        return delta.at[head].add(push)

    def epoch(carry, t):
        y, sched, key = carry
        key, sub = jax.random.split(key)
        alpha = alpha0 * (1.0 - t / n_epochs)
        ends = y if fixed is None else fixed
        # the due edges, at most `capacity` of them, searched from a rotating offset
        offset = (t.astype(jnp.int32) * capacity) % n_edges
        found = jnp.nonzero(jnp.roll(sched.next_sample <= t, -offset), size=capacity,
                            fill_value=n_edges)[0]
        on = found < n_edges
        e = jnp.where(on, (found + offset) % n_edges, 0)
        every = sched.every[e]
        owed = jnp.floor((t - sched.next_negative[e]) * rate / every)
        n_neg = jnp.where(on, jnp.clip(owed, 0, rate), 0.0)

        # chunk by chunk, only as many chunks as hold due edges (the found ones come first)
        def one_chunk(i, delta):
            part = lambda v: jax.lax.dynamic_slice_in_dim(v, i * chunk, chunk)  # noqa: E731
            return moves(delta, y, ends, part(e), part(on), part(n_neg), sub)

        n_chunks = (jnp.sum(on) + chunk - 1) // chunk
        delta = jax.lax.fori_loop(0, n_chunks, one_chunk, jnp.zeros_like(y))
        done = jnp.where(on, e, n_edges)  # out of range: dropped
        sched = sched._replace(
            next_sample=sched.next_sample.at[done].add(every, mode="drop"),
            next_negative=sched.next_negative.at[done].add(n_neg * every / max(rate, 1),
                                                           mode="drop"))
        return (y + alpha * delta, sched, key), None

    (y, _, _), _ = jax.lax.scan(epoch, (y, sched, key), jnp.arange(n_epochs, dtype=y.dtype))
    return y


def _capacity(n: int, k: int) -> int:
    """Due edges per epoch to make room for in a fit: 1.1 × 2n·log₂ k. The expected count
    is Σ w / max w; each point's k memberships sum to log₂ k (σ's definition), so the fuzzy
    union's weights sum to at most 2n·log₂ k (on MNIST embeddings 0.75–0.82 of it, and the
    count per epoch stays within 3 % of its mean after the first few epochs)."""
    return int(1.1 * 2 * n * math.log2(k)) + 1


# --------------------------------------------------------------------------------------------
# Fit and transform
# --------------------------------------------------------------------------------------------

class State(NamedTuple):
    """A fitted UMAP: the fitted data ``(n, d)`` and its layout ``(n, n_components)``."""

    data: jax.Array
    embedding: jax.Array


def fit(key: jax.Array, x: jax.Array, cfg: Config) -> State:
    """UMAP of ``x`` ``(n, d)``: the fuzzy graph, pruned for the epoch count, its initial
    layout, then the SGD epochs. Pure in ``key`` (``jax.vmap`` over keys: many seeds). The
    same compiled program gives the same layout; a jitted and an eager call may not (their
    float rounding differs, which can flip an eigenvector's sign or which edges an epoch
    samples), as umap-learn's layout is reproducible only when single-threaded."""
    cfg.check_size(x.shape[0])
    n_epochs = cfg.n_epochs(x.shape[0])
    graph, _, _ = fuzzy_graph(x, cfg)
    graph = prune(graph, n_epochs)
    k_init, k_opt = jax.random.split(key)
    y = initial_layout(k_init, graph, x.shape[0], cfg)
    return State(x, optimize(k_opt, y, graph, n_epochs, cfg,
                             _capacity(x.shape[0], cfg.n_neighbors)))


def transform(key: jax.Array, state: State, x: jax.Array, cfg: Config) -> jax.Array:
    """Layout ``(m, n_components)`` of new points ``x`` ``(m, d)``, umap-learn's way: their
    memberships to the fitted points (local connectivity 0), start at the membership-weighted
    mean of their neighbours' positions, then a third of the fit's epochs (100 up to 10 000
    fitted points, else 30, by default) at a quarter of its learning rate with the fitted
    layout fixed. A point at a fitted one (closer than 1e-3 × its mean neighbour distance:
    equal up to rounding) keeps that point's position. Each point's
    layout is its own, the same whatever other points are transformed with it: so unlike
    umap-learn, sampling rates and σ's floor use the largest possible membership (1) and
    the point's own distances, not the batch's."""
    n = state.data.shape[0]
    idx, dist = knn(state.data, cfg.n_neighbors, queries=x, block_size=cfg.block_size)
    sigma, rho = smooth_knn_dist(dist, local_connectivity=0.0, row_floor=True)
    w = membership(idx, dist, sigma, rho, self_loops=True)
    m, k = idx.shape
    y0 = jnp.einsum("mk,mkc->mc", w, state.embedding[idx]) / jnp.maximum(
        jnp.sum(w, axis=1, keepdims=True), 1e-30)
    n_epochs = cfg.epochs // 3 if cfg.epochs else (100 if n <= 10_000 else 30)
    graph = prune(Graph(jnp.repeat(jnp.arange(m, dtype=jnp.int32), k), idx.reshape(-1),
                        w.reshape(-1)), n_epochs, max_weight=1.0)
    # every edge has room and a stream of its own fitted neighbour, so a point's layout does
    # not depend on the other points transformed with it
    y = optimize(key, y0, graph, n_epochs, cfg, m * k, fixed=state.embedding,
                 initial_alpha=cfg.learning_rate / 4.0, streams=graph.tail, max_weight=1.0)
    same = dist[:, :1] <= _MIN_K_DIST_SCALE * jnp.mean(dist, axis=1, keepdims=True)
    return jnp.where(same, state.embedding[idx[:, 0]], y)
