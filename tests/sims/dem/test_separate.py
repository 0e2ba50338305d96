"""Geometric separation of interpenetrating spheres (sims.dem.separate)."""

import numpy as np
import pytest

from sims.dem.separate import separate_overlaps
from sims.errors import PhysicalInputError

L = (20.0, 20.0)


def overlaps(pos, r, lateral=L):
    n = len(r)
    i, j = np.triu_indices(n, 1)
    d = pos[i] - pos[j]
    d[:, :2] -= np.asarray(lateral) * np.round(d[:, :2] / np.asarray(lateral))
    return (r[i] + r[j] - np.linalg.norm(d, axis=1)) / np.minimum(r[i], r[j])


def test_two_spheres_part_to_the_target_overlap_and_keep_their_centre_of_mass():
    """A small sphere half inside a large one: after separation they overlap by exactly the target
    fraction of the small radius along the same line, and the mass-weighted centre has not moved
    (the light sphere yields in inverse proportion to the masses)."""
    r = np.array([5.0, 0.65])
    mass = 4.0 / 3.0 * np.pi * r**3 * np.array([4.7, 1.5])
    pos = np.array([[10.0, 10.0, 8.0], [10.0, 10.0 + 5.0, 8.0 + 0.2]])
    centre = (mass[:, None] * pos).sum(0) / mass.sum()
    direction = (pos[1] - pos[0]) / np.linalg.norm(pos[1] - pos[0])
    worst = separate_overlaps(pos, r, mass, L, (0.0, 30.0), max_overlap_fraction=0.1, tolerance=1e-6)
    assert overlaps(pos, r)[0] == pytest.approx(0.1, abs=1e-6)
    assert worst <= 0.1 + 1e-6
    np.testing.assert_allclose((mass[:, None] * pos).sum(0) / mass.sum(), centre, atol=1e-9)
    new_direction = (pos[1] - pos[0]) / np.linalg.norm(pos[1] - pos[0])
    np.testing.assert_allclose(new_direction, direction, atol=1e-9)


def test_pairs_across_the_periodic_boundary_and_walls_hold_particles():
    """A pair straddling x = 0 is parted through the boundary; a sphere pressed on the collector
    stays on it and its partner takes the whole separation."""
    r = np.array([1.0, 1.0, 1.0, 1.0])
    mass = np.ones(4)
    pos = np.array([[0.2, 5.0, 5.0], [19.5, 5.0, 5.0], [5.0, 15.0, 1.0], [5.0, 15.0, 2.0]])
    separate_overlaps(pos, r, mass, L, (0.0, 30.0), max_overlap_fraction=0.0, tolerance=1e-6)
    assert np.all(overlaps(pos, r) <= 1e-6)
    assert overlaps(pos, r)[0] == pytest.approx(0.0, abs=1e-5)  # touching through x = 0
    assert pos[0, 0] > 0.2 and pos[1, 0] < 19.5  # each moved away across the boundary
    assert pos[2, 2] == pytest.approx(1.0)  # held by the collector
    assert pos[3, 2] == pytest.approx(3.0, abs=1e-5)


def test_a_dense_random_cloud_ends_within_the_target_and_refuses_a_bad_fraction():
    rng = np.random.default_rng(0)
    n = 400
    r = np.where(rng.random(n) < 0.1, 3.0, 0.6)
    pos = np.column_stack([rng.random(n) * 20.0, rng.random(n) * 20.0, r + rng.random(n) * 12.0])
    mass = r**3
    assert overlaps(pos, r).max() > 1.0
    worst = separate_overlaps(pos, r, mass, L, (0.0, 40.0), 0.05, tolerance=0.02, rounds=30)
    assert worst <= 0.07
    assert overlaps(pos, r).max() <= 0.07 + 1e-9
    assert np.all(pos[:, 2] >= r - 1e-9)
    with pytest.raises(PhysicalInputError, match="max_overlap_fraction"):
        separate_overlaps(pos, r, mass, L, (0.0, 40.0), max_overlap_fraction=1.5)
