"""The source documents' tables as lists of cells, run cell by cell (resumable).

    python experiments/tables.py damic_synthetic --seeds 0 1 2 3 4
    python experiments/tables.py mnist --data-dir ../shared/data --seeds 0 1 2
    python experiments/tables.py --list

Each cell is one ``experiments/run.py`` call (method, data set, settings); run.py writes
one record per seed, ``results/<table>/<cell>/seed<k>.json``, and skips seeds already
recorded, so a table fills up over several sittings, on a CPU or a GPU.
``python experiments/report.py`` then builds RESULTS.md.
Methods of one seed share one cached pre-trained autoencoder (run.py's ``--cache``).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402

# The image sets' settings (MNIST runs so far): 100 pre-training epochs of d-500-500-2000-10.
AE = ["--ae-epochs", "100"]
IMAGE_CELLS = [
    ("kmeans", []), ("aekm", AE), ("dec", AE + ["--max-epochs", "40"]),
    ("idec", AE + ["--max-epochs", "40"]),
    ("dcn", AE + ["--max-epochs", "20", "--cluster-lr", "1e-4"]),
    ("kdae", AE), ("damic", AE),
]
AE300 = ["--ae-epochs", "300", "--tag=-ae300"]
# The same with Keras's Glorot-uniform initialisation, as DEC-keras and IDEC pre-train.
AE300_GLOROT = ["--ae-epochs", "300", "--kernel-init", "glorot_uniform", "--tag=-ae300-glorot"]
GLOROT = ["--kernel-init", "glorot_uniform", "--tag=-glorot"]
# k-DAE's joint phase as the authors' code runs it: error ‖x − x̂‖ (not squared), Adam at
# Keras's default 1e-3 (the paper's eq. 1 squares the error; our default follows the paper).
KDAE_AUTHORS_JOINT = ["--error", "norm", "--cluster-lr", "1e-3"]
# The initial autoencoder as the k-DAE authors' code builds it (ELU, BatchNorm, sigmoid
# output, BCE): on a 10 000-image Fashion-MNIST subset its AE+KM beat our default's
# (experiments/tuning/README.md).
KDAE_AE_RECIPE = ["--ae-recipe", "kdae", "--tag=-kdaerecipe"]
# Synthetic (d = 100, generated from 2-D clusters): a smaller autoencoder with a 2-D
# embedding, small experts, and σ² = 0.001 (the experts' errors are ≈ 1e-3; see
# damic.Config.variance). Latent size, σ², epochs chosen on seeds 0–2 (σ² ∈ {1, 0.01,
# 0.001, 0.0003}, 30 or 60 epochs); seeds 3–4 were not looked at before.
SYN_AE = ["--hidden", "256", "256", "512", "--latent", "2", "--ae-epochs", "50",
          "--batch-size", "64"]
SYN_DAMIC_REST = ["--member-latent", "2", "--member-epochs", "50", "--gate-hidden", "64", "64",
                  "--gate-epochs", "20", "--variance", "0.001", "--max-epochs", "30"]
SYN_DAMIC_NETS = ["--member-hidden", "64", "32"] + SYN_DAMIC_REST
SYN_DAMIC = SYN_DAMIC_NETS + ["--cluster-lr", "1e-3"]
# 20NEWS rows have unit L2 norm, so the AE's MSE (≈ 3.5e-4 per feature) is far below MNIST's
# and DCN's λ = 0.1 lets the k-means term distort the embedding. λ chosen on seed 0 by NMI
# from {0.001, …, 1} (experiments/tuning/README.md).
NEWS20_DCN = ["--lam", "0.03"]

TABLES = {
    "damic_synthetic": (
        "DAMIC slides, Table 2: synthetic (n = 10 000, d = 100, k = 4), NMI/ARI — expect "
        "KM .80/.81, SC .82/.83, AE+KM .83/.84, DAMIC .94/.96.",
        [("synthetic", "kmeans", []), ("synthetic", "sc", []), ("synthetic", "aekm", SYN_AE),
         ("synthetic", "damic", SYN_AE + SYN_DAMIC),
         # seed 0's joint loss still falls at epoch 30 (3.4 → 1.9 over epochs 25–30) and
         # levels off by ≈ 60; trained to 100 epochs, 3 of 5 seeds drift to a worse partition
         ("synthetic", "damic", SYN_AE + SYN_DAMIC + ["--max-epochs", "100", "--tag=-e100"]),
         # Keras's Glorot init (which lifted k-DAE/DAMIC on USPS) does not help here
         ("synthetic", "damic", SYN_AE + SYN_DAMIC + GLOROT),
         # the paper's Adam rate: a smooth joint phase instead of 1e-3's oscillation
         ("synthetic", "damic", SYN_AE + SYN_DAMIC_NETS + ["--cluster-lr", "1e-4",
                                                           "--tag=-lr1e-4"]),
         # smaller experts (one hidden layer of 32), which cannot each reconstruct the whole
         # 2-D manifold, so they specialise (chosen on seeds 0–2: experiments/tuning/)
         ("synthetic", "damic", SYN_AE + ["--member-hidden", "32"] + SYN_DAMIC_REST
          + ["--cluster-lr", "1e-4", "--tag=-lr1e-4-m32"])]),
    "mnist": (
        "k-DAE paper Table 2 (MNIST rows) + DEC/IDEC papers: NMI/ARI/ACC — expect KM "
        ".50/.37/.53, AE+KM .73/.69/.81, DEC .80/.75/.84, IDEC ACC .881, DCN .81/.75/.83, "
        "k-DAE .86/.82/.88, DAMIC .87/.81/.89.",
        [("mnist", m, extra) for m, extra in IMAGE_CELLS]),
    "mnist_ae300": (
        "DEC/IDEC with longer pre-training (MNIST): DEC pre-trains ≈ 100 000 fine-tuning "
        "iterations (≈ 365 epochs at batch 256), IDEC 200 epochs; here 300 epochs, IDEC's "
        "target updated every 140 iterations as in its paper; rows -glorot also initialise "
        "the AE as Keras does — expect DEC ACC .84, IDEC .881.",
        [("mnist", m, ae + extra) for ae in (AE300, AE300_GLOROT) for m, extra in (
            ("aekm", []), ("dec", ["--max-epochs", "40"]),
            ("idec", ["--max-epochs", "40", "--update-interval", "140"]))]),
    "fashion_mnist": (
        "k-DAE paper Table 2 (Fashion-MNIST): expect KM .51/.37/.47, AE+KM .62/.46/.59, "
        "k-DAE .65/.48/.60.",
        [("fashion_mnist", m, extra) for m, extra in IMAGE_CELLS]
        + [("fashion_mnist", "kdae", AE + KDAE_AUTHORS_JOINT + ["--tag=-norm-lr1e-3"])]
        + [("fashion_mnist", m, AE + KDAE_AE_RECIPE) for m in ("aekm", "kdae", "damic")]),
    "usps": (
        "k-DAE paper Table 2 (USPS): expect KM .63/.55/.67, AE+KM .68/.61/.71, k-DAE .80/.71/.77.",
        [("usps", m, extra) for m, extra in IMAGE_CELLS]),
    "news20": (
        "DAMIC slides, Table 5: 20 Newsgroups (18 846 × 2 000 tf-idf, k = 20; ours: Subject "
        "line + body, sublinear tf, 18 834 non-empty messages — experiments/tuning/README.md), "
        "NMI/ARI/ACC — "
        "expect KM .41/.15/.30, SC .40/.17/.34, AE+KM .47/.28/.42, DCN .48/.34/.44, DAMIC "
        ".57/.42/.56.",
        [("20news", m, extra + (NEWS20_DCN if m == "dcn" else []))
         for m, extra in IMAGE_CELLS if m in ("kmeans", "aekm", "dcn", "damic")]
        + [("20news", "sc", [])]),
    "dec_imbalanced": (
        "DEC notes, Table 4: imbalanced MNIST (class c kept with probability r_min + "
        "(1 − r_min)·c/9), ACC — expect DEC 70.10 / 80.92 / 82.68 / 84.69 / 85.41 % at "
        "r_min 0.1 / 0.3 / 0.5 / 0.7 / 0.9 (KM 47–54 %, AE+KM 67–81 %).",
        [("mnist", m, extra + ["--r-min", r]) for r in ("0.1", "0.3", "0.5", "0.7", "0.9")
         for m, extra in IMAGE_CELLS if m in ("kmeans", "aekm", "dec", "idec", "kdae", "damic")]),
    "imsat": (
        "IMSAT paper (MNIST, MLP d-1200-1200-10), ACC — expect IMSAT (VAT) 98.4 % ± 0.4, "
        "IMSAT (RPT) 89.6 %, RIM 58.5 %; DAC: 97.75 % with its convolutional network (ours: "
        "the MLP). Fashion-MNIST and USPS for IMSAT (VAT).",
        [("mnist", "imsat", []), ("mnist", "imsat", ["--augment", "rpt"]),
         # RPT's radius and RIM's penalty chosen on a 10 000-image subset (experiments/tuning/)
         ("mnist", "imsat", ["--augment", "rpt", "--eps-scale", "4", "--tag=-eps4"]),
         ("mnist", "rim", []), ("mnist", "rim", ["--l2", "0.1", "--tag=-l2_0.1"]),
         # RIM with AdamW's decoupled decay instead of the penalty in the objective
         ("mnist", "rim", ["--l2", "0", "--weight-decay", "1e-4", "--tag=-adamw1e-4"]),
         ("mnist", "rim", ["--l2", "0", "--weight-decay", "1e-2", "--tag=-wd1e-2"]),
         ("mnist", "dac", []), ("fashion_mnist", "imsat", []), ("usps", "imsat", [])]),
    "kdae_glorot": (
        "k-DAE paper Table 2 with every network initialised as Keras does (the paper's code is "
        "Keras): k-DAE and DAMIC, their AE+KM start — expect k-DAE MNIST .86/.82/.88, "
        "Fashion .65/.48/.60, USPS .80/.71/.77; DAMIC (slides) MNIST .87/.81/.89.",
        [(d, m, AE + GLOROT) for d in ("usps", "fashion_mnist", "mnist")
         for m in ("aekm", "kdae", "damic")]
        + [("usps", "kdae", AE + GLOROT[:2] + ["--error", "norm", "--tag=-glorot-norm"]),
           ("usps", "kdae", AE + GLOROT[:2] + KDAE_AUTHORS_JOINT
            + ["--tag=-glorot-norm-lr1e-3"]),
           ("usps", "damic", AE + GLOROT[:2] + ["--cluster-lr", "1e-3", "--tag=-glorot-lr1e-3"])]),
    "damic_ablation": (
        "DAMIC slides, Table 7 (MNIST), NMI/ARI/ACC — expect DAMIC .87/.81/.89; pre-training "
        "only .74/.67/.80; joint training only from random initialisation .71/.53/.60; KM "
        ".50/.37/.53.",
        [("mnist", "kmeans", []),
         ("mnist", "damic", AE + ["--max-epochs", "0", "--tag=-pretrain-only"]),
         ("mnist", "damic",
          AE + ["--member-epochs", "0", "--gate-epochs", "0", "--tag=-joint-only"]),
         ("mnist", "damic", AE)]),
}

# Cells short of 5 seeds and why, and seeds run apart; RESULTS.md lists these under
# their table.
SEED_NOTES = {
    "damic_synthetic": [
        "Rows aekm and damic: seeds 0–9, all run with the code of 2026-11-30 (seeds 0–4 "
        "re-run then: their records of 1eb2633 gave DAMIC .945/.956, and the AE+KM start had "
        "changed with later code); kmeans and sc gain seeds 5–9 (the same numbers: the data "
        "set is one fixed draw, and both are stable across seeds). All ran beside a "
        "Fashion-MNIST k-DAE run on the same 2 cores, seed 5 at nice 19, so wall times are "
        "inflated. Rows damic-e100 and damic-glorot are older records (seeds 0–4, code of "
        "their commits).",
        "DAMIC's joint phase at Adam 1e-3 oscillates: on seed 7 the gate's ARI swings between "
        ".906 and .976 from epoch to epoch (loss 1.0–5.0), so the last epoch is a draw. Row "
        "damic-lr1e-4 (the paper's rate; run after seeing seed 7, all 10 seeds reported) is "
        "smooth and ends ≈ .01 ARI above its AE+KM start, but it peaks early and then "
        "drifts down (seeds 0–2: ARI .928/.947/.952 at the start, .925/.959/.957 "
        "at epoch 10, .912/.955/.951 at 30), the same for σ² = 1e-3, 3e-4, 1e-4. With a 2-D "
        "latent each expert can reconstruct the whole 2-D data manifold, so the experts' "
        "errors separate the clusters only weakly; a 1-D latent is worse (ARI .75–.87 after "
        "30 epochs at 1e-4).",
        "The drift is the objective's, not the gate's lag: at 1e-4 (seeds 0–2) the gate's "
        "argmax, the experts' argmin error and the posterior argmax agree on 99.8–99.9 % of "
        "points from epoch 5 on and fall together (seed 0: gate .928 → .912, argmin error "
        ".938 → .913 over 30 epochs). Gate pre-training 100 epochs instead of 20 changes "
        "nothing (seed 0: .931 → .915); linear experts (no hidden layer) start higher "
        "(argmin error .944) and collapse to ARI .56 by epoch 30.",
        "Row damic-glorot ran beside a Fashion-MNIST pre-training on the same 2 cores, so its "
        "wall times are about twice the others'.",
        "Row damic-lr1e-4-m32 (2026-12-01, seeds 0–9, at nice 19 beside a Fashion-MNIST run; "
        "seed 0's wall time includes ≈ 6 min of compiling): the experts shrunk from "
        "2-64-32-2 to one hidden layer of 32 units, the rest as damic-lr1e-4. Chosen on seeds "
        "0–2 among five expert sizes/pre-training lengths (experiments/tuning/README.md); "
        "seeds 3–9 were run once, after the choice. ARI per seed .978–.996, every seed above "
        "its AE+KM start: a smaller expert fits its own cluster's stretch of the manifold "
        "but not the others', so the errors separate the clusters and the joint phase no "
        "longer drifts.",
    ],
    "mnist_ae300": [
        "Rows -glorot: seeds 0–2 so far; pre-training 300 epochs takes 1.2–2 h per seed on "
        "the 2-core CPU, so seeds are added as they finish (no GPU lent since).",
    ],
    "fashion_mnist": [
        "Row kdae-norm-lr1e-3 (seed 0, 2-core CPU, 2 h 10 min; pre-training beside the test "
        "suite): the authors' joint phase (error ‖x − x̂‖, Adam 1e-3), which lifted USPS "
        "(kdae_glorot), collapses Fashion-MNIST here: ACC .546 at its AE+KM start → .394 "
        "(NMI .566 → .544), where the default joint phase rose .532 → .591 on seed 0. Its "
        "experts figure shows why: four of the ten autoencoders now output noise (none is "
        "idle, yet none of them wins any class's first image) and one wins five of them. Its "
        "other seeds were not run.",
        "Rows -kdaerecipe (seeds 0–4, 2-core CPU: 27–38 min of pre-training, 60–80 min of "
        "k-DAE each; seeds 1–2 resumed their pre-training from checkpoints, seeds 3–4 reused "
        "an AE pre-trained in an earlier sitting): the initial autoencoder as the authors' "
        "code builds it (ELU, BatchNorm, sigmoid output, BCE). AE+KM starts at NMI .652 / "
        ".629 / .625 / .630 / .621, ACC .567 / .592 / .587 / .595 / .576 (default recipe, "
        "seed 0: .564 / .532); "
        "k-DAE ends at NMI .677 / .646 / .639 / .653 / .641, ARI .500 / .484 / .478 / .491 / "
        ".480, ACC .584 / .603 / .597 / .597 / .581. In seeds 0–3's expert figures one "
        "expert wins pullover, coat and shirt (classes 2, 4, 6); in seed 4's one wins "
        "pullover and shirt, another T-shirt and coat.",
        "Row damic-kdaerecipe: DAMIC on the same AEs (≈ 60–80 min a seed on this CPU; "
        "seeds 0 and 1 resumed from checkpoints, so their wall times count their last "
        "sitting only; seeds 2–4 re-trained their AEs: their AE+KM starts are within "
        ".0001 of k-DAE's). Seeds 0 / 1 / 2 / 3 / 4 end at NMI .683 / .650 / .646 / .659 / "
        ".647, ARI .500 / .483 / .480 / .495 / .483, ACC .585 / .601 / .598 / .607 / .590 "
        "from their AE+KM starts .652 / .629 / .624 / .630 / .621, .472 / .461 / .458 / "
        ".472 / .458, .567 / .592 / .587 / .595 / .576 (k-DAE on the same AEs: ACC .584 / "
        ".603 / .597 / .597 / .581): DAMIC adds ≈ +.01 ACC to its start, as k-DAE does. In "
        "seed 2's experts figure one expert again wins pullover, coat and shirt; in seeds 3 "
        "and 4 one wins pullover and shirt and another the coat.",
    ],
    "imsat": [
        "Rows with a suffix are variants kept for comparison; RIM with l2 0.1: seeds 0, 3, 4.",
    ],
    "kdae_glorot": [
        "USPS: 5 seeds. Fashion-MNIST: seed 0 only (≈ 26 min of AE pre-training and 78 min "
        "of k-DAE on the 2-core CPU); it is below the default init's seed 0 (k-DAE ACC .543 vs "
        ".591, AE+KM .512 vs .532), so its other seeds wait. MNIST: not run yet.",
        "Rows -glorot-norm and -glorot-norm-lr1e-3 (seeds 0–2): the authors' "
        "code's joint phase (error ‖x − x̂‖, and Keras's Adam rate 1e-3), tried on USPS first "
        "because a USPS seed costs ≈ 6 min on the 2-core CPU and a 70 000-image seed ≈ 2 h. "
        "DAMIC with Adam 1e-3 (row -glorot-lr1e-3, seed 0 only) is worse than at 1e-4.",
    ],
    "dec_imbalanced": [
        "k-DAE and DAMIC seeds 1–2 ran on an H100 with their own pre-trained autoencoder, so "
        "they do not share the one DEC/IDEC used on those seeds (seeds 0, 3 and 4 do).",
    ],
}


# Cells whose settings were chosen by looking at ACC/NMI/ARI on the data set they report
# (issue 41 lists how): RIM's L2 and IMSAT-RPT's radius (ACC on 10 000 MNIST images),
# 20NEWS DCN's λ (NMI on seed 0), the 20NEWS tf-idf pipeline, the Fashion "authors'
# initial AE" rows (ACC on a Fashion subset), the synthetic DAMIC rows (σ², latent size,
# epochs, expert size by ARI on seeds 0–2).
CHOSEN_BY_LABELS = ("rim_mnist", "imsat-rpt_mnist", "dcn_20news", "aekm_20news",
                    "damic_20news", "kmeans_20news", "sc_20news")
CHOSEN_BY_LABELS_PREFIX = ("damic_synthetic", "aekm_synthetic", "rim_mnist-", "imsat-rpt_mnist-")


def chosen_by(cell: str) -> str:
    """``labels`` for the cells above, else ``paper``."""
    if cell in CHOSEN_BY_LABELS or cell.endswith("-kdaerecipe") or cell.startswith(
            CHOSEN_BY_LABELS_PREFIX):
        return "labels"
    return "paper"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("table", nargs="?", choices=sorted(TABLES))
    p.add_argument("--list", action="store_true", help="print the tables and their cells")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--methods", nargs="+", default=None, help="only these methods' cells")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--results", default=None)
    p.add_argument("--cache", default=None)
    args = p.parse_args(argv)
    if args.list or args.table is None:
        for name, (doc, cells) in TABLES.items():
            print(f"{name}: {doc}\n  " + "\n  ".join(" ".join([m, d, *e]) for d, m, e in cells))
        return
    for dataset, method, extra in TABLES[args.table][1]:
        if args.methods and method not in args.methods:
            continue
        common = [f"--{opt.replace('_', '-')}={getattr(args, opt)}"
                  for opt in ("data_dir", "results", "cache") if getattr(args, opt)]
        run.log(f"{args.table}: {method} on {dataset} {' '.join(extra)}")
        cell = run.cell_name(run.build_parser().parse_args(
            ["--method", method, "--dataset", dataset, *extra]))
        run.main(["--table", args.table, "--chosen-by", chosen_by(cell), "--method", method,
                  "--dataset", dataset, *extra, *common, "--seeds", *map(str, args.seeds)])


if __name__ == "__main__":
    main()
