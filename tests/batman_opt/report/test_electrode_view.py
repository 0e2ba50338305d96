"""The 3D view's pieces: sphere meshes, layers from the voxelized structure, frames, line panel, CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from batman_opt.cli import app
from batman_opt.report.electrode_view import icosphere, layer_traces, read_time_series, view_html
from batman_opt.report.line_panel import line_panel
from batman_opt.spec import load_campaign
from sims.materials import get_material
from sims.protocols.packing import pack_slurry, particle_counts
from sims.protocols.timeseries import TimeSeriesWriter
from tests.batman_opt.report.conftest import REPO, lattice_structure


@pytest.mark.parametrize("level", [0, 1, 2])
def test_icosphere_is_a_closed_unit_sphere(level: int):
    vertices, faces = icosphere(level)
    assert len(faces) == 20 * 4**level
    assert np.allclose(np.linalg.norm(vertices, axis=1), 1.0)
    edges = {tuple(sorted(e)) for f in faces for e in ((f[0], f[1]), (f[1], f[2]), (f[2], f[0]))}
    assert len(vertices) - len(edges) + len(faces) == 2  # Euler: a closed surface of genus 0
    a, b, c = (vertices[faces[:, k]] for k in range(3))
    volume = np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0  # outward triangles: positive
    assert 0.6 * 4 / 3 * np.pi < volume < 4 / 3 * np.pi
    if level == 2:
        assert volume == pytest.approx(4 / 3 * np.pi, rel=0.05)


def test_layers_of_a_lattice_show_the_electrolyte_from_collector_to_top():
    structure = lattice_structure()
    pore, concentration, path = layer_traces(structure)
    assert pore["type"] == "isosurface" and not pore["visible"]
    c = np.array(concentration["surfacecolor"], dtype=float)  # rows: z, columns: x; NaN in the solids
    assert np.nanmin(c) > 0.0 and np.nanmax(c) < 1.0
    by_height = np.nanmean(c, axis=1)
    assert np.all(np.diff(by_height[np.isfinite(by_height)]) < 0)  # c falls from the collector upwards
    z = np.array(path["z"])
    assert z.min() < 0.5 and z.max() > structure.thickness_um - 0.5  # through the whole film
    assert float(re.search(r"\(([\d.]+)x\)", path["name"]).group(1)) >= 1.0


def test_view_holds_centres_not_meshes_and_the_recipe_panel():
    structure = lattice_structure()
    campaign = load_campaign(REPO / "campaigns" / "dem_calendering.yaml")
    page = view_html(
        structure,
        title="t",
        parameters={"compression_ratio": 0.2},
        outcomes={"porosity": 0.31},
        campaign=campaign,
    )
    payload = json.loads(re.search(r"window\.VIEW = (\{.*?\});</script>", page).group(1))
    final = payload["frames"][-1]
    assert len(final["x"]) == len(structure.radius_um) and final["r"][0] == pytest.approx(4.0)
    assert "Calendering" in page and "compression_ratio" in page and "porosity" in page


def test_line_panel_places_knobs_at_their_stations_with_their_range():
    campaign = load_campaign(REPO / "campaigns" / "quickstart.yaml")  # compression_ratio in [0, 0.5]
    panel = line_panel(
        {"comma_gap_um": 200.0, "compression_ratio": 0.25, "mystery": 1}, {"porosity": 0.3}, campaign
    )
    stations = re.findall(r"<h4>(.*?)</h4>(.*?)</div>(?=<div class=arrow>|</div>$)", panel)
    found = {name: body for name, body in stations}
    assert "comma_gap_um" in found["Coating (comma bar)"] and "compression_ratio" in found["Calendering"]
    assert "mystery" in found["Recipe"] and "porosity" in found["Electrode"]
    assert "left:48%" in found["Calendering"]  # 0.25 is half way through [0, 0.5]


def test_view_command_refuses_trials_without_a_structure(process_run: Path, tmp_path: Path):
    runner = CliRunner()
    result = runner.invoke(app, ["view", str(process_run), "--trial", "3", "--out", str(tmp_path / "v.html")])
    assert result.exit_code == 2 and "writes none" in result.output
    result = runner.invoke(app, ["view", str(process_run), "--out", str(tmp_path / "v.html")])
    assert result.exit_code == 2 and "--trial" in result.output
    structure = lattice_structure().save(tmp_path / "lattice.npz")
    result = runner.invoke(app, ["view", str(structure), "--out", str(tmp_path / "v.html"), "--no-layers"])
    assert result.exit_code == 0 and (tmp_path / "v.html").stat().st_size > 1e6


def test_time_series_gives_every_frame_to_the_curve_and_a_few_to_the_slider(tmp_path: Path):
    state, box = pack_slurry(particle_counts(get_material("NMC111"), 0.96, 10), 30e-6, 40e-6)
    path = tmp_path / "series.parquet"
    with TimeSeriesWriter(path, every=1) as writer:
        for k in range(5):
            state.position[:, 2] -= 1e-6  # the film sinks 1 um per frame under a rising pressure
            stage = "drying" if k < 2 else "calender_load"
            pressure = float("nan") if k < 2 else 1e6 * k
            writer.write(stage, k, 1e-9 * k, state, (box.hi[0], box.hi[1]), 40e-6, wall_pressure_pa=pressure)
    frames, curve = read_time_series(path, max_frames=3)
    assert [f.frame for f in frames] == [0, 2, 4] and curve.frame.tolist() == [0, 1, 2, 3, 4]
    top = (state.position[:, 2] + state.radius).max() * 1e6
    assert curve.film_top_um == pytest.approx(top + np.arange(4, -1, -1), abs=1e-3)
    assert np.isnan(curve.pressure_mpa[:2]).all() and curve.pressure_mpa[2:].tolist() == [2.0, 3.0, 4.0]
    assert frames[-1].position_um[:, 2] == pytest.approx(state.position[:, 2] * 1e6, abs=1e-3)
    assert frames[1].label == "calender_load, step 2"
