"""scikit-learn estimators, one per registered method, built from the method value.

Every estimator's parameters are ``n_clusters``, the method's flat parameters
(:mod:`jaxclust.config`: ``pretrain_epochs``, ``embedding_size``, ``clustering_epochs``, …,
with the method's defaults), then ``n_seeds``, ``keep``, ``start`` and ``random_state``.
``__init__`` only stores them; ``fit`` validates them (``_parameter_constraints``, then the
Config's own checks), trains ``n_seeds`` seeds in one program
(:func:`jaxclust.runner.fit_seeds`) and keeps one (:func:`jaxclust.runner.kept_seed`): by
default (``keep="central"``), among the seeds that use the most clusters, the one the others
agree with most;
``keep="objective"``: the lowest value of the method's own objective. ``start="consensus"``
(autoencoder methods): every seed's clustering phase starts from the consensus of the seeds'
k-means partitions (:func:`runner.fit_seeds`).

Fitted attributes: ``labels_``, ``objective_``, ``labels_all_`` ``(n_seeds, n)``,
``scores_all_`` ``(n_seeds,)``, ``best_seed_``, ``consensus_labels_`` ``(n,)`` (the seeds'
partitions combined: :mod:`jaxclust.consensus`; ``labels_`` when ``n_seeds`` is 1),
``n_iter_`` (epochs run, pre-training and clustering), ``state_``, ``config_``,
``n_features_in_``. ``transform`` gives the method's ``features`` (the embedding; the
experts' errors; the classifier's probabilities); ``predict_proba`` the soft assignments
where the method has them.

    DEC(n_clusters=10, pretrain_epochs=100).fit_predict(x)
    DEC.from_preset("small", n_clusters=10)          # a named preset's values
"""
from __future__ import annotations

import inspect
import numbers
import warnings

import jax
import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, validate_data

from jaxclust import config, runner, umap
from jaxclust.methods import REGISTRY, Method, never_done
from jaxclust.validation import check_n_clusters


def _seed(random_state) -> int:
    """An int seed from ``None`` (0), an int, or a numpy ``RandomState``/``Generator``."""
    if random_state is None:
        return 0
    if isinstance(random_state, (int, np.integer)):
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(2**31 - 1))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**31 - 1))
    raise TypeError(f"random_state must be None, an int or a numpy RNG, got {random_state!r}")


def _constraint(p: config.Param) -> list:
    """scikit-learn's parameter constraint for one flat parameter (the Config's own
    checks, :func:`jaxclust.config.check`, run after it)."""
    if p.kind == "bool":
        out = ["boolean"]
    elif p.kind == "str":
        out = [StrOptions(set(p.choices))] if p.choices else [str]
    elif p.kind == "ints":
        out = [list, tuple, np.ndarray]
    elif p.kind == "int":
        out = [Interval(numbers.Integral, config.lowest_int(p.name), None, closed="left")]
    else:
        out = [Interval(numbers.Real, None, None, closed="neither")]
    return out + ([None] if p.optional else [])


def _has_proba(est) -> bool:
    return est._method.predict_proba is not None


class _Clusterer(ClusterMixin, TransformerMixin, BaseEstimator):
    """The estimator of a method value ``_method``; subclasses set it (and may add fitted
    attributes in ``_set_fitted``). Their ``__init__`` signature is derived from it."""

    _method: Method
    _n_clusters_default = 8

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        method = cls._method
        names = [p for p in config.params(method) if p.name != "n_clusters"]
        sig = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
               inspect.Parameter("n_clusters", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                 default=cls._n_clusters_default)]
        sig += [inspect.Parameter(p.name, inspect.Parameter.KEYWORD_ONLY, default=p.default)
                for p in names]
        sig += [inspect.Parameter("n_seeds", inspect.Parameter.KEYWORD_ONLY, default=1),
                inspect.Parameter("keep", inspect.Parameter.KEYWORD_ONLY, default="central"),
                inspect.Parameter("start", inspect.Parameter.KEYWORD_ONLY, default="own"),
                inspect.Parameter("random_state", inspect.Parameter.KEYWORD_ONLY,
                                  default=None)]
        signature = inspect.Signature(sig)

        def __init__(self, *args, **kwargs):
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            for name, value in list(bound.arguments.items())[1:]:
                setattr(self, name, value)

        __init__.__signature__ = signature
        __init__.__doc__ = f"Store the parameters (see :class:`{cls.__name__}`)."
        cls.__init__ = __init__
        cls._parameter_constraints = {
            "n_clusters": [Interval(numbers.Integral, 1, None, closed="left")],
            **{p.name: _constraint(p) for p in names},
            "n_seeds": [Interval(numbers.Integral, 1, None, closed="left")],
            "keep": [StrOptions(set(runner.KEEP_RULES))],
            "start": [StrOptions(set(runner.START_RULES if method.pretrains else ("own",)))],
            "random_state": ["random_state"]}
        cls._predict = staticmethod(jax.jit(method.predict, static_argnums=2))
        cls._features = staticmethod(jax.jit(method.features, static_argnums=2))
        if method.predict_proba is not None:
            cls._proba = staticmethod(jax.jit(method.predict_proba, static_argnums=2))

    @classmethod
    def from_preset(cls, preset: str, **params):
        """The estimator with a named preset's values (:data:`jaxclust.config.PRESETS`),
        then ``params``."""
        return cls(**{**config.preset_values(cls._method, preset), **params})

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    def _config(self):
        values = {p.name: getattr(self, p.name) for p in config.params(self._method)}
        return config.build(self._method, **values)

    def fit(self, X, y=None):
        """Train ``n_seeds`` seeds in parallel (seeds ``random_state``, ``random_state + 1``,
        …) and keep one by ``keep`` (no labels: the method's own objective, or the seeds'
        agreement); every seed's labels and objective stay in ``labels_all_``/``scores_all_``.
        """
        self._validate_params()
        X = validate_data(self, X, dtype=np.float32, ensure_min_samples=2)
        check_n_clusters(self.n_clusters, X.shape[0])
        cfg = self._config()
        res = runner.fit_seeds(self._method, runner.seed_keys(_seed(self.random_state),
                                                              self.n_seeds), X, cfg,
                               start=self.start)
        scores = np.asarray(res.objectives, dtype=np.float64)
        if not np.isfinite(scores).any():
            warnings.warn(f"{type(self).__name__}: the objective of every seed is NaN or "
                          "inf — training diverged; lower the learning rates",
                          RuntimeWarning, stacklevel=2)
        self.scores_all_ = scores
        self.labels_all_ = np.asarray(res.labels).astype(np.int64)
        self.best_seed_ = runner.kept_seed(scores, self.labels_all_, self.keep)
        self.state_ = jax.tree.map(lambda a: a[self.best_seed_], res.states)
        self.config_ = res.config
        self.labels_ = self.labels_all_[self.best_seed_]
        self.consensus_labels_ = np.asarray(res.consensus).astype(np.int64)
        self.objective_ = float(scores[self.best_seed_])
        self.n_iter_ = int(res.epochs)
        used = np.unique(self.labels_).size
        if used < self.n_clusters:
            warnings.warn(f"{type(self).__name__}: the kept seed puts the points in {used} of "
                          f"the {self.n_clusters} clusters asked for", UserWarning, stacklevel=2)
        method = self._method
        if method.done is not never_done and not bool(method.done(self.state_)):
            warnings.warn(f"{type(self).__name__} did not converge in {cfg.epochs} epochs "
                          "of its clustering phase", ConvergenceWarning, stacklevel=2)
        self._set_fitted()
        return self

    def _set_fitted(self) -> None:
        """Fitted attributes particular to one method (from ``self.state_``)."""

    def _check_x(self, X):
        check_is_fitted(self)
        return validate_data(self, X, dtype=np.float32, reset=False)

    def fit_predict(self, X, y=None):
        return self.fit(X, y).labels_

    def predict(self, X):
        """Labels ``(n,)`` of new points."""
        X = self._check_x(X)
        return np.asarray(self._predict(self.state_, X, self.config_)).astype(np.int64)

    def transform(self, X):
        """The method's features ``(n, m)`` of ``X``."""
        X = self._check_x(X)
        return np.asarray(self._features(self.state_, X, self.config_))

    @available_if(_has_proba)
    def predict_proba(self, X):
        """Soft assignments ``(n, k)``."""
        X = self._check_x(X)
        return np.asarray(self._proba(self.state_, X, self.config_))


class _Centroids:
    """Adds ``cluster_centers_`` ``(k, m)`` (in the space the method clusters in)."""

    def _set_fitted(self):
        self.cluster_centers_ = np.asarray(self.state_.centroids)


class KMeans(_Centroids, _Clusterer):
    """k-means with k-means++ restarts (:mod:`jaxclust.methods.kmeans`); ``transform``:
    distances ``(n, k)`` to the centres; ``inertia_``."""

    _method = REGISTRY["kmeans"]

    def _set_fitted(self):
        super()._set_fitted()
        self.inertia_ = self.objective_
        self.n_iter_ = int(self.state_.n_iter)


class AEKMeans(_Centroids, _Clusterer):
    """Autoencoder pre-training, then k-means on the embedding
    (:mod:`jaxclust.methods.aekm`); ``transform``: the embedding; ``inertia_`` in it."""

    _method = REGISTRY["aekm"]

    def _set_fitted(self):
        super()._set_fitted()
        self.inertia_ = self.objective_


class DEC(_Centroids, _Clusterer):
    """Deep Embedded Clustering (:mod:`jaxclust.methods.dec`); ``predict_proba``: q."""

    _method = REGISTRY["dec"]


class IDEC(_Centroids, _Clusterer):
    """IDEC: DEC plus the reconstruction term (:mod:`jaxclust.methods.dec`)."""

    _method = REGISTRY["idec"]


class DCN(_Centroids, _Clusterer):
    """Deep Clustering Network (:mod:`jaxclust.methods.dcn`)."""

    _method = REGISTRY["dcn"]


class KDAE(_Clusterer):
    """k-DAE (:mod:`jaxclust.methods.kdae`); ``transform``: each expert's reconstruction
    error ``(n, k)``."""

    _method = REGISTRY["kdae"]


class DAMIC(_Clusterer):
    """DAMIC (:mod:`jaxclust.methods.damic`); ``predict_proba``: the gate's ``p(c|x)``;
    ``transform``: each expert's reconstruction error ``(n, k)``."""

    _method = REGISTRY["damic"]


class IMSAT(_Clusterer):
    """IMSAT (:mod:`jaxclust.methods.imsat`); ``predict_proba``/``transform``: ``p(y|x)``."""

    _method = REGISTRY["imsat"]


class RIM(_Clusterer):
    """RIM (:mod:`jaxclust.methods.rim`); ``predict_proba``/``transform``: ``p(y|x)``."""

    _method = REGISTRY["rim"]


class DAC(_Clusterer):
    """DAC (:mod:`jaxclust.methods.dac`); ``predict_proba``/``transform``: softmax outputs."""

    _method = REGISTRY["dac"]


class N2D(_Clusterer):
    """N2D (:mod:`jaxclust.methods.manifold`): autoencoder → UMAP → Gaussian mixture;
    ``transform``: the UMAP layout; ``predict_proba``: the mixture's responsibilities."""

    _method = REGISTRY["n2d"]


class DECN2D(_Clusterer):
    """DEC, then N2D's head (UMAP of the embedding → Gaussian mixture)."""

    _method = REGISTRY["dec-n2d"]


class IDECN2D(_Clusterer):
    """IDEC, then N2D's head (UMAP of the embedding → Gaussian mixture)."""

    _method = REGISTRY["idec-n2d"]


class DCNN2D(_Clusterer):
    """DCN, then N2D's head (UMAP of the embedding → Gaussian mixture)."""

    _method = REGISTRY["dcn-n2d"]


class DKM(_Clusterer):
    """Deep k-Means (:mod:`jaxclust.methods.dkm`); ``cluster_centers_``: the
    representatives."""

    _method = REGISTRY["dkm"]

    def _set_fitted(self):
        self.cluster_centers_ = np.asarray(self.state_.reps)


class DKMAnnealed(DKM):
    """DKM without pre-training, α annealed (:data:`jaxclust.methods.dkm.ANNEALED`)."""

    _method = REGISTRY["dkm-annealed"]


class VaDE(_Clusterer):
    """VaDE (:mod:`jaxclust.methods.vade`); ``predict_proba``: q(c|x); ``transform``: the
    encoder's mean; ``cluster_centers_``: the prior's component means."""

    _method = REGISTRY["vade"]

    def _set_fitted(self):
        self.cluster_centers_ = np.asarray(self.state_.prior.means)


class UMAP(TransformerMixin, BaseEstimator):
    """UMAP in JAX (:mod:`jaxclust.umap`) as a scikit-learn transformer, with umap-learn's
    parameter names and defaults (``n_epochs=None``: 500 epochs up to 10 000 points, else
    200; ``metric``: ``"euclidean"``, the one metric the kNN search has).

    ``fit`` lays ``X`` ``(n, d)`` out: ``embedding_`` ``(n, n_components)``; ``transform``
    places new points among the fitted ones (a point equal to a fitted one keeps its place).

        UMAP(n_components=10, n_neighbors=20, min_dist=0.0).fit_transform(x)
    """

    _parameter_constraints = {
        "n_components": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_neighbors": [Interval(numbers.Integral, umap.MIN_NEIGHBORS, None, closed="left")],
        "min_dist": [Interval(numbers.Real, 0, None, closed="left")],
        "spread": [Interval(numbers.Real, 0, None, closed="neither")],
        "n_epochs": [None, Interval(numbers.Integral, 1, None, closed="left")],
        "metric": [StrOptions({"euclidean"})],
        "init": [StrOptions({"spectral", "random"})],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "negative_sample_rate": [Interval(numbers.Integral, 0, None, closed="left")],
        "repulsion_strength": [Interval(numbers.Real, 0, None, closed="left")],
        "block_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"]}

    def __init__(self, n_components=umap.Config.n_components,
                 n_neighbors=umap.Config.n_neighbors, min_dist=umap.Config.min_dist,
                 spread=umap.Config.spread, n_epochs=None, metric="euclidean",
                 init=umap.Config.init,
                 learning_rate=umap.Config.learning_rate,
                 negative_sample_rate=umap.Config.negative_sample_rate,
                 repulsion_strength=umap.Config.repulsion_strength,
                 block_size=umap.Config.block_size, random_state=None):
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.spread = spread
        self.n_epochs = n_epochs
        self.metric = metric
        self.init = init
        self.learning_rate = learning_rate
        self.negative_sample_rate = negative_sample_rate
        self.repulsion_strength = repulsion_strength
        self.block_size = block_size
        self.random_state = random_state

    _fit = staticmethod(jax.jit(umap.fit, static_argnums=2))
    _transform = staticmethod(jax.jit(umap.transform, static_argnums=3))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    def fit(self, X, y=None):
        """Lay ``X`` out; ``y`` is ignored."""
        self._validate_params()
        X = validate_data(self, X, dtype=np.float32, ensure_min_samples=2)
        cfg = umap.Config(epochs=self.n_epochs or 0, **{
            name: getattr(self, name) for name in self._parameter_constraints
            if name not in ("n_epochs", "metric", "random_state")})
        cfg.check_size(X.shape[0])
        self.config_ = cfg
        self._key = jax.random.key(_seed(self.random_state))
        self.state_ = self._fit(self._key, X, cfg)
        self.embedding_ = np.asarray(self.state_.embedding)
        return self

    def fit_transform(self, X, y=None):
        return self.fit(X).embedding_

    def transform(self, X):
        """The layout ``(m, n_components)`` of new points ``X`` ``(m, d)``."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float32, reset=False)
        return np.asarray(self._transform(jax.random.fold_in(self._key, 1), self.state_, X,
                                          self.config_))
