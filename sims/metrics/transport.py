"""Tortuosity factor and effective diffusivity of the pore phase (TauFactor's definition).

Steady diffusion through the conducting voxels along one axis: c = 1 on the inlet face, c = 0 on the
outlet face, no flux through the four other faces (no periodic wrap). Finite volumes on voxel centres
as TauFactor: unit conductance D between face-neighbours (harmonic mean when phases differ), 2 D
between a face voxel and its face (half a voxel). With the mean flux F through a layer,

    D_eff / D_bulk = F * n_axis / (n_1 * n_2),      tau = D_mean / (D_eff / D_bulk),

where D_mean = sum over phases of volume fraction x relative diffusivity (the porosity when only the
pores conduct, every pore voxel counted, as TauFactor does). Only clusters touching both faces carry
flux; the others (and the solids) are left out of the system. The SPD system is solved by conjugate
gradients preconditioned with one geometric multigrid cycle (sims.metrics.multigrid), from the
linear profile, until the fluxes through the inlet, every layer and the outlet agree within
`flux_rtol`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numba
import numpy as np

from sims.errors import PhysicalInputError
from sims.metrics import multigrid
from sims.metrics.porosity import AXIS_NAMES, axis_index, percolating_mask
from sims.metrics.voxelize import LABELS, PORE, VoxelImage, as_image


@dataclass(frozen=True)
class TortuosityResult:
    """Tortuosity factor along one axis with its convergence report.

    `effective_diffusivity_ratio`: D_eff / D_bulk; `volume_fraction`: D_mean (the porosity for the pore
    phase alone); `percolating_fraction`: volume fraction of the voxels that carry the flux;
    `flux_spread`: (max - min) / mean of the fluxes through the inlet, every layer and the outlet;
    `flux_in_out_mismatch`: |F_in - F_out| / mean; `relative_residual`: |b - A c| / |b| at the end.
    A phase that does not percolate gives tau = inf, zero diffusivity and a `note`.
    """

    axis: str
    tortuosity_factor: float
    effective_diffusivity_ratio: float
    volume_fraction: float
    percolating_fraction: float
    converged: bool
    iterations: int
    flux_spread: float
    flux_in_out_mismatch: float
    relative_residual: float
    solve_time_s: float
    note: str = ""


@numba.njit(cache=True)
def _face_conductances(cond, active):
    """Face conductances gx (n0+1, n1, n2), gy (n0, n1+1, n2), gz (n0, n1, n2+1), float32.

    `cond` (n0, n1, n2): D / D_bulk per voxel; only the `active` voxels conduct. Interior faces:
    harmonic mean of the two voxels; gx[0] and gx[n0]: half a voxel to the inlet and outlet faces
    (2 D); the y and z boundary faces carry no flux (0).
    """
    n0, n1, n2 = cond.shape
    gx = np.zeros((n0 + 1, n1, n2), dtype=np.float32)
    gy = np.zeros((n0, n1 + 1, n2), dtype=np.float32)
    gz = np.zeros((n0, n1, n2 + 1), dtype=np.float32)
    for i in range(n0):
        for j in range(n1):
            for k in range(n2):
                if not active[i, j, k]:
                    continue
                d = cond[i, j, k]
                if i == 0:
                    gx[0, j, k] = 2.0 * d
                if i == n0 - 1:
                    gx[n0, j, k] = 2.0 * d
                if i + 1 < n0 and active[i + 1, j, k]:
                    gx[i + 1, j, k] = 2.0 * d * cond[i + 1, j, k] / (d + cond[i + 1, j, k])
                if j + 1 < n1 and active[i, j + 1, k]:
                    gy[i, j + 1, k] = 2.0 * d * cond[i, j + 1, k] / (d + cond[i, j + 1, k])
                if k + 1 < n2 and active[i, j, k + 1]:
                    gz[i, j, k + 1] = 2.0 * d * cond[i, j, k + 1] / (d + cond[i, j, k + 1])
    return gx, gy, gz


@numba.njit(cache=True)
def _layer_fluxes(x, gx):
    """Fluxes [F_in, F_(0,1), ..., F_(n0-2,n0-1), F_out] for c = 1 at the inlet and 0 at the outlet.

    `x` padded (n0 + 2, n1 + 2, n2 + 2), `gx` (n0 + 1, n1, n2).
    """
    n0, n1, n2 = gx.shape[0] - 1, gx.shape[1], gx.shape[2]
    flux = np.zeros(n0 + 1)
    for j in range(n1):
        for k in range(n2):
            flux[0] += gx[0, j, k] * (1.0 - x[1, j + 1, k + 1])
            flux[n0] += gx[n0, j, k] * x[n0, j + 1, k + 1]
    for i in range(n0 - 1):
        s = 0.0
        for j in range(n1):
            for k in range(n2):
                s += gx[i + 1, j, k] * (x[i + 1, j + 1, k + 1] - x[i + 2, j + 1, k + 1])
        flux[i + 1] = s
    return flux


def _conductivity(labels: np.ndarray, phase_diffusivity: dict[int, float]) -> np.ndarray:
    """D / D_bulk per voxel (float32, shape of `labels`); labels missing from the map conduct nothing."""
    for label, value in phase_diffusivity.items():
        if label not in LABELS:
            raise PhysicalInputError(f"phase_diffusivity names unknown label {label}; known: {list(LABELS)}")
        if not (np.isfinite(value) and value >= 0):
            raise PhysicalInputError(f"phase_diffusivity[{label}] must be finite and >= 0, got {value}")
    table = np.zeros(max(LABELS) + 1, dtype=np.float32)
    for label, value in phase_diffusivity.items():
        table[label] = value
    return table[labels]


def _mg_pcg(
    levels: list[multigrid.Level], x: np.ndarray, b: np.ndarray, flux_rtol: float, max_iter: int
) -> tuple[int, bool]:
    """Multigrid-preconditioned CG on A x = b (padded grids) from `x`, updated in place.

    Stops when the fluxes through inlet, layers and outlet agree within `flux_rtol`; returns
    (iterations, converged).
    """
    fine = levels[0]

    def flux_agrees() -> bool:
        flux = _layer_fluxes(x, fine.gx)
        mean = flux.mean()
        return bool(mean > 0 and (flux.max() - flux.min()) / mean < flux_rtol)

    if flux_agrees():  # the linear start is exact in a uniform medium
        return 0, True
    r = fine.padded_zeros()
    multigrid.residual(x, b, fine.gx, fine.gy, fine.gz, fine.diag, r)
    z = multigrid.mg_cycle(levels, 0, r)
    p = z.copy()
    q = fine.padded_zeros()
    zero = fine.padded_zeros()
    x1, r1, p1, q1 = x.ravel(), r.ravel(), p.ravel(), q.ravel()
    rz = multigrid.dot(r1, z.ravel())
    for it in range(1, max_iter + 1):
        multigrid.residual(p, zero, fine.gx, fine.gy, fine.gz, fine.diag, q)  # q = -A p
        p_a_p = -multigrid.dot(p1, q1)
        if p_a_p <= 0.0:  # p = 0: the residual vanished exactly
            return it - 1, True
        multigrid.cg_update(x1, r1, p1, q1, rz / p_a_p)
        if flux_agrees():
            return it, True
        z = multigrid.mg_cycle(levels, 0, r)
        rz_new = multigrid.dot(r1, z.ravel())
        multigrid.new_direction(p1, z.ravel(), rz_new / rz)
        rz = rz_new
    return max_iter, False


class TortuositySolver:
    """Steady diffusion through an image along one axis; `solve()` returns a TortuosityResult.

    `phase_diffusivity` maps labels to D / D_bulk (default: pores 1, solids 0), e.g. to let the
    nanoporous CBD conduct with a Bruggeman-reduced diffusivity. After `solve()`, `concentration`
    holds the field c (image axes; 1 on the inlet, 0 on the outlet, NaN off the conducting voxels).
    """

    def __init__(
        self,
        image: VoxelImage | np.ndarray,
        axis: str | int = "z",
        *,
        phase_diffusivity: dict[int, float] | None = None,
    ) -> None:
        img = as_image(image)
        self.axis = AXIS_NAMES[axis_index(axis)]
        # the flux axis becomes axis 0: the layers are the outermost index
        labels = np.ascontiguousarray(np.moveaxis(img.labels, axis_index(axis), 0))
        self._cond = _conductivity(labels, phase_diffusivity or {PORE: 1.0})
        self.volume_fraction = float(self._cond.mean(dtype=np.float64))
        self._active = percolating_mask(self._cond > 0, 0)
        self.n_unknowns = int(np.count_nonzero(self._active))
        self._axis = axis_index(axis)
        self.concentration: np.ndarray | None = None

    def solve(self, flux_rtol: float = 1e-3, max_iter: int = 500) -> TortuosityResult:
        """Solve until the fluxes through inlet, layers and outlet agree within `flux_rtol`.

        `solve_time_s` of the result counts this call only (not the percolation analysis of __init__).
        """
        if not 0 < flux_rtol < 1:
            raise PhysicalInputError(f"flux_rtol must be in (0, 1), got {flux_rtol}")
        start = time.perf_counter()
        shape = self._cond.shape
        if self.n_unknowns == 0:
            return TortuosityResult(
                axis=self.axis,
                tortuosity_factor=math.inf,
                effective_diffusivity_ratio=0.0,
                volume_fraction=self.volume_fraction,
                percolating_fraction=0.0,
                converged=True,
                iterations=0,
                flux_spread=0.0,
                flux_in_out_mismatch=0.0,
                relative_residual=0.0,
                solve_time_s=time.perf_counter() - start,
                note=f"the conducting phase does not percolate along {self.axis}: tau = inf, D_eff = 0",
            )
        levels = multigrid.hierarchy(*_face_conductances(self._cond, self._active))
        fine = levels[0]
        b = fine.padded_zeros()
        b[1, 1:-1, 1:-1] = fine.gx[0]  # c = 1 on the inlet face
        # the linear profile is the exact solution of a uniform medium
        x = fine.padded_zeros()
        x[1:-1, 1:-1, 1:-1] = (1.0 - (np.arange(shape[0]) + 0.5) / shape[0])[:, None, None] * self._active
        iterations, converged = _mg_pcg(levels, x, b, flux_rtol, max_iter)
        flux = _layer_fluxes(x, fine.gx)
        field = np.where(self._active, x[1:-1, 1:-1, 1:-1], np.nan)
        self.concentration = np.moveaxis(field, 0, self._axis)
        r = fine.padded_zeros()
        multigrid.residual(x, b, fine.gx, fine.gy, fine.gz, fine.diag, r)
        residual = float(np.linalg.norm(r) / np.linalg.norm(b))
        mean = float(np.mean(flux))
        d_rel = mean * shape[0] / (shape[1] * shape[2])
        return TortuosityResult(
            axis=self.axis,
            tortuosity_factor=self.volume_fraction / d_rel,
            effective_diffusivity_ratio=d_rel,
            volume_fraction=self.volume_fraction,
            percolating_fraction=self.n_unknowns / self._cond.size,
            converged=bool(converged),
            iterations=int(iterations),
            flux_spread=float((flux.max() - flux.min()) / mean),
            flux_in_out_mismatch=float(abs(flux[0] - flux[-1]) / mean),
            relative_residual=residual,
            solve_time_s=time.perf_counter() - start,
            note="" if converged else f"not converged in {iterations} iterations",
        )


def tortuosity(
    image: VoxelImage | np.ndarray,
    axis: str | int = "z",
    *,
    phase_diffusivity: dict[int, float] | None = None,
    flux_rtol: float = 1e-3,
    max_iter: int = 500,
) -> TortuosityResult:
    """Tortuosity factor and D_eff / D_bulk of the pore phase (or the conducting phases) along `axis`."""
    return TortuositySolver(image, axis, phase_diffusivity=phase_diffusivity).solve(flux_rtol, max_iter)
