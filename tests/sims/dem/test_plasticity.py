"""Thornton's elastic-plastic normal law: residual overlap, stiffer unloading, spring-back."""

import math

import numpy as np
import pytest

from sims.dem import Box, ContactParams, ParticleState, PlaneWall, Simulation
from sims.dem.contact import elastic_plastic_normal

R, YSTAR, P_Y = 2.5e-6, 1.1e9, 2e7


def _load_unload(delta_max, n=200):
    """Forces along a loading path to delta_max then an unloading path back to 0."""
    load = np.linspace(0.0, delta_max, n)
    dmax = 0.0
    f_load = []
    for d in load:
        f, dmax = elastic_plastic_normal(d, dmax, R, YSTAR, P_Y)
        f_load.append(f)
    unload = load[::-1]
    f_unload = [elastic_plastic_normal(d, dmax, R, YSTAR, P_Y)[0] for d in unload]
    return load, np.array(f_load), unload, np.array(f_unload)


def test_elastic_limit_is_hertz():
    for d in [1e-10, 1e-9, 1e-8]:
        f, dmax = elastic_plastic_normal(d, 0.0, R, YSTAR, math.inf)
        assert f == pytest.approx(4.0 / 3.0 * YSTAR * math.sqrt(R) * d**1.5, rel=1e-12)
        assert dmax == d


def test_loading_unloading_leaves_residual_overlap_and_unloads_stiffer():
    delta_y = (0.5 * math.pi * P_Y / YSTAR) ** 2 * R
    delta_max = 20 * delta_y
    load, f_load, unload, f_unload = _load_unload(delta_max)
    # below yield: Hertz; beyond: linear at the limiting pressure
    f_y, _ = elastic_plastic_normal(delta_y, 0.0, R, YSTAR, P_Y)
    assert f_y == pytest.approx(4 / 3 * YSTAR * math.sqrt(R) * delta_y**1.5, rel=1e-12)
    slope_load = np.gradient(f_load, load)[-5:]
    assert np.allclose(slope_load, math.pi * P_Y * R, rtol=1e-6)
    # continuous at the turning point, stiffer on the way back, zero force before zero overlap
    assert f_unload[0] == pytest.approx(f_load[-1], rel=1e-12)
    slope_unload = (f_unload[0] - f_unload[1]) / (unload[0] - unload[1])
    assert slope_unload > 2.0 * slope_load[-1]
    residual = unload[np.argmax(f_unload == 0.0)]
    assert 0.1 * delta_max < residual < delta_max
    # more force on the way in than out at every overlap: the cycle dissipated energy
    assert np.all(f_unload[::-1][1:-1] < f_load[1:-1])
    # reloading follows the unloading curve (elastic) up to delta_max
    f_re, dmax_re = elastic_plastic_normal(0.8 * delta_max, delta_max, R, YSTAR, P_Y)
    assert dmax_re == delta_max
    assert f_re == pytest.approx(np.interp(0.8 * delta_max, unload[::-1], f_unload[::-1]), rel=1e-2)


def test_plate_compression_of_a_particle_springs_back_partially():
    """A CBD-like particle squeezed between the current collector and a plate, then released."""
    params = ContactParams.from_properties(2e9, 0.3, 0.3, 0.3, 975.0, yield_pressure_pa=P_Y)
    r = 5e-6
    state = ParticleState.from_spheres([[10e-6, 10e-6, r]], [r], [0], params.density_kg_m3)
    plate = PlaneWall(2 * r, -1, velocity=(0.0, 0.0, -5e-3))
    box = Box((0.0, 0.0, -1e-6), (30e-6, 30e-6, 4 * r))
    sim = Simulation(state, box, params, [PlaneWall(0.0, 1), plate], dt=2e-9)
    z, force = [], []

    def record(s):
        z.append(plate.z)
        force.append(plate.mean_force[2])

    sim.run(20_000, callback_every=100, callback=record)  # 200 nm down
    plate.velocity = (0.0, 0.0, 5e-3)
    sim.run(20_000, callback_every=100, callback=record)  # and back up
    z, force = np.array(z), np.array(force)
    n_load = len(z) // 2
    assert force[:n_load].max() > 1e-5  # N: it was squeezed hard
    z_max = z[n_load - 1]
    # on unloading the force vanishes before the plate is back where contact began (2 r)
    z_release = z[n_load:][np.argmax(force[n_load:] < 1e-9)]
    squeeze = 2 * r - z_max
    assert 2 * r - z_release > 0.2 * squeeze  # residual deformation
    assert z_release > z_max + 0.02 * squeeze  # spring-back
    # the unloading stiffness at the turning point exceeds the loading stiffness
    k_load = (force[n_load - 1] - force[n_load - 6]) / (z[n_load - 6] - z[n_load - 1])
    k_unload = (force[n_load] - force[n_load + 5]) / (z[n_load + 5] - z[n_load])
    assert k_unload > 1.5 * k_load


def test_plate_compression_of_an_elastic_particle_recovers_fully():
    """The same squeeze with the purely elastic (Hertz) law, no cohesion: no residual deformation,
    the force vanishes where contact began and the particle recovers all of the squeeze."""
    params = ContactParams.from_properties(2e9, 0.3, 0.3, 0.3, 975.0)
    r = 5e-6
    state = ParticleState.from_spheres([[10e-6, 10e-6, r]], [r], [0], params.density_kg_m3)
    plate = PlaneWall(2 * r, -1, velocity=(0.0, 0.0, -5e-3))
    box = Box((0.0, 0.0, -1e-6), (30e-6, 30e-6, 4 * r))
    sim = Simulation(state, box, params, [PlaneWall(0.0, 1), plate], dt=2e-9)
    sim.run(20_000)
    z_max = plate.z
    assert plate.mean_force[2] > 1e-5  # N: squeezed hard
    plate.velocity = (0.0, 0.0, 5e-3)
    z, force = [], []

    def record(s):
        z.append(plate.z)
        force.append(plate.mean_force[2])

    sim.run(25_000, callback_every=100, callback=record)  # and 50 nm past where contact began
    released = np.array(force) < 1e-9
    assert released.any()
    z_release = np.array(z)[np.argmax(released)]
    squeeze = 2 * r - z_max
    assert abs(2 * r - z_release) < 0.02 * squeeze
