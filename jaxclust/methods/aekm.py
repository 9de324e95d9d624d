"""AE+KM: the shared pre-training phase alone — an autoencoder, then k-means on its
embedding (:mod:`jaxclust.methods.pretrain`); no clustering phase of its own."""
from __future__ import annotations

from jaxclust.methods import pretrain
from jaxclust.methods.base import Method

METHOD = Method(
    name="aekm", config=pretrain.Config,
    summary="autoencoder pre-training, then k-means on the embedding",
    pretrains=True, start=lambda pre, x, cfg: pre,
    predict=pretrain.predict, objective=pretrain.objective, features=pretrain.embed)
