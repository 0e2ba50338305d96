"""The evaluator contract as a campaign meets it: options, physical intervals, required inputs and
outcomes are checked when the file is validated (file:line, exit 2), not trial by trial."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from batman_opt.cli import app
from batman_opt.errors import SpecError
from batman_opt.evaluators import EVALUATORS, EvaluatorSetup, get_evaluator
from batman_opt.spec import load_campaign

ROOT = Path(__file__).resolve().parents[2]
DEM = (ROOT / "campaigns" / "dem_calendering.yaml").read_text()
QUICK = (ROOT / "campaigns" / "quickstart.yaml").read_text()
runner = CliRunner()


@pytest.mark.parametrize(
    ("text", "old", "new", "expected"),
    [
        (
            DEM,
            "n_am: 100",
            "n_amm: 100",
            r":18: evaluator.options.n_amm: unknown option of the 'dem' evaluator",
        ),
        (
            DEM,
            "threads: 1",
            "threads: one",
            r":18: evaluator.options.threads: Input should be a valid integer",
        ),
        (
            DEM,
            "threads: 1",
            "metrics: false",
            r":13: objectives.1.name: 'tortuosity_factor' is not an outcome",
        ),
        (
            DEM,
            "n_am: 100",
            "calender: drum",
            r"evaluator.options.calender: Input should be 'plate' or 'roll'",
        ),
        (QUICK, "agents: 2", "agents: 2\n  options: {n_am: 3}", r"evaluator.options.n_am: unknown option of"),
        (
            QUICK,
            "bounds: [0.55, 0.75]",
            "bounds: [1.5, 2.5]",
            r":8: parameters.1.bounds: solid_content = 1.5 is outside the process evaluator's physical",
        ),
        (QUICK, "bounds: [50, 400]", "bounds: [-50, 400]", r":9: parameters.2.bounds: comma_gap_um = -50.0"),
        (QUICK, "  - {name: comma_gap_um, type: float, bounds: [50, 400]}\n", "", r"needs comma_gap_um"),
        (
            QUICK,
            "bounds: [50, 400]",
            "bounds: [50, .inf]",
            r":9: parameters.2.bounds.1: Input should be a finite",
        ),
        (
            QUICK,
            "target: 3.0",
            "target: -3.0",
            r"objectives.0.target: target -3 is outside density_g_cm3's range",
        ),
        (QUICK, "target: 3.0", "target: .nan", r"objectives.0.target: Input should be a finite number"),
    ],
)
def test_what_would_fail_every_trial_is_refused_at_validation(tmp_path, text, old, new, expected):
    assert old in text
    path = tmp_path / "c.yaml"
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(SpecError, match=expected):
        load_campaign(path)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2 and result.output.count("\n") == 1 and "Traceback" not in result.output


def test_error_lines_keep_their_brackets(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(QUICK.replace("bounds: [0.0, 0.5]", "bounds: [0.5, 0.0]"))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2 and "[low, high]" in result.output and "[0.5, 0.0]" in result.output


def test_every_kind_declares_valid_inputs_outcomes_and_options():
    setup = EvaluatorSetup(("am_mass_fraction",), ("porosity",))
    for name, kind in EVALUATORS.items():
        if name == "dataset":
            continue  # needs a table (tests/batman_opt/test_dataset_evaluator.py)
        evaluator = kind.build("NMC111", {}, setup)
        assert evaluator.inputs and evaluator.outcomes, name
        assert set(evaluator.required) <= set(evaluator.inputs), name
    process = get_evaluator("process").build("NMC111", {}, setup)
    assert (
        str(process.inputs["solid_content"]) == "(0, 1)"
        and str(process.inputs["compression_ratio"]) == "[0, 1)"
    )
    assert str(process.outcomes["porosity"]) == "[0, 1]" and process.outcomes["tortuosity_factor"].contains(
        1.0
    )
    lab = get_evaluator("lab").build("NMC111", {}, setup)
    assert list(lab.outcomes) == ["porosity"] and not lab.computes


def test_simulate_refuses_unknown_options_in_one_line():
    result = runner.invoke(app, ["simulate", "process", "--set", "solid_content=0.6", "--option", "foo=1"])
    assert (
        result.exit_code == 2 and "--option foo: unknown option of the 'process' evaluator" in result.output
    )


def test_a_cell_campaign_chains_the_electrode_and_its_dfn(tmp_path):
    campaign = load_campaign(ROOT / "campaigns" / "cell_energy.yaml")
    assert campaign.evaluator.kind == "cell"
    bad = tmp_path / "c.yaml"
    bad.write_text(
        (ROOT / "campaigns" / "cell_energy.yaml")
        .read_text()
        .replace("{electrode: process}", "{electrode: process, electrode_options: {n_am: 3}}")
    )
    with pytest.raises(
        SpecError, match=r"evaluator.options: electrode_options.n_am: .* \(process evaluator\)"
    ):
        load_campaign(bad)


@pytest.mark.slow
def test_the_cell_kind_adds_cell_outcomes_that_follow_the_electrode():
    cell = get_evaluator("cell").build("NMC111", {"electrode": "process"}, EvaluatorSetup())
    recipe = {"solid_content": 0.65, "compression_ratio": 0.2, "am_mass_fraction": 0.96}
    thin = cell.evaluate({**recipe, "comma_gap_um": 100}).outcomes
    thick = cell.evaluate({**recipe, "comma_gap_um": 250}).outcomes
    assert thick["thickness_um"] > 2 * thin["thickness_um"]
    assert (
        thick["cell_capacity_mah_cm2"] > 1.8 * thin["cell_capacity_mah_cm2"]
    )  # capacity follows the loading
    assert (
        thick["capacity_retention_2c"] < thin["capacity_retention_2c"]
    )  # thicker: more transport loss at 2C
