"""The surrogate evaluator kind: where its dried films live, what it refuses, its campaign."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from batman_opt.campaign_evaluator import evaluator_setup
from batman_opt.cli import app
from batman_opt.evaluators import EvaluationFailed, EvaluatorSetup, get_evaluator
from batman_opt.spec import load_campaign

ROOT = Path(__file__).resolve().parents[3]
CAMPAIGN = ROOT / "campaigns" / "calendering_surrogate.yaml"
runner = CliRunner()
torch.set_num_threads(1)


def test_dried_films_are_kept_in_the_run_directory(tmp_path):
    campaign = load_campaign(CAMPAIGN)
    setup = evaluator_setup(campaign, tmp_path / "run")
    assert setup.run_dir == str((tmp_path / "run").resolve())
    evaluator = get_evaluator("surrogate").build(campaign.material, campaign.evaluator.options, setup)
    assert evaluator.films.folder == tmp_path / "run" / "dried_films"
    elsewhere = get_evaluator("surrogate").build("NMC111", {"cache_dir": str(tmp_path / "c")}, setup)
    assert elsewhere.films.folder == tmp_path / "c"
    assert get_evaluator("surrogate").build("NMC111", {}, EvaluatorSetup()).films.folder is None


def test_recipe_beyond_the_margin_fails_naming_the_input_before_any_drying(tmp_path):
    evaluator = get_evaluator("surrogate").build("NMC111", {"cache_dir": str(tmp_path)}, EvaluatorSetup())
    with pytest.raises(EvaluationFailed, match="compression_ratio = 0.6 is beyond"):
        evaluator.evaluate({"compression_ratio": 0.6, "calendering_speed_mm_s": 10.0})
    with pytest.raises(EvaluationFailed, match="am_mass_fraction = 0.9 is beyond"):
        evaluator.evaluate({"am_mass_fraction": 0.90})
    assert not any(tmp_path.iterdir())  # nothing was dried for a refused recipe


def test_campaign_validates_and_bounds_beyond_the_model_are_refused(tmp_path):
    ok = runner.invoke(app, ["validate", str(CAMPAIGN)])
    assert ok.exit_code == 0, ok.output
    wide = tmp_path / "wide.yaml"
    wide.write_text(CAMPAIGN.read_text().replace("bounds: [0.10, 0.40]", "bounds: [0.10, 0.60]"))
    result = runner.invoke(app, ["validate", str(wide)])
    assert result.exit_code == 2
    assert "compression_ratio = 0.6 is outside the surrogate evaluator's physical interval" in result.output
    other = tmp_path / "graphite.yaml"
    other.write_text(CAMPAIGN.read_text().replace("material: NMC111", "material: graphite"))
    result = runner.invoke(app, ["validate", str(other)])
    assert result.exit_code == 2 and "trained on NMC111" in result.output


def test_train_command_refuses_bad_paths_in_one_line(tmp_path):
    missing = runner.invoke(
        app, ["train", "calendering", "--data", str(tmp_path / "nope"), "--out", "m.safetensors"]
    )
    assert missing.exit_code == 2 and "--data" in missing.output and "Traceback" not in missing.output
    (tmp_path / "empty").mkdir()
    wrong = runner.invoke(app, ["train", "calendering", "--data", str(tmp_path / "empty"), "--out", "m.pt"])
    assert wrong.exit_code == 2 and ".safetensors" in wrong.output
    no_data = runner.invoke(
        app,
        ["train", "calendering", "--data", str(tmp_path / "empty"), "--out", str(tmp_path / "m.safetensors")],
    )
    assert no_data.exit_code == 2 and "not a dem-series dataset" in no_data.output


@pytest.mark.slow
def test_a_calendering_sweep_dries_once_and_returns_the_dem_kinds_outcomes(tmp_path):
    from sims.electrode import OUTCOMES as DEM_OUTCOMES
    from sims.structure import ElectrodeStructure

    evaluator = get_evaluator("surrogate").build("NMC111", {}, EvaluatorSetup(run_dir=str(tmp_path)))
    first = evaluator.evaluate({"compression_ratio": 0.15, "calendering_speed_mm_s": 10.0})
    second = evaluator.evaluate({"compression_ratio": 0.30, "calendering_speed_mm_s": 25.0})
    assert "cache miss" in first.notes["cost"] and "cache hit" in second.notes["cost"]
    assert len(list((tmp_path / "dried_films").glob("dried_*.npz"))) == 1
    assert set(first.outcomes) <= set(DEM_OUTCOMES) and "tortuosity_factor" in first.outcomes
    # same dried film, more compression: thinner, denser, more tortuous, more spring-back
    assert first.outcomes["dried_thickness_um"] == second.outcomes["dried_thickness_um"]
    assert second.outcomes["porosity"] < first.outcomes["porosity"] - 0.05
    assert second.outcomes["tortuosity_factor"] > first.outcomes["tortuosity_factor"]
    assert second.outcomes["spring_back_pct"] > first.outcomes["spring_back_pct"] > 0.0
    structure = tmp_path / "structure.npz"
    structure.write_bytes(second.artifacts["structure.npz"])
    assert ElectrodeStructure.load(structure).thickness_um == pytest.approx(second.outcomes["thickness_um"])
