"""Porosity, percolating porosity, density, thickness and mass loading against analytic values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sims.errors import PhysicalInputError
from sims.metrics import AM, CBD, PORE, VoxelImage, mass_and_thickness, porosity
from sims.metrics.synthetic import random_sphere_packing


def test_random_sphere_packing_porosity_matches_the_analytic_volume_fraction():
    shape, r = (60, 60, 60), 6.0
    labels, centres = random_sphere_packing(shape, r, solid_fraction=0.25, seed=4)
    analytic = 1.0 - len(centres) * 4.0 / 3.0 * math.pi * r**3 / np.prod(shape)
    assert porosity(labels).pore_fraction == pytest.approx(analytic, rel=0.005)


def test_percolating_porosity_leaves_out_closed_and_dead_end_clusters():
    labels = np.full((10, 10, 10), AM, dtype=np.uint8)
    labels[2, 2, :] = PORE  # a channel through z: 10 voxels
    labels[5:7, 5:7, 5:7] = PORE  # a closed cavity: 8 voxels
    labels[8, 8, :4] = PORE  # a dead end open at z = 0 only: 4 voxels
    result = porosity(labels)
    assert result.pore_fraction == pytest.approx(22 / 1000)
    assert result.percolating_porosity_z == pytest.approx(10 / 1000)
    assert result.percolating_porosity_x == 0.0


def test_mass_loading_density_and_nanoporosity_of_a_layered_electrode():
    labels = np.zeros((10, 10, 20), dtype=np.uint8)
    labels[:, :, :8] = AM
    labels[:, :, 8:12] = CBD
    # layers above the top solid voxel are not electrode
    image = VoxelImage(labels, 2.0, am_density_g_cm3=4.75, cbd_density_g_cm3=1.0, cbd_nanoporosity=0.5)
    mass = mass_and_thickness(image)
    assert mass.thickness_um == pytest.approx(24.0)
    # per cm2: 16 um of AM at 4.75 g/cm3 and 8 um of CBD at 1.0 g/cm3
    assert mass.mass_loading_mg_cm2 == pytest.approx((16e-4 * 4.75 + 8e-4 * 1.0) * 1e3)
    assert mass.am_mass_loading_mg_cm2 == pytest.approx(16e-4 * 4.75 * 1e3)
    assert mass.density_g_cm3 == pytest.approx(mass.mass_loading_mg_cm2 * 1e-3 / 24e-4)
    result = porosity(image)
    assert result.pore_fraction == 0.0
    assert result.porosity == pytest.approx(4 / 12 * 0.5)


def test_mass_metrics_need_densities():
    with pytest.raises(PhysicalInputError, match="am_density_g_cm3"):
        mass_and_thickness(VoxelImage(np.ones((2, 2, 2), dtype=np.uint8), 1.0))
