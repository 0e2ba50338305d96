"""Transfer-learning datasets: written by `batman dataset ...` with provenance and the right columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from batman_opt.cli.app import app
from batman_opt.errors import InputError
from batman_opt.transfer import datasets
from sims import process

runner = CliRunner()


def test_process_dataset_command_writes_provenance_and_columns(tmp_path):
    out = tmp_path / "graphite.parquet"
    result = runner.invoke(
        app, ["dataset", "process", "--material", "graphite", "--n", "64", "--seed", "3", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    provenance = datasets.read_provenance(out)
    assert provenance.generator == "process_dataset" and provenance.seed == 3
    assert (
        provenance.command == f"batman dataset process --material graphite --n 64 --seed 3 --out {out.name}"
    )
    table = pd.read_parquet(out)
    assert len(table) == 64
    assert set(datasets.ELECTRODE_INPUTS) | set(datasets.ELECTRODE_OUTPUTS) <= set(table.columns)
    for name, (low, high) in datasets.ELECTRODE_SPACE.items():
        assert table[name].between(low, high).all(), name
    # Latin hypercube: every one of 64 equal bins of each input holds exactly one recipe
    for name, (low, high) in datasets.ELECTRODE_SPACE.items():
        bins = np.floor((table[name] - low) / (high - low) * 64).astype(int)
        assert sorted(bins) == list(range(64)), name
    # Same seed, same file content; the rebuilding command reproduces the table
    again = datasets.process_dataset("graphite", 64, 3)
    pd.testing.assert_frame_equal(table, again)


def test_graphite_source_follows_the_coating_mass_balance(tmp_path):
    table = datasets.process_dataset("graphite", 200, 0)
    # a wider comma gap at a fixed slurry and speed carries more solids: loading rises with the gap
    wider = table.assign(comma_gap_um=table["comma_gap_um"] * 1.2)
    loading = process.evaluate_batch({k: wider[k].to_numpy() for k in datasets.ELECTRODE_INPUTS}, "graphite")
    assert np.all(loading["mass_loading_mg_cm2"] > table["mass_loading_mg_cm2"])
    # graphite electrodes: density between a loose dried film and the graphite skeleton (2.24 g/cm3)
    assert table["density_g_cm3"].between(0.5, 2.24).all()


def test_lab_space_dataset_uses_textbook_coefficients(tmp_path):
    out = tmp_path / "lab.parquet"
    result = runner.invoke(app, ["dataset", "lab-space", "--n", "20", "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_parquet(out)
    assert list(table.columns) == [*datasets.LAB_INPUTS, *datasets.LAB_OUTPUTS]
    assert datasets.read_provenance(out).generator == "lab_space_dataset"
    # the textbook wet film equals the gap, thicker than the fitted ratio gives: more loading
    fitted = process.evaluate_batch({k: table[k].to_numpy() for k in datasets.LAB_INPUTS}, "NMC111")
    ratio = table["mass_loading_mg_cm2"] / fitted["mass_loading_mg_cm2"]
    np.testing.assert_allclose(ratio, 1.0 / process.WET_TO_GAP_RATIO_LAB, rtol=1e-9)


def test_gdl_dataset_command_writes_provenance(tmp_path):
    out = tmp_path / "gdl.parquet"
    result = runner.invoke(
        app, ["dataset", "gdl", "--n", "2", "--size", "24", "--seed", "5", "--quiet", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    provenance = datasets.read_provenance(out)
    assert (provenance.generator, provenance.seed) == ("gdl_dataset", 5)
    assert "--size 24" in provenance.command
    columns = pq.read_schema(out).names
    assert {"geometric_tortuosity_in_plane", "geometric_tortuosity_through_plane", "porosity"} <= set(columns)


def test_missing_provenance_names_the_file(tmp_path):
    out = tmp_path / "plain.parquet"
    pd.DataFrame({"a": [1.0]}).to_parquet(out)
    with pytest.raises(InputError, match="plain.parquet: no provenance key 'generator'"):
        datasets.read_provenance(out)


def test_bad_material_is_one_line(tmp_path):
    result = runner.invoke(
        app, ["dataset", "process", "--material", "LFP", "--out", str(tmp_path / "x.parquet")]
    )
    assert result.exit_code == 2
    assert "--material 'LFP' is unknown" in result.output


@pytest.mark.slow
def test_dem_dataset_row(tmp_path):
    out = tmp_path / "nmc.parquet"
    result = runner.invoke(
        app,
        # a 40-particle RVE (the default 120 takes ~1 min)
        ["dataset", "dem", "--material", "NMC111", "--n", "1", "--n-am", "40", "--seed", "1", "--quiet"]
        + ["--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    row = pd.read_parquet(out).iloc[0]
    assert datasets.read_provenance(out).generator == "dem_dataset"
    # NMC111 electrode: denser than the loose slurry, below the NMC skeleton (4.75 g/cm3)
    assert 1.5 < row["density_g_cm3"] < 4.75
    assert 0.0 < row["porosity"] < 1.0 and row["tortuosity_factor"] >= 1.0
    expected = datasets.coated_loading_mg_cm2(pd.DataFrame([row]), "NMC111")[0]
    assert row["mass_loading_mg_cm2"] == pytest.approx(expected)
    assert row["thickness_um"] == pytest.approx(10 * row["mass_loading_mg_cm2"] / row["density_g_cm3"])
