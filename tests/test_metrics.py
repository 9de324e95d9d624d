import itertools

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from jaxclust import metrics


def brute_force_accuracy(y_true, y_pred, k):
    """Best accuracy over all k! relabellings of the clusters."""
    return max(np.mean(np.asarray(perm)[y_pred] == y_true)
               for perm in itertools.permutations(range(k)))


@pytest.mark.parametrize("seed", range(5))
def test_accuracy_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    k = 5
    y_true = rng.integers(0, k, 200)
    y_pred = np.where(rng.random(200) < 0.6, (y_true + 2) % k, rng.integers(0, k, 200))
    expected = brute_force_accuracy(y_true, y_pred, k)
    assert metrics.accuracy(y_true, y_pred) == pytest.approx(expected)


def test_metrics_invariant_to_label_permutation():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 6, 300)
    y_pred = np.where(rng.random(300) < 0.7, y_true, rng.integers(0, 6, 300))
    perm = rng.permutation(6)
    for fn in (metrics.accuracy, metrics.nmi, metrics.ari):
        assert fn(y_true, perm[y_pred]) == pytest.approx(fn(y_true, y_pred))


def test_nmi_ari_match_sklearn():
    rng = np.random.default_rng(1)
    y_true = rng.integers(0, 4, 500)
    y_pred = rng.integers(0, 7, 500)
    assert metrics.nmi(y_true, y_pred) == pytest.approx(
        normalized_mutual_info_score(y_true, y_pred))
    assert metrics.nmi(y_true, y_pred, average_method="geometric") == pytest.approx(
        normalized_mutual_info_score(y_true, y_pred, average_method="geometric"))
    assert metrics.ari(y_true, y_pred) == pytest.approx(adjusted_rand_score(y_true, y_pred))


def test_perfect_and_unmatched_clusters():
    y = np.array([0, 0, 1, 1, 2, 2])
    assert metrics.evaluate(y, y + 10)["acc"] == 1.0
    # Four clusters for three classes: the fourth cluster cannot be matched.
    assert metrics.accuracy(y, np.array([0, 0, 1, 1, 2, 3])) == pytest.approx(5 / 6)


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="labels but there are"):
        metrics.accuracy([0, 1, 2], [0, 1])


def test_confusion_order_puts_each_class_match_on_the_diagonal():
    from jaxclust.plots import matched_order

    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 400)
    perm = np.array([2, 0, 3, 1, 4])  # class t is cluster perm[t]; cluster 4 gets stray points
    labels = perm[y]
    labels[:20] = 4
    table = metrics.contingency(y, labels)
    order = matched_order(table)
    np.testing.assert_array_equal(order[:4], perm[:4])
    assert order[4] == 4 and np.trace(table[order][:4]) == 380  # all but the 20 strays
