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
