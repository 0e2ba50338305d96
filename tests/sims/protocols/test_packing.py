"""Formulation -> particle counts, and non-overlapping random insertion."""

import numpy as np
import pytest

from sims.errors import PhysicalInputError
from sims.materials import get_material
from sims.protocols.contact_tables import CBD_TYPE
from sims.protocols.packing import pack_slurry, pack_spheres, particle_counts


def test_counts_match_formulation_and_psd():
    mat = get_material("NMC111")
    c = particle_counts(mat, 0.96, 300)
    assert c.n_am == 300
    # integer counts still give the requested mass fraction to within one CBD particle's mass
    cbd_particle = np.pi / 6 * c.cbd_diameter_um**3 * c.cbd_density_g_cm3 * 1e-12
    assert abs(c.am_mass_fraction - 0.96) * c.mass_g < cbd_particle
    # AM volume split among size classes follows the PSD volume fractions
    vol = np.array(c.am_counts) * np.array(c.am_diameters_um) ** 3
    np.testing.assert_allclose(vol / vol.sum(), mat.active.volume_fractions, atol=0.03)
    assert c.n_cbd >= 3000  # the default RVE of the issue: >= 150 AM and >= 3000 CBD
    # more CBD in the formulation -> more CBD particles for the same AM
    assert particle_counts(mat, 0.90, 300).n_cbd > 2 * c.n_cbd


@pytest.mark.parametrize("bad", [-0.1, 0.0, 1.5, float("nan")])
def test_unphysical_fraction_names_parameter(bad):
    with pytest.raises(PhysicalInputError, match="am_mass_fraction"):
        particle_counts(get_material("NMC111"), bad, 100)


def test_packing_has_no_overlap_and_respects_walls():
    rng = np.random.default_rng(1)
    r = rng.uniform(0.5e-6, 3e-6, 400)  # solid fraction ~0.14
    lat, h = 40e-6, 60e-6
    pos = pack_spheres(r, lat, h, seed=3)
    assert np.all(pos[:, 2] - r >= 0.0) and np.all(pos[:, 2] + r <= h)
    assert np.all((pos[:, :2] >= 0.0) & (pos[:, :2] < lat))
    d = pos[:, None, :] - pos[None, :, :]
    d[..., :2] -= lat * np.round(d[..., :2] / lat)  # minimum image in x, y
    dist = np.linalg.norm(d, axis=-1) + np.eye(len(r)) * 1e9
    assert np.all(dist >= (r[:, None] + r[None, :]) * (1 - 1e-12))
    # same seed, same structure
    np.testing.assert_array_equal(pos, pack_spheres(r, lat, h, seed=3))


def test_pack_slurry_state_mass_and_types():
    c = particle_counts(get_material("NMC111"), 0.96, 20)
    state, box = pack_slurry(c, 30e-6, 40e-6, seed=0)
    assert state.n == c.n_am + c.n_cbd
    assert np.sum(state.type_id == CBD_TYPE) == c.n_cbd
    np.testing.assert_allclose(state.mass.sum() * 1e3, c.mass_g, rtol=1e-12)  # kg -> g
    assert box.hi[2] > state.position[:, 2].max()


def test_too_dense_box_is_a_clear_failure():
    with pytest.raises(PhysicalInputError, match="lateral"):
        pack_spheres(np.full(3, 5e-6), 8e-6, 50e-6)
