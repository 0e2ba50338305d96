"""Periodic images: a contact across the x or y boundary is the same contact as inside the box."""

import numpy as np
import pytest

from sims.dem import Box, ContactParams, ParticleState, Simulation

L = 60e-6
BOX = Box((0.0, 0.0, 0.0), (L, L, 40e-6))


def _oblique_pair(center, params, threads=1):
    """Two spheres around `center` (x, y) in an oblique, spinning, frictional collision."""
    r1, r2 = 5e-6, 3.5e-6
    direction = np.array([-0.6, -0.55, 0.1])
    offset = 1.03 * (r1 + r2) * direction / np.linalg.norm(direction)
    pos = np.array([[*center, 20e-6], [*center, 20e-6]]) + np.array([offset / 2, -offset / 2])
    vel = np.array([[0.4, 0.3, 0.0], [-0.4, -0.3, 0.05]])
    state = ParticleState.from_spheres(pos, [r1, r2], [0, 1], params.density_kg_m3, velocity=vel)
    state.angular_velocity[:] = [[0.0, 0.0, 2e5], [1e5, 0.0, 0.0]]
    return Simulation(state, BOX, params, dt=5e-11, threads=threads)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("center", [(0.0, L / 2), (L / 2, 0.0), (L, L), (0.3e-6, L - 0.2e-6)])
def test_contact_across_boundary_matches_unwrapped(center, threads):
    params = ContactParams.from_properties(
        [200e9, 2e9], 0.3, [0.6, 0.4], [0.3, 0.5], [4750.0, 975.0], cohesion_energy_density_j_m3=[0.0, 2e6]
    )
    inside = _oblique_pair((L / 2, L / 2), params, threads)
    across = _oblique_pair(center, params, threads)
    v0 = inside.state.velocity.copy()
    inside.run(8000)
    across.run(8000)
    a, b = inside.state, across.state
    assert not np.allclose(a.velocity, v0)  # they did collide
    assert np.allclose(b.velocity, a.velocity, rtol=0, atol=1e-9 * np.abs(v0).max())
    assert np.allclose(
        b.angular_velocity, a.angular_velocity, rtol=0, atol=1e-9 * np.abs(a.angular_velocity).max()
    )
    # same relative position, up to whole periods
    rel_a = a.position[1] - a.position[0]
    rel_b = b.position[1] - b.position[0]
    rel_b[:2] -= L * np.round((rel_b[:2] - rel_a[:2]) / L)
    assert np.allclose(rel_b, rel_a, rtol=0, atol=1e-12)
    # both particles are inside the box in x, y after the last rebuild wrap (up to skin/2)
    assert np.all(b.position[:, :2] > -across.skin) and np.all(b.position[:, :2] < L + across.skin)
