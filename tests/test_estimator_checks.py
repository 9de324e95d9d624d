"""Every estimator passes scikit-learn's own estimator checks, with small settings.

The default suite runs every check on KMeans and DEC (the shared estimator code with no
network, and with both of its phases), the checks that exercise a method's own functions on
AEKMeans and DAC (a pre-training phase alone, a stop flag without pre-training), and
``check_clustering`` on every other estimator; ``-m slow`` runs every check on every
estimator.
"""
import warnings

import pytest
from sklearn.utils.estimator_checks import estimator_checks_generator

from jaxclust import estimators as E

_AE = dict(ae_hidden=(8,), embedding_size=2, pretrain_epochs=2, pretrain_batch_size=16,
           n_init=2, clustering_batch_size=16, clustering_epochs=2)
# the experts' and VaDE's "auto" output and loss: linear and MSE on the checks' standardised data
_MEMBERS = dict(member_hidden=(8,), member_latent=2, member_epochs=2, member_batch_size=16)
_CLASSIFIER = dict(hidden=(8,), clustering_epochs=2, clustering_batch_size=16, n_neighbors=3)
# the checks that exercise a method's own functions (fit, predict, pickling of its state),
# each once (their input-handling variants test the shared wrapper)
METHOD_CHECKS = ("check_clustering", "check_fit_idempotent", "check_estimators_pickle",
                 "check_methods_subset_invariance", "check_fit2d_1sample",
                 "check_clusterer_compute_labels_predict")
CLUSTERING = ("check_clustering",)
# (estimator, the checks the default suite runs on it (None: all); -m slow runs the rest)
CASES = [
    (E.KMeans(n_init=2), None),
    (E.DEC(**_AE), None),
    (E.AEKMeans(**{k: v for k, v in _AE.items() if not k.startswith("clustering")}),
     METHOD_CHECKS),
    (E.DAC(**{k: v for k, v in _CLASSIFIER.items() if k != "n_neighbors"}), METHOD_CHECKS),
    (E.IDEC(**_AE), CLUSTERING),
    (E.DCN(**_AE), CLUSTERING),
    # k-DAE labels a point by its best-reconstructing expert: on the check's 2-D blobs the
    # experts specialise once each (1-d latent) is trained on its k-means cluster long enough
    # (2 or 20 epochs: ARI .1–.5; 300: .72–1.0 over random states 0–5)
    (E.KDAE(**_AE, **{**_MEMBERS, "member_latent": 1, "member_epochs": 300}), CLUSTERING),
    (E.DAMIC(**_AE, **_MEMBERS, gate_hidden=(8,), gate_epochs=2), CLUSTERING),
    (E.IMSAT(**_CLASSIFIER), CLUSTERING),
    (E.RIM(**_CLASSIFIER), CLUSTERING),
    (E.DKM(**_AE), CLUSTERING),
    (E.DKMAnnealed(**_AE, epochs_per_alpha=1), CLUSTERING),
    (E.VaDE(**_AE), CLUSTERING),
    # N2D and UMAP: their own per-point transform of new points
    (E.N2D(**{k: v for k, v in _AE.items() if not k.startswith("clustering")},
           umap_n_components=2, umap_n_neighbors=4, umap_epochs=50),
     ("check_methods_subset_invariance",)),
    (E.UMAP(n_neighbors=4, n_epochs=10),
     ("check_methods_subset_invariance", "check_transformer_general")),
]


def _cases():
    for est, default in CASES:
        for _, check in estimator_checks_generator(est, legacy=True, mark="skip"):
            name = getattr(check, "func", check).__name__
            variant = bool(getattr(check, "keywords", {}))
            slow = default is not None and (name not in default or variant)
            yield pytest.param(est, check, id=f"{type(est).__name__}-{name}",
                               marks=[pytest.mark.slow] if slow else [])


@pytest.mark.parametrize("estimator, check", list(_cases()))
def test_sklearn_compatible_estimator(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # two epochs do not converge: ConvergenceWarning
        check(estimator)
