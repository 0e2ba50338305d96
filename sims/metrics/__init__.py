"""Microstructure metrics of labelled electrode images (PORE 0, AM 1, CBD 2; z through the thickness).

One module per family: `voxelize` (images, sphere voxelization), `porosity` (porosity, density,
thickness, mass loading), `surfaces` (interface areas), `transport` (tortuosity factor, effective
diffusivity; its solver's multigrid preconditioner in `multigrid`), `geometry` (geometric
tortuosity, radial distribution function), `synthetic` (test structures with known properties).
`measure` runs them all on one image.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

from sims.metrics.geometry import (
    GeometricTortuosityResult,
    RDFResult,
    geometric_tortuosity,
    radial_distribution,
    shortest_pore_path,
)
from sims.metrics.porosity import MassResult, PorosityResult, electrode_labels, mass_and_thickness, porosity
from sims.metrics.surfaces import SurfaceResult, surfaces
from sims.metrics.transport import TortuosityResult, TortuositySolver, tortuosity
from sims.metrics.voxelize import AM, CBD, PORE, VoxelImage, as_image, voxelize_spheres

__all__ = [
    "AM",
    "CBD",
    "PORE",
    "GeometricTortuosityResult",
    "MassResult",
    "MicrostructureMetrics",
    "PorosityResult",
    "RDFResult",
    "SurfaceResult",
    "TortuosityResult",
    "TortuositySolver",
    "VoxelImage",
    "geometric_tortuosity",
    "mass_and_thickness",
    "measure",
    "porosity",
    "radial_distribution",
    "shortest_pore_path",
    "surfaces",
    "tortuosity",
    "voxelize_spheres",
]


@dataclass(frozen=True)
class MicrostructureMetrics:
    """All metrics of one image; `mass` is None when the image carries no densities."""

    porosity: PorosityResult
    mass: MassResult | None
    surfaces: SurfaceResult
    tortuosity: dict[str, TortuosityResult]
    geometric: dict[str, GeometricTortuosityResult]

    def flat(self) -> dict[str, float]:
        """One flat row of scalars, names with units (for tables and datasets)."""
        row: dict[str, float] = {}
        row.update(asdict(self.porosity))
        if self.mass is not None:
            row.update(asdict(self.mass))
        row.update(asdict(self.surfaces))
        for ax, res in self.tortuosity.items():
            row[f"tortuosity_factor_{ax}"] = res.tortuosity_factor
            row[f"effective_diffusivity_ratio_{ax}"] = res.effective_diffusivity_ratio
        for ax, res in self.geometric.items():
            row[f"geometric_tortuosity_mean_{ax}"] = res.mean_tortuosity
            row[f"geometric_tortuosity_min_{ax}"] = res.min_tortuosity
        return row

    @property
    def notes(self) -> list[str]:
        """The notes of the tortuosity results (non-percolating axes, unconverged solves)."""
        return [r.note for r in [*self.tortuosity.values(), *self.geometric.values()] if r.note]


def measure(
    image: VoxelImage | np.ndarray,
    *,
    voxel_size_um: float = 1.0,
    axes: str = "xyz",
    geometric_axes: str = "z",
    phase_diffusivity: dict[int, float] | None = None,
    flux_rtol: float = 1e-3,
) -> MicrostructureMetrics:
    """Every metric of `image` (a bare label array takes `voxel_size_um` and has no mass metrics).

    `axes`: axes of the tortuosity factor; `geometric_axes`: axes of the geometric tortuosity;
    `phase_diffusivity` and `flux_rtol` go to the transport solver. All metrics see the electrode
    only: the image cut above its highest solid voxel.
    """
    full = as_image(image, voxel_size_um)
    img = replace(full, labels=electrode_labels(full))
    return MicrostructureMetrics(
        porosity=porosity(img),
        mass=mass_and_thickness(img) if img.am_density_g_cm3 is not None else None,
        surfaces=surfaces(img),
        tortuosity={
            ax: tortuosity(img, ax, phase_diffusivity=phase_diffusivity, flux_rtol=flux_rtol) for ax in axes
        },
        geometric={ax: geometric_tortuosity(img, ax) for ax in geometric_axes},
    )
