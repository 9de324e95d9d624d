"""Clustering methods, one module each: ``Config``, state, ``init``, ``train_epoch``,
``predict``, ``fit``."""
