"""Walls: static equilibrium on the current collector, roll contact geometry, moving-wall friction."""

import math

import numpy as np
import pytest

from sims.dem import Box, ContactParams, ParticleState, PlaneWall, RollWall, Simulation

L = 40e-6
PARAMS = ContactParams.from_properties(2e9, 0.3, 0.3, 0.4, 975.0)


def test_collector_carries_the_weight_of_a_settled_bed():
    rng = np.random.default_rng(2)
    g = (np.arange(3) + 0.5) * L / 3
    pos = np.array(np.meshgrid(g, g, [6e-6, 18e-6], indexing="ij")).reshape(3, -1).T
    radius = rng.choice([2.5e-6, 4e-6], len(pos))
    state = ParticleState.from_spheres(pos, radius, np.zeros(len(pos), int), PARAMS.density_kg_m3)
    gravity = 1e5  # m/s2, a packing acceleration that settles the bed quickly
    collector = PlaneWall(0.0)
    sim = Simulation(
        state, Box((0, 0, -1e-6), (L, L, 40e-6)), PARAMS, [collector], dt=2e-9,
        gravity=(0, 0, -gravity), fluid_viscosity_pa_s=1e-4,
    )  # fmt: skip
    sim.run(50_000)
    sim.run(2_000)
    weight = state.mass.sum() * gravity
    assert collector.mean_force[2] == pytest.approx(-weight, rel=1e-2)
    assert abs(collector.mean_force[0]) < 1e-3 * weight


@pytest.mark.parametrize("axis_x", [20e-6, 20e-6 + L, 20e-6 - 3 * L])
def test_roll_pushes_along_the_line_of_centres(axis_x):
    """A sphere on the collector under a roll whose axis is offset in x (periodic images alike)."""
    r, big = 5e-6, 1e-3
    px, dx = 20e-6 + 2e-6, 2e-6
    dz = math.sqrt((big + r - 20e-9) ** 2 - dx**2)  # 20 nm overlap with the roll
    state = ParticleState.from_spheres([[px, L / 2, r]], [r], [0], PARAMS.density_kg_m3)
    roll = RollWall(axis_x, r + dz, big)
    Simulation(state, Box((0, 0, -1e-6), (L, L, 40e-6)), PARAMS, [PlaneWall(0.0), roll], dt=2e-9)
    f = roll.force
    assert f[2] > 0.0  # the particle pushes the roll up
    assert f[0] / f[2] == pytest.approx(-dx / dz, rel=1e-6)  # ... and back along the line of centres
    assert f[1] == 0.0


def test_sliding_plate_rolls_a_particle_by_friction():
    r = 5e-6
    state = ParticleState.from_spheres([[L / 2, L / 2, r]], [r], [0], PARAMS.density_kg_m3)
    plate = PlaneWall(2 * r - 20e-9, -1, velocity=(0.05, 0.0, 0.0))
    sim = Simulation(state, Box((0, 0, -1e-6), (L, L, 40e-6)), PARAMS, [PlaneWall(0.0), plate], dt=2e-9)
    sim.run(5_000)
    # it ends up rolling without slipping between the still collector and the plate: its bottom
    # point at rest, its top point moving with the plate
    v_x, w_y = state.velocity[0, 0], state.angular_velocity[0, 1]
    assert v_x == pytest.approx(0.5 * 0.05, rel=2e-2)
    assert w_y == pytest.approx(v_x / r, rel=2e-2)
    assert plate.z == pytest.approx(2 * r - 20e-9)
