"""The dem evaluator: inputs, outcomes, failure reporting and the time series it can write."""

import math

import numpy as np
import pyarrow.parquet as pq
import pytest

from sims.electrode import (
    DEFAULTS,
    INPUTS,
    METRIC_OUTCOMES,
    OUTCOMES,
    cbd_relative_diffusivity,
    evaluate,
    recalender,
    replicate_statistics,
    resolve_params,
    simulate_electrode,
    structure_metrics,
)
from sims.errors import PhysicalInputError, SimulationFailed
from sims.materials import get_material
from sims.metrics import AM, CBD, PORE, VoxelImage, porosity
from sims.protocols.calendering_common import CalenderingConfig

SMALL = {"n_am": 60, "lateral_um": 22.0, "calendering_config": CalenderingConfig(load_steps=20000)}


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"am_mass_fraction": 1.2}, "am_mass_fraction"),
        ({"am_mass_fraction": -0.1}, "am_mass_fraction"),
        ({"solid_content": 0.0}, "solid_content"),
        ({"solid_content": 1.0}, "solid_content"),
        ({"drying_rate": -1.0}, "drying_rate"),
        ({"compression_ratio": 1.0}, "compression_ratio"),
        ({"calendering_speed_mm_s": float("nan")}, "calendering_speed_mm_s"),
        ({"comma_gap_um": 100.0}, "comma_gap_um"),
        ({"drying_rate": "fast"}, "drying_rate"),
    ],
)
def test_unphysical_or_unknown_inputs_are_named(params, name):
    with pytest.raises(PhysicalInputError, match=name):
        resolve_params(params, get_material("NMC111"))


def test_defaults_fill_missing_inputs():
    p = resolve_params({}, get_material("NMC111"))
    assert set(p) == set(INPUTS) and set(DEFAULTS) == set(INPUTS)
    assert p["am_mass_fraction"] == 0.96 and p["compression_ratio"] == DEFAULTS["compression_ratio"]


def test_am_bed_outcomes_are_consistent(tmp_path):
    path = tmp_path / "ts.parquet"
    recipe = {"am_mass_fraction": 1.0, "compression_ratio": 0.15}
    res = simulate_electrode(recipe, timeseries_path=path, timeseries_every=2000, **SMALL)
    out = res.outcomes
    assert set(out) == set(OUTCOMES) and all(math.isfinite(v) for v in out.values())
    # mass loading = density x thickness; density = (1 - porosity) x AM density (no CBD here)
    assert out["mass_loading_mg_cm2"] == pytest.approx(out["density_g_cm3"] * out["thickness_um"] * 0.1)
    assert out["density_g_cm3"] == pytest.approx((1 - out["porosity"]) * 4.75)
    assert out["porosity"] < out["dried_porosity"] and out["thickness_um"] < out["dried_thickness_um"]
    assert out["spring_back_pct"] > 0 and out["max_pressure_mpa"] > 1.0 and out["inertial_number"] <= 2e-2
    assert out["tortuosity_factor"] >= 1.0  # D_eff <= volume-weighted mean D (Wiener bound), so tau >= 1
    # TauFactor's definition on every axis: tau * D_eff / D = pore fraction of the voxel image, the
    # same for x, y, z, and close to the geometric porosity (this 12 um film is 25 voxels thick)
    pore_fraction = porosity(res.image).pore_fraction
    for axis in "xyz":
        tau = out["tortuosity_factor" if axis == "z" else f"tortuosity_factor_{axis}"]
        assert tau * out[f"effective_diffusivity_{axis}"] == pytest.approx(pore_fraction, rel=1e-9)
    assert pore_fraction == pytest.approx(out["porosity"], rel=0.1)
    assert 1.0 <= out["geometric_tortuosity_z"] <= out["tortuosity_factor"]
    # no CBD: all AM surface faces the pores
    assert out["am_cbd_contact_um_inv"] == 0.0
    assert out["specific_surface_um_inv"] == pytest.approx(out["am_pore_surface_um_inv"])
    assert res.state.n == res.counts.n_am == 60
    frames = pq.read_table(path).to_pandas()
    assert {"drying", "calender_load", "calender_release"} <= set(frames.stage)
    assert frames.groupby("frame").size().eq(60).all()
    last = frames[frames.frame == frames.frame.max()].sort_values("particle")
    np.testing.assert_allclose(last.z_um, res.state.position[:, 2] * 1e6, atol=0.5)


def test_nmc_96_2_2_reaches_the_published_porosities():
    """96:2:2 NMC111 (CBD nanopores counted as pores): dried ~0.45-0.5, calendered ~0.25-0.35."""
    dried = simulate_electrode({"compression_ratio": 0.0}, metrics=False, **SMALL).outcomes
    calendered = simulate_electrode({"compression_ratio": 0.25}, metrics=False, **SMALL).outcomes
    assert 0.40 < dried["dried_porosity"] < 0.55 and dried["spring_back_pct"] == 0.0
    assert calendered["dried_porosity"] == pytest.approx(dried["dried_porosity"])  # same seed, same film
    assert 0.25 < calendered["porosity"] < 0.35
    assert calendered["spring_back_pct"] > 0.0 and calendered["max_pressure_mpa"] > 10.0


def test_broken_run_raises_with_reason_not_numbers():
    """A run that reaches a broken state (here: overlaps beyond a deliberately tight bound) stops
    with the reason; the evaluator never returns numbers from it."""
    broken = CalenderingConfig(load_steps=20000, max_overlap_fraction=0.01)
    opts = {**SMALL, "calendering_config": broken}
    with pytest.raises(SimulationFailed, match="overlap"):
        evaluate({"compression_ratio": 0.2}, "NMC111", metrics=False, **opts)


@pytest.mark.long  # ~60 s on 2 cores: out of `make test` to keep CI under 15 min
def test_default_rve_nmc_96_2_2():
    """The default RVE (300 AM, ~3,200 CBD particles) at the default recipe (96:2:2, 20 % compression)."""
    res = simulate_electrode({}, threads=2)
    out = res.outcomes
    assert res.counts.n_am >= 150 and res.counts.n_cbd >= 3000
    assert 0.40 < out["dried_porosity"] < 0.55
    assert 0.25 < out["porosity"] < 0.35
    assert out["spring_back_pct"] > 0.0 and out["inertial_number"] <= 2e-2
    assert out["tortuosity_factor"] > 1.0


def test_options_from_a_command_line_are_checked():
    with pytest.raises(PhysicalInputError, match="n_atoms"):
        evaluate({}, "NMC111", n_atoms=3)
    with pytest.raises(PhysicalInputError, match="metrics"):
        evaluate({}, "NMC111", metrics="maybe")
    with pytest.raises(PhysicalInputError, match="n_am"):
        evaluate({}, "NMC111", n_am="1.5")
    with pytest.raises(PhysicalInputError, match="calender"):
        evaluate({}, "NMC111", calender="drum", n_am="20")


def test_cbd_transport_orders_the_tortuosity_factor():
    """More CBD diffusivity, easier transport: tau(D_rel=1) <= tau(bruggeman) <= tau(blocking), with
    the blocking value reported whatever the choice; a bad choice is named."""
    rng = np.random.default_rng(0)
    labels = rng.choice(np.array([PORE, AM, CBD], dtype=np.uint8), size=(24, 24, 24), p=[0.45, 0.35, 0.2])
    image = VoxelImage(labels, 0.5, 4.75, 0.975, cbd_nanoporosity=0.47)
    mat = get_material("NMC111")
    tau = {c: structure_metrics(image, mat, c) for c in ("D_rel=1", "bruggeman", "blocking", "D_rel=0")}
    assert tau["D_rel=1"]["tortuosity_factor"] < tau["bruggeman"]["tortuosity_factor"]
    assert tau["bruggeman"]["tortuosity_factor"] < tau["blocking"]["tortuosity_factor"]
    assert tau["D_rel=0"]["tortuosity_factor"] == pytest.approx(tau["blocking"]["tortuosity_factor"])
    assert {t["tortuosity_factor_cbd_blocking"] for t in tau.values()} == {
        tau["blocking"]["tortuosity_factor"]
    }
    assert cbd_relative_diffusivity("bruggeman", 0.3) < cbd_relative_diffusivity("bruggeman", 0.47)
    for bad in ("knudsen", "D_rel=2", "D_rel=x"):
        with pytest.raises(PhysicalInputError, match="cbd_transport"):
            evaluate({}, "NMC111", cbd_transport=bad, n_am="20")


def test_replicates_give_mean_and_sample_std():
    runs = [{"porosity": 0.30, "tortuosity_factor": 3.0}, {"porosity": 0.34, "tortuosity_factor": math.inf}]
    stats = replicate_statistics(runs)
    assert stats["porosity"] == pytest.approx(0.32) and stats["porosity_std"] == pytest.approx(0.02 * 2**0.5)
    assert stats["tortuosity_factor"] == math.inf and stats["tortuosity_factor_std"] == math.inf
    with pytest.raises(PhysicalInputError, match="seeds"):
        evaluate({}, "NMC111", seeds="0")


def test_seeds_report_the_spread_of_the_rve():
    recipe = {"am_mass_fraction": 1.0, "compression_ratio": 0.2}  # 60 AM particles: quick
    out = evaluate(recipe, "NMC111", seeds="2", metrics=False, **SMALL)
    assert set(out) == {n for name in set(OUTCOMES) - set(METRIC_OUTCOMES) for n in (name, f"{name}_std")}
    assert out["mass_loading_mg_cm2_std"] == pytest.approx(0.0, abs=1e-12)  # same counts, same area
    assert 0.0 < out["porosity_std"] < 0.05 and out["max_pressure_mpa_std"] > 0.0


def test_recalendering_the_dried_film_repeats_the_run():
    """recalender reuses the dried film: at the same compression it is the same run, deeper it is denser."""
    recipe = {"am_mass_fraction": 1.0, "compression_ratio": 0.15}
    first = simulate_electrode(recipe, metrics=False, **SMALL)
    again = recalender(first, 0.15, calendering_config=SMALL["calendering_config"])
    assert again.outcomes == pytest.approx(first.outcomes, rel=1e-12)
    deeper = recalender(first, 0.25, calendering_config=SMALL["calendering_config"]).outcomes
    assert (
        deeper["porosity"] < first.outcomes["porosity"]
        and deeper["dried_porosity"] == first.outcomes["dried_porosity"]
    )
    with pytest.raises(PhysicalInputError, match="compression_ratio"):
        recalender(first, 1.5)
