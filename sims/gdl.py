"""Stochastic gas-diffusion layers (GDL): straight in-plane carbon fibres in stacked layers, binder at
fibre crossings, optional through-plane compression.

Image convention: `labels[x, y, z]` (uint8), z is the through-plane axis; 0 = pore, 1 = fibre,
2 = binder. Lengths in um; the voxels are cubes of side `voxel_um`.

The model, in the order it is built:
1. Fibres are infinite straight cylinders of radius `fibre_radius_um` lying in x-y planes, drawn from a
   stationary line process: an in-plane direction u and a signed offset from the domain centre,
   uniform in [-R, R] (R = half the in-plane diagonal), redrawn until the line crosses the domain.
   Directions: theta uniform in [0, pi), u = (a cos theta, sin theta) / norm with a = `anisotropy`;
   a = 1 is isotropic, a > 1 aligns the fibres with x (machine direction), a < 1 with y.
2. Stacked layers: the (uncompressed) thickness H0 holds n = floor(H0 / (m 2r)) layers of thickness
   t = H0 / n >= m 2r, m = `layer_diameters`. Fibres fill the layers in shuffled rounds (one per
   layer per round); a fibre's axis lies at a uniform height in [k t + r, (k + 1) t - r], so fibres
   of one layer cross each other at different heights (they may overlap there, as in the overlapping
   fibre model of Tomadakis and Sotirchos) while fibres of adjacent layers rest on (touch at most)
   those below. The default m = 2 matches the in-plane tortuosity factor of Tomadakis and Sotirchos'
   correlation for 2-D random fibre beds, ((1 - 0.11) / (porosity - 0.11))^0.521, within 3 % at
   porosity 0.6-0.9, and makes through-plane transport harder than in-plane (by 1.05-1.7 times, more at
   lower porosity). Layers one diameter thick (m = 1) put every fibre of a layer at one height: a
   2-D line mosaic whose closed cells cut in-plane transport, so in-plane became more tortuous than
   through-plane below porosity ~0.65, unlike real carbon papers.
3. Fibres are added one at a time until the fibre volume reaches (1 - b)(1 - porosity) / (1 - c)
   of the image (c: compression ratio, below), keeping the last fibre only if that lands closer to
   the target (so the porosity is met within half a fibre), or until `fibre_count` fibres are placed.
4. Binder (volume share b = `binder_fraction` of the solid) fills the pore voxels with the smallest
   sum of distances to the surfaces of their nearest and second-nearest fibres (ties: nearest
   first). For two fibres a gap g apart, {d1 + d2 <= s} is empty while s < g and then a lens that
   spans the gap from one surface to the other: the binder bridges the closest crossings and
   contacts first, like a meniscus, and ends as a coating of fibres that have no close neighbour.
5. Compression by a ratio c (thickness reduction) keeps the fibres rigid and the solid volume
   constant: the layer stack is built for the uncompressed thickness H0 = H / (1 - c) and every
   fibre axis height is scaled by (1 - c) onto the H of the image, so the layers press into each
   other while the fibre cross-sections stay circular. Fibres are added until the solid volume
   equals that of the uncompressed layer, so the porosity drops to 1 - (1 - porosity) / (1 - c);
   where pressed layers interpenetrate at crossings (real fibres bend there) the overlap is made up
   by extra fibres. The binder is placed on the compressed fibres.
`porosity` and `fibre_count` describe the uncompressed layer.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numba
import numpy as np
import pandas as pd

from sims.errors import PhysicalInputError, SimulationFailed
from sims.metrics import geometric_tortuosity, surfaces, tortuosity

PORE, FIBRE, BINDER = 0, 1, 2

_MAX_FIBRES = 100_000  # guard against targets the line process cannot reach


@dataclass(frozen=True)
class GDLParams:
    """Parameters of one stochastic GDL; give exactly one of `porosity` and `fibre_count`.

    fibre_radius_um: fibre radius (um). porosity: target porosity before compression, in (0, 1).
    fibre_count: number of fibres crossing the (uncompressed) domain. binder_fraction: binder share
    of the solid volume, in [0, 1). anisotropy: in-plane orientation stretch a > 0 along x (1 =
    isotropic). compression_ratio: through-plane thickness reduction c in [0, 1). layer_diameters:
    thickness of a layer of the stack in fibre diameters, >= 1 (module doc, step 2). shape: voxels
    (nx, ny, nz), z through-plane. voxel_um: voxel side (um). seed: random seed.
    """

    fibre_radius_um: float = 3.5
    porosity: float | None = 0.8
    fibre_count: int | None = None
    binder_fraction: float = 0.1
    anisotropy: float = 1.0
    compression_ratio: float = 0.0
    layer_diameters: float = 2.0
    shape: tuple[int, int, int] = (64, 64, 64)
    voxel_um: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if (self.porosity is None) == (self.fibre_count is None):
            raise PhysicalInputError("GDL: give exactly one of porosity and fibre_count")
        if len(self.shape) != 3 or any(int(n) < 1 for n in self.shape):
            raise PhysicalInputError(f"GDL shape must be three positive voxel counts, got {self.shape}")
        if not self.voxel_um > 0:
            raise PhysicalInputError(f"GDL voxel_um must be > 0, got {self.voxel_um}")
        if not self.fibre_radius_um >= self.voxel_um:
            raise PhysicalInputError(
                f"GDL fibre_radius_um={self.fibre_radius_um} must be >= voxel_um={self.voxel_um}"
                " (a fibre must span a few voxels)"
            )
        if not 0.0 <= self.compression_ratio < 1.0:
            raise PhysicalInputError(f"GDL compression_ratio must be in [0, 1), got {self.compression_ratio}")
        if not 0.0 <= self.binder_fraction < 1.0:
            raise PhysicalInputError(f"GDL binder_fraction must be in [0, 1), got {self.binder_fraction}")
        if not self.layer_diameters >= 1.0:
            raise PhysicalInputError(f"GDL layer_diameters must be >= 1, got {self.layer_diameters}")
        if not self.anisotropy > 0:
            raise PhysicalInputError(f"GDL anisotropy must be > 0, got {self.anisotropy}")
        if self.fibre_count is not None and self.fibre_count < 0:
            raise PhysicalInputError(f"GDL fibre_count must be >= 0, got {self.fibre_count}")
        if self.porosity is not None:
            if not 0.0 < self.porosity < 1.0:
                raise PhysicalInputError(f"GDL porosity must be in (0, 1), got {self.porosity}")
            if self.compressed_solid_fraction >= 1.0:
                raise PhysicalInputError(
                    f"GDL porosity={self.porosity} with compression_ratio={self.compression_ratio}"
                    " leaves no pore space (1 - porosity must be < 1 - compression_ratio)"
                )
        if self.thickness_um / (1.0 - self.compression_ratio) < 2.0 * self.fibre_radius_um:
            raise PhysicalInputError(
                f"GDL uncompressed thickness {self.thickness_um / (1.0 - self.compression_ratio):.3g} um"
                f" is thinner than one fibre diameter {2.0 * self.fibre_radius_um:.3g} um"
            )

    @property
    def thickness_um(self) -> float:
        """Thickness H of the (compressed) image along z (um)."""
        return self.shape[2] * self.voxel_um

    @property
    def compressed_solid_fraction(self) -> float:
        """Solid volume fraction (1 - porosity) / (1 - c) after compression, from the target porosity."""
        if self.porosity is None:
            raise PhysicalInputError("GDL: the solid fraction is set by fibre_count, not by porosity")
        return (1.0 - self.porosity) / (1.0 - self.compression_ratio)


@dataclass(frozen=True)
class GDLStructure:
    """A generated GDL: `labels` (nx, ny, nz) uint8 with 0 pore, 1 fibre, 2 binder; voxel side in um."""

    labels: np.ndarray
    voxel_um: float
    params: GDLParams
    n_fibres: int

    @property
    def porosity(self) -> float:
        """Pore volume fraction of the image."""
        return float(np.mean(self.labels == PORE))

    @property
    def binder_fraction(self) -> float:
        """Realised binder share of the solid volume."""
        solid = np.count_nonzero(self.labels)
        return float(np.count_nonzero(self.labels == BINDER) / solid) if solid else 0.0


@numba.njit(cache=True)
def _add_fibre(
    d1: np.ndarray,
    d2: np.ndarray,
    x0: float,
    y0: float,
    ux: float,
    uy: float,
    z0: float,
    radius_um: float,
    voxel_um: float,
) -> int:
    """Fold one fibre into the nearest (d1) and second-nearest (d2) fibre-surface distances (um).

    The fibre axis is the line through (x0, y0, z0) along (ux, uy, 0); voxel centres lie at
    ((i, j, k) + 0.5) voxel_um. Returns how many voxels became solid.
    """
    nx, ny, nz = d1.shape
    newly_solid = 0
    for i in range(nx):
        dx = (i + 0.5) * voxel_um - x0
        for j in range(ny):
            dy = (j + 0.5) * voxel_um - y0
            in_plane = dx * uy - dy * ux
            in_plane2 = in_plane * in_plane
            for k in range(nz):
                dz = (k + 0.5) * voxel_um - z0
                d = math.sqrt(in_plane2 + dz * dz) - radius_um
                nearest = d1[i, j, k]
                if d < nearest:
                    d2[i, j, k] = nearest
                    d1[i, j, k] = d
                    if nearest > 0.0 and d <= 0.0:
                        newly_solid += 1
                elif d < d2[i, j, k]:
                    d2[i, j, k] = d
    return newly_solid


def _fibre_line(rng: np.random.Generator, lx: float, ly: float, anisotropy: float) -> tuple[float, ...]:
    """Draw an in-plane line (x0, y0, ux, uy) of the stationary line process that crosses [0,lx]x[0,ly]."""
    reach = 0.5 * math.hypot(lx, ly)
    while True:
        theta = rng.uniform(0.0, math.pi)
        ux, uy = anisotropy * math.cos(theta), math.sin(theta)
        norm = math.hypot(ux, uy)
        ux, uy = ux / norm, uy / norm
        offset = rng.uniform(-reach, reach)
        # the line misses the rectangle when its offset exceeds the rectangle's half-width along the normal
        if abs(offset) <= 0.5 * (lx * abs(uy) + ly * abs(ux)):
            return 0.5 * lx - offset * uy, 0.5 * ly + offset * ux, ux, uy


def generate_gdl(params: GDLParams) -> GDLStructure:
    """Build one GDL voxel image from `params` (see the module docstring for the model)."""
    p = params
    nx, ny, nz = (int(n) for n in p.shape)
    n_voxels = nx * ny * nz
    squeeze = 1.0 - p.compression_ratio
    thickness0_um = p.thickness_um / squeeze
    n_layers = max(1, int(thickness0_um // (p.layer_diameters * 2.0 * p.fibre_radius_um)))
    layer_um = thickness0_um / n_layers
    rng = np.random.default_rng(p.seed)

    d1 = np.full(p.shape, np.inf)
    d2 = np.full(p.shape, np.inf)
    if p.porosity is not None:
        fibre_target = (1.0 - p.binder_fraction) * p.compressed_solid_fraction * n_voxels
        n_max = _MAX_FIBRES
        previous = (np.empty_like(d1), np.empty_like(d2))
    else:
        fibre_target = math.inf
        n_max = p.fibre_count
    n_fibres = n_solid = 0
    layers = np.empty(0, dtype=np.int64)
    while n_fibres < n_max and n_solid < fibre_target:
        if n_fibres % n_layers == 0:
            layers = rng.permutation(n_layers)
        k = layers[n_fibres % n_layers]
        z0 = (k + 0.5) * layer_um + rng.uniform(-1.0, 1.0) * (0.5 * layer_um - p.fibre_radius_um)
        z0 *= squeeze
        x0, y0, ux, uy = _fibre_line(rng, nx * p.voxel_um, ny * p.voxel_um, p.anisotropy)
        if p.porosity is not None:
            previous[0][...] = d1
            previous[1][...] = d2
        added = _add_fibre(d1, d2, x0, y0, ux, uy, z0, p.fibre_radius_um, p.voxel_um)
        if n_solid + added >= fibre_target and fibre_target - n_solid < n_solid + added - fibre_target:
            d1, d2 = previous  # the last fibre overshoots by more than stopping short misses
            break
        n_fibres += 1
        n_solid += added
    if n_solid < fibre_target and n_fibres >= _MAX_FIBRES:
        raise SimulationFailed(f"GDL: {_MAX_FIBRES} fibres did not reach porosity={p.porosity}")

    labels = np.where(d1 <= 0.0, FIBRE, PORE).astype(np.uint8)
    n_binder = round(p.binder_fraction / (1.0 - p.binder_fraction) * n_solid)
    if n_binder:
        pore = np.flatnonzero(labels.ravel() == PORE)
        if n_binder > pore.size:
            raise PhysicalInputError(
                f"GDL binder_fraction={p.binder_fraction} needs {n_binder} voxels but only"
                f" {pore.size} pore voxels are left"
            )
        near, second = d1.ravel()[pore], d2.ravel()[pore]
        order = np.lexsort((near, near + second))
        labels.ravel()[pore[order[:n_binder]]] = BINDER
    return GDLStructure(labels=labels, voxel_um=p.voxel_um, params=p, n_fibres=n_fibres)


# Ranges of the dataset parameters, sampled uniformly (anisotropy: log-uniformly). Carbon-paper and
# carbon-felt GDLs: fibre diameters 6-10 um, porosity 0.7-0.9 uncompressed, binder (carbonised resin,
# PTFE) 0-30 % of the solid, machine-direction alignment up to ~3:1, compression in a cell 0-30 %.
GDL_PARAMETER_RANGES: dict[str, tuple[float, float]] = {
    "fibre_radius_um": (3.0, 5.0),
    "porosity": (0.70, 0.90),
    "binder_fraction": (0.0, 0.30),
    "anisotropy": (1.0, 3.0),
    "compression_ratio": (0.0, 0.30),
}


def sample_gdl_parameters(
    n: int, seed: int, shape: tuple[int, int, int] = (64, 64, 64), voxel_um: float = 1.0
) -> list[GDLParams]:
    """`n` parameter sets drawn over GDL_PARAMETER_RANGES, each with its own structure seed.

    Deterministic per `seed`, and prefix-stable: the first m sets of n > m are the m sets.
    """
    if n < 0:
        raise PhysicalInputError(f"GDL dataset size n must be >= 0, got {n}")
    out = []
    for child in np.random.SeedSequence(seed).spawn(n):
        rng = np.random.default_rng(child)
        values = {}
        for name, (low, high) in GDL_PARAMETER_RANGES.items():
            u = rng.random()
            values[name] = low * (high / low) ** u if name == "anisotropy" else low + (high - low) * u
        out.append(GDLParams(**values, shape=shape, voxel_um=voxel_um, seed=int(rng.integers(2**31 - 1))))
    return out


def gdl_dataset_row(params: GDLParams, flux_rtol: float = 1e-3) -> dict[str, float]:
    """Generate one GDL and measure it: parameters + porosity, specific surface and tortuosities.

    Columns: the parameters (`porosity_uncompressed` is the requested porosity before compression,
    `nx, ny, nz`, `seed`), `n_fibres`, `porosity` and `binder_fraction_realised` of the image,
    `specific_surface_per_um` (pore-solid interface area per volume, 1/um), per axis
    `geometric_tortuosity_{x,y,z}` (mean shortest pore path / thickness), `tortuosity_factor_{x,y,z}`
    and `effective_diffusivity_ratio_{x,y,z}` (D_eff / D_bulk), and their `_in_plane` (mean of x and
    y) and `_through_plane` (z) values. A pore phase that does not percolate gives inf and 0.
    """
    gdl = generate_gdl(params)
    nx, ny, nz = params.shape
    row: dict[str, float] = {
        "fibre_radius_um": params.fibre_radius_um,
        "porosity_uncompressed": math.nan if params.porosity is None else params.porosity,
        "binder_fraction": params.binder_fraction,
        "anisotropy": params.anisotropy,
        "compression_ratio": params.compression_ratio,
        "layer_diameters": params.layer_diameters,
        "voxel_um": params.voxel_um,
        "nx": nx,
        "ny": ny,
        "nz": nz,
        "seed": params.seed,
        "n_fibres": gdl.n_fibres,
    }
    return {**row, **gdl_measurements(gdl, flux_rtol)}


def gdl_measurements(gdl: GDLStructure, flux_rtol: float = 1e-3) -> dict[str, float]:
    """The metrics of one GDL image (the measured columns of `gdl_dataset_row`)."""
    voxel_um = gdl.voxel_um
    area = surfaces(gdl.labels, voxel_um)
    row: dict[str, float] = {
        "porosity": gdl.porosity,
        "binder_fraction_realised": gdl.binder_fraction,
        "specific_surface_per_um": (area.am_pore_area_um2 + area.cbd_pore_area_um2)
        / (gdl.labels.size * voxel_um**3),
    }
    for ax in "xyz":
        row[f"geometric_tortuosity_{ax}"] = geometric_tortuosity(gdl.labels, ax).mean_tortuosity
        tau = tortuosity(gdl.labels, ax, flux_rtol=flux_rtol)
        row[f"tortuosity_factor_{ax}"] = tau.tortuosity_factor
        row[f"effective_diffusivity_ratio_{ax}"] = tau.effective_diffusivity_ratio
    for quantity in ("geometric_tortuosity", "tortuosity_factor", "effective_diffusivity_ratio"):
        row[f"{quantity}_in_plane"] = 0.5 * (row[f"{quantity}_x"] + row[f"{quantity}_y"])
        row[f"{quantity}_through_plane"] = row[f"{quantity}_z"]
    return row


def gdl_dataset(
    params: list[GDLParams], workers: int = 1, on_row: Callable[[], None] | None = None
) -> pd.DataFrame:
    """One row of `gdl_dataset_row` per parameter set, in order; `workers` processes share the work.

    `on_row` is called once per finished structure (for progress bars).
    """
    if workers < 1:
        raise PhysicalInputError(f"workers must be >= 1, got {workers}")
    rows: list[dict[str, float]] = []
    if workers == 1:
        for p in params:
            rows.append(gdl_dataset_row(p))
            if on_row is not None:
                on_row()
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for row in pool.map(gdl_dataset_row, params):
                rows.append(row)
                if on_row is not None:
                    on_row()
    return pd.DataFrame(rows)
