import numpy as np
import pytest

from jaxclust.validation import check_data, check_labels, check_n_clusters


def test_valid_input_becomes_float32():
    out = check_data(np.arange(6, dtype=np.int64).reshape(3, 2))
    assert out.dtype == np.float32 and out.shape == (3, 2)


def test_nan_names_count_and_first_row():
    x = np.ones((10, 3))
    x[4, 1] = np.nan
    x[7, 0] = np.nan
    with pytest.raises(ValueError, match=r"NaN or inf in 2 rows \(first: row 4"):
        check_data(x)


def test_inf_is_rejected():
    x = np.ones((5, 3))
    x[2, 2] = np.inf
    with pytest.raises(ValueError, match="first: row 2, which has inf"):
        check_data(x)


def test_wrong_rank():
    with pytest.raises(ValueError, match=r"must be 2-D .* got shape \(5,\)"):
        check_data(np.ones(5))
    with pytest.raises(ValueError, match=r"got shape \(2, 3, 4\)"):
        check_data(np.ones((2, 3, 4)))


def test_empty_data():
    with pytest.raises(ValueError, match="empty: it has 0 samples"):
        check_data(np.ones((0, 3)))


def test_non_numeric():
    with pytest.raises(TypeError, match="must be numeric"):
        check_data(np.array([["a", "b"], ["c", "d"]]))
    with pytest.raises(TypeError, match="must be numeric"):
        check_data(np.array([[1, None]], dtype=object))


def test_n_clusters_bounds():
    with pytest.raises(ValueError, match="at least 1"):
        check_n_clusters(0, 10)
    with pytest.raises(ValueError,
                       match=r"n_clusters=11 is larger than the number of samples \(10\)"):
        check_n_clusters(11, 10)
    with pytest.raises(TypeError, match="must be an int"):
        check_n_clusters(2.5, 10)


def test_label_length_mismatch():
    with pytest.raises(ValueError, match="y has 3 labels but there are 4 samples"):
        check_labels([0, 1, 2], n_samples=4)
    with pytest.raises(TypeError, match="integer labels"):
        check_labels([0.5, 1.0])
