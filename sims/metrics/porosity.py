"""Porosity, percolating porosity, density, thickness and mass loading of a labelled image.

The electrode occupies the layers from z = 0 up to its highest solid voxel: its thickness is that
height, and every volume fraction here is taken over that volume (footprint x thickness).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from sims.errors import PhysicalInputError
from sims.metrics.voxelize import AM, CBD, PORE, VoxelImage, as_image

AXES = {"x": 0, "y": 1, "z": 2}
AXIS_NAMES = "xyz"


def axis_index(axis: str | int) -> int:
    """0, 1 or 2 for 'x', 'y', 'z' (or the integer itself); PhysicalInputError otherwise."""
    if isinstance(axis, str) and axis in AXES:
        return AXES[axis]
    if isinstance(axis, int | np.integer) and 0 <= int(axis) <= 2:
        return int(axis)
    raise PhysicalInputError(f"axis must be one of 'x', 'y', 'z' (or 0, 1, 2), got {axis!r}")


def electrode_labels(image: VoxelImage) -> np.ndarray:
    """The labels cut at the electrode's top (highest layer holding a solid voxel); all of them if none."""
    solid_layers = np.flatnonzero(np.any(image.labels != PORE, axis=(0, 1)))
    if solid_layers.size == 0:
        return image.labels
    return image.labels[:, :, : solid_layers[-1] + 1]


def percolating_mask(mask: np.ndarray, axis: str | int) -> np.ndarray:
    """The voxels of boolean `mask` (3-D) face-connected to both faces normal to `axis`."""
    clusters, n = ndimage.label(mask)
    return _through(clusters, n, axis_index(axis))[clusters]


def _through(clusters: np.ndarray, n: int, axis: int) -> np.ndarray:
    """Boolean table over cluster ids 0..n: the clusters present on both faces normal to `axis`."""
    first = np.unique(np.take(clusters, 0, axis=axis))
    last = np.unique(np.take(clusters, -1, axis=axis))
    keep = np.zeros(n + 1, dtype=bool)
    keep[np.intersect1d(first, last)] = True
    keep[0] = False  # the background
    return keep


@dataclass(frozen=True)
class PorosityResult:
    """Volume fractions of the electrode (footprint x thickness), all dimensionless.

    `pore_fraction`: resolved pore voxels; `porosity`: pore voxels plus CBD nanopores (the
    electrolyte volume fraction); `percolating_porosity_{x,y,z}`: pore voxels face-connected to
    both faces normal to that axis (no periodic wrap), as a fraction of the whole volume.
    """

    pore_fraction: float
    porosity: float
    am_fraction: float
    cbd_fraction: float
    percolating_porosity_x: float
    percolating_porosity_y: float
    percolating_porosity_z: float


def porosity(image: VoxelImage | np.ndarray, voxel_size_um: float = 1.0) -> PorosityResult:
    """Porosity and percolating porosity of the electrode in `image` (a bare array: no nanopores)."""
    img = as_image(image, voxel_size_um)
    labels = electrode_labels(img)
    pore = labels == PORE
    n = labels.size
    pore_fraction = float(np.count_nonzero(pore)) / n
    cbd_fraction = float(np.count_nonzero(labels == CBD)) / n
    clusters, n_clusters = ndimage.label(pore)
    sizes = np.bincount(clusters.ravel(), minlength=n_clusters + 1)
    perc = [float(sizes[_through(clusters, n_clusters, ax)].sum()) / n for ax in range(3)]
    return PorosityResult(
        pore_fraction=pore_fraction,
        porosity=pore_fraction + cbd_fraction * img.cbd_nanoporosity,
        am_fraction=float(np.count_nonzero(labels == AM)) / n,
        cbd_fraction=cbd_fraction,
        percolating_porosity_x=perc[0],
        percolating_porosity_y=perc[1],
        percolating_porosity_z=perc[2],
    )


@dataclass(frozen=True)
class MassResult:
    """Thickness (um), electrode density (g/cm3) and mass loadings (mg/cm2) of the electrode."""

    thickness_um: float
    density_g_cm3: float
    mass_loading_mg_cm2: float
    am_mass_loading_mg_cm2: float


def mass_and_thickness(image: VoxelImage) -> MassResult:
    """Thickness, density and mass loading from the phase volumes and the densities on `image`.

    Density = solid mass / (footprint x thickness); the CBD density is the effective one (nanopores
    included), so CBD voxels weigh `cbd_density_g_cm3` each.
    """
    if not isinstance(image, VoxelImage) or image.am_density_g_cm3 is None:
        raise PhysicalInputError("mass metrics need a VoxelImage with am_density_g_cm3 set")
    labels = electrode_labels(image)
    n_cbd = np.count_nonzero(labels == CBD)
    if n_cbd and image.cbd_density_g_cm3 is None:
        raise PhysicalInputError("the image holds CBD voxels but cbd_density_g_cm3 is None")
    h = image.voxel_size_um
    voxel_cm3 = (h * 1e-4) ** 3
    area_cm2 = labels.shape[0] * labels.shape[1] * (h * 1e-4) ** 2
    thickness_um = labels.shape[2] * h
    am_mass_g = np.count_nonzero(labels == AM) * voxel_cm3 * image.am_density_g_cm3
    cbd_mass_g = n_cbd * voxel_cm3 * (image.cbd_density_g_cm3 or 0.0)
    mass_g = am_mass_g + cbd_mass_g
    return MassResult(
        thickness_um=float(thickness_um),
        density_g_cm3=float(mass_g / (area_cm2 * thickness_um * 1e-4)),
        mass_loading_mg_cm2=float(mass_g * 1e3 / area_cm2),
        am_mass_loading_mg_cm2=float(am_mass_g * 1e3 / area_cm2),
    )
