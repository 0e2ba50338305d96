"""Conservation in an elastic, frictionless granular gas, and the parallel kernel against the serial one."""

import math

import numpy as np
import pytest

from sims.dem import Box, ContactParams, ParticleState, PlaneWall, Simulation

L = 40e-6  # box edge (m)


def _gas(params, threads=1, n_side=3, seed=0, walls=True):
    """n_side^3 spheres (2.5-5 um) on a jittered grid with random velocities and spins."""
    rng = np.random.default_rng(seed)
    g = (np.arange(n_side) + 0.5) * L / n_side
    pos = np.array(np.meshgrid(g, g, g, indexing="ij")).reshape(3, -1).T
    pos += rng.uniform(-1e-6, 1e-6, pos.shape)
    radius = rng.choice([2.5e-6, 3.5e-6, 5e-6], len(pos))
    vel = rng.normal(0.0, 0.5, pos.shape)
    vel -= vel.mean(axis=0)
    state = ParticleState.from_spheres(
        pos, radius, np.zeros(len(pos), int), params.density_kg_m3, velocity=vel
    )
    state.angular_velocity[:] = rng.normal(0.0, 1e5, pos.shape)
    box = Box((0.0, 0.0, -2e-6), (L, L, L + 2e-6))
    wall_list = [PlaneWall(0.0, 1), PlaneWall(L, -1)] if walls else []
    return Simulation(state, box, params, wall_list, dt=4e-10, threads=threads)


def _total_energy(sim):
    """Kinetic plus Hertz elastic energy (8/15) Y* sqrt(R*) delta^2.5 of contacts and wall contacts (J)."""
    s = sim.state
    ystar = sim.params.youngs_eff[0, 0]
    c = sim.contacts()
    energy = s.kinetic_energy().sum() + np.sum(8.0 / 15.0 * ystar * np.sqrt(c.reff) * c.overlap**2.5)
    for wall in sim.walls:
        delta = s.radius - (s.position[:, 2] - wall.z) * wall.normal
        touch = delta > 0
        energy += np.sum(8.0 / 15.0 * ystar * np.sqrt(s.radius[touch]) * delta[touch] ** 2.5)
    return energy


def test_energy_and_momentum_conserved_without_dissipation():
    params = ContactParams.from_properties(200e9, 0.3, 1.0, 0.0, 4750.0)
    sim = _gas(params)
    e0 = _total_energy(sim)
    p0 = sim.state.mass @ sim.state.velocity
    energies, momenta = [], []

    def record(s):
        energies.append(_total_energy(s))
        momenta.append(s.state.mass @ s.state.velocity)

    sim.run(100_000, callback_every=2_000, callback=record)
    assert sim.n_rebuilds > 10  # the particles did move about
    drift = np.abs(np.array(energies) / e0 - 1.0)
    assert drift.max() < 1e-4
    p_scale = np.sum(sim.state.mass * 0.5)
    # x, y: periodic, no external force; z: the walls push
    assert np.allclose(np.array(momenta)[:, :2], p0[:2], rtol=0, atol=1e-12 * p_scale)


def test_dissipation_loses_energy():
    """The same gas with restitution 0.5 must lose energy (the test above can fail)."""
    params = ContactParams.from_properties(200e9, 0.3, 0.5, 0.3, 4750.0)
    sim = _gas(params)
    e0 = _total_energy(sim)
    sim.run(20_000)
    assert _total_energy(sim) < 0.9 * e0


@pytest.mark.parametrize("rolling", [0.0, 0.05])
def test_parallel_kernels_match_serial(rolling):
    """Friction, cohesion, plasticity and rolling resistance: two threads follow one thread."""
    params = ContactParams.from_properties(
        200e9,
        0.3,
        0.6,
        0.4,
        4750.0,
        cohesion_energy_density_j_m3=5e5,
        rolling_friction=rolling,
        yield_pressure_pa=2e9,
    )
    serial = _gas(params, threads=1, seed=3)
    parallel = _gas(params, threads=2, seed=3)
    e0 = serial.kinetic_energy().sum()
    serial.run(5_000)
    parallel.run(5_000)
    s, p = serial.state, parallel.state
    assert serial.kinetic_energy().sum() < 0.9 * e0  # inelastic contacts happened
    v_scale = np.abs(s.velocity).max()
    assert np.allclose(p.position, s.position, rtol=0, atol=1e-9 * L)
    assert np.allclose(p.velocity, s.velocity, rtol=0, atol=1e-7 * v_scale)
    assert np.allclose(
        p.angular_velocity, s.angular_velocity, rtol=0, atol=1e-7 * np.abs(s.angular_velocity).max()
    )
    for ws, wp in zip(serial.walls, parallel.walls, strict=True):
        assert np.allclose(wp.mean_force, ws.mean_force, rtol=1e-6, atol=1e-12)


def test_switching_threads_mid_run_keeps_histories():
    """Switching between the serial and the parallel kernels mid-run keeps the contact histories."""
    params = ContactParams.from_properties(200e9, 0.3, 0.6, 0.4, 4750.0, cohesion_energy_density_j_m3=5e5)
    ref = _gas(params, threads=1, seed=5)
    sim = _gas(params, threads=1, seed=5)
    ref.run(2_000)
    sim.run(700)
    sim.threads = 2
    sim.run(600)
    sim.threads = 1
    sim.run(700)
    scale = np.abs(ref.state.velocity).max()
    assert np.allclose(sim.state.velocity, ref.state.velocity, rtol=0, atol=1e-7 * scale)
    assert math.isclose(sim.time, ref.time)
