"""Labelled voxel images of electrodes and the voxelization of sphere packings.

An image is a `VoxelImage`: labels of shape (nx, ny, nz) with z through the thickness (z = 0 on the
current collector), cubic voxels of `voxel_size_um`, periodic in x and y. Labels: PORE (0), AM (1),
CBD (2). The CBD nanoporosity is not resolved by the voxels: it is a property of the CBD phase, kept
on the image with the phase densities so that mass and porosity metrics can use it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from sims.errors import PhysicalInputError
from sims.materials import ElectrodeMaterial

PORE = 0
AM = 1
CBD = 2
LABELS = {PORE: "pore", AM: "AM", CBD: "CBD"}


@dataclass(frozen=True)
class VoxelImage:
    """A labelled electrode image with the properties of its phases.

    `labels`: uint8 array (nx, ny, nz) of PORE/AM/CBD, z through the thickness.
    `am_density_g_cm3`, `cbd_density_g_cm3`: particle densities (CBD: effective, nanopores included);
    None when unknown (mass metrics then need them from elsewhere).
    `cbd_nanoporosity`: pore volume fraction inside the CBD phase (0..1).
    """

    labels: np.ndarray
    voxel_size_um: float
    am_density_g_cm3: float | None = None
    cbd_density_g_cm3: float | None = None
    cbd_nanoporosity: float = 0.0

    def __post_init__(self) -> None:
        check_labels(self.labels)
        if not np.isfinite(self.voxel_size_um) or self.voxel_size_um <= 0:
            raise PhysicalInputError(f"voxel_size_um must be positive, got {self.voxel_size_um}")
        if not 0.0 <= self.cbd_nanoporosity < 1.0:
            raise PhysicalInputError(f"cbd_nanoporosity must be in [0, 1), got {self.cbd_nanoporosity}")
        for name in ("am_density_g_cm3", "cbd_density_g_cm3"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise PhysicalInputError(f"{name} must be positive, got {value}")

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.labels.shape

    @classmethod
    def from_material(
        cls, labels: np.ndarray, voxel_size_um: float, material: ElectrodeMaterial
    ) -> VoxelImage:
        """An image whose AM/CBD densities and CBD nanoporosity are those of `material`."""
        return cls(
            labels=labels,
            voxel_size_um=voxel_size_um,
            am_density_g_cm3=material.active.density_g_cm3,
            cbd_density_g_cm3=material.cbd.density_g_cm3,
            cbd_nanoporosity=material.cbd.nanoporosity,
        )


def check_labels(labels: np.ndarray) -> None:
    """Raise PhysicalInputError unless `labels` is a non-empty 3-D integer image of PORE/AM/CBD."""
    if not isinstance(labels, np.ndarray):
        raise PhysicalInputError(f"labels must be a numpy array, got {type(labels).__name__}")
    if labels.ndim != 3:
        raise PhysicalInputError(f"labels must be a 3-D image (nx, ny, nz), got {labels.ndim} dimensions")
    if labels.size == 0:
        raise PhysicalInputError(f"labels is an empty image of shape {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer) and labels.dtype != np.bool_:
        raise PhysicalInputError(f"labels must hold integers, got dtype {labels.dtype}")
    unknown = np.setdiff1d(np.unique(labels), list(LABELS))
    if unknown.size:
        raise PhysicalInputError(
            f"labels holds unknown labels {unknown.tolist()}; known: "
            + ", ".join(f"{k}={v}" for k, v in LABELS.items())
        )


def as_image(image: VoxelImage | np.ndarray, voxel_size_um: float = 1.0) -> VoxelImage:
    """`image` itself, or a bare label array wrapped with `voxel_size_um` and no phase properties."""
    if isinstance(image, VoxelImage):
        return image
    return VoxelImage(labels=image, voxel_size_um=voxel_size_um)


@numba.njit(cache=True)
def _paint_spheres(labels, centres, radii, phases, h):
    nx, ny, nz = labels.shape
    for s in range(centres.shape[0]):
        cx, cy, cz = centres[s, 0], centres[s, 1], centres[s, 2]
        r = radii[s]
        r2 = r * r
        phase = phases[s]
        i0 = int(np.floor((cx - r) / h - 0.5))
        i1 = int(np.ceil((cx + r) / h - 0.5))
        j0 = int(np.floor((cy - r) / h - 0.5))
        j1 = int(np.ceil((cy + r) / h - 0.5))
        k0 = max(int(np.floor((cz - r) / h - 0.5)), 0)
        k1 = min(int(np.ceil((cz + r) / h - 0.5)), nz - 1)
        for i in range(i0, i1 + 1):
            dx = (i + 0.5) * h - cx
            ii = i % nx
            for j in range(j0, j1 + 1):
                dy = (j + 0.5) * h - cy
                jj = j % ny
                dxy2 = dx * dx + dy * dy
                if dxy2 >= r2:
                    continue
                for k in range(k0, k1 + 1):
                    dz = (k + 0.5) * h - cz
                    if dxy2 + dz * dz < r2:
                        # AM is dense: where an AM and a CBD particle overlap, the voxel is AM.
                        if labels[ii, jj, k] != AM:
                            labels[ii, jj, k] = phase
    return labels


def voxelize_spheres(
    centres_um: np.ndarray,
    radii_um: np.ndarray,
    phases: np.ndarray,
    box_xy_um: tuple[float, float],
    voxel_size_um: float,
    *,
    thickness_um: float | None = None,
    material: ElectrodeMaterial | None = None,
) -> VoxelImage:
    """Voxelize spheres into a labelled image, periodic in x and y, z from 0 to the thickness.

    `centres_um` (N, 3), `radii_um` (N,), `phases` (N,) of AM or CBD. A voxel takes the phase of a
    sphere that holds its centre (AM wins over CBD). `box_xy_um`: periodic box lengths (um), which
    should be multiples of `voxel_size_um` (the image holds round(L / voxel) voxels). `thickness_um`
    defaults to the top of the highest sphere. `material` supplies densities and CBD nanoporosity.
    """
    centres = np.asarray(centres_um, dtype=np.float64)
    radii = np.asarray(radii_um, dtype=np.float64)
    phase_arr = np.asarray(phases)
    if centres.ndim != 2 or centres.shape[1] != 3:
        raise PhysicalInputError(f"centres_um must have shape (N, 3), got {centres.shape}")
    if centres.shape[0] == 0:
        raise PhysicalInputError("centres_um holds no particles")
    if radii.shape != (centres.shape[0],) or phase_arr.shape != (centres.shape[0],):
        raise PhysicalInputError(
            f"radii_um {radii.shape} and phases {phase_arr.shape} must have shape ({centres.shape[0]},)"
        )
    if not (np.all(np.isfinite(centres)) and np.all(np.isfinite(radii))) or np.any(radii <= 0):
        raise PhysicalInputError("centres_um and radii_um must be finite, radii_um positive")
    bad = np.setdiff1d(np.unique(phase_arr), [AM, CBD])
    if bad.size:
        raise PhysicalInputError(f"phases holds {bad.tolist()}; particles are AM ({AM}) or CBD ({CBD})")
    if not voxel_size_um > 0:
        raise PhysicalInputError(f"voxel_size_um must be positive, got {voxel_size_um}")
    lx, ly = (float(v) for v in box_xy_um)
    if not (lx > 0 and ly > 0):
        raise PhysicalInputError(f"box_xy_um must be positive, got {box_xy_um}")
    top = float(np.max(centres[:, 2] + radii)) if thickness_um is None else float(thickness_um)
    if not top > 0:
        raise PhysicalInputError(f"thickness_um must be positive, got {top}")
    shape = tuple(max(1, round(v / voxel_size_um)) for v in (lx, ly, top))
    labels = np.zeros(shape, dtype=np.uint8)
    _paint_spheres(labels, centres, radii, phase_arr.astype(np.uint8), float(voxel_size_um))
    if material is None:
        return VoxelImage(labels=labels, voxel_size_um=float(voxel_size_um))
    return VoxelImage.from_material(labels, float(voxel_size_um), material)
