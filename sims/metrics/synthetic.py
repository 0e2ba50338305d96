"""Synthetic labelled images with known properties, to validate and benchmark the metrics.

`blobs`: Gaussian-filtered noise thresholded at a porosity quantile (a PoreSpy-like blob structure).
`random_sphere_packing`: non-overlapping AM spheres placed at random (random sequential addition),
periodic in x and y and inside the image in z, so the solid fraction is known analytically.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from sims.errors import PhysicalInputError
from sims.metrics.voxelize import AM, PORE, voxelize_spheres


def blobs(
    shape: tuple[int, int, int], porosity: float, blob_size_voxels: float = 2.0, seed: int = 0
) -> np.ndarray:
    """Labels (PORE/AM): noise smoothed over `blob_size_voxels` (sigma), pore fraction `porosity`."""
    if not 0 < porosity < 1:
        raise PhysicalInputError(f"porosity must be in (0, 1), got {porosity}")
    field = ndimage.gaussian_filter(np.random.default_rng(seed).random(shape), blob_size_voxels, mode="wrap")
    return np.where(field < np.quantile(field, porosity), PORE, AM).astype(np.uint8)


def random_sphere_packing(
    shape: tuple[int, int, int], radius_voxels: float, solid_fraction: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping equal spheres at random, voxelized with voxel size 1.

    Returns (labels, centres (N, 3) in voxel units). The number of spheres is the one closest to
    `solid_fraction` of the image; random sequential addition jams near 0.38, so ask for less.
    """
    nx, ny, nz = shape
    r = float(radius_voxels)
    if not (0 < solid_fraction < 0.35) or not (2 * r < min(shape)):
        raise PhysicalInputError("random_sphere_packing needs 0 < solid_fraction < 0.35 and 2 r < min(shape)")
    target = round(solid_fraction * nx * ny * nz / (4.0 / 3.0 * math.pi * r**3))
    rng = np.random.default_rng(seed)
    box = np.array([nx, ny, nz], dtype=float)
    centres = np.empty((0, 3))
    for _ in range(200 * target):
        if len(centres) == target:
            break
        c = rng.random(3) * [nx, ny, nz - 2 * r] + [0, 0, r]
        d = centres - c
        d[:, :2] -= box[:2] * np.round(d[:, :2] / box[:2])
        if len(centres) == 0 or np.min(np.einsum("ij,ij->i", d, d)) >= (2 * r) ** 2:
            centres = np.vstack([centres, c])
    if len(centres) < target:
        raise PhysicalInputError(f"could place only {len(centres)} of {target} spheres; lower solid_fraction")
    n = len(centres)
    image = voxelize_spheres(centres, np.full(n, r), np.full(n, AM), (nx, ny), 1.0, thickness_um=nz)
    return image.labels, centres
