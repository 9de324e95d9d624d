"""The committed results: one record schema, one layout; every figure shown somewhere."""
import json
from pathlib import Path

from jaxclust import record

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "experiments" / "results"


def test_every_record_has_the_one_schema_and_sits_at_its_table_and_cell():
    paths = sorted(RESULTS.rglob("*.json"))
    assert len(paths) > 400
    for path in paths:
        rec = json.loads(path.read_text())
        record.check(rec)
        assert path.relative_to(RESULTS).parts == (rec["table"], rec["cell"],
                                                   f"seed{rec['seed']}.json"), path


def test_every_figure_is_shown_by_a_markdown_file():
    text = "\n".join(p.read_text() for p in ROOT.rglob("*.md")
                     if not {".venv", ".git"} & set(p.parts))
    figures = sorted((ROOT / "experiments" / "figures").glob("*.png"))
    assert figures and [f.name for f in figures if f.name not in text] == []


def test_every_cell_and_readme_row_says_how_its_settings_were_chosen():
    """Each table cell's config and each row of README's headline table carry `chosen_by`
    (paper / default / label-free / labels); report.py refuses a cell without one."""
    import sys
    import tomllib

    import pytest

    sys.path.insert(0, str(ROOT / "experiments"))
    from report import CHOSEN_BY, chosen_by

    for path in sorted((ROOT / "experiments" / "configs").glob("*.toml")):
        for cell, spec in tomllib.loads(path.read_text())["cells"].items():
            assert chosen_by(cell, spec) in CHOSEN_BY
    with pytest.raises(ValueError, match="cell x: chosen_by must be one of"):
        chosen_by("x", {"method": "dec"})
    lines = (ROOT / "README.md").read_text().splitlines()
    start = lines.index("| data set | method | chosen by | seeds | NMI | ARI | ACC "
                        "| paper NMI / ARI / ACC |")
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("| "):
            break
        rows.append(line)
    assert rows and all(r.split("|")[3].strip() in CHOSEN_BY for r in rows), rows


def test_report_draws_a_curve_of_the_cells_that_differ_only_in_pretraining_length(
        tmp_path, monkeypatch):
    import sys

    sys.path.insert(0, str(ROOT / "experiments"))
    import report

    monkeypatch.setattr(report, "HERE", tmp_path)
    (tmp_path / "figures").mkdir()

    def recs(epochs, accs, **extra):
        return [{"method": "n2d", "config": {"pretrain_epochs": epochs, **extra},
                 "metrics": {"nmi": a, "acc": a}} for a in accs]

    base = {"method": "n2d", "dataset": "usps", "chosen_by": "paper"}
    cells = {"a": base, "a-300": {**base, "config": {"pretrain_epochs": 300}},
             "a-gmm": {**base, "config": {"gmm_n_init": 10}},
             "b": {**base, "dataset": "mnist"}}
    groups = {"a": recs(1000, [0.9, 0.8]), "a-300": recs(300, [0.7]),
              "a-gmm": recs(1000, [0.95]), "b": recs(1000, [0.5])}
    lines = report.pretraining_curves("t", cells, groups)
    rows = [line for line in lines if line.startswith("| n2d")]
    assert rows == ["| n2d (usps): a-300 | paper | 300 | 1 | 0.700 | 0.700 |",
                    "| n2d (usps): a | paper | 1000 | 2 | 0.850 ± 0.050 | 0.850 ± 0.050 |"]
    assert (tmp_path / "figures" / "pretraining_t.png").exists()
    del groups["a-300"]
    assert report.pretraining_curves("t", cells, groups) == []
