"""Lab in the loop without Ray: suggest -> the lab (played by the process model) -> ingest, until
the targets are met; bad sheets change nothing in the run directory and name row and column."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from batman_opt.cli import app
from batman_opt.report import pareto_recipes
from batman_opt.store import COMPLETED, FAILED, RUNNING, RunStore
from sims.process import evaluate

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()

LAB = (ROOT / "campaigns" / "quickstart.yaml").read_text().replace("kind: process", "kind: lab")
LAB = LAB.replace("initial_trials: 8", "initial_trials: 8\n  stop_when_targets_met: true")


def play_the_lab(sheet: Path, fail_trial: int | None = None) -> None:
    """Fill a suggestion sheet with the process model's outcomes (as a lab would by measuring)."""
    with open(sheet, newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        if int(row["trial"]) == fail_trial:
            row["failed_reason"] = "coating cracked on drying"
            continue
        recipe = {k: float(row[k]) for k in ("am_mass_fraction", "solid_content", "comma_gap_um")}
        recipe |= {k: float(row[k]) for k in ("coating_speed_m_min", "compression_ratio")}
        outcomes = evaluate(recipe, "NMC111")
        for name in ("density_g_cm3", "mass_loading_mg_cm2", "tortuosity_factor"):
            row[name] = f"{outcomes[name]:.6g}"
    with open(sheet, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def log_bytes(run: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((run / "trials").glob("*.parquet"))}


@pytest.fixture
def lab_run(tmp_path):
    """A lab campaign with 4 suggestions out (trials 0-3, running)."""
    campaign = tmp_path / "lab.yaml"
    campaign.write_text(LAB)
    run = tmp_path / "run"
    result = runner.invoke(app, ["suggest", str(campaign), "--n", "4", "--run-dir", str(run)])
    assert result.exit_code == 0, result.output
    return campaign, run, run / "suggested-0.csv"


@pytest.mark.slow
def test_a_whole_lab_loop_meets_the_targets(lab_run):
    campaign, run, sheet = lab_run
    for _ in range(8):
        play_the_lab(sheet, fail_trial=1)
        result = runner.invoke(app, ["ingest", str(run), str(sheet)])
        assert result.exit_code == 0, result.output
        if "targets met" in result.output:
            break
        result = runner.invoke(app, ["suggest", str(run), "--n", "4", "--out", str(sheet)])
        assert result.exit_code == 0, result.output
    assert "targets met" in result.output
    trials = RunStore(run).trials()
    assert trials[1].status == FAILED and trials[1].reason == "coating cracked on drying"
    assert {t.generator for t in trials} >= {"sobol", "botorch"}  # Sobol start, then BoTorch
    assert all(t.status != RUNNING and t.agent == "lab" for t in trials)
    best = pareto_recipes(RunStore(run).load_campaign(), trials)[0]
    assert best.meets_targets
    # the run is one like any other: status, report, resume
    status = runner.invoke(app, ["status", str(run), "--json"])
    assert '"running": 0' in status.output and f'"completed": {len(trials) - 1}' in status.output
    report = runner.invoke(app, ["report", str(run), "--json"])
    assert report.exit_code == 0 and f'"trial": {best.trial}' in report.output
    again = runner.invoke(app, ["suggest", str(campaign), "--run-dir", str(run)])
    assert again.exit_code == 0 and "no new recipe (targets met)" in again.output


def test_lab_commands_do_not_import_ray(lab_run):
    campaign, run, _ = lab_run
    code = (
        "import sys; from batman_opt.cli import app; from typer.testing import CliRunner;"
        f"r = CliRunner().invoke(app, ['suggest', {str(run)!r}, '--n', '1']);"
        "assert r.exit_code == 0, r.output;"
        "assert 'ray' not in sys.modules, 'ray was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_own_recipes_of_the_lab_become_new_trials(lab_run):
    _, run, sheet = lab_run
    play_the_lab(sheet)
    own = {"am_mass_fraction": 0.96, "solid_content": 0.7, "comma_gap_um": 150.0}
    own |= {"coating_speed_m_min": 0.3, "compression_ratio": 0.1}
    outcomes = evaluate(own, "NMC111")
    measured = [outcomes[n] for n in ("density_g_cm3", "mass_loading_mg_cm2", "tortuosity_factor")]
    with open(sheet, "a") as handle:
        handle.write(",".join(["", *(str(v) for v in [*own.values(), *measured]), ""]) + "\n")
    result = runner.invoke(app, ["ingest", str(run), str(sheet)])
    assert result.exit_code == 0, result.output
    trials = RunStore(run).trials()
    assert [t.status for t in trials] == [COMPLETED] * 5
    assert trials[4].generator == "lab" and trials[4].parameters["comma_gap_um"] == 150.0


def test_a_second_command_on_a_locked_run_is_refused(lab_run):
    campaign, run, sheet = lab_run
    with RunStore(run, lock=True):
        result = runner.invoke(app, ["suggest", str(run)])
        assert result.exit_code == 3 and "another manager is running" in result.output


def _edit(sheet: Path, row: int, column: str, value: str) -> None:
    with open(sheet, newline="") as handle:
        rows = list(csv.DictReader(handle))
    rows[row][column] = value
    with open(sheet, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


BAD_SHEETS = {
    "unknown trial": (
        lambda s: _edit(s, 0, "trial", "77"),
        r"row 2, column 'trial': trial 77 is not in this run",
    ),
    "missing outcome": (lambda s: _edit(s, 1, "density_g_cm3", ""), r"row 3, column 'density_g_cm3': empty"),
    "non-numeric": (
        lambda s: _edit(s, 2, "tortuosity_factor", "high"),
        r"row 4, column 'tortuosity_factor': 'high'",
    ),
    "unphysical": (
        lambda s: _edit(s, 3, "density_g_cm3", "-2.5"),
        r"row 5, column 'density_g_cm3': -2.5 is outside",
    ),
    "changed recipe": (
        lambda s: _edit(s, 0, "comma_gap_um", "999"),
        r"row 2, column 'comma_gap_um': 999.0 differs from the suggested",
    ),
    "duplicate": (
        lambda s: s.write_text(s.read_text() + s.read_text().splitlines()[1] + "\n"),
        r"row 6, column 'trial': trial 0 is also in row 2",
    ),
    "empty file": (lambda s: s.write_text(""), r"the file is empty"),
    "semicolons": (lambda s: s.write_text(s.read_text().replace(",", ";")), r"looks ';'-delimited"),
    "binary": (lambda s: s.write_bytes(b"PK\x03\x04\x00\x00binary"), r"holds a zip archive"),
    "utf-16": (lambda s: s.write_bytes(s.read_text().encode("utf-16")), r"holds UTF-16 text"),
    "typo column": (
        lambda s: s.write_text(s.read_text().replace("tortuosity_factor", "tortuosity")),
        r"column 'tortuosity' is not a parameter or outcome",
    ),
}


@pytest.mark.parametrize("case", list(BAD_SHEETS))
def test_bad_sheets_change_nothing_and_name_row_and_column(lab_run, case):
    _, run, sheet = lab_run
    play_the_lab(sheet)
    edit, expected = BAD_SHEETS[case]
    edit(sheet)
    before = log_bytes(run)
    result = runner.invoke(app, ["ingest", str(run), str(sheet)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines and all(line.startswith("error: ") for line in lines)  # one line per problem
    assert re.search(expected, lines[0]), lines[0]
    assert log_bytes(run) == before


def test_a_bom_sheet_and_a_finished_trial(lab_run):
    _, run, sheet = lab_run
    play_the_lab(sheet)
    sheet.write_bytes(b"\xef\xbb\xbf" + sheet.read_bytes())  # Excel's "CSV UTF-8"
    assert runner.invoke(app, ["ingest", str(run), str(sheet)]).exit_code == 0
    before = log_bytes(run)
    result = runner.invoke(app, ["ingest", str(run), str(sheet)])
    assert result.exit_code == 2 and "trial 0 is already completed" in result.output
    assert result.output.count("error: ") == 4  # one line per row
    assert log_bytes(run) == before


def test_ingest_of_a_parquet_sheet(lab_run, tmp_path):
    import pandas as pd

    _, run, sheet = lab_run
    play_the_lab(sheet)
    parquet = tmp_path / "results.parquet"
    pd.read_csv(sheet).to_parquet(parquet)
    result = runner.invoke(app, ["ingest", str(run), str(parquet)])
    assert result.exit_code == 0, result.output
    assert [t.status for t in RunStore(run).trials()] == [COMPLETED] * 4


def test_dataset_from_run_exports_the_completed_trials_with_provenance(lab_run, tmp_path):
    import pyarrow.parquet as pq

    _, run, sheet = lab_run
    play_the_lab(sheet, fail_trial=2)
    assert runner.invoke(app, ["ingest", str(run), str(sheet)]).exit_code == 0
    out = tmp_path / "table.parquet"
    result = runner.invoke(app, ["dataset", "from-run", str(run), "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = pq.read_table(out)
    assert table.column("trial").to_pylist() == [0, 1, 3]  # the failed trial is left out
    assert {"comma_gap_um", "density_g_cm3", "tortuosity_factor"} <= set(table.column_names)
    assert table.schema.metadata[b"batman.evaluator"] == b"lab"
    bad = runner.invoke(app, ["dataset", "from-run", str(run), "--out", str(tmp_path / "t.xlsx")])
    assert bad.exit_code == 2 and "use a .parquet or .csv" in bad.output


def test_ingest_records_a_whole_sheet_in_one_durable_part(lab_run):
    _, run, sheet = lab_run
    play_the_lab(sheet, fail_trial=3)
    parts = log_bytes(run)
    assert runner.invoke(app, ["ingest", str(run), str(sheet)]).exit_code == 0
    new = [name for name in log_bytes(run) if name not in parts]
    assert len(new) == 1  # a kill before the rename keeps none of the rows, after it all of them
    assert not list((run / "trials").glob("*.tmp"))
