"""Voxelization of sphere packings and the checks on labelled images."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sims.errors import PhysicalInputError
from sims.materials import MATERIALS
from sims.metrics import AM, CBD, PORE, VoxelImage, voxelize_spheres


def test_sphere_volume_and_periodic_wrap():
    r = 6.0
    centred = voxelize_spheres(
        np.array([[16.0, 16.0, 10.0]]), [r], [AM], (32.0, 32.0), 1.0, thickness_um=20.0
    )
    # the same sphere centred on the x = 0 and y = 0 edges: wraps to four corners, same voxels
    edge = voxelize_spheres(np.array([[0.0, 0.0, 10.0]]), [r], [AM], (32.0, 32.0), 1.0, thickness_um=20.0)
    n_centred = np.count_nonzero(centred.labels == AM)
    assert n_centred == np.count_nonzero(edge.labels == AM)
    assert edge.labels[0, 0, 10] == AM and edge.labels[31, 31, 10] == AM
    assert n_centred == pytest.approx(4.0 / 3.0 * math.pi * r**3, rel=0.03)
    assert centred.shape == (32, 32, 20)


def test_am_wins_over_cbd_and_thickness_defaults_to_top_sphere():
    image = voxelize_spheres(
        np.array([[5.0, 5.0, 5.0], [5.0, 5.0, 5.0]]), [2.0, 3.0], [AM, CBD], (10.0, 10.0), 0.5
    )
    assert image.labels[10, 10, 10] == AM  # the centre lies in both spheres
    assert np.count_nonzero(image.labels == CBD) > 0
    assert image.shape[2] == 16  # top of the CBD sphere at z = 8 um, voxels of 0.5 um


def test_material_properties_travel_with_the_image():
    material = MATERIALS["NMC111"]
    image = voxelize_spheres(np.array([[5.0, 5.0, 5.0]]), [2.0], [AM], (10.0, 10.0), 1.0, material=material)
    assert image.am_density_g_cm3 == material.active.density_g_cm3
    assert image.cbd_nanoporosity == material.cbd.nanoporosity


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (np.zeros((4, 4), dtype=np.uint8), "3-D"),
        (np.zeros((0, 4, 4), dtype=np.uint8), "empty"),
        (np.full((4, 4, 4), 7, dtype=np.uint8), "unknown labels"),
        (np.zeros((4, 4, 4)), "integers"),
    ],
)
def test_bad_images_raise_one_clear_error(labels, message):
    with pytest.raises(PhysicalInputError, match=message):
        VoxelImage(labels, 1.0)


def test_bad_particles_raise():
    with pytest.raises(PhysicalInputError, match="phases"):
        voxelize_spheres(np.array([[1.0, 1.0, 1.0]]), [1.0], [PORE], (4.0, 4.0), 1.0)
    with pytest.raises(PhysicalInputError, match="radii_um"):
        voxelize_spheres(np.array([[1.0, 1.0, 1.0]]), [-1.0], [AM], (4.0, 4.0), 1.0)
    with pytest.raises(PhysicalInputError, match="voxel_size_um"):
        voxelize_spheres(np.array([[1.0, 1.0, 1.0]]), [1.0], [AM], (4.0, 4.0), 0.0)
