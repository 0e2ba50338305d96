"""The campaign commands as a user types them: one clear line and exit 2 on bad input."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from batman_opt.cli import app
from batman_opt.spec import load_campaign
from batman_opt.store import COMPLETED, RUNNING, RunStore, TrialRecord
from sims.process import evaluate

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def test_validate_ok_and_bad_input_is_one_line_exit_2(tmp_path):
    ok = runner.invoke(app, ["validate", str(ROOT / "campaigns" / "quickstart.yaml")])
    assert ok.exit_code == 0 and "ok (quickstart" in ok.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        (ROOT / "campaigns" / "quickstart.yaml").read_text().replace("seed: 7", "seed: 7\ncolour: red")
    )
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "bad.yaml:5: colour: unknown key 'colour'" in lines[0]


def test_schema_is_json_schema_of_the_spec():
    result = runner.invoke(app, ["schema"])
    schema = json.loads(result.output)
    assert {"name", "parameters", "objectives", "evaluator", "budget"} <= set(schema["properties"])


def test_simulate_process_json_and_csv(tmp_path):
    result = runner.invoke(
        app, ["simulate", "process", "--set", "solid_content=0.65", "--set", "comma_gap_um=200", "--json"]
    )
    assert result.exit_code == 0, result.output
    outcomes = json.loads(result.output)
    assert outcomes == evaluate({"solid_content": 0.65, "comma_gap_um": 200}, "NMC111")
    recipes = tmp_path / "in.csv"
    recipes.write_text("solid_content,comma_gap_um,label\n0.6,100,a\n0.7,300,b\n")
    out = tmp_path / "out.csv"
    result = runner.invoke(app, ["simulate", "process", "--input", str(recipes), "--output", str(out)])
    assert result.exit_code == 0, result.output
    rows = out.read_text().splitlines()
    assert rows[0].startswith("solid_content,comma_gap_um,label,wet_thickness_um") and len(rows) == 3
    bad = runner.invoke(
        app, ["simulate", "process", "--set", "solid_content=1.4", "--set", "comma_gap_um=100"]
    )
    assert bad.exit_code == 2 and "solid_content" in bad.output and "Traceback" not in bad.output


def test_status_and_report_json(tmp_path):
    campaign = load_campaign(ROOT / "campaigns" / "quickstart.yaml")
    store = RunStore(tmp_path / "run", lock=True)
    store.save_campaign(campaign)
    recipes = [
        {
            "am_mass_fraction": 0.96,
            "solid_content": 0.7,
            "comma_gap_um": 150.0,
            "coating_speed_m_min": 0.3,
            "compression_ratio": c,
        }
        for c in (0.0, 0.2, 0.3)
    ]
    store.append([TrialRecord(i, COMPLETED, r, evaluate(r, "NMC111")) for i, r in enumerate(recipes)])
    store.append([TrialRecord(3, RUNNING, recipes[0])])
    store.close()
    status = json.loads(runner.invoke(app, ["status", str(tmp_path / "run"), "--json"]).output)
    assert (status["completed"], status["failed"], status["running"], status["max_trials"]) == (3, 0, 1, 30)
    report = json.loads(runner.invoke(app, ["report", str(tmp_path / "run"), "--json"]).output)
    assert report["recipes"], "at least one Pareto recipe"
    for recipe in report["recipes"]:
        assert {"trial", "parameters", "outcomes", "meets_targets"} <= set(recipe)
    text = runner.invoke(app, ["report", str(tmp_path / "run")]).output
    assert "Pareto-optimal recipes" in text
    missing = runner.invoke(app, ["status", str(tmp_path / "nowhere")])
    assert missing.exit_code == 3 and "not a run directory" in missing.output
