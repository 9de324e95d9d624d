"""The consensus over seeds recovers a partition from permuted, noisy copies of it."""
import numpy as np
import pytest

from jaxclust.consensus import align, central, consensus, voted


def _noisy_copies(seed, n=3000, k=6, s=7, noise=0.25):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n)
    copies = []
    for _ in range(s):
        row = truth.copy()
        flip = rng.random(n) < noise  # each copy errs on its own quarter of the points
        row[flip] = rng.integers(0, k, flip.sum())
        copies.append(rng.permutation(k)[row])  # ids renamed at random, as seeds do
    return truth, np.stack(copies)


def test_align_undoes_a_permutation():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 5, 500)
    perm = rng.permutation(5)
    np.testing.assert_array_equal(align(perm[truth], truth, 5), truth)


@pytest.mark.parametrize("seed", [0, 1])
def test_consensus_recovers_the_truth_better_than_any_seed(seed):
    truth, copies = _noisy_copies(seed)
    agree = lambda a: max(np.mean(align(a, truth, 6) == truth), 0)  # noqa: E731
    each = [agree(row) for row in copies]
    ours = consensus(copies, 6, reference=3)
    assert agree(ours) > max(each) + 0.1 and agree(ours) > 0.97


def _split_and_merge(seed, n=3000, k=6, s=7):
    """Seeds that each merge two true clusters and split a third in halves (10 % noise):
    no matching of their ids to one another is right."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n)
    copies = []
    for _ in range(s):
        a, b, c = rng.choice(k, 3, replace=False)
        row = np.where(truth == b, a, truth)
        half = (truth == c) & (rng.random(n) < 0.5)
        row[half] = b
        flip = rng.random(n) < 0.1
        row[flip] = rng.integers(0, k, flip.sum())
        copies.append(rng.permutation(k)[row])
    return truth, np.stack(copies)


@pytest.mark.parametrize("seed", [0, 1])
def test_consensus_recovers_clusters_the_vote_cannot_match(seed):
    truth, copies = _split_and_merge(seed)
    agree = lambda a: np.mean(align(a, truth, 6) == truth)  # noqa: E731
    assert max(agree(row) for row in copies) < 0.75
    ours = consensus(copies, 6, reference=2)
    assert agree(ours) > 0.99 and agree(ours) > agree(voted(copies, 6, reference=2)) + 0.05
    # ids follow the reference seed's; the same seed gives the same partition
    assert np.mean(ours == copies[2]) == np.mean(align(ours, copies[2], 6) == copies[2])
    np.testing.assert_array_equal(consensus(copies, 6, reference=2), ours)


def test_consensus_counts_repeated_points_as_weight():
    """Points whose labels agree in every seed are one weighted row: repeating the data set
    changes nothing but the length."""
    _, copies = _split_and_merge(3, n=600)
    once = consensus(copies, 6)
    np.testing.assert_array_equal(consensus(np.tile(copies, 3), 6), np.tile(once, 3))
    few = np.array([[0, 0, 1, 1], [1, 1, 0, 0]])  # 2 distinct rows for 3 clusters
    assert len(np.unique(consensus(few, 3))) == 2


def test_the_reference_names_the_clusters_and_breaks_ties_only():
    _, copies = _noisy_copies(2)
    a, b = consensus(copies, 6, reference=0), consensus(copies, 6, reference=5)
    assert np.mean(align(a, b, 6) == b) > 0.99


def test_one_seed_is_its_own_consensus_and_bad_input_is_named():
    row = np.array([[2, 0, 1, 1]])
    np.testing.assert_array_equal(consensus(row, 3), row[0])
    with pytest.raises(ValueError, match=r"\(S, n\)"):
        consensus(np.arange(4))
    with pytest.raises(ValueError, match="id >= n_clusters"):
        consensus(row, 2)
    with pytest.raises(ValueError, match="reference"):
        consensus(row, 3, reference=1)


def test_central_is_the_partition_the_others_agree_with():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 4, 300)
    noisy = [np.where(rng.random(300) < p, rng.integers(0, 4, 300), truth)
             for p in (0.4, 0.05, 0.3, 0.5)]
    # seed 1 (5 % noise) is nearest to every other; relabelling a seed changes nothing
    assert central(np.stack(noisy)) == 1
    noisy[1] = (noisy[1] + 1) % 4
    assert central(np.stack(noisy)) == 1
    with pytest.raises(ValueError, match="at least 2"):
        central(truth[None])


def test_kept_seed_by_objective_or_by_agreement_skips_diverged_seeds():
    from jaxclust.runner import kept_seed

    rng = np.random.default_rng(1)
    truth = rng.integers(0, 3, 200)
    labels = np.stack([np.where(rng.random(200) < p, rng.integers(0, 3, 200), truth)
                       for p in (0.5, 0.3, 0.02, 0.4)])
    objectives = np.array([0.1, 0.2, 0.3, 0.4])
    assert kept_seed(objectives, labels, "objective") == 0
    assert kept_seed(objectives, labels) == 2  # "central"
    objectives[2] = np.nan  # a diverged seed is never kept
    assert kept_seed(objectives, labels, "central") != 2
    assert kept_seed(objectives[:2], labels[:2], "central") == 0  # < 3 seeds: the objective's
    with pytest.raises(ValueError, match="keep must be one of"):
        kept_seed(objectives, labels, "best")


def test_kept_seed_passes_over_seeds_that_left_clusters_empty():
    from jaxclust.runner import kept_seed

    rng = np.random.default_rng(2)
    truth = rng.integers(0, 4, 300)
    merged = np.minimum(truth, 2)  # clusters 2 and 3 merged: 3 of the 4 asked
    noisy = [np.where(rng.random(300) < 0.3, rng.integers(0, 4, 300), truth) for _ in range(3)]
    labels = np.stack([merged, merged, merged, *noisy])
    objectives = np.array([0.1, 0.1, 0.1, 0.4, 0.3, 0.5])
    assert kept_seed(objectives[:3], labels[:3], "central") == 0  # the merged seeds agree fully
    assert kept_seed(objectives, labels, "central") in (3, 4, 5)
    assert kept_seed(objectives, labels, "objective") == 0  # the objective rule is unchanged
    # fewer than 3 seeds use the most clusters: the lowest objective among them
    assert kept_seed(objectives[:5], labels[:5], "central") == 4
