"""Throughput on a dense cohesive bed of 3000 spheres (2.5, 3.5, 5 um), 1 and 2 threads.

Run with `pytest -m benchmark tests/sims/dem/test_throughput.py -s`; it prints particle-steps/s.
The bed is made here: random sequential addition at packing fraction 0.3, then a soft (E = 0.1 GPa)
compression by the plate to ~0.6 under Stokes drag; the timed runs use stiff cohesive contacts
(Hertz, tangential history, sjkr2) with the plate held on top.
"""

import time

import numpy as np
import pytest

from sims.dem import Box, ContactParams, ParticleState, PlaneWall, Simulation

L = 80e-6  # box edge in x and y (m)


def _rsa(radii, height, rng):
    pos = np.empty((0, 3))
    placed = np.empty(0)
    for r in radii:
        while True:
            p = rng.uniform([0.0, 0.0, r], [L, L, height - r])
            d = pos - p
            d[:, :2] -= L * np.round(d[:, :2] / L)
            if not np.any(np.einsum("ij,ij->i", d, d) < (placed + r) ** 2):
                break
        pos = np.vstack([pos, p])
        placed = np.append(placed, r)
    return pos


def _dense_bed():
    rng = np.random.default_rng(1)
    radius = np.repeat([5e-6, 3.5e-6, 2.5e-6], 1000)
    solid = np.sum(4.0 / 3.0 * np.pi * radius**3)
    height = solid / 0.3 / L**2
    pos = _rsa(radius, height, rng)
    soft = ContactParams.from_properties(1e8, 0.3, 0.3, 0.3, 4750.0)
    state = ParticleState.from_spheres(pos, radius, np.zeros(len(radius), int), soft.density_kg_m3)
    plate = PlaneWall(height, -1, velocity=(0.0, 0.0, -1.0))
    box = Box((0.0, 0.0, -5e-6), (L, L, height + 5e-6))
    sim = Simulation(state, box, soft, [PlaneWall(0.0), plate], dt=5e-9, fluid_viscosity_pa_s=0.02, threads=1)
    sim.run(200_000, callback_every=1_000, callback=lambda s: solid / (L * L * plate.z) > 0.6)
    plate.velocity = (0.0, 0.0, 0.0)
    sim.run(5_000)
    return state.position.copy(), radius, plate.z


@pytest.mark.benchmark
def test_dense_bed_throughput():
    pos, radius, plate_z = _dense_bed()
    params = ContactParams.from_properties(5e9, 0.3, 0.5, 0.3, 4750.0, cohesion_energy_density_j_m3=2e5)
    rates = {}
    for threads in (1, 2):
        state = ParticleState.from_spheres(pos, radius, np.zeros(len(radius), int), params.density_kg_m3)
        box = Box((0.0, 0.0, -5e-6), (L, L, plate_z + 10e-6))
        sim = Simulation(
            state, box, params, [PlaneWall(0.0), PlaneWall(plate_z, -1)], dt=1e-9, threads=threads
        )
        sim.run(1_000)  # compile, settle the stiffer contacts
        best = 0.0
        for _ in range(5):
            start = time.perf_counter()
            sim.run(500)
            best = max(best, state.n * 500 / (time.perf_counter() - start))
        rates[threads] = best
        contacts = sim.contacts()
        print(
            f"threads={threads}: {best / 1e6:.2f} M particle-steps/s, {contacts.i.size} contacts, "
            f"{sim.n_rebuilds} list builds"
        )
        # a dense, connected bed (mean coordination >= 3) that stayed stable
        assert 2 * contacts.i.size / state.n >= 3.0
        assert np.all(np.isfinite(state.velocity))
    print(f"2 threads / 1 thread: {rates[2] / rates[1]:.2f}")
