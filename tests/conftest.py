"""Strict test settings: silent rank promotion is an error; keys come from a fixture."""
import os
from pathlib import Path

import jax
import pytest

jax.config.update("jax_numpy_rank_promotion", "raise")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def key():
    """A fresh, fixed PRNG key for each test."""
    return jax.random.key(0)


@pytest.fixture(scope="session")
def data_dir():
    """The raw data folder ($JAXCLUST_DATA, else ../shared/data); skips when absent."""
    path = Path(os.environ.get("JAXCLUST_DATA", SHARED_DATA))
    if not path.is_dir():
        pytest.skip(f"raw data folder {path} not present")
    return path
