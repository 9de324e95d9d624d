"""Build experiments/RESULTS.md from the per-seed JSON records in experiments/results/.

    python experiments/report.py

One row per (method, data set, variant tag): mean ± std over seeds of NMI / ARI / ACC, the
seeds, the mean wall time, and the device, beside the published number where METHODS.md
lists one (k-DAE paper, Table 2; DAMIC slides).
"""
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
# (method, dataset) → published NMI / ARI / ACC (k-DAE paper Table 2; DAMIC slides Table 2).
PUBLISHED = {
    ("kmeans", "mnist"): (0.50, 0.37, 0.53), ("aekm", "mnist"): (0.73, 0.69, 0.81),
    ("dec", "mnist"): (0.80, 0.75, 0.84), ("dcn", "mnist"): (0.81, 0.75, 0.83),
    ("idec", "mnist"): (None, None, 0.881),  # Guo et al. 2017 (ACC as quoted in issue #6)
    # IMSAT paper's table (METHODS.md): IMSAT (VAT), IMSAT (RPT), RIM; ACC only
    ("imsat", "mnist"): (None, None, 0.984), ("imsat-rpt", "mnist"): (None, None, 0.896),
    ("rim", "mnist"): (None, None, 0.585),
    ("kdae", "mnist"): (0.86, 0.82, 0.88), ("damic", "mnist"): (0.87, 0.81, 0.89),
    ("kmeans", "fashion_mnist"): (0.51, 0.37, 0.47), ("aekm", "fashion_mnist"): (0.62, 0.46, 0.59),
    ("kdae", "fashion_mnist"): (0.65, 0.48, 0.60), ("kmeans", "usps"): (0.63, 0.55, 0.67),
    ("aekm", "usps"): (0.68, 0.61, 0.71), ("kdae", "usps"): (0.80, 0.71, 0.77),
    ("kmeans", "synthetic"): (0.80, 0.81, None), ("aekm", "synthetic"): (0.83, 0.84, None),
    ("damic", "synthetic"): (0.94, 0.96, None),
}


def fmt(values):
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}"


def main():
    groups = defaultdict(list)
    for path in sorted((HERE / "results").glob("*.json")):
        rec = json.loads(path.read_text())
        variant = path.stem.rsplit("_seed", 1)[0]
        groups[(rec["method"], rec["dataset"], variant)].append(rec)
    lines = ["# Results", "", "Built by `python experiments/report.py` from `experiments/results/*.json`"
             " (one file per method, data set and seed; each holds its command and config).",
             "NMI uses the arithmetic mean (scikit-learn's default). Deep methods of one seed share"
             " one cached pre-trained autoencoder (the record's `pretrained_ae`); their wall time"
             " excludes it unless the run trained it (`pretrain_seconds` in the record).", "",
             "| method | data set | record | seeds | NMI | ARI | ACC | paper NMI/ARI/ACC | wall s (mean) | device |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for (method, dataset, variant), recs in sorted(groups.items()):
        m = {key: [r["metrics"][key] for r in recs] for key in ("nmi", "ari", "acc")}
        paper = PUBLISHED.get((variant.rsplit("_", 1)[0], dataset), PUBLISHED.get((method, dataset)))
        paper_s = "/".join("–" if v is None else f"{v:.2f}" for v in paper) if paper else ""
        lines.append(
            f"| {method} | {dataset} | {variant} | {','.join(str(r['seed']) for r in recs)} | "
            f"{fmt(m['nmi'])} | {fmt(m['ari'])} | {fmt(m['acc'])} | {paper_s} | "
            f"{np.mean([r['wall_time_s'] for r in recs]):.0f} | {recs[0]['device']} |")
    (HERE / "RESULTS.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
