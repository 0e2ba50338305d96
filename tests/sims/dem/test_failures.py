"""Blow-up detection (SimulationFailed with a reason) and unphysical inputs (PhysicalInputError)."""

import numpy as np
import pytest

from sims.dem import Box, ContactParams, FailureLimits, ParticleState, PlaneWall, Simulation
from sims.errors import PhysicalInputError, SimulationFailed

BOX = Box((0.0, 0.0, 0.0), (60e-6, 60e-6, 40e-6))
PARAMS = ContactParams.from_properties(200e9, 0.3, 0.5, 0.3, 4750.0)


def _pair(v_rel, dt=2e-10, limits=None):
    r = 5e-6
    pos = np.array([[25e-6, 30e-6, 20e-6], [35.1e-6, 30e-6, 20e-6]])
    vel = np.array([[0.5 * v_rel, 0.0, 0.0], [-0.5 * v_rel, 0.0, 0.0]])
    state = ParticleState.from_spheres(pos, [r, r], [0, 0], PARAMS.density_kg_m3, velocity=vel)
    return Simulation(state, BOX, PARAMS, dt=dt, limits=limits)


def test_deep_overlap_stops_the_run():
    sim = _pair(v_rel=3000.0, limits=FailureLimits(max_speed_m_s=1e4))
    with pytest.raises(SimulationFailed, match="overlap"):
        sim.run(2_000)
    with pytest.raises(SimulationFailed, match="failed earlier"):
        sim.run(1)


def test_a_gentle_collision_does_not_fail():
    sim = _pair(v_rel=1.0)
    sim.run(2_000)
    assert np.all(np.isfinite(sim.state.velocity))


def test_exploding_speed_stops_the_run():
    sim = _pair(v_rel=1.0, limits=FailureLimits(max_speed_m_s=0.4))
    with pytest.raises(SimulationFailed, match="kinetic energy"):
        sim.run(10)


def test_non_finite_velocity_stops_the_run():
    sim = _pair(v_rel=1.0)
    sim.state.velocity[1, 2] = np.nan
    with pytest.raises(SimulationFailed, match="non-finite"):
        sim.run(10)


def test_escaping_particle_stops_the_run():
    state = ParticleState.from_spheres(
        [[30e-6, 30e-6, 30e-6]], [5e-6], [0], PARAMS.density_kg_m3, velocity=[[0, 0, 20.0]]
    )
    sim = Simulation(state, BOX, PARAMS, [PlaneWall(0.0)], dt=2e-10)
    with pytest.raises(SimulationFailed, match="left the box"):
        sim.run(10_000)
    assert sim.step < 10_000


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"restitution": 1.5}, "restitution"),
        ({"restitution": 0.0}, "restitution"),
        ({"poisson_ratio": 0.7}, "poisson_ratio"),
        ({"young_modulus_pa": -1.0}, "young_modulus_pa"),
        ({"friction": -0.1}, "friction"),
        ({"density_kg_m3": 0.0}, "density_kg_m3"),
        ({"cohesion_energy_density_j_m3": -5.0}, "cohesion_energy_density_j_m3"),
        ({"yield_pressure_pa": 0.0}, "yield_pressure_pa"),
        ({"rolling_friction": np.nan}, "rolling_friction"),
        ({"friction": [[0.1, 0.2], [0.3, 0.1]], "young_modulus_pa": [1e9, 1e9]}, "friction"),
    ],
)
def test_unphysical_contact_parameters_are_named(kwargs, name):
    base = {
        "young_modulus_pa": 200e9,
        "poisson_ratio": 0.3,
        "restitution": 0.5,
        "friction": 0.3,
        "density_kg_m3": 4750.0,
    }
    with pytest.raises(PhysicalInputError, match=name):
        ContactParams.from_properties(**{**base, **kwargs})


def test_unphysical_simulation_inputs_are_named():
    pos = [[30e-6, 30e-6, 20e-6]]
    with pytest.raises(PhysicalInputError, match="radius"):
        ParticleState.from_spheres(pos, [-1e-6], [0], PARAMS.density_kg_m3)
    with pytest.raises(PhysicalInputError, match="type_id"):
        ParticleState.from_spheres(pos, [1e-6], [3], PARAMS.density_kg_m3)
    state = ParticleState.from_spheres(pos, [5e-6], [0], PARAMS.density_kg_m3)
    with pytest.raises(PhysicalInputError, match="Rayleigh"):
        Simulation(state, BOX, PARAMS, dt=1e-6)
    with pytest.raises(PhysicalInputError, match="dt"):
        Simulation(state, BOX, PARAMS, dt=-1e-10)
    with pytest.raises(PhysicalInputError, match="box"):
        Simulation(state, Box((0, 0, 0), (20e-6, 60e-6, 40e-6)), PARAMS, dt=1e-10)
    with pytest.raises(PhysicalInputError, match="outside the box"):
        Simulation(state, Box((0, 0, 25e-6), (60e-6, 60e-6, 40e-6)), PARAMS, dt=1e-10)
    with pytest.raises(PhysicalInputError, match="type_id"):
        Simulation(state, BOX, PARAMS, [PlaneWall(0.0, type_id=2)], dt=1e-10)
    with pytest.raises(PhysicalInputError, match="normal"):
        PlaneWall(0.0, normal=0)
    with pytest.raises(PhysicalInputError, match="threads"):
        Simulation(state, BOX, PARAMS, dt=1e-10, threads=0)
    with pytest.raises(PhysicalInputError, match="box"):
        Box((0, 0, 0), (1e-6, -1e-6, 1e-6))
