"""Build experiments/RESULTS.md (and figures/) from the per-seed JSON records in results/.

    python experiments/report.py

One section per table of ``experiments/tables.py``: each cell's mean ± std over seeds of
NMI / ARI / ACC beside the published number and the difference (flagged where ours is
lower); the imbalanced-MNIST table as methods × r_min; choosing k (each
``results/select_k_*/select_k.json`` written by ``jaxclust select-k --out``, its figure copied
to ``figures/select_k_*.png``); then every other record (digits, IMSAT/RIM/DAC, variants).
Figures: the per-seed ACC (NMI where ACC is not published) of each method, per table, in
``experiments/figures/``.
"""
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from tables import SEED_NOTES, TABLES

from jaxclust import record

HERE = Path(__file__).resolve().parent
# (method, dataset) → published NMI / ARI / ACC (k-DAE paper Table 2; DAMIC slides Table 2;
# DEC / IDEC / IMSAT papers as quoted in METHODS.md).
PUBLISHED = {
    ("kmeans", "mnist"): (0.50, 0.37, 0.53), ("aekm", "mnist"): (0.73, 0.69, 0.81),
    ("dec", "mnist"): (0.80, 0.75, 0.84), ("dcn", "mnist"): (0.81, 0.75, 0.83),
    ("idec", "mnist"): (None, None, 0.881),
    ("imsat", "mnist"): (None, None, 0.984), ("imsat-rpt", "mnist"): (None, None, 0.896),
    ("rim", "mnist"): (None, None, 0.585),
    ("kdae", "mnist"): (0.86, 0.82, 0.88), ("damic", "mnist"): (0.87, 0.81, 0.89),
    ("kmeans", "fashion_mnist"): (0.51, 0.37, 0.47), ("aekm", "fashion_mnist"): (0.62, 0.46, 0.59),
    ("kdae", "fashion_mnist"): (0.65, 0.48, 0.60), ("damic", "fashion_mnist"): (0.65, 0.48, 0.60),
    ("dec", "fashion_mnist"): (0.54, 0.40, 0.51), ("dcn", "fashion_mnist"): (0.55, 0.42, 0.50),
    ("kmeans", "usps"): (0.63, 0.55, 0.67), ("aekm", "usps"): (0.68, 0.61, 0.71),
    ("kdae", "usps"): (0.80, 0.71, 0.77), ("damic", "usps"): (0.78, 0.70, 0.75),
    ("dec", "usps"): (0.77, None, 0.76), ("dcn", "usps"): (0.68, None, 0.69),
    ("kmeans", "20news"): (0.41, 0.15, 0.30), ("sc", "20news"): (0.40, 0.17, 0.34),
    ("aekm", "20news"): (0.47, 0.28, 0.42), ("dcn", "20news"): (0.48, 0.34, 0.44),
    ("damic", "20news"): (0.57, 0.42, 0.56),
    ("kmeans", "synthetic"): (0.80, 0.81, None), ("sc", "synthetic"): (0.82, 0.83, None),
    ("aekm", "synthetic"): (0.83, 0.84, None), ("damic", "synthetic"): (0.94, 0.96, None),
}
# DAMIC slides, Table 7 (ablation on MNIST), by record name.
ABLATION = {"damic_mnist-pretrain-only": (0.74, 0.67, 0.80),
            "damic_mnist-joint-only": (0.71, 0.53, 0.60)}
R_MINS = (0.1, 0.3, 0.5, 0.7, 0.9)
# DEC notes, Table 4: ACC on imbalanced MNIST at each r_min.
IMBALANCED = {"kmeans": (0.4714, 0.4993, 0.5365, 0.5416, 0.5439),
              "aekm": (0.6682, 0.7491, 0.7793, 0.8004, 0.8131),
              "dec": (0.7010, 0.8092, 0.8268, 0.8469, 0.8541)}
METRICS = ("nmi", "ari", "acc")


def fmt(values):
    """Mean ± std over seeds; a single seed's value alone (it has no spread to show)."""
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}"


def load_groups():
    """The records (``results/<table>/<cell>/seed<k>.json``, one schema: jaxclust.record)
    grouped by cell, each cell's in seed order: ``{cell: [record, …]}``; the ``variants``
    table's apart."""
    groups = defaultdict(list)
    for path in (HERE / "results").glob("*/*/seed*.json"):
        rec = json.loads(path.read_text())
        record.check(rec)
        groups[rec["cell"]].append(rec)
    return {cell: sorted(recs, key=lambda r: r["seed"]) for cell, recs in sorted(groups.items())}


def cell_variant(method, dataset, extra):
    """The record name (without the seed) that run.py writes for a cell."""
    r_min = extra[extra.index("--r-min") + 1] if "--r-min" in extra else None
    tag = next((e.split("=", 1)[1] for e in extra if e.startswith("--tag=")), "")
    if method == "imsat" and "rpt" in extra:
        method = "imsat-rpt"
    return f"{method}_{dataset}" + (f"-rmin{float(r_min):g}" if r_min else "") + tag


def row(label, dataset, variant, recs):
    """One table row: ours over seeds, the paper, and ours − paper on the last published metric."""
    paper = ABLATION.get(variant, PUBLISHED.get((variant.split(f"_{dataset}")[0], dataset)))
    paper_s = "/".join("–" if v is None else f"{v:g}" for v in paper) if paper else ""
    if not recs:
        return f"| {label} | – | not run yet | | | {paper_s} | | | |"
    m = {key: [r["metrics"][key] for r in recs] for key in METRICS}
    diff = ""
    if paper:
        i = max(j for j, v in enumerate(paper) if v is not None)
        d = float(np.mean(m[METRICS[i]])) - paper[i]
        diff = f"{d:+.3f} {METRICS[i].upper()}" + (" **below**" if d < 0 else "")
    seeds = ",".join(str(r["seed"]) for r in recs)
    return (f"| {label} | {len(recs)} ({seeds}) | {fmt(m['nmi'])} | {fmt(m['ari'])} | "
            f"{fmt(m['acc'])} | {paper_s} | {diff} | "
            f"{np.mean([r['wall_time_s'] for r in recs]):.0f} | {devices(recs)} |")


def devices(recs) -> str:
    """Where the seeds ran, e.g. ``cpu (2 cores) ×3, NVIDIA H100 80GB HBM3 ×2``."""
    counts = Counter(r["device"] for r in recs)
    return ", ".join(f"{d} ×{n}" if len(counts) > 1 else d for d, n in counts.items())


def plot_table(name, cells, groups):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [(m, groups[cell_variant(m, d, e)]) for d, m, e in cells
             if groups.get(cell_variant(m, d, e))]
    if not shown:
        return None
    fig, ax = plt.subplots(figsize=(1.2 * len(shown) + 2, 3.2))
    for i, (method, recs) in enumerate(shown):
        values = [r["metrics"]["acc"] for r in recs]
        ax.scatter(np.full(len(values), i), values, s=18)
        ax.hlines(np.mean(values), i - 0.25, i + 0.25, color="k")
    ax.set_xticks(range(len(shown)), [m for m, _ in shown])
    ax.set_ylabel("ACC per seed")
    ax.set_title(name)
    fig.tight_layout()
    path = HERE / "figures" / f"acc_{name}.png"
    path.parent.mkdir(exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.relative_to(HERE)


def select_k_sections() -> list[str]:
    """One section per select-k run: G, held-out silhouette and NMI per k (mean over seeds)."""
    lines = []
    for path in sorted((HERE / "select_k").glob("*/select_k.json")):
        rec = json.loads(path.read_text())
        mean = {name: np.mean(rec[name], axis=1) for name in ("g", "silhouette")}
        nmi = np.mean(rec["nmi"], axis=1) if rec["nmi"] else [None] * len(rec["ks"])
        lines += ["", f"## Choosing k: {rec['method']} on {rec['dataset']}", "",
                  f"`{rec['command']}` — seeds {rec['seeds']}, {rec['device']}, "
                  f"{rec['wall_time_s']:.0f} s. Suggested k = **{rec['suggested_k']}** "
                  f"(criterion {rec['criterion']}: the k before G's largest drop).", "",
                  "| k | G = L_train / L_val | held-out silhouette | NMI |", "|---|---|---|---|"]
        for i, k in enumerate(rec["ks"]):
            nmi_s = "–" if nmi[i] is None else f"{nmi[i]:.3f}"
            lines.append(f"| {k} | {mean['g'][i]:.4f} | {mean['silhouette'][i]:.3f} | {nmi_s} |")
        fig = HERE / "figures" / f"select_k_{path.parent.name}.png"
        if fig.exists():
            lines += ["", f"![choosing k]({fig.relative_to(HERE)})"]
    return lines


def seed_notes(name) -> list[str]:
    """The table's notes on its seeds (tables.SEED_NOTES), as markdown lines."""
    if name not in SEED_NOTES:
        return []
    return ["Notes on the seeds:", *(f"- {note}" for note in SEED_NOTES[name]), ""]


def main():
    groups = load_groups()
    used = set()
    lines = ["# Results", "",
             "Built by `python experiments/report.py` from "
             "`experiments/results/<table>/<cell>/seed<k>.json` (one record per cell and seed, "
             "with its command, config, hardware and wall time). "
             "Tables are run by `python experiments/tables.py TABLE`. NMI is scikit-learn's "
             "(arithmetic mean). Deep methods of one seed share one cached pre-trained "
             "autoencoder (the record's `extra.pretrained_ae`); their wall time excludes it "
             "unless the run trained it (`extra.pretrain_seconds`). \"diff\" is ours − paper "
             "on the paper's last "
             "published metric. What the expert and progression figures show: "
             "[figures/README.md](figures/README.md).", ""]
    header = ["| method | seeds | NMI | ARI | ACC | paper NMI/ARI/ACC | diff | wall s (mean) "
              "| device |", "|---|---|---|---|---|---|---|---|---|"]
    for name, (doc, cells) in TABLES.items():
        if name == "dec_imbalanced":
            continue
        lines += [f"## {name}", "", doc, "", *header]
        several = len({d for d, _, _ in cells}) > 1
        for dataset, method, extra in cells:
            variant = cell_variant(method, dataset, extra)
            used.add(variant)
            label = variant.replace(f"_{dataset}", "") + (f" ({dataset})" if several else "")
            lines.append(row(label, dataset, variant, groups.get(variant, [])))
        fig = plot_table(name, cells, groups)
        lines += ["", *seed_notes(name), f"![per-seed ACC]({fig})" if fig else "", ""]
    doc, cells = TABLES["dec_imbalanced"]
    lines += ["## dec_imbalanced", "", doc, "",
              "| method | " + " | ".join(f"r_min {r}" for r in R_MINS) + " |",
              "|---|" + "---|" * len(R_MINS)]
    for method in dict.fromkeys(m for _, m, _ in cells):
        cells_s = []
        for i, r in enumerate(R_MINS):
            variant = f"{method}_mnist-rmin{r:g}"
            used.add(variant)
            recs = groups.get(variant, [])
            ours = (f"{fmt([x['metrics']['acc'] for x in recs])} (n={len(recs)})" if recs
                    else "not run yet")
            paper = f" · paper {IMBALANCED[method][i]:.3f}" if method in IMBALANCED else ""
            cells_s.append(ours + paper)
        lines.append(f"| {method} | " + " | ".join(cells_s) + " |")
    lines += ["", *seed_notes("dec_imbalanced")]
    lines += select_k_sections()
    lines += ["", "## Other records", "",
              "| method | data set | record | seeds | NMI | ARI | ACC | paper NMI/ARI/ACC "
              "| wall s (mean) | device |", "|---|---|---|---|---|---|---|---|---|---|"]
    for variant, recs in sorted(groups.items()):
        if variant in used or recs[0]["table"] == "variants":
            continue
        method, dataset = recs[0]["method"], recs[0]["dataset"]
        m = {key: [r["metrics"][key] for r in recs] for key in METRICS}
        paper = PUBLISHED.get((variant.split(f"_{dataset}")[0], dataset))
        paper_s = "/".join("–" if v is None else f"{v:g}" for v in paper) if paper else ""
        seeds = ",".join(str(r["seed"]) for r in recs)
        lines.append(f"| {method} | {dataset} | {variant} | {seeds} | "
                     f"{fmt(m['nmi'])} | {fmt(m['ari'])} | {fmt(m['acc'])} | {paper_s} | "
                     f"{np.mean([r['wall_time_s'] for r in recs]):.0f} | {devices(recs)} |")
    variants = [r for recs in groups.values() for r in recs if r["table"] == "variants"]
    if variants:
        lines += ["", "## Variants tried (settings explored; records in `results/variants/`)", "",
                  "| record | NMI | ARI | ACC | settings | wall s |", "|---|---|---|---|---|---|"]
        for rec in variants:
            m = rec["metrics"]
            command = rec["extra"].get("original_command", rec["command"])
            settings = re.sub(r"--(results|cache|data-dir) \S+ ?", "",
                              command.split("run.py ", 1)[-1])
            lines.append(f"| {rec['cell']}_seed{rec['seed']} | {m['nmi']:.3f} | {m['ari']:.3f} "
                         f"| {m['acc']:.3f} | `{settings}` | {rec['wall_time_s']:.0f} |")
    (HERE / "RESULTS.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
