"""Geometric tortuosity of known channels and the radial distribution function."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sims.errors import PhysicalInputError
from sims.metrics import AM, PORE, geometric_tortuosity, radial_distribution, shortest_pore_path


def test_straight_pores_have_geometric_tortuosity_one():
    labels = np.full((8, 8, 15), AM, dtype=np.uint8)
    labels[1, 1, :] = PORE
    labels[4:7, 3:6, :] = PORE
    result = geometric_tortuosity(labels, "z")
    assert result.mean_tortuosity == pytest.approx(1.0)
    assert result.min_tortuosity == pytest.approx(1.0)
    assert result.reached_fraction == 1.0


def test_zig_zag_channel_has_its_path_ratio():
    # one voxel per layer, stepping diagonally in x and back: every step is sqrt(2) long
    labels = np.full((6, 3, 21), AM, dtype=np.uint8)
    for z in range(21):
        phase = z % 8
        labels[phase if phase <= 4 else 8 - phase, 1, z] = PORE
    result = geometric_tortuosity(labels, "z")
    assert result.mean_tortuosity == pytest.approx(math.sqrt(2.0))


def test_shortest_path_follows_the_zig_zag_channel_and_has_its_length():
    labels = np.full((6, 3, 21), AM, dtype=np.uint8)
    for z in range(21):
        phase = z % 8
        labels[phase if phase <= 4 else 8 - phase, 1, z] = PORE
    path = shortest_pore_path(labels, "z")
    assert path[:, 2].tolist() == list(range(21))  # inlet to outlet, one voxel per layer
    assert np.all(labels[tuple(path.T)] == PORE)
    length = np.linalg.norm(np.diff(path, axis=0), axis=1).sum()
    assert length / 20 == pytest.approx(geometric_tortuosity(labels, "z").min_tortuosity)


def test_shortest_path_along_x_of_a_straight_channel_and_none_when_blocked():
    labels = np.full((12, 5, 4), AM, dtype=np.uint8)
    labels[:, 2, 1] = PORE
    path = shortest_pore_path(labels, "x")
    assert path.tolist() == [[i, 2, 1] for i in range(12)]
    labels[6, 2, 1] = AM
    assert shortest_pore_path(labels, "x").shape == (0, 3)


def test_blocked_pores_give_infinite_tortuosity_with_a_note():
    labels = np.zeros((6, 6, 10), dtype=np.uint8)
    labels[:, :, 5] = AM
    result = geometric_tortuosity(labels, "z")
    assert result.mean_tortuosity == math.inf and result.reached_fraction == 0.0
    assert "no path" in result.note
    with pytest.raises(PhysicalInputError, match="at least 2 voxels"):
        geometric_tortuosity(np.zeros((4, 4, 1), dtype=np.uint8), "z")


def test_rdf_of_uniform_points_is_one_and_of_a_lattice_peaks_at_its_spacing():
    rng = np.random.default_rng(0)
    box, height = (20.0, 20.0), 10.0
    uniform = radial_distribution(rng.random((3000, 3)) * [20.0, 20.0, height], box, height, 8.0, 16)
    assert np.mean(uniform.g[2:]) == pytest.approx(1.0, abs=0.03)
    assert np.all(np.abs(uniform.g[2:] - 1.0) < 0.1)
    grid = np.arange(10) * 2.0 + 1.0
    lattice = np.array(np.meshgrid(grid, grid, grid[:5], indexing="ij")).reshape(3, -1).T
    g = radial_distribution(lattice, box, height, 5.0, 50)
    assert g.r_um[np.argmax(g.g)] == pytest.approx(2.0, abs=0.1)
    assert np.all(g.g[g.r_um < 1.9] == 0.0)


def test_rdf_rejects_radii_beyond_half_the_box():
    with pytest.raises(PhysicalInputError, match="r_max_um"):
        radial_distribution(np.zeros((3, 3)), (10.0, 10.0), 5.0, 6.0)
