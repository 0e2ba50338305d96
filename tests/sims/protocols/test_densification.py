"""CBD densification: the pressure law, the particles' mean stress, and what a densified particle keeps."""

import math

import numpy as np
import pytest

from sims.dem import Box, ParticleState, Simulation
from sims.errors import PhysicalInputError
from sims.materials import get_material
from sims.protocols.contact_tables import AM_TYPE, CBD_TYPE, electrode_contact_params
from sims.protocols.densification import (
    CBDCompaction,
    CBDDensifier,
    cbd_nanoporosity,
    mean_cbd_nanoporosity,
    mean_stress_pa,
)

MAT = get_material("NMC111")


def test_law_falls_from_the_dried_value_to_the_residual_one():
    law = CBDCompaction.of(MAT)
    p = np.array([-1e6, 0.0, 1e6, 1e7, 5e7, 2e8, 1e9])
    eps = law.nanoporosity(p)
    assert eps[0] == eps[1] == pytest.approx(MAT.cbd.nanoporosity)  # tension does not densify
    assert np.all(np.diff(eps[1:]) < 0.0)
    assert eps[-1] == pytest.approx(law.nanoporosity_min, abs=1e-6) and law.nanoporosity_min < eps[1]
    with pytest.raises(PhysicalInputError, match="nanoporosit"):
        CBDCompaction(0.3, nanoporosity_min=0.4)


def squeezed_cbd(overlap_m: float):
    """One CBD particle between two AM particles on the x axis, each contact overlapping by `overlap_m`."""
    r_am, r_cbd = 3e-6, 0.65e-6
    x = np.array([20e-6 - r_am - r_cbd + overlap_m, 20e-6, 20e-6 + r_am + r_cbd - overlap_m])
    position = np.stack([x, np.full(3, 20e-6), np.full(3, 20e-6)], axis=1)
    state = ParticleState.from_spheres(
        position,
        np.array([r_am, r_cbd, r_am]),
        np.array([AM_TYPE, CBD_TYPE, AM_TYPE]),
        [1000 * MAT.active.density_g_cm3, 1000 * MAT.cbd.density_g_cm3, 1.0, 1.0, 1.0],
    )
    params = electrode_contact_params(MAT, plastic=False, cohesion=False)
    return Simulation(state, Box((0, 0, 0), (40e-6, 40e-6, 40e-6)), params, [], dt=1e-11), params


def test_mean_stress_of_a_squeezed_particle_is_its_hertz_forces_over_its_surface():
    overlap = 5e-9
    sim, params = squeezed_cbd(overlap)
    reff = 3e-6 * 0.65e-6 / (3e-6 + 0.65e-6)
    hertz = 4.0 / 3.0 * params.youngs_eff[AM_TYPE, CBD_TYPE] * math.sqrt(reff) * overlap**1.5
    stress = mean_stress_pa(sim)
    assert stress[1] == pytest.approx(2 * hertz / (4 * math.pi * 0.65e-6**2), rel=1e-6)
    assert stress[0] == pytest.approx(hertz / (4 * math.pi * 3e-6**2), rel=1e-6)


def test_densified_particle_keeps_its_mass_and_skeleton_and_never_swells_back():
    sim, _ = squeezed_cbd(60e-9)
    skeleton = 1000 * MAT.cbd_solid_density_g_cm3
    densifier = CBDDensifier.of(MAT)
    mass, r0 = sim.state.mass.copy(), sim.state.radius.copy()
    eps0 = cbd_nanoporosity(sim.state, skeleton)
    assert eps0 == pytest.approx([MAT.cbd.nanoporosity])
    assert densifier.update(sim)
    eps1 = cbd_nanoporosity(sim.state, skeleton)
    assert eps1[0] < eps0[0]
    np.testing.assert_array_equal(sim.state.mass, mass)  # the skeleton stays: mass / (rho_s (1 - eps))
    assert sim.state.radius[1] < r0[1] and np.all(sim.state.radius[[0, 2]] == r0[[0, 2]])
    assert mean_cbd_nanoporosity(sim.state, skeleton) == pytest.approx(eps1[0])
    # the shrunken particle is less squeezed: its nanopores do not open again
    densifier.update(sim)
    assert cbd_nanoporosity(sim.state, skeleton)[0] <= eps1[0]
