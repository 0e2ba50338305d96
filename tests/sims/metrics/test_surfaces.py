"""Interface areas: normal-corrected face counting against spheres and planes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sims.metrics import AM, CBD, surfaces, voxelize_spheres


@pytest.mark.parametrize("offset", [0.0, 0.37])
def test_sphere_surface_within_3_percent_at_20_voxels_per_radius(offset):
    r, side = 20.0, 52.0
    centre = np.array([[side / 2 + offset, side / 2 + 0.5 * offset, side / 2 + 0.3 * offset]])
    image = voxelize_spheres(centre, [r], [AM], (side, side), 1.0, thickness_um=side)
    area = surfaces(image).am_pore_area_um2
    assert area == pytest.approx(4 * math.pi * r**2, rel=0.03)
    # plain face counting would be ~1.5 times too large: the correction matters
    raw_faces = sum(np.count_nonzero(np.diff(image.labels == AM, axis=a)) for a in range(3))
    assert raw_faces > 1.4 * 4 * math.pi * r**2


def test_grid_aligned_planes_are_not_corrected_and_areas_scale_with_voxel_size():
    labels = np.zeros((12, 10, 30), dtype=np.uint8)
    labels[:, :, :10] = AM
    labels[:, :, 10:20] = CBD
    labels[:, :5, 20:25] = CBD  # CBD step on top: exposes CBD-pore faces
    result = surfaces(labels, voxel_size_um=0.5)
    assert result.am_cbd_area_um2 == pytest.approx(12 * 10 * 0.25)
    assert result.am_pore_area_um2 == 0.0
    assert result.specific_surface_area_per_um == pytest.approx(30.0 / (12 * 10 * 25 * 0.125))
