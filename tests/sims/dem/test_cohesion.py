"""sjkr2 cohesion: pull-off force of the Hertz + sjkr2 law, between spheres and at a wall."""

import math

import numpy as np
import pytest

from sims.dem import Box, ContactParams, ParticleState, PlaneWall, Simulation
from sims.dem.contact import elastic_plastic_normal, sjkr2_cohesion

YSTAR = 1.1e9
K_COH = 1e7  # J/m3


def _pull_off(reff, area_radius, ystar=YSTAR):
    """Largest tensile force of F = 4/3 Y* sqrt(R*) d^1.5 - 2 pi k a d, 4 b^3 / (27 a_h^2), and the
    overlap where it is reached."""
    a_h = 4.0 / 3.0 * ystar * math.sqrt(reff)
    b = 2.0 * math.pi * K_COH * area_radius
    return 4.0 * b**3 / (27.0 * a_h**2), (b / (1.5 * a_h)) ** 2


def test_sjkr2_pull_off_between_spheres():
    reff = 2.5e-6 * 1.3e-6 / (2.5e-6 + 1.3e-6)
    f_po, d_star = _pull_off(reff, 2.0 * reff)  # LIGGGHTS: A = 2 pi delta (2 R*)
    deltas = np.linspace(1e-3, 3.0, 20001) * d_star
    force = [
        elastic_plastic_normal(d, 0.0, reff, YSTAR, math.inf)[0] + sjkr2_cohesion(d, 2.0 * reff, K_COH)
        for d in deltas
    ]
    assert -min(force) == pytest.approx(f_po, rel=1e-6)
    assert deltas[int(np.argmin(force))] == pytest.approx(d_star, rel=1e-3)


def _hanging(g_factor):
    """A sphere stuck under a cohesive ceiling, pulled down by g_factor x its pull-off force."""
    r = 2.5e-6
    params = ContactParams.from_properties(2e9, 0.3, 0.5, 0.3, 975.0, cohesion_energy_density_j_m3=K_COH)
    f_po, d_star = _pull_off(r, r, params.youngs_eff[0, 0])  # at a wall LIGGGHTS takes A = 2 pi delta r
    ceiling = 20e-6
    state = ParticleState.from_spheres([[10e-6, 10e-6, ceiling - r + d_star]], [r], [0], params.density_kg_m3)
    g = g_factor * f_po / state.mass[0]
    box = Box((0.0, 0.0, -40e-6), (30e-6, 30e-6, 30e-6))
    sim = Simulation(state, box, params, [PlaneWall(ceiling, -1)], dt=1e-9, gravity=(0.0, 0.0, -g))
    sim.run(5_000)
    return ceiling - state.position[0, 2] - r  # gap to the ceiling (negative: overlap)


def test_sphere_hangs_below_pull_off_force():
    assert _hanging(0.95) < 0.0


def test_sphere_falls_beyond_pull_off_force():
    assert _hanging(1.05) > 1e-7
