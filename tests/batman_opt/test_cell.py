"""Cell performance through PyBaMM: the published electrode gives back the published cell, and the
electrode's microstructure moves energy and rate capability the way cell designers know."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pybamm
import pytest
from typer.testing import CliRunner

from batman_opt.cell import (
    BASE_SET,
    cell_performance,
    discharge,
    parameter_values,
    positive_electrode,
    published_positive,
)
from batman_opt.cli import app
from batman_opt.errors import InputError
from batman_opt.store import RunStore
from sims import process
from tests.batman_opt.report.conftest import write_process_run

RECIPE = {"am_mass_fraction": 0.96, "solid_content": 0.65, "comma_gap_um": 200.0, "compression_ratio": 0.2}


def test_published_electrode_reproduces_the_published_voltage_curve():
    mapped = discharge(parameter_values(published_positive()), 1.0)
    published = discharge(pybamm.ParameterValues(BASE_SET), 1.0, options={})  # the set's own Bruggeman model
    assert mapped.capacity_ah == pytest.approx(published.capacity_ah, rel=1e-4)
    assert published.capacity_ah == pytest.approx(5.0, rel=0.02)  # the LG M50's 5 Ah at 1C
    voltage = np.interp(mapped.time_s, published.time_s, published.voltage_v)
    assert np.max(np.abs(np.asarray(mapped.voltage_v) - voltage)) < 1e-3  # V


def test_electrode_of_process_outcomes_fills_its_volume():
    outcomes = process.evaluate(RECIPE)
    electrode = positive_electrode({**outcomes, "am_mass_fraction": RECIPE["am_mass_fraction"]})
    cbd = 1.0 - electrode.porosity - electrode.am_volume_fraction
    assert 0.0 < cbd < 0.15  # carbon and binder skeleton of a 96:2:2 electrode
    assert electrode.thickness_m == pytest.approx(outcomes["thickness_um"] * 1e-6)
    with pytest.raises(InputError, match="tortuosity_factor"):
        positive_electrode({k: v for k, v in outcomes.items() if k != "tortuosity_factor"})
    with pytest.raises(InputError, match="graphite"):
        positive_electrode(outcomes, "graphite")
    with pytest.raises(InputError, match="am_volume_fraction"):
        positive_electrode({**outcomes, "density_g_cm3": 4.5})  # more AM than the solids leave room for


def test_thicker_or_denser_electrodes_store_more_energy_and_lose_more_at_2c():
    base = process.evaluate(RECIPE)
    thick = process.evaluate({**RECIPE, "comma_gap_um": 320.0})
    pressed = process.evaluate({**RECIPE, "compression_ratio": 0.4})
    pressed["thickness_um"] = base["thickness_um"]  # same thickness, less porous: more AM in it
    assert (
        thick["thickness_um"] > 1.4 * base["thickness_um"] and pressed["porosity"] < base["porosity"] - 0.05
    )
    cells = {
        name: cell_performance(o) for name, o in (("base", base), ("thick", thick), ("pressed", pressed))
    }
    for name in ("thick", "pressed"):
        for energy in ("cell_capacity_mah_cm2", "specific_energy_wh_kg", "energy_density_wh_l"):
            assert cells[name][energy] > cells["base"][energy], (name, energy)
        assert cells[name]["capacity_retention_2c"] < cells["base"]["capacity_retention_2c"] - 0.02, name
    assert all(0 < c["capacity_retention_2c"] <= 1 and c["dfn_wall_time_s"] > 0 for c in cells.values())


def test_export_command_writes_a_parameter_file_pybamm_loads(tmp_path: Path):
    process_run = write_process_run(tmp_path / "run", n=8)
    trial = next(t for t in RunStore(process_run).trials() if t.status == "completed")
    out = tmp_path / "params.json"
    result = CliRunner().invoke(
        app, ["export", "pybamm", str(process_run), "--trial", str(trial.trial), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    loaded = pybamm.ParameterValues.from_json(out)
    assert loaded["Positive electrode thickness [m]"] == pytest.approx(trial.outcomes["thickness_um"] * 1e-6)
    assert loaded["Positive electrode tortuosity factor (electrolyte)"] == pytest.approx(
        trial.outcomes["tortuosity_factor"]
    )
    failed = CliRunner().invoke(
        app, ["export", "pybamm", str(process_run), "--trial", "5", "--out", str(out)]
    )
    assert failed.exit_code == 2 and "trial 5 is failed" in failed.output
