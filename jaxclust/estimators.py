"""scikit-learn-style estimators over the functional core.

``__init__`` only stores parameters; validation and randomness happen in ``fit``; learned
attributes end in ``_``.
"""
from __future__ import annotations

import dataclasses
import warnings

import jax
import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted

from jaxclust import kmeans as km, parallel, train
from jaxclust.methods import aekm, dac, damic, dcn, dec, imsat, kdae, rim
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


def _store_params(estimator, args: dict) -> None:
    """Store every ``__init__`` argument unchanged (scikit-learn's contract: no logic)."""
    for name, value in args.items():
        if name not in ("self", "__class__"):
            setattr(estimator, name, value)


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
        _store_params(self, locals())

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


class _DeepClusterer(_Clusterer):
    """Shared by the autoencoder-based estimators: the AE parameters, their config and a
    multi-seed ``fit``. Attributes: ``labels_``, ``objective_`` (the kept seed's),
    ``labels_all_`` ``(n_seeds, n)``, ``scores_all_`` ``(n_seeds,)``, ``best_seed_``,
    ``state_``, ``config_``, ``n_features_in_``."""

    def _ae_config(self) -> train.AEConfig:
        for name in ("latent", "epochs", "batch_size", "n_init"):
            check_positive_int(getattr(self, name), name)
        return train.AEConfig(tuple(self.hidden), self.latent, self.activation,
                              self.batch_norm, self.output_activation, self.loss, self.epochs,
                              self.batch_size, float(self.lr), float(self.input_dropout),
                              kernel_init=self.kernel_init)

    def fit(self, x, y=None):
        """Train ``n_seeds`` seeds in parallel (seeds ``random_state``, ``random_state + 1``,
        …) and keep the one with the lowest value of the method's own unsupervised
        objective; every seed's labels and objective stay in ``labels_all_``/``scores_all_``."""
        x = self._check_fit_input(x)
        check_positive_int(self.n_seeds, "n_seeds")
        cfg = self._config()
        res = parallel.fit_seeds(self._method, parallel.seed_keys(_seed(self.random_state),
                                                                  self.n_seeds),
                                 jax.numpy.asarray(x), cfg)
        self.scores_all_ = np.asarray(res.objectives)
        self.labels_all_ = np.asarray(res.labels)
        self.best_seed_ = int(np.argmin(self.scores_all_))
        self.state_ = jax.tree.map(lambda a: a[self.best_seed_], res.states)
        self.config_ = cfg
        self.labels_ = self.labels_all_[self.best_seed_]
        self.objective_ = float(self.scores_all_[self.best_seed_])
        self.n_features_in_ = x.shape[1]
        self._store_method_attributes(res)
        return self

    def _store_method_attributes(self, res: parallel.SeedsResult) -> None:
        """Fitted attributes particular to one method (from ``self.state_``)."""

    def predict(self, x):
        x = self._check_predict_input(x)
        return np.asarray(self._method.predict(self.state_, x, self.config_))


class AEKMeans(_DeepClusterer):
    """Autoencoder pre-training, then k-means on the embedding (see ``methods.aekm``).

    AE parameters mirror :class:`jaxclust.train.AEConfig`. ``transform`` gives the
    embedding ``(n, latent)``. Attributes: ``cluster_centers_`` ``(k, latent)`` (in the
    embedding), ``labels_``, ``inertia_`` (in the embedding), ``n_features_in_``.
    """

    _method = aekm

    def __init__(self, n_clusters: int = 8, hidden=(500, 500, 2000), latent: int = 10,
                 activation: str = "relu", batch_norm: bool = False,
                 output_activation: str = "none", loss: str = "mse", epochs: int = 50,
                 batch_size: int = 256, lr: float = 1e-3, input_dropout: float = 0.0,
                 kernel_init: str = "lecun_normal",
                 n_init: int = 20, n_seeds: int = 1, random_state=None):
        _store_params(self, locals())

    def _config(self) -> aekm.Config:
        return aekm.Config(self.n_clusters, self._ae_config(), self.n_init)

    def _store_method_attributes(self, res):
        self.cluster_centers_ = np.asarray(self.state_.centroids)
        self.inertia_ = self.objective_

    def transform(self, x):
        """The embedding ``(n, latent)``."""
        x = self._check_predict_input(x)
        return np.asarray(aekm.embed(self.state_, x, self.config_))


class DEC(_DeepClusterer):
    """Deep Embedded Clustering (see ``methods.dec``); ``IDEC`` keeps the decoder.

    Clustering-phase parameters: ``cluster_optimizer`` (``"sgd"`` with momentum 0.9 or
    ``"adam"``), ``cluster_lr``, ``cluster_batch_size``, ``update_interval``, ``tol``,
    ``max_epochs`` (target updates), ``target`` (``"full"`` or ``"batch"``), ``gamma``
    (IDEC). ``transform`` gives the soft assignments q ``(n, k)``. Attributes:
    ``cluster_centers_`` ``(k, latent)``, ``labels_``, ``n_iter_`` (target updates run),
    ``objective_`` (mean KL(P‖Q)).
    """

    _method = dec
    _idec = False

    def __init__(self, n_clusters: int = 8, hidden=(500, 500, 2000), latent: int = 10,
                 activation: str = "relu", batch_norm: bool = False,
                 output_activation: str = "none", loss: str = "mse", epochs: int = 50,
                 batch_size: int = 256, lr: float = 1e-3, input_dropout: float = 0.0,
                 kernel_init: str = "lecun_normal",
                 n_init: int = 20, cluster_optimizer: str = "sgd", cluster_lr: float = 0.01,
                 cluster_batch_size: int = 256, update_interval=None, tol: float = 0.001,
                 max_epochs: int = 200, target: str = "full", gamma: float = 0.1,
                 n_seeds: int = 1, random_state=None):
        _store_params(self, locals())

    def _config(self) -> dec.Config:
        check_positive_int(self.max_epochs, "max_epochs")
        return dec.Config(self.n_clusters, self._ae_config(), self.n_init, self._idec,
                          float(self.gamma), 1.0, self.cluster_optimizer,
                          float(self.cluster_lr), self.cluster_batch_size,
                          self.update_interval, self.target, float(self.tol), self.max_epochs)

    def _store_method_attributes(self, res):
        self.n_iter_ = res.epochs - self.config_.ae.epochs
        if not bool(self.state_.done):
            warnings.warn(f"{type(self).__name__} did not reach tol={self.config_.tol} in "
                          f"{self.config_.epochs} target updates", ConvergenceWarning)
        self.cluster_centers_ = np.asarray(self.state_.centroids)

    def transform(self, x):
        """Soft assignments q ``(n, k)``."""
        x = self._check_predict_input(x)
        return np.asarray(dec.transform(self.state_, x, self.config_))


class IDEC(DEC):
    """IDEC: DEC plus the reconstruction term, ``L_rec + gamma · KL(P‖Q)`` (Adam 1e-3)."""

    _idec = True

    def __init__(self, n_clusters: int = 8, hidden=(500, 500, 2000), latent: int = 10,
                 activation: str = "relu", batch_norm: bool = False,
                 output_activation: str = "none", loss: str = "mse", epochs: int = 50,
                 batch_size: int = 256, lr: float = 1e-3, input_dropout: float = 0.0,
                 kernel_init: str = "lecun_normal",
                 n_init: int = 20, cluster_optimizer: str = "adam", cluster_lr: float = 1e-3,
                 cluster_batch_size: int = 256, update_interval=None, tol: float = 0.001,
                 max_epochs: int = 200, target: str = "full", gamma: float = 0.1,
                 n_seeds: int = 1, random_state=None):
        _store_params(self, locals())


class DCN(_DeepClusterer):
    """Deep Clustering Network (see ``methods.dcn``): reconstruction + (λ/2)·k-means loss,
    online centroid updates.

    Clustering-phase parameters: ``lam``, ``cluster_optimizer``, ``cluster_lr``,
    ``cluster_batch_size``, ``cluster_epochs``, ``init_count``. ``transform`` gives the
    embedding. Attributes: ``cluster_centers_`` ``(k, latent)``, ``labels_``,
    ``objective_`` (mean DCN loss).
    """

    _method = dcn

    def __init__(self, n_clusters: int = 8, hidden=(500, 500, 2000), latent: int = 10,
                 activation: str = "relu", batch_norm: bool = False,
                 output_activation: str = "none", loss: str = "mse", epochs: int = 50,
                 batch_size: int = 256, lr: float = 1e-3, input_dropout: float = 0.0,
                 kernel_init: str = "lecun_normal",
                 n_init: int = 20, lam: float = 0.1, cluster_optimizer: str = "adam",
                 cluster_lr: float = 1e-3, cluster_batch_size: int = 256,
                 cluster_epochs: int = 50, init_count: float = 100.0, n_seeds: int = 1,
                 random_state=None):
        _store_params(self, locals())

    def _config(self) -> dcn.Config:
        check_positive_int(self.cluster_epochs, "cluster_epochs")
        return dcn.Config(self.n_clusters, self._ae_config(), self.n_init, float(self.lam),
                          self.cluster_optimizer, float(self.cluster_lr),
                          self.cluster_batch_size, self.cluster_epochs, float(self.init_count))

    def _store_method_attributes(self, res):
        self.cluster_centers_ = np.asarray(self.state_.centroids)

    def transform(self, x):
        """The embedding ``(n, latent)``."""
        x = self._check_predict_input(x)
        return np.asarray(dcn.embed(self.state_, x, self.config_))


class KDAE(_DeepClusterer):
    """k-DAE (see ``methods.kdae``): one autoencoder per cluster, a point goes to the one
    that reconstructs it best.

    ``hidden``…``input_dropout`` configure the initial autoencoder (on all data);
    ``member_*`` each cluster's autoencoder (paper: d-1024-256-10, ELU, sigmoid, BCE) and its
    per-cluster pre-training; ``kernel_init`` initialises every network (AE and members);
    ``clustering_loss`` ``"hard"``/``"soft"``; ``clustering_error`` ``"sse"`` (‖x − x̂‖², the
    paper's) or ``"norm"`` (‖x − x̂‖, the authors' code); joint Adam ``cluster_lr``,
    ``cluster_batch_size``, ``cluster_epochs``. ``transform`` gives the reconstruction
    errors ``(n, k)``. Attributes: ``labels_``, ``owned_`` (points per member after k-means;
    0 = idle), ``objective_`` (mean k-DAE loss).
    """

    _method = kdae

    def __init__(self, n_clusters: int = 8, hidden=(500, 500, 2000), latent: int = 10,
                 activation: str = "relu", batch_norm: bool = False,
                 output_activation: str = "none", loss: str = "mse", epochs: int = 50,
                 batch_size: int = 256, lr: float = 1e-3, input_dropout: float = 0.0,
                 kernel_init: str = "lecun_normal",
                 n_init: int = 20, clustering_loss: str = "hard",
                 clustering_error: str = "sse", member_hidden=(1024, 256),
                 member_latent: int = 10,
                 member_batch_norm: bool = False, member_epochs: int = 10,
                 cluster_lr: float = 1e-4, cluster_batch_size: int = 256,
                 cluster_epochs: int = 40, n_seeds: int = 1, random_state=None):
        _store_params(self, locals())

    def _member_config(self) -> train.AEConfig:
        for name in ("member_latent", "member_epochs", "cluster_epochs"):
            check_positive_int(getattr(self, name), name)
        return dataclasses.replace(
            kdae.PAPER_MEMBER, hidden=tuple(self.member_hidden), latent=self.member_latent,
            batch_norm=self.member_batch_norm, epochs=self.member_epochs,
            batch_size=self.cluster_batch_size, kernel_init=self.kernel_init)

    def _config(self) -> kdae.Config:
        return kdae.Config(self.n_clusters, self._ae_config(), self.n_init,
                           self._member_config(), self.clustering_loss, self.clustering_error,
                           float(self.cluster_lr), self.cluster_batch_size, self.cluster_epochs)

    def _store_method_attributes(self, res):
        self.owned_ = np.asarray(self.state_.owned)

    def transform(self, x):
        """Each member's reconstruction error ``(n, k)``."""
        x = self._check_predict_input(x)
        return np.asarray(kdae.errors(self.state_, x, self.config_))


class DAMIC(KDAE):
    """DAMIC (see ``methods.damic``): k-DAE's experts plus a gating network
    ``p(c=i|x)`` (``gate_hidden``, pre-trained ``gate_epochs`` on the k-means labels);
    labels are the gate's argmax. ``predict_proba`` gives the gate's probabilities
    ``(n, k)``; ``transform`` the experts' reconstruction errors ``(n, k)``."""

    _method = damic

    def __init__(self, n_clusters: int = 8, hidden=(500, 500, 2000), latent: int = 10,
                 activation: str = "relu", batch_norm: bool = False,
                 output_activation: str = "none", loss: str = "mse", epochs: int = 50,
                 batch_size: int = 256, lr: float = 1e-3, input_dropout: float = 0.0,
                 kernel_init: str = "lecun_normal",
                 n_init: int = 20, member_hidden=(1024, 256), member_latent: int = 10,
                 member_batch_norm: bool = False, member_epochs: int = 10,
                 gate_hidden=(512, 512), gate_epochs: int = 10, cluster_lr: float = 1e-4,
                 cluster_batch_size: int = 256, cluster_epochs: int = 40, n_seeds: int = 1,
                 random_state=None):
        _store_params(self, locals())

    def _config(self) -> damic.Config:
        check_positive_int(self.gate_epochs, "gate_epochs")
        return damic.Config(self.n_clusters, self._ae_config(), self.n_init,
                            self._member_config(), tuple(self.gate_hidden), self.gate_epochs,
                            float(self.cluster_lr), self.cluster_batch_size,
                            self.cluster_epochs)

    def predict_proba(self, x):
        x = self._check_predict_input(x)
        return np.asarray(damic.predict_proba(self.state_, x, self.config_))

    def transform(self, x):
        """Each expert's reconstruction error ``(n, k)``."""
        x = self._check_predict_input(x)
        return np.asarray(damic.errors(self.state_, x, self.config_))


class IMSAT(_DeepClusterer):
    """IMSAT (see ``methods.imsat``): a classifier trained to maximise the information
    between inputs and clusters, with self-augmented training (``augment`` ``"vat"``,
    ``"rpt"`` or ``"none"``). ``predict_proba``/``transform`` give ``p(y|x)`` ``(n, k)``.
    Attributes: ``labels_``, ``objective_`` (``H(Y|X) − μ·H(Y)``)."""

    _method = imsat

    def __init__(self, n_clusters: int = 8, hidden=(1200, 1200), augment: str = "vat",
                 lam: float = 0.1, mu: float = 4.0, eps_scale: float = 0.25,
                 n_neighbors: int = 10, xi: float = 10.0, lr: float = 2e-3,
                 batch_size: int = 250, epochs: int = 50, weight_decay: float = 0.0,
                 l2: float = 0.0, n_seeds: int = 1, random_state=None):
        _store_params(self, locals())

    def _config(self):
        for name in ("n_neighbors", "batch_size", "epochs"):
            check_positive_int(getattr(self, name), name)
        return self._method.Config(self.n_clusters, tuple(self.hidden), self.augment,
                                   float(self.lam), float(self.mu), float(self.eps_scale),
                                   self.n_neighbors, float(self.xi), float(self.lr),
                                   self.batch_size, self.epochs, float(self.weight_decay),
                                   float(self.l2))

    def predict_proba(self, x):
        x = self._check_predict_input(x)
        return np.asarray(imsat.predict_proba(self.state_, x, self.config_))

    transform = predict_proba


class RIM(IMSAT):
    """RIM (see ``methods.rim``): IMSAT without augmentation, μ = λ = 1, the penalty
    ``l2``/2 · ‖θ‖² in the objective."""

    _method = rim

    def __init__(self, n_clusters: int = 8, hidden=(1200, 1200), augment: str = "none",
                 lam: float = 1.0, mu: float = 1.0, eps_scale: float = 0.25,
                 n_neighbors: int = 10, xi: float = 10.0, lr: float = 2e-3,
                 batch_size: int = 250, epochs: int = 50, weight_decay: float = 0.0,
                 l2: float = 0.03, n_seeds: int = 1, random_state=None):
        _store_params(self, locals())


class DAC(_DeepClusterer):
    """DAC (see ``methods.dac``): pairwise "same cluster?" training on self-made labels
    with thresholds that tighten every epoch (MLP network). ``predict_proba``/``transform``
    give the softmax outputs ``(n, k)``. Attributes: ``labels_``, ``objective_``, ``n_iter_``
    (epochs run)."""

    _method = dac

    def __init__(self, n_clusters: int = 8, hidden=(1200, 1200), upper0: float = 0.95,
                 lower0: float = 0.455, lam_step: float = 0.009, lam_ratio: float = 0.1,
                 lr: float = 1e-3, batch_size: int = 256, epochs: int = 60,
                 n_seeds: int = 1, random_state=None):
        _store_params(self, locals())

    def _config(self) -> dac.Config:
        for name in ("batch_size", "epochs"):
            check_positive_int(getattr(self, name), name)
        return dac.Config(self.n_clusters, tuple(self.hidden), float(self.upper0),
                          float(self.lower0), float(self.lam_step), float(self.lam_ratio),
                          float(self.lr), self.batch_size, self.epochs)

    def _store_method_attributes(self, res):
        self.n_iter_ = res.epochs

    def predict_proba(self, x):
        x = self._check_predict_input(x)
        return np.asarray(dac.predict_proba(self.state_, x, self.config_))

    transform = predict_proba
