"""Two-sphere contacts against Hertz theory: force law, restitution, contact time, material mixing."""

import math

import numpy as np
import pytest

from sims.dem import Box, ContactParams, ParticleState, Simulation

BOX = Box((0.0, 0.0, 0.0), (100e-6, 100e-6, 60e-6))


def _pair(params, r1, r2, gap, v_rel=0.0, types=(0, 0), dt=2e-11):
    """Two spheres on the x axis, centre distance r1 + r2 + gap, approaching at v_rel (m/s)."""
    x0 = 50e-6
    pos = np.array([[x0 - r1, 50e-6, 30e-6], [x0 + r2 + gap, 50e-6, 30e-6]])
    vel = np.array([[0.5 * v_rel, 0.0, 0.0], [-0.5 * v_rel, 0.0, 0.0]])
    state = ParticleState.from_spheres(pos, [r1, r2], list(types), params.density_kg_m3, velocity=vel)
    return Simulation(state, BOX, params, dt=dt)


def _ystar(e1, nu1, e2, nu2):
    return 1.0 / ((1 - nu1**2) / e1 + (1 - nu2**2) / e2)


@pytest.mark.parametrize("overlap", [1e-9, 1e-8, 5e-8])
def test_hertz_force_matches_theory_with_mixed_materials(overlap):
    params = ContactParams.from_properties([200e9, 2e9], [0.3, 0.25], 0.5, 0.3, [4750.0, 975.0])
    r1, r2 = 5e-6, 1.3e-6
    sim = _pair(params, r1, r2, -overlap, types=(0, 1))
    reff = r1 * r2 / (r1 + r2)
    expected = 4.0 / 3.0 * _ystar(200e9, 0.3, 2e9, 0.25) * math.sqrt(reff) * overlap**1.5
    f = sim.state.force
    assert f[1, 0] == pytest.approx(expected, rel=1e-2)
    assert f[0, 0] == pytest.approx(-expected, rel=1e-2)
    assert np.allclose(f[:, 1:], 0.0)


def _collide(params, r1, r2, v_rel, types=(0, 0)):
    """Run a head-on collision; returns (restitution, contact time (s))."""
    sim = _pair(params, r1, r2, 0.0, v_rel, types)
    # Hertz contact time estimate sets the step: ~2000 steps per contact
    m = sim.state.mass
    meff = m[0] * m[1] / (m[0] + m[1])
    reff = r1 * r2 / (r1 + r2)
    ystar = params.youngs_eff[types[0], types[1]]
    t_c = 2.868 * (meff**2 / (reff * ystar**2 * v_rel)) ** 0.2
    sim.dt = t_c / 2000
    touching = []

    def record(s):
        d = s.state.position[1, 0] - s.state.position[0, 0]
        touching.append(d < r1 + r2)
        return len(touching) > 10 and not any(touching[-5:])

    sim.run(4000, callback_every=1, callback=record)
    steps_in_contact = sum(touching)
    v = sim.state.velocity[:, 0]
    return (v[1] - v[0]) / v_rel, steps_in_contact * sim.dt, t_c


@pytest.mark.parametrize("restitution", [0.2, 0.5, 0.9])
@pytest.mark.parametrize("v_rel", [0.05, 1.0])
def test_restitution_reproduced(restitution, v_rel):
    params = ContactParams.from_properties(200e9, 0.3, restitution, 0.0, 4750.0)
    e, _, _ = _collide(params, 5e-6, 3.5e-6, v_rel)
    assert e == pytest.approx(restitution, rel=2e-2)


@pytest.mark.parametrize("v_rel", [0.05, 1.0])
def test_contact_time_matches_hertz(v_rel):
    params = ContactParams.from_properties(200e9, 0.3, 1.0, 0.0, 4750.0)
    e, t_contact, t_hertz = _collide(params, 5e-6, 2.5e-6, v_rel)
    assert e == pytest.approx(1.0, abs=1e-3)
    assert t_contact == pytest.approx(t_hertz, rel=3e-2)


def test_restitution_mixing_is_mean_of_types():
    params = ContactParams.from_properties([200e9, 2e9], 0.3, [0.8, 0.4], 0.3, [4750.0, 975.0])
    assert params.restitution[0, 1] == pytest.approx(0.6)
    e, _, _ = _collide(params, 5e-6, 1.3e-6, 0.3, types=(0, 1))
    assert e == pytest.approx(0.6, rel=2e-2)


def test_oblique_impact_spins_spheres_and_conserves_angular_momentum():
    """Friction turns sliding into rolling; about the centre of mass L = sum(r x m v) + I w holds."""
    params = ContactParams.from_properties(200e9, 0.3, 0.7, 0.4, 4750.0)
    r = 5e-6
    pos = np.array([[45.3e-6, 50e-6, 30e-6], [55.0e-6, 50e-6 + 0.6 * r, 30e-6]])
    vel = np.array([[0.5, 0.0, 0.0], [-0.5, 0.0, 0.0]])
    state = ParticleState.from_spheres(pos, [r, r], [0, 0], params.density_kg_m3, velocity=vel)
    sim = Simulation(state, BOX, params, dt=5e-11)

    def ang_mom(s):
        com = np.average(s.position, axis=0, weights=s.mass)
        return np.sum(np.cross(s.position - com, s.mass[:, None] * s.velocity), axis=0) + np.sum(
            s.inertia[:, None] * s.angular_velocity, axis=0
        )

    l0 = ang_mom(state)
    sim.run(10000)
    assert np.abs(state.angular_velocity[:, 2]).min() > 1e3  # rad/s: the contact made them spin
    assert np.allclose(ang_mom(state), l0, rtol=0, atol=1e-6 * np.abs(l0).max())
    assert np.allclose(state.mass @ state.velocity, 0.0, atol=1e-20)
