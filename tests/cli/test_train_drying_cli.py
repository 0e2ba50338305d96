"""`batman train drying`: trains, validates and saves the PAML drying model from a dem-series folder."""

import json

import pytest
from typer.testing import CliRunner

from batman_opt.cli import app
from batman_opt.surrogates.drying import load_drying_model
from batman_opt.surrogates.series import default_design, write_dem_series

runner = CliRunner()


def test_bad_data_or_output_give_one_line_and_exit_2(tmp_path):
    result = runner.invoke(app, ["train", "drying", "--data", str(tmp_path), "--out", str(tmp_path / "m.pt")])
    assert result.exit_code == 2 and "safetensors" in result.output
    out = str(tmp_path / "m.safetensors")
    result = runner.invoke(app, ["train", "drying", "--data", str(tmp_path / "none"), "--out", out])
    assert result.exit_code == 2 and "not a dem-series dataset" in result.output
    assert "Traceback" not in result.output


@pytest.mark.slow
def test_train_drying_writes_a_model_with_its_card(tmp_path):
    """Small 96:4 recipes (60 AM particles; at this size the DEM's own runs of this design lose one
    train and the test recipe to its overlap bound): the command writes safetensors + card, with
    the data hash, the training window and the validation metrics."""
    design = default_design(n_train=4, n_test=1, val_fraction=0.25, seed=1)
    data = tmp_path / "series"
    table = write_dem_series(data, design, n_am=60, every=250)
    ok = table.loc[table["status"] == "ok", "split"].tolist()
    assert ok.count("train") >= 2 and ok.count("val") == 1
    out = tmp_path / "drying.safetensors"
    result = runner.invoke(
        app, ["train", "drying", "--data", str(data), "--out", str(out), "--epochs", "2", "--quiet"]
    )
    assert result.exit_code == 0, result.output
    card = json.loads(out.with_suffix(".json").read_text())["provenance"]
    assert len(card["data_sha256"]) == 64 and card["window"]["am_mass_fraction"] == [0.96, 0.96]
    assert 0.0 < card["metrics"]["val_dz_r2_wet"] <= 1.0 and card["training"]["epochs"] == 2
    model = load_drying_model(out)
    assert model.k_range[0] < model.k_range[1]
