"""scikit-learn-style estimators over the functional core.

``__init__`` only stores parameters; validation and randomness happen in ``fit``; learned
attributes end in ``_``.
"""
from __future__ import annotations

import jax
import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from jaxclust import kmeans as km, train
from jaxclust.methods import aekm
from jaxclust.validation import check_data, check_n_clusters, check_positive_int


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


class _Clusterer(ClusterMixin, TransformerMixin, BaseEstimator):
    """Shared ``fit_predict``/input checks; subclasses implement ``fit`` and ``predict``."""

    def _check_fit_input(self, x):
        x = check_data(x)
        check_n_clusters(self.n_clusters, x.shape[0])
        return x

    def _check_predict_input(self, x):
        check_is_fitted(self)
        x = check_data(x)
        if x.shape[1] != self.n_features_in_:
            raise ValueError(
                f"x has {x.shape[1]} features, but {type(self).__name__} was fitted with "
                f"{self.n_features_in_}"
            )
        return x

    def fit_predict(self, x, y=None, **kwargs):
        return self.fit(x, y, **kwargs).labels_


class KMeans(_Clusterer):
    """k-means with k-means++ restarts (see :func:`jaxclust.kmeans.kmeans`).

    Attributes: ``cluster_centers_`` ``(k, d)``, ``labels_`` ``(n,)``, ``inertia_``,
    ``n_iter_``, ``n_features_in_``.
    """

    def __init__(self, n_clusters: int = 8, n_init: int = 10, max_iter: int = 300,
                 tol: float = 1e-4, random_state=None):
        self.n_clusters = n_clusters
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    def fit(self, x, y=None):
        x = self._check_fit_input(x)
        check_positive_int(self.n_init, "n_init")
        check_positive_int(self.max_iter, "max_iter")
        res = km.kmeans(jax.random.key(_seed(self.random_state)), x, self.n_clusters,
                        n_init=self.n_init, max_iter=self.max_iter, tol=self.tol)
        self.cluster_centers_ = np.asarray(res.centroids)
        self.labels_ = np.asarray(res.labels)
        self.inertia_ = float(res.inertia)
        self.n_iter_ = int(res.n_iter)
        self.n_features_in_ = x.shape[1]
        return self

    def predict(self, x):
        x = self._check_predict_input(x)
        return np.asarray(km.assign(x, self.cluster_centers_)[0])

    def transform(self, x):
        """Euclidean distances ``(n, k)`` to the cluster centres."""
        x = self._check_predict_input(x)
        return np.sqrt(np.asarray(km.sq_distances(x, self.cluster_centers_)))


class AEKMeans(_Clusterer):
    """Autoencoder pre-training, then k-means on the embedding (see ``methods.aekm``).

    Parameters mirror :class:`jaxclust.train.AEConfig`. ``transform`` gives the embedding.
    Attributes: ``cluster_centers_`` ``(k, latent)`` (in the embedding), ``labels_``,
    ``inertia_`` (in the embedding), ``n_features_in_``.
    """

    def __init__(self, n_clusters: int = 8, hidden=(500, 500, 2000), latent: int = 10,
                 activation: str = "relu", batch_norm: bool = False,
                 output_activation: str = "none", loss: str = "mse", epochs: int = 50,
                 batch_size: int = 256, lr: float = 1e-3, n_init: int = 20, random_state=None):
        self.n_clusters = n_clusters
        self.hidden = hidden
        self.latent = latent
        self.activation = activation
        self.batch_norm = batch_norm
        self.output_activation = output_activation
        self.loss = loss
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.n_init = n_init
        self.random_state = random_state

    def _config(self) -> aekm.Config:
        for name in ("latent", "epochs", "batch_size", "n_init"):
            check_positive_int(getattr(self, name), name)
        ae = train.AEConfig(tuple(self.hidden), self.latent, self.activation, self.batch_norm,
                            self.output_activation, self.loss, self.epochs, self.batch_size,
                            float(self.lr))
        return aekm.Config(self.n_clusters, ae, self.n_init)

    def fit(self, x, y=None):
        x = self._check_fit_input(x)
        cfg = self._config()
        xj = jax.numpy.asarray(x)
        state = jax.jit(aekm.fit, static_argnames="cfg")(
            jax.random.key(_seed(self.random_state)), xj, cfg=cfg)
        self.state_, self.config_ = state, cfg
        self.cluster_centers_ = np.asarray(state.centroids)
        self.labels_ = np.asarray(aekm.predict(state, xj, cfg))
        self.inertia_ = float(aekm.objective(state, xj, cfg))
        self.n_features_in_ = x.shape[1]
        return self

    def predict(self, x):
        x = self._check_predict_input(x)
        return np.asarray(aekm.predict(self.state_, x, self.config_))

    def transform(self, x):
        """The embedding ``(n, latent)``."""
        x = self._check_predict_input(x)
        return np.asarray(aekm.embed(self.state_, x, self.config_))
