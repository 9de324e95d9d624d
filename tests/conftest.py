"""Test settings: silent rank promotion is an error; keys come from a fixture; XLA's
backend compiles at -O0."""
import os
from pathlib import Path

# The suite's time is mostly XLA compilation of small programs, not their execution: the
# unoptimised LLVM backend cuts the suite's time by about a third on a 2-core CPU. The
# HLO-level passes still run; only machine-code optimisation is skipped. Set before jax
# starts its backend; subprocesses inherit it.
_O0 = "--xla_backend_optimization_level=0"
if _O0 not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {_O0}".strip()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

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


@pytest.fixture
def digits_head():
    """Run a clustering head on digits from its AE+KM start (key 0) until ``cfg.epochs``
    or its stop flag. Returns ``(start_nmi, end_nmi, state)``."""
    from jaxclust import data, metrics
    from jaxclust.methods import pretrain

    def run(method, cfg):
        x, y = data.load("digits")
        xj = jnp.asarray(x)
        pre = jax.jit(pretrain.fit, static_argnames="cfg")(jax.random.key(0), xj, cfg=cfg)
        start = metrics.nmi(y, np.asarray(pretrain.predict(pre, xj, cfg)))
        state = jax.jit(method.from_pretrained, static_argnames="cfg")(pre, xj, cfg=cfg)
        epoch = jax.jit(method.train_epoch, static_argnames="cfg")
        for _ in range(cfg.epochs):
            state, _ = epoch(state, xj, cfg=cfg)
            if bool(getattr(state, "done", False)):
                break
        return start, metrics.nmi(y, np.asarray(method.predict(state, xj, cfg))), state

    return run
