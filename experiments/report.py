"""Build experiments/RESULTS.md (and figures/) from the per-seed records in results/.

    python experiments/report.py

One section per table config of ``experiments/configs/``: each cell's mean ± std over seeds of
NMI / ARI / ACC beside the published number and the difference (flagged where ours is
lower); the imbalanced-MNIST table as methods × r_min; choosing k (each
``results/select_k_*/select_k.json`` written by ``jaxclust select-k --out``, its figure copied
to ``figures/select_k_*.png``); then every other record (digits, IMSAT/RIM/DAC, variants).
Figures: the per-seed ACC (NMI where ACC is not published) of each method, per table, in
``experiments/figures/``.
"""
import json
import re
import warnings
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from run import tables

from jaxclust import record

HERE = Path(__file__).resolve().parent
R_MINS = (0.1, 0.3, 0.5, 0.7, 0.9)
METRICS = ("nmi", "ari", "acc")


def published(spec) -> tuple | None:
    """A cell's published NMI / ARI / ACC (``None`` for each one not published)."""
    if "published" not in spec:
        return None
    return tuple(spec["published"].get(m) for m in METRICS)


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


CHOSEN_BY = ("paper", "default", "label-free", "labels")


def chosen_by(cell: str, spec: dict) -> str:
    """How a cell's settings were chosen (its config's ``chosen_by``); a cell without one, or
    with another value, stops the report."""
    value = spec.get("chosen_by")
    if value not in CHOSEN_BY:
        raise ValueError(f"cell {cell}: chosen_by must be one of {CHOSEN_BY}, got {value!r}")
    return value


def row(label, paper, recs, chosen):
    """One table row: ours over seeds, the paper, and ours − paper on the last published metric."""
    paper_s = "/".join("–" if v is None else f"{v:g}" for v in paper) if paper else ""
    if not recs:
        return f"| {label} | {chosen} | – | not run yet | | | {paper_s} | | | |"
    m = {key: [r["metrics"][key] for r in recs] for key in METRICS}
    diff = ""
    if paper:
        i = max(j for j, v in enumerate(paper) if v is not None)
        d = float(np.mean(m[METRICS[i]])) - paper[i]
        diff = f"{d:+.3f} {METRICS[i].upper()}" + (" **below**" if d < 0 else "")
    seeds = ",".join(str(r["seed"]) for r in recs)
    return (f"| {label} | {chosen} | {len(recs)} ({seeds}) | {fmt(m['nmi'])} | {fmt(m['ari'])} | "
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

    shown = [(c["method"], groups[cell]) for cell, c in cells.items() if groups.get(cell)]
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


def pretraining_curves(name, cells, groups) -> list[str]:
    """The cells of one table that differ only in ``pretrain_epochs``, as curves of NMI / ACC
    against it: rows of a markdown table and a figure ``figures/pretraining_<table>.png``."""
    curves = defaultdict(dict)
    for cell, c in cells.items():
        if groups.get(cell):
            rest = {k: v for k, v in c.items() if k not in ("published", "chosen_by", "config")}
            rest["config"] = {k: v for k, v in c.get("config", {}).items()
                              if k != "pretrain_epochs"}
            epochs = groups[cell][0]["config"].get("pretrain_epochs")
            curves[json.dumps(rest, sort_keys=True)][epochs] = (cell, groups[cell])
    curves = [dict(sorted(v.items())) for v in curves.values() if len(v) > 1 and None not in v]
    if not curves:
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines = ["", "Against the pre-training length (cells that differ only in `pretrain_epochs`):",
             "", "| cells | chosen by | pre-training epochs | seeds | NMI | ACC |",
             "|---|---|---|---|---|---|"]
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for curve in curves:
        cell, recs = next(iter(curve.values()))
        label = f"{recs[0]['method']} ({cells[cell]['dataset']})"
        for epochs, (cell, recs) in curve.items():
            m = {key: [r["metrics"][key] for r in recs] for key in ("nmi", "acc")}
            lines.append(f"| {label}: {cell} | {chosen_by(cell, cells[cell])} | {epochs} | "
                         f"{len(recs)} | {fmt(m['nmi'])} | {fmt(m['acc'])} |")
        acc = [[r["metrics"]["acc"] for r in recs] for _, recs in curve.values()]
        ax.errorbar(list(curve), [np.mean(a) for a in acc], yerr=[np.std(a) for a in acc],
                    marker="o", capsize=3, label=label)
    ax.set_xscale("log")
    ax.set_xlabel("autoencoder pre-training epochs")
    ax.set_ylabel("ACC (mean ± std over seeds)")
    ax.legend(fontsize=8)
    ax.set_title(name)
    fig.tight_layout()
    path = HERE / "figures" / f"pretraining_{name}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [*lines, "", f"![ACC against pre-training epochs]({path.relative_to(HERE)})", ""]


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


def seed_ranking(specs, groups) -> list[str]:
    """Per cell with ≥ 3 seeds whose records hold the method's objective: the ACC of the seed
    the objective picks (lowest), the mean and the best, and Spearman's ρ between −objective
    and ACC (1: the objective orders the seeds as ACC does)."""
    from scipy.stats import spearmanr

    lines = ["", "## Ranking seeds without labels", "",
             "Which seed a multi-seed run would keep (`jaxclust fit --seeds S`, the "
             "estimators' `n_seeds`). Per cell with at least 3 seeds that recorded the "
             "method's objective (records migrated from before the redesign did not): the "
             "ACC of the seed with its lowest value (`--keep objective`) beside the mean and "
             "the best, and Spearman's ρ between −objective and ACC over the seeds; where "
             "the seeds kept their labels, the ACC of the seed the default `--keep central` "
             "keeps (`jaxclust.runner.kept_seed`: of the seeds that use the most clusters, "
             "the highest mean ARI to the others), of the seeds' labels matched and "
             "voted (`consensus.voted`) and of the consensus `jaxclust` returns "
             "(`consensus.consensus`: the seeds' co-association partition — no labels).", "",
             "| table | cell | seeds | mean ACC | picked ACC | best ACC | picked ≥ mean | ρ "
             "| kept ACC | voted ACC | consensus ACC |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    hits, gains, uncounted, seen = [], [], [], set()
    combined = {"consensus": [], "voted": []}
    for name, spec in specs.items():
        for cell, cspec in spec["cells"].items():
            if cell in seen:  # a cell another table shares (its records are that table's)
                continue
            seen.add(cell)
            recs = [r for r in groups.get(cell, []) if r["objective"] is not None]
            if len(recs) < 3:
                if len(groups.get(cell, [])) >= 3 and cspec["method"] != "sc":
                    uncounted.append(f"{name}/{cell}")
                continue
            acc = np.array([r["metrics"]["acc"] for r in recs])
            obj = np.array([r["objective"] for r in recs])
            picked = acc[np.argmin(obj)]
            with warnings.catch_warnings():  # equal ACC over seeds: ρ undefined, shown –
                warnings.simplefilter("ignore")
                rho = spearmanr(-obj, acc).statistic
            hits.append(picked >= acc.mean())
            path = HERE / "consensus" / name / f"{cell}.json"
            if not path.exists() and not cspec.get("data_per_seed"):
                uncounted.append(f"{name}/{cell}")
            cons = vote = kept = "–"
            if path.exists():
                c = json.loads(path.read_text())
                cons, vote = (f"{c[key]:.3f}" for key in ("acc_consensus", "acc_voted"))
                for key, got in combined.items():
                    acc_key = f"acc_{key}"
                    got.append((c[acc_key] >= c["acc_mean"],
                                c[acc_key] >= c["acc_mean"] + c["acc_std"]))
                if "acc_kept" in c:
                    kept = f"{c['acc_kept']:.3f}"
                    gains.append([c[key] - c["acc_mean"] for key in
                                  ("acc_kept", "acc_picked", "acc_central")]
                                 + [v - c["acc_mean"] for v in c["acc_by_criterion"].values()])
                    internal = list(c["acc_by_criterion"])
            lines.append(f"| {name} | {cell} | {len(recs)} | {acc.mean():.3f} | {picked:.3f} | "
                         f"{acc.max():.3f} | {'yes' if hits[-1] else '**no**'} | "
                         f"{'–' if np.isnan(rho) else f'{rho:+.2f}'} | {kept} | {vote} | {cons} |")
    if hits:
        lines += ["", f"The picked seed is at or above the mean in {sum(hits)} of {len(hits)} "
                      "cells."]
    if combined["consensus"]:
        lines += [f"Of {len(combined['consensus'])} cells with kept labels "
                  "(`python experiments/consensus.py`), at or above the mean (and at or above "
                  "mean + 1 std): " + ", ".join(
                      f"{key} {sum(a for a, _ in got)} ({sum(b for _, b in got)})"
                      for key, got in combined.items()) + "."]
    if gains:
        gain = np.array(gains)
        lines += [f"Over the {len(gains)} cells with kept labels, the seed `--keep central` "
                  f"keeps is at or above the mean in {int(np.sum(gain[:, 0] >= 0))}, the "
                  f"objective's pick in {int(np.sum(gain[:, 1] >= 0))}, the most central of "
                  f"all the seeds (whatever their clusters' count) in "
                  f"{int(np.sum(gain[:, 2] >= 0))}; ACC above the seeds' mean, on average: "
                  f"kept {gain[:, 0].mean():+.3f}, objective {gain[:, 1].mean():+.3f}, "
                  f"central of all {gain[:, 2].mean():+.3f}. The seed an internal criterion "
                  "of its labels prefers (on 2 000 of the cell's points in the input space, "
                  "`jaxclust.select.internal_scores`) is at or above the mean in: " + ", ".join(
                      f"{name.replace('_', '–')} {int(np.sum(gain[:, 3 + i] >= 0))} "
                      f"({gain[:, 3 + i].mean():+.3f})" for i, name in enumerate(internal))
                  + "."]
    if uncounted:
        lines += [f"Not counted yet, {len(uncounted)} cells with at least 3 seeds whose "
                  "records hold no objective or whose seeds kept no labels (older records: "
                  "`python experiments/run.py` again, then "
                  "`python experiments/consensus.py`): " + ", ".join(uncounted) + ". "
                  "(scikit-learn's spectral clustering, the `sc` cells, has no objective.)"]
    return lines


def baseline_matrix(spec, groups) -> list[str]:
    """For a table with ``baseline = "<method>"``: mean ± std ACC of every method on every
    data set, marked ✓ where its mean is at or above the baseline's on that data set. A
    method's cells chosen otherwise than ``default``, or whose seeds start otherwise than from
    their own k-means (``start``), get a row of their own."""
    base = spec["baseline"]
    cells = spec["cells"]
    datasets = list(dict.fromkeys(c["dataset"] for c in cells.values()))

    def row_name(c):
        notes = [n for n in (c["chosen_by"] != "default" and c["chosen_by"],
                             "start" in c and f"{c['start']} start") if n]
        return c["method"] + (f" ({', '.join(notes)})" if notes else "")

    acc = {(row_name(c), c["dataset"]): [r["metrics"]["acc"] for r in groups.get(cell, [])]
           for cell, c in cells.items()}
    lines = [f"ACC by data set (✓: mean at or above {base}'s):", "",
             "| method | " + " | ".join(datasets) + " | ✓ |",
             "|---|" + "---|" * (len(datasets) + 1)]
    for method in dict.fromkeys(row_name(c) for c in cells.values()):
        row, wins = [], 0
        for d in datasets:
            ours, ref = acc.get((method, d), []), acc.get((base, d), [])
            if not ours:
                row.append("–")
                continue
            win = method != base and bool(ref) and np.mean(ours) >= np.mean(ref)
            wins += win
            row.append(f"{fmt(ours)}{' ✓' if win else ''}")
        lines.append(f"| {method} | " + " | ".join(row) + f" | {'' if method == base else wins} |")
    return [*lines, ""]


def seed_notes(name) -> list[str]:
    """The table's notes on its seeds (the bullets of ``configs/<table>.md``)."""
    path = HERE / "configs" / f"{name}.md"
    if not path.exists():
        return []
    notes = [line for line in path.read_text().splitlines() if line.startswith("- ")]
    return ["Notes on the seeds:", *notes, ""]


def main():
    groups = load_groups()
    used = set()
    lines = ["# Results", "",
             "Built by `python experiments/report.py` from "
             "`experiments/results/<table>/<cell>/seed<k>.json` (one record per cell and seed, "
             "with its command, config, hardware and wall time). "
             "Tables are run by `python experiments/run.py TABLE` (their configs: "
             "`experiments/configs/`). NMI is scikit-learn's "
             "(arithmetic mean). Deep methods of one seed share one cached pre-trained "
             "autoencoder (the record's `extra.pretrained_ae`); their wall time excludes it "
             "unless the run trained it (`extra.pretrain_seconds`). \"diff\" is ours − paper "
             "on the paper's last "
             "published metric. What the expert and progression figures show: "
             "[figures/README.md](figures/README.md).", ""]
    header = ["| method | chosen by | seeds | NMI | ARI | ACC | paper NMI/ARI/ACC | diff "
              "| wall s (mean) | device |", "|---|---|---|---|---|---|---|---|---|---|"]
    specs = tables()
    by_name = {(cell.split(f"_{c['dataset']}")[0], c["dataset"]): published(c)
               for spec in specs.values() for cell, c in spec["cells"].items()
               if "published" in c and "-" not in cell.split(f"_{c['dataset']}")[1]}
    for name, spec in specs.items():
        if name == "dec_imbalanced":
            continue
        cells = spec["cells"]
        lines += [f"## {name}", "", spec["doc"], "", *header]
        several = len({c["dataset"] for c in cells.values()}) > 1
        for cell, c in cells.items():
            used.add(cell)
            label = cell.replace(f"_{c['dataset']}", "") + (f" ({c['dataset']})" if several
                                                            else "")
            lines.append(row(label, published(c), groups.get(cell, []), chosen_by(cell, c)))
        fig = plot_table(name, cells, groups)
        lines.append("")
        if "baseline" in spec:
            lines += baseline_matrix(spec, groups)
        lines += pretraining_curves(name, cells, groups)
        lines += [*seed_notes(name), f"![per-seed ACC]({fig})" if fig else "", ""]
    cells = specs["dec_imbalanced"]["cells"]
    lines += ["## dec_imbalanced", "", specs["dec_imbalanced"]["doc"] + " Chosen by: "
              + "/".join(sorted({chosen_by(cell, c) for cell, c in cells.items()})) + ".", "",
              "| method | " + " | ".join(f"r_min {r}" for r in R_MINS) + " |",
              "|---|" + "---|" * len(R_MINS)]
    for method in dict.fromkeys(c["method"] for c in cells.values()):
        cells_s = []
        for r in R_MINS:
            cell = f"{method}_mnist-rmin{r:g}"
            used.add(cell)
            recs = groups.get(cell, [])
            ours = (f"{fmt([x['metrics']['acc'] for x in recs])} (n={len(recs)})" if recs
                    else "not run yet")
            acc = cells[cell].get("published", {}).get("acc")
            paper = f" · paper {acc:.3f}" if acc is not None else ""
            cells_s.append(ours + paper)
        lines.append(f"| {method} | " + " | ".join(cells_s) + " |")
    lines += ["", *seed_notes("dec_imbalanced")]
    lines += seed_ranking(specs, groups)
    lines += select_k_sections()
    lines += ["", "## Other records", "",
              "| method | data set | record | chosen by | seeds | NMI | ARI | ACC "
              "| paper NMI/ARI/ACC | wall s (mean) | device |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for variant, recs in sorted(groups.items()):
        if variant in used or recs[0]["table"] == "variants":
            continue
        method, dataset = recs[0]["method"], recs[0]["dataset"]
        m = {key: [r["metrics"][key] for r in recs] for key in METRICS}
        paper = by_name.get((variant.split(f"_{dataset}")[0], dataset))
        paper_s = "/".join("–" if v is None else f"{v:g}" for v in paper) if paper else ""
        seeds = ",".join(str(r["seed"]) for r in recs)
        chosen = "/".join(sorted({r["chosen_by"] for r in recs}))
        lines.append(f"| {method} | {dataset} | {variant} | {chosen} | {seeds} | "
                     f"{fmt(m['nmi'])} | {fmt(m['ari'])} | {fmt(m['acc'])} | {paper_s} | "
                     f"{np.mean([r['wall_time_s'] for r in recs]):.0f} | {devices(recs)} |")
    variants = [r for recs in groups.values() for r in recs if r["table"] == "variants"]
    if variants:
        lines += ["", "## Variants tried (settings explored; records in `results/variants/`)", "",
                  "| record | chosen by | NMI | ARI | ACC | settings | wall s |",
                  "|---|---|---|---|---|---|---|"]
        for rec in variants:
            m = rec["metrics"]
            command = rec["extra"].get("original_command", rec["command"])
            settings = re.sub(r"--(results|cache|data-dir) \S+ ?", "",
                              command.split("run.py ", 1)[-1])
            lines.append(f"| {rec['cell']}_seed{rec['seed']} | {rec['chosen_by']} | "
                         f"{m['nmi']:.3f} | {m['ari']:.3f} "
                         f"| {m['acc']:.3f} | `{settings}` | {rec['wall_time_s']:.0f} |")
    (HERE / "RESULTS.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
