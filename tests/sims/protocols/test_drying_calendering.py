"""Drying and plate calendering on a small RVE: consolidation, monotonic trends, spring-back."""

import numpy as np
import pytest

from sims.dem import PlaneWall, Simulation
from sims.errors import PhysicalInputError
from sims.materials import get_material
from sims.protocols.calendering import calender
from sims.protocols.calendering_common import DT_FRACTION, CalenderingConfig
from sims.protocols.contact_tables import COLLECTOR_TYPE, electrode_contact_params
from sims.protocols.drying import G, capillary_pressure_pa, dry
from sims.protocols.film import sphere_volume_m3, top_m
from sims.protocols.packing import pack_slurry, particle_counts

MAT = get_material("NMC111")
LATERAL = 22e-6
FAST = CalenderingConfig(load_steps=20000, hold_steps=500, release_steps=3000)


@pytest.fixture(scope="module")
def dried():
    """60 AM particles (no CBD: dense spheres only) dried from a slurry 2.5 x thicker than the film."""
    counts = particle_counts(MAT, 1.0, 60)
    state, box = pack_slurry(counts, LATERAL, 30e-6, seed=2)
    return dry(state, box, MAT, 30e-6, drying_rate_um_s=1.0)


def test_drying_consolidates_the_film(dried):
    st = dried.state
    solid_fraction = sphere_volume_m3(st) / (LATERAL**2 * dried.thickness_m)
    # random packings of frictional spheres: loose (~0.55) to close (~0.64), polydisperse a bit more
    assert 0.45 < solid_fraction < 0.72
    assert dried.thickness_m < 0.6 * dried.wet_thickness_m
    assert np.all(st.position[:, 2] - st.radius > -0.05 * st.radius)  # on the collector, not through
    assert 0.0 < dried.inertial_number <= 1e-2  # checked quasi-static bound
    assert dried.capillary_pressure_pa == pytest.approx(4 * 0.0407 / 1.3e-6)


@pytest.mark.parametrize("carry", [True, False])
def test_the_dried_film_restarts_at_rest_with_its_contact_histories(dried, carry):
    """Restarted on the collector alone, the dried film keeps its height when its contact histories
    (shear springs, plastic flattening) come with the state; dropped, the flattened contacts reload
    elastically from their residual overlap and the film expands by ~10 %."""
    state = dried.state.copy()
    assert state.contacts is not None and np.any(state.contacts.pair[..., 3] > 0)
    if not carry:
        state.contacts = None
    params = electrode_contact_params(MAT)
    dt = DT_FRACTION * params.rayleigh_time(state.radius, state.mass, state.type_id)
    collector = PlaneWall(0.0, normal=1, type_id=COLLECTOR_TYPE)
    sim = Simulation(state, dried.box, params, [collector], dt, gravity=(0.0, 0.0, -G))
    z0 = state.position[:, 2].mean()
    sim.run(8000)
    rise = state.position[:, 2].mean() / z0 - 1.0
    assert (abs(rise) < 0.02) if carry else (rise > 0.05)


def test_porosity_falls_and_pressure_rises_with_compression(dried):
    ratios = (0.05, 0.12, 0.2)
    runs = [calender(dried.state, dried.box, MAT, cr, config=FAST) for cr in ratios]
    gaps = [r.min_gap_m for r in runs]
    finals = [r.thickness_m for r in runs]
    pmax = [r.max_pressure_pa for r in runs]
    assert gaps[0] > gaps[1] > gaps[2]
    assert finals[0] > finals[1] > finals[2]  # denser electrode after release
    assert pmax[0] < pmax[1] < pmax[2]
    for cr, r in zip(ratios, runs, strict=True):
        assert r.min_gap_m == pytest.approx(r.h_dried_m * (1 - cr), rel=1e-3)  # the plate reached its gap
        assert r.spring_back_pct > 0.0  # elastic recovery of the contacts
        assert r.thickness_m < r.h_dried_m  # the plastic part stays
        assert r.inertial_number <= 2e-2
    # the loading curve rises with strain once the plate carries load
    load = runs[-1].pressure_pa[runs[-1].stage == 0]
    loaded = load[load > 0.1 * load.max()]
    assert np.all(np.diff(loaded) > -0.2 * loaded.max())


def test_elastic_bed_recovers_more_than_elastic_plastic(dried):
    """Thornton's unloading curve is stiffer than Hertz loading: less of the compression comes back."""
    plastic = calender(dried.state, dried.box, MAT, 0.15, config=FAST)
    elastic_cfg = CalenderingConfig(
        load_steps=20000, hold_steps=500, release_steps=3000, plastic=False, cohesion=False
    )
    elastic = calender(dried.state, dried.box, MAT, 0.15, config=elastic_cfg)
    assert 0.0 < plastic.spring_back_pct < elastic.spring_back_pct
    assert elastic.max_pressure_pa > plastic.max_pressure_pa  # no yield: stiffer bed


def test_compression_beyond_the_solids_is_refused(dried):
    with pytest.raises(PhysicalInputError, match="compression_ratio"):
        calender(dried.state, dried.box, MAT, 0.7, config=FAST)
    with pytest.raises(PhysicalInputError, match="compression_ratio"):
        calender(dried.state, dried.box, MAT, 1.2, config=FAST)


def test_uncalendered_is_the_dried_film(dried):
    r = calender(dried.state, dried.box, MAT, 0.0)
    assert r.thickness_m == pytest.approx(top_m(dried.state)) and r.spring_back_pct == 0.0


def test_capillary_pressure_scales_with_surface_tension():
    assert capillary_pressure_pa(get_material("graphite")) > capillary_pressure_pa(MAT)  # water > NMP


def test_drying_rate_sets_the_sedimentation_number():
    """d50 AM settles (hindered Stokes) faster than a 1 um/s film shrinks, slower than 40 um/s."""
    counts = particle_counts(MAT, 1.0, 60)
    state, box = pack_slurry(counts, LATERAL, 30e-6, seed=2)
    slow = dry(state, box, MAT, 30e-6, drying_rate_um_s=1.0)
    fast = dry(state, box, MAT, 30e-6, drying_rate_um_s=40.0)
    d50 = MAT.active.mean_diameter_um * 1e-6
    stokes = 2 / 9 * (4750 - 1028) * 9.81 * (d50 / 2) ** 2 / 1.67e-3  # m/s in pure NMP
    phi = sphere_volume_m3(state) / (LATERAL**2 * 30e-6)
    assert slow.sedimentation_number == 3.0  # capped: AM settles before the surface arrives
    assert fast.sedimentation_number == pytest.approx(stokes * (1 - phi) ** 4.65 / 40e-6, rel=1e-3)
    assert fast.real_duration_s < slow.real_duration_s / 30
