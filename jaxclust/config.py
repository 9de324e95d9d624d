"""The one config surface: flat, named parameters derived from each method's ``Config``,
shared by the command line, the estimators and the result records; and named presets.

A method's ``Config`` may nest autoencoder configs (``ae``, ``member``); their fields are
flattened under names shared with ClustPy where the concept is the same:

    ae.epochs → pretrain_epochs   ae.lr → pretrain_lr   ae.batch_size → pretrain_batch_size
    ae.latent → embedding_size    ae.<other> → ae_<other>      member.<f> → member_<f>
    epochs → clustering_epochs    lr → clustering_lr   batch_size → clustering_batch_size
    optimizer → clustering_optimizer                    any other field keeps its name

    cfg = build(methods.get("idec"), preset="small", n_clusters=10, pretrain_epochs=200)
    flatten(cfg)["pretrain_epochs"]      # 200

Every value is checked on the way in: a wrong type is a ``TypeError``, a value out of its
range or not among its choices a ``ValueError`` naming the parameter.
"""
from __future__ import annotations

import dataclasses
import numbers
import typing
from typing import Any, NamedTuple

from jaxclust import nets, umap
from jaxclust.methods import Method

_TOP = {"epochs": "clustering_epochs", "lr": "clustering_lr",
        "batch_size": "clustering_batch_size", "optimizer": "clustering_optimizer"}
_AE = {"epochs": "pretrain_epochs", "lr": "pretrain_lr", "batch_size": "pretrain_batch_size",
       "latent": "embedding_size"}

CHOICES = {
    "ae_activation": tuple(nets.ACTIVATIONS), "member_activation": tuple(nets.ACTIVATIONS),
    "ae_output_activation": (*nets.OUTPUT_ACTIVATIONS, "auto"),
    "member_output_activation": (*nets.OUTPUT_ACTIVATIONS, "auto"),
    "ae_kernel_init": tuple(nets.KERNEL_INITS), "member_kernel_init": tuple(nets.KERNEL_INITS),
    "ae_loss": ("mse", "sse", "bce", "auto"), "member_loss": ("mse", "sse", "bce", "auto"),
    "ae_compute_dtype": ("float32", "bfloat16"), "member_compute_dtype": ("float32", "bfloat16"),
    "clustering_optimizer": ("sgd", "adam"), "target": ("full", "batch"),
    "loss": ("hard", "soft"), "error": ("sse", "norm"), "augment": ("none", "rpt", "vat"),
    "umap_init": ("spectral", "random"), "reps_init": ("kmeans", "uniform"),
    "prior_start": ("em", "partition"),
}

HELP = {
    "n_clusters": "number of clusters",
    "n_init": "k-means restarts (k-means++ seeding each)",
    "max_iter": "Lloyd iterations per k-means restart at most",
    "tol": "k-means: relative centre-shift tolerance; DEC/IDEC: stop when fewer than this "
           "fraction of labels change between target updates",
    "ae_hidden": "autoencoder encoder sizes (the decoder mirrors them)",
    "embedding_size": "autoencoder embedding size",
    "ae_activation": "autoencoder activation", "ae_batch_norm": "BatchNorm in the autoencoder",
    "ae_output_activation": "autoencoder output activation (sigmoid: data in [0, 1]; auto: "
                            "the sigmoid on data in [0, 1], else none)",
    "ae_loss": "pre-training reconstruction loss (auto: bce behind a sigmoid output, else mse)",
    "pretrain_epochs": "autoencoder pre-training epochs",
    "pretrain_batch_size": "pre-training mini-batch size",
    "pretrain_lr": "pre-training Adam learning rate",
    "ae_input_dropout": "denoising pre-training: input dropout rate (DEC's: 0.2)",
    "ae_compute_dtype": "matmul dtype (bfloat16 on accelerators)",
    "ae_kernel_init": "weight initialisation (glorot_uniform: Keras's, as DEC-keras, IDEC and "
                      "k-DAE's code)",
    "idec": "keep the decoder and its reconstruction term (IDEC)",
    "gamma": "IDEC: weight of the KL term",
    "alpha": "DEC/IDEC: Student-t degrees of freedom of q; DKM: the softmax's inverse "
             "temperature α",
    "clustering_optimizer": "optimiser of the clustering phase (sgd: momentum 0.9)",
    "clustering_lr": "learning rate of the clustering phase",
    "clustering_batch_size": "mini-batch size of the clustering phase",
    "clustering_epochs": "epochs of the clustering phase (DEC/IDEC: target updates at most)",
    "update_interval": "DEC/IDEC: mini-batches between target updates (default: one pass)",
    "target": "DEC/IDEC: target P from all the data (full) or each mini-batch (batch)",
    "lam": "DCN/DKM: weight λ of the k-means term; IMSAT/RIM: weight λ of the information "
           "term",
    "init_count": "DCN: initial per-cluster count of the online centroid update",
    "member_hidden": "each expert autoencoder's encoder sizes",
    "member_latent": "each expert's embedding size",
    "member_activation": "experts' activation", "member_batch_norm": "BatchNorm in the experts",
    "member_output_activation": "experts' output activation (auto: the sigmoid on data in "
                                "[0, 1], else none)",
    "member_loss": "experts' per-cluster pre-training loss (auto: bce behind a sigmoid "
                   "output, else mse)",
    "member_epochs": "experts' per-cluster pre-training epochs (about passes over a cluster)",
    "member_batch_size": "experts' pre-training mini-batch size",
    "member_lr": "experts' pre-training Adam learning rate",
    "member_input_dropout": "experts' pre-training input dropout",
    "member_compute_dtype": "experts' matmul dtype", "member_kernel_init": "experts' init",
    "loss": "k-DAE: hard (min error, eq. 1) or soft (log-sum-exp, eq. 4)",
    "error": "k-DAE: each expert's error ‖x − x̂‖² (sse, the paper's) or ‖x − x̂‖ (norm, the "
             "authors' code)",
    "gate_hidden": "DAMIC: the gate's hidden sizes",
    "gate_epochs": "DAMIC: the gate's pre-training epochs on the k-means labels",
    "variance": "DAMIC: σ² of each expert's Gaussian likelihood",
    "hidden": "the classifier's hidden sizes",
    "augment": "IMSAT: self-augmentation, virtual adversarial (vat), random (rpt) or none",
    "mu": "IMSAT/RIM: weight μ of the marginal entropy H(Y)",
    "eps_scale": "IMSAT: perturbation radius in units of the distance to the n_neighbors-th "
                 "neighbour",
    "n_neighbors": "IMSAT: the neighbour whose distance sets each point's radius",
    "xi": "IMSAT (VAT): finite-difference step", "weight_decay": "AdamW's decoupled decay",
    "l2": "l2/2 · ‖θ‖² added to the objective (RIM's R(θ))",
    "upper0": "DAC: initial upper threshold", "lower0": "DAC: initial lower threshold",
    "lam_step": "DAC: λ added per epoch", "lam_ratio": "DAC: lower threshold's share of λ",
    "umap_n_components": "N2D head: UMAP's output dimension (the paper: the number of clusters)",
    "umap_n_neighbors": "N2D head: UMAP's neighbours per point",
    "umap_min_dist": "N2D head: UMAP's min_dist (how tightly points may pack)",
    "umap_spread": "N2D head: UMAP's spread (the scale of the layout)",
    "umap_epochs": "N2D head: UMAP's layout epochs (0: 500 up to 10 000 points, else 200)",
    "umap_init": "N2D head: UMAP's initial layout",
    "umap_learning_rate": "N2D head: UMAP's initial SGD step",
    "umap_negative_sample_rate": "N2D head: UMAP's negative samples per edge sample",
    "umap_repulsion_strength": "N2D head: UMAP's weight of the negative samples",
    "umap_block_size": "N2D head: query rows per block of UMAP's exact kNN (memory block × n)",
    "reg_covar": "N2D head: added to each mixture covariance's diagonal",
    "gmm_tol": "N2D head: EM stops when the mean log-likelihood moves less than this",
    "gmm_max_iter": "N2D head: EM iterations at most",
    "gmm_n_init": "N2D head: the mixture's k-means starts (the highest likelihood kept; "
                  "1: the paper's)",
    "anneal": "DKM: raise α every epochs_per_alpha epochs (the authors' schedule)",
    "epochs_per_alpha": "DKM: epochs per α value when annealing",
    "reps_init": "DKM: representatives from k-means on the embedding, or uniform in [-1, 1]",
    "lr_decay": "VaDE: the learning rate's factor every decay_every epochs",
    "decay_every": "VaDE: epochs between learning-rate decays",
    "min_lr": "VaDE: the learning rate's floor",
    "warmup_epochs": "VaDE: epochs over which the learning rate ramps up linearly (0: none)",
    "adam_eps": "VaDE: Adam's ε",
    "prior_start": "VaDE: the mixture prior by EM from the start partition (the paper's), or "
                   "that partition's own means and variances",
    "block_size": "rows per block of every full-data pass (embedding, predictions, "
                  "objectives): memory grows with it, not with n; results do not depend on it",
}


class Param(NamedTuple):
    """One flat parameter: ``name``; ``path`` into the Config (``("ae", "epochs")``);
    ``kind``: ``"int"``, ``"float"``, ``"str"``, ``"bool"`` or ``"ints"`` (a tuple of
    ints); ``optional``: ``None`` allowed; ``default`` (the method's); ``choices``."""

    name: str
    path: tuple[str, ...]
    kind: str
    optional: bool
    default: Any
    choices: tuple | None
    help: str


class Preset(NamedTuple):
    """A named set of flat values: ``values`` for every method that has them (only the
    pre-training methods when ``pretrained_only``), then ``per_method`` by method name."""

    doc: str
    values: dict
    pretrained_only: bool = False
    per_method: dict = {}


PRESETS = {
    "paper": Preset("each method's own defaults: the papers' settings", {}),
    "small": Preset(
        "for data sets of a few thousand points (digits): a 256-256-512 autoencoder "
        "pre-trained 100 epochs, batches of 64; k-DAE/DAMIC: 256-64 experts pre-trained 50 "
        "epochs, joint Adam 1e-3; DCN: Adam 1e-4; DKM: λ 0.1; VaDE: 100 epochs (the last "
        "three chosen by silhouette over four small sets, experiments/selection/small-*.json)",
        {"ae_hidden": (256, 256, 512), "pretrain_epochs": 100, "pretrain_batch_size": 64,
         "clustering_batch_size": 64, "member_hidden": (256, 64), "member_epochs": 50,
         "member_batch_size": 64},
        pretrained_only=True,
        per_method={"kdae": {"clustering_lr": 1e-3}, "damic": {"clustering_lr": 1e-3},
                    "dcn": {"clustering_lr": 1e-4}, "dkm": {"lam": 0.1},
                    "vade": {"clustering_epochs": 100}}),
}


def _kind(hint) -> tuple[str, bool]:
    optional = False
    args = typing.get_args(hint)
    if type(None) in args:
        optional = True
        hint = next(a for a in args if a is not type(None))
    if hint is bool:
        return "bool", optional
    if hint is int:
        return "int", optional
    if hint is float:
        return "float", optional
    if hint is str:
        return "str", optional
    if typing.get_origin(hint) is tuple:
        return "ints", optional
    raise TypeError(f"no flat parameter for a field of type {hint}")


def flat_name(path: tuple[str, ...]) -> str:
    if len(path) == 1:
        return _TOP.get(path[0], path[0])
    outer, field = path
    if outer == "ae":
        return _AE.get(field, f"ae_{field}")
    return f"{outer}_{field}"


def params(method: Method) -> list[Param]:
    """The flat parameters of ``method``, with its defaults, in the Config's field order."""
    out = []

    def walk(cfg, prefix):
        hints = typing.get_type_hints(type(cfg))
        for f in dataclasses.fields(cfg):
            value = getattr(cfg, f.name)
            path = (*prefix, f.name)
            if dataclasses.is_dataclass(value):
                walk(value, path)
                continue
            kind, optional = _kind(hints[f.name])
            name = flat_name(path)
            out.append(Param(name, path, kind, optional, value, CHOICES.get(name),
                             HELP.get(name, name.replace("_", " "))))

    walk(method.make_config(), ())
    return out


def check(param: Param, value):
    """``value`` checked (and normalised: lists become tuples, ints floats) for ``param``."""
    name = param.name
    if value is None:
        if param.optional:
            return None
        raise TypeError(f"{name} must not be None")
    if param.kind == "bool":
        if not isinstance(value, (bool,)) and type(value).__name__ != "bool_":
            raise TypeError(f"{name} must be True or False, got {value!r}")
        return bool(value)
    if param.kind == "str":
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a string, got {type(value).__name__}")
        if param.choices and value not in param.choices:
            raise ValueError(f"{name} must be one of {', '.join(param.choices)}, got {value!r}")
        return value
    if param.kind == "ints":
        if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
            raise TypeError(f"{name} must be a sequence of ints, got {value!r}")
        items = tuple(value)
        for v in items:
            _check_number(name, v, integral=True, low=1)
        return tuple(int(v) for v in items)
    integral = param.kind == "int"
    _check_number(name, value, integral, lowest_int(name) if integral else 0)
    if not integral:
        value = float(value)
        positive = name.endswith("lr") or name in ("variance", "xi", "umap_spread",
                                                   "umap_learning_rate", "alpha", "adam_eps")
        if positive and not value > 0:
            raise ValueError(f"{name} must be > 0, got {value}")
        if name.endswith("dropout") and not 0 <= value < 1:
            raise ValueError(f"{name} must be in [0, 1), got {value}")
        if name in ("tol", "weight_decay", "l2", "eps_scale", "umap_min_dist",
                    "umap_repulsion_strength", "reg_covar", "gmm_tol") and value < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")
    return int(value) if integral else value


def lowest_int(name: str) -> int:
    """The smallest value of the int setting ``name``: 0 for epochs (none of that phase),
    :data:`umap.MIN_NEIGHBORS` for UMAP's neighbours, else 1."""
    if name.endswith("epochs"):
        return 0
    return umap.MIN_NEIGHBORS if name == "umap_n_neighbors" else 1


def _check_number(name: str, value, integral: bool, low):
    kind = numbers.Integral if integral else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        raise TypeError(f"{name} must be {'an int' if integral else 'a number'}, "
                        f"got {type(value).__name__} {value!r}")
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{name} must be finite, got {value}")
    if low is not None and value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")


def preset_values(method: Method, preset: str) -> dict:
    """The flat values ``preset`` sets for ``method``."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; one of {', '.join(PRESETS)}")
    spec = PRESETS[preset]
    if spec.pretrained_only and not method.pretrains:
        return {}
    names = {p.name for p in params(method)}
    return {**{k: v for k, v in spec.values.items() if k in names},
            **spec.per_method.get(method.name, {})}


def build(method: Method, preset: str = "paper", **values):
    """``method``'s Config: its defaults, then ``preset``, then ``values`` (flat names)."""
    by_name = {p.name: p for p in params(method)}
    unknown = sorted(set(values) - set(by_name))
    if unknown:
        raise TypeError(f"{method.name} has no parameter {', '.join(unknown)}; its "
                        f"parameters: {', '.join(by_name)}")
    merged = {**preset_values(method, preset), **values}
    nested: dict = {}
    for name, value in merged.items():
        p = by_name[name]
        target = nested
        for part in p.path[:-1]:
            target = target.setdefault(part, {})
        target[p.path[-1]] = check(p, value)
    base = method.make_config()
    top = {k: v for k, v in nested.items() if not isinstance(v, dict)}
    for outer, fields in nested.items():
        if isinstance(fields, dict):
            top[outer] = dataclasses.replace(getattr(base, outer), **fields)
    return dataclasses.replace(base, **top)


def flatten(cfg) -> dict:
    """Every flat parameter of a Config by name (the inverse of :func:`build`)."""
    out = {}

    def walk(c, prefix):
        for f in dataclasses.fields(c):
            value = getattr(c, f.name)
            if dataclasses.is_dataclass(value):
                walk(value, (*prefix, f.name))
            else:
                out[flat_name((*prefix, f.name))] = value

    walk(cfg, ())
    return out


def add_arguments(parser, method: Method, skip: tuple[str, ...] = ()) -> None:
    """One ``--flag`` per flat parameter of ``method`` (default ``None``: the preset's or
    the method's value), with its help text and default."""
    import argparse

    group = parser.add_argument_group(f"{method.name} settings")
    for p in params(method):
        if p.name in skip:
            continue
        flag = "--" + p.name.replace("_", "-")
        shown = "none" if p.default is None else (
            " ".join(map(str, p.default)) if isinstance(p.default, tuple) else p.default)
        kwargs = dict(default=None, dest=p.name, help=f"{p.help} (default: {shown})")
        if p.kind == "bool":
            group.add_argument(flag, action=argparse.BooleanOptionalAction, **kwargs)
        elif p.kind == "ints":
            group.add_argument(flag, type=int, nargs="+", metavar="N", **kwargs)
        else:
            conv = {"int": int, "float": float, "str": str}[p.kind]
            group.add_argument(flag, type=conv, choices=p.choices, **kwargs)


def from_args(method: Method, args, preset: str, **values):
    """The Config from parsed :func:`add_arguments` flags (those given), then ``values``."""
    given = {p.name: getattr(args, p.name) for p in params(method)
             if getattr(args, p.name, None) is not None}
    return build(method, preset, **{**given, **values})
