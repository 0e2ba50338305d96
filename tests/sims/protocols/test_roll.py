"""Roll calendering on a small RVE: tiling, gap, pressure, spring-back, mass; the known gap to the plate."""

import numpy as np
import pytest

from sims.dem import PlaneWall, Simulation
from sims.electrode import METRIC_OUTCOMES, OUTCOMES, evaluate, simulate_electrode
from sims.errors import PhysicalInputError
from sims.materials import get_material
from sims.protocols.calendering import calender
from sims.protocols.calendering_common import CalenderingConfig
from sims.protocols.contact_tables import COLLECTOR_TYPE, electrode_contact_params
from sims.protocols.drying import dry
from sims.protocols.film import sphere_volume_m3, top_m
from sims.protocols.packing import pack_slurry, particle_counts
from sims.protocols.roll import ARC_MARGIN, roll_calender, tile_x

MAT = get_material("NMC111")
LATERAL = 22e-6
RADIUS = 150e-6  # 7 RVE widths; entry arcs 20-30 um, so 2-3 tiles
FAST = CalenderingConfig(load_steps=10000, release_steps=3000)
RATIOS = (0.1, 0.15, 0.2)


@pytest.fixture(scope="module")
def dried():
    """60 AM particles (no CBD) dried from a 30 um slurry film: the plate tests' film."""
    counts = particle_counts(MAT, 1.0, 60)
    state, box = pack_slurry(counts, LATERAL, 30e-6, seed=2)
    return dry(state, box, MAT, 30e-6, drying_rate_um_s=1.0)


@pytest.fixture(scope="module")
def rolled(dried):
    return [
        roll_calender(dried.state, dried.box, MAT, cr, roll_radius_m=RADIUS, config=FAST) for cr in RATIOS
    ]


def porosity(result) -> float:
    """Of the dense spheres: 1 - particle volume / (box area x thickness)."""
    area = result.box.length[0] * result.box.length[1]
    return 1.0 - sphere_volume_m3(result.state) / (area * result.thickness_m)


def test_tiling_copies_the_film(dried):
    st, box = tile_x(dried.state, dried.box, 3)
    assert st.n == 3 * dried.state.n and box.length[0] == pytest.approx(3 * LATERAL)
    assert np.sum(st.mass) == pytest.approx(3 * np.sum(dried.state.mass))
    shift = st.position[dried.state.n : 2 * dried.state.n] - dried.state.position
    assert np.allclose(shift, [LATERAL, 0.0, 0.0])
    # same areal mass and film top: per-area outcomes do not see the tiling
    assert np.sum(st.mass) / (box.length[0] * box.length[1]) == pytest.approx(
        np.sum(dried.state.mass) / LATERAL**2
    )
    assert top_m(st) == top_m(dried.state)


def test_tiling_carries_the_contact_histories(dried):
    """Every copy of a particle feels the forces of the original: its contacts, shear springs and
    plastic flattening included (pairs across the periodic x boundary go to the next copy)."""
    params = electrode_contact_params(MAT)
    dt = 1e-10

    def forces(state, box):
        sim = Simulation(state, box, params, [PlaneWall(0.0, normal=1, type_id=COLLECTOR_TYPE)], dt)
        return sim.state.force

    one = forces(dried.state.copy(), dried.box)
    st, box = tile_x(dried.state, dried.box, 3)
    assert np.abs(one).max() > 0.0 and np.any(dried.state.contacts.shift[..., 0] != 0.0)
    tiled = forces(st, box).reshape(3, dried.state.n, 3)
    assert np.allclose(tiled, one[None], rtol=0.0, atol=1e-9 * np.abs(one).max())
    st.contacts = None
    dropped = forces(st, box).reshape(3, dried.state.n, 3)
    assert not np.allclose(dropped, one[None], rtol=0.0, atol=1e-3 * np.abs(one).max())


def test_roll_reaches_its_gap_and_pressure_rises_with_compression(dried, rolled):
    for cr, r in zip(RATIOS, rolled, strict=True):
        assert r.min_gap_m == pytest.approx(r.h_dried_m * (1 - cr), rel=1e-6)
        arc = np.sqrt(2 * RADIUS * (r.h_dried_m - r.min_gap_m))
        assert r.contact_arc_m == pytest.approx(arc)
        assert r.box.length[0] >= ARC_MARGIN * 2 * arc  # one roll image touches the film
        assert r.roll_travel_m[r.stage == 0].max() == pytest.approx(r.box.length[0] + arc, rel=1e-6)
        assert r.spring_back_pct >= 0.0
        assert 0.0 < r.inertial_number <= FAST.inertial_bound
        # mass conserved: every particle of every tile is still there, inside the film
        assert np.sum(r.state.mass) == pytest.approx(r.tiles * np.sum(dried.state.mass), rel=1e-12)
        assert np.all(r.state.position[:, 2] > 0.0)
    assert rolled[0].max_pressure_pa < rolled[1].max_pressure_pa < rolled[2].max_pressure_pa
    assert rolled[0].contact_arc_m < rolled[1].contact_arc_m < rolled[2].contact_arc_m


def test_nip_pressure_is_force_over_arc(rolled):
    r = rolled[-1]
    at_gap = (r.stage == 0) & (r.strain >= RATIOS[-1] - 1e-9)
    force_n = r.line_load_n_m[at_gap] * r.box.length[1]
    assert np.allclose(r.pressure_pa[at_gap], force_n / (r.contact_arc_m * r.box.length[1]))


def test_porosity_and_thickness_fall_with_compression(dried, rolled):
    pores = [porosity(r) for r in rolled]
    finals = [r.thickness_m for r in rolled]
    assert pores[0] > pores[1] > pores[2]
    assert finals[0] > finals[1] > finals[2]
    assert finals[-1] < dried.thickness_m and pores[-1] < porosity(dried)


def test_roll_and_plate_reach_the_same_nip_pressure(dried, rolled):
    """At the same gap the nip's mean pressure is the plate's (measured within 3-7 %, bound 15 %)."""
    for cr, r in zip(RATIOS, rolled, strict=True):
        plate = calender(dried.state, dried.box, MAT, cr, config=FAST)
        assert r.max_pressure_pa == pytest.approx(plate.max_pressure_pa, rel=0.15)


@pytest.mark.xfail(
    strict=True,
    reason="the pass shears and dilates the 1-2-layer film behind the nip (module doc): "
    "measured spring-back 10-17 % vs 1-1.6 % for the plate, porosity 0.45 / 0.44 / 0.42 vs "
    "0.40 / 0.37 / 0.33 at 0.1 / 0.15 / 0.2",
)
def test_roll_densifies_like_the_plate(dried, rolled):
    for cr, r in zip(RATIOS, rolled, strict=True):
        plate = calender(dried.state, dried.box, MAT, cr, config=FAST)
        assert porosity(r) == pytest.approx(porosity(plate), abs=0.03)


def test_uncalendered_and_bad_radius(dried):
    r = roll_calender(dried.state, dried.box, MAT, 0.0)
    assert r.thickness_m == pytest.approx(top_m(dried.state)) and r.spring_back_pct == 0.0
    with pytest.raises(PhysicalInputError, match="roll_radius_um"):
        roll_calender(dried.state, dried.box, MAT, 0.1, roll_radius_m=-1.0)
    with pytest.raises(PhysicalInputError, match="compression_ratio"):
        roll_calender(dried.state, dried.box, MAT, 0.7, config=FAST)


def test_the_dem_evaluator_rolls():
    opts = {"n_am": 60, "lateral_um": 22.0, "calendering_config": FAST, "metrics": False}
    assert set(evaluate({"am_mass_fraction": 1.0}, calender="roll", roll_radius_um="150", **opts)) == set(
        OUTCOMES
    ) - set(METRIC_OUTCOMES)
    run = simulate_electrode({"am_mass_fraction": 1.0}, calender_tool="roll", roll_radius_um=150.0, **opts)
    assert run.calendered.tiles > 1 and run.calendered.box.length[0] > run.box.length[0]
    # per-area outcomes of the tiled electrode: those of one RVE of the same film
    assert run.outcomes["porosity"] == pytest.approx(porosity(run.calendered), rel=1e-9)
    assert run.outcomes["thickness_um"] == pytest.approx(run.calendered.thickness_m * 1e6)


@pytest.mark.long  # ~10 min on 2 cores: 4 tiles of the default RVE, 150k steps
def test_default_rve_rolls():
    out = evaluate({}, "NMC111", calender="roll", metrics=False)
    assert out["spring_back_pct"] >= 0.0 and out["inertial_number"] <= 2e-2 and out["max_pressure_mpa"] > 1.0
