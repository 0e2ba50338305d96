"""Tortuosity factor and effective diffusivity of the pore phase (TauFactor's definition).

Steady diffusion through the conducting voxels along one axis: c = 1 on the inlet face, c = 0 on the
outlet face, no flux through the four other faces (no periodic wrap). Finite volumes on voxel centres
as TauFactor: unit conductance D between face-neighbours (harmonic mean when phases differ), 2 D
between a face voxel and its face (half a voxel). With the mean flux F through a layer,

    D_eff / D_bulk = F * n_axis / (n_1 * n_2),      tau = D_mean / (D_eff / D_bulk),

where D_mean = sum over phases of volume fraction x relative diffusivity (the porosity when only the
pores conduct, every pore voxel counted, as TauFactor does). Only clusters touching both faces carry
flux; the others (and the solids) are left out of the system. The SPD system is solved by conjugate
gradients preconditioned with one geometric multigrid cycle (cell-centred, piecewise-constant
transfers, coarse conductances summed over coarse faces, Gauss-Seidel sweeps red-black before and
black-red after each coarse correction, so that the preconditioner is symmetric), from the linear
profile, until the fluxes through the inlet, every layer and the outlet agree within `flux_rtol`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numba
import numpy as np

from sims.errors import PhysicalInputError
from sims.metrics.porosity import AXIS_NAMES, axis_index, percolating_mask
from sims.metrics.voxelize import LABELS, PORE, VoxelImage, as_image

_SWEEPS = 2  # red-black Gauss-Seidel sweeps before and after each coarse correction
_COARSEST_SWEEPS = 20  # sweeps each way on the coarsest grid (at most 3 x 3 x 3 cells)


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
def _diagonal(gx, gy, gz):
    """Diagonal of A (sum of a cell's six face conductances) and its inverse (0 outside the system)."""
    n0, n1, n2 = gx.shape[0] - 1, gy.shape[1] - 1, gz.shape[2] - 1
    diag = np.empty((n0, n1, n2), dtype=np.float32)
    inv_diag = np.zeros((n0, n1, n2), dtype=np.float32)
    for i in range(n0):
        for j in range(n1):
            for k in range(n2):
                d = (
                    gx[i, j, k]
                    + gx[i + 1, j, k]
                    + gy[i, j, k]
                    + gy[i, j + 1, k]
                    + gz[i, j, k]
                    + gz[i, j, k + 1]
                )
                diag[i, j, k] = d
                if d > 0.0:
                    inv_diag[i, j, k] = 1.0 / d
    return diag, inv_diag


# Vectors live on grids padded by one zero cell on every side, so that the stencils need no bounds
# checks; cells outside the system have zero conductances and zero (inverse) diagonal, so the same
# branch-free rows leave them at zero.


@numba.njit(cache=True)
def _residual_row(out, xc, xm, xp, ym, yp, rhs, gxm, gxp, gym, gyp, gzc, dc):
    """One row of b - A x into out[1:-1] (padded rows: xc, xm, xp, ym, yp, rhs, out)."""
    for k in range(dc.size):
        out[k + 1] = rhs[k + 1] - (
            dc[k] * xc[k + 1]
            - gxm[k] * xm[k + 1]
            - gxp[k] * xp[k + 1]
            - gym[k] * ym[k + 1]
            - gyp[k] * yp[k + 1]
            - gzc[k] * xc[k]
            - gzc[k + 1] * xc[k + 2]
        )


@numba.njit(cache=True, inline="always")
def _residual_at(out, x, b, gx, gy, gz, diag, i, j):
    """Row (i, j) of b - A x into out[1:-1] (out: a padded row)."""
    _residual_row(
        out,
        x[i + 1, j + 1],
        x[i, j + 1],
        x[i + 2, j + 1],
        x[i + 1, j],
        x[i + 1, j + 2],
        b[i + 1, j + 1],
        gx[i, j],
        gx[i + 1, j],
        gy[i, j],
        gy[i, j + 1],
        gz[i, j],
        diag[i, j],
    )


@numba.njit(cache=True)
def _residual(x, b, gx, gy, gz, diag, r):
    """r = b - A x on the padded grids (pass b = 0 for r = -A x)."""
    n0, n1, _ = diag.shape
    for i in range(n0):
        for j in range(n1):
            _residual_at(r[i + 1, j + 1], x, b, gx, gy, gz, diag, i, j)


@numba.njit(cache=True)
def _restrict_residual(x, b, gx, gy, gz, diag, coarse_b, c0, c1, c2):
    """coarse_b = P^T (b - A x): the residuals summed over the children of each coarse cell."""
    n0, n1, n2 = diag.shape
    coarse_b[:] = 0.0
    row = np.zeros(n2 + 2)
    for i in range(n0):
        for j in range(n1):
            _residual_at(row, x, b, gx, gy, gz, diag, i, j)
            out = coarse_b[i // c0 + 1, j // c1 + 1]
            for k in range(n2):
                out[k // c2 + 1] += row[k + 1]


@numba.njit(cache=True)
def _gauss_seidel_plane(x, b, gx, gy, gz, inv_diag, i, colour):
    """Gauss-Seidel update of the cells of plane i with (i + j + k) % 2 == colour."""
    n1, n2 = inv_diag.shape[1], inv_diag.shape[2]
    for j in range(n1):
        xc, xm, xp = x[i + 1, j + 1], x[i, j + 1], x[i + 2, j + 1]
        ym, yp, rhs = x[i + 1, j], x[i + 1, j + 2], b[i + 1, j + 1]
        gxm, gxp, gym, gyp, gzc, ic = gx[i, j], gx[i + 1, j], gy[i, j], gy[i, j + 1], gz[i, j], inv_diag[i, j]
        for k in range((i + j + colour) % 2, n2, 2):
            xc[k + 1] = ic[k] * (
                rhs[k + 1]
                + gxm[k] * xm[k + 1]
                + gxp[k] * xp[k + 1]
                + gym[k] * ym[k + 1]
                + gyp[k] * yp[k + 1]
                + gzc[k] * xc[k]
                + gzc[k + 1] * xc[k + 2]
            )


@numba.njit(cache=True)
def _gauss_seidel(x, b, gx, gy, gz, inv_diag, first):
    """One red-black Gauss-Seidel sweep: colour `first` everywhere, then the other colour.

    Fused in one pass over the planes: the second colour of plane i - 1 only needs the first colour
    of planes i - 2 to i, already updated, so the result equals two separate half-sweeps with half
    the memory traffic.
    """
    n0 = inv_diag.shape[0]
    for i in range(n0 + 1):
        if i < n0:
            _gauss_seidel_plane(x, b, gx, gy, gz, inv_diag, i, first)
        if i > 0:
            _gauss_seidel_plane(x, b, gx, gy, gz, inv_diag, i - 1, 1 - first)


@numba.njit(cache=True)
def _prolong_add(coarse_x, x, inv_diag, c0, c1, c2):
    """x += P coarse_x (piecewise constant), on the cells of the system only."""
    n0, n1, n2 = inv_diag.shape
    for i in range(n0):
        for j in range(n1):
            row, src, ic = x[i + 1, j + 1], coarse_x[i // c0 + 1, j // c1 + 1], inv_diag[i, j]
            for k in range(n2):
                if ic[k] > 0.0:
                    row[k + 1] += src[k // c2 + 1]


@numba.njit(cache=True)
def _coarsen_faces_axis0(g, c0, c1, c2):
    """Coarse conductances of the faces normal to axis 0: fine faces summed, times h_fine / h_coarse.

    `g` (n0 + 1, n1, n2); exact for a uniform medium (a coarse face of 4 fine ones, twice as long).
    """
    n0, n1, n2 = g.shape[0] - 1, g.shape[1], g.shape[2]
    m0, m1, m2 = (n0 + c0 - 1) // c0, (n1 + c1 - 1) // c1, (n2 + c2 - 1) // c2
    out = np.zeros((m0 + 1, m1, m2), dtype=np.float32)
    scale = 1.0 / c0
    for f in range(n0 + 1):
        # the fine faces on the coarse-face planes; the last face is the outer boundary
        if f == n0:
            fc = m0
        elif f % c0 == 0:
            fc = f // c0
        else:
            continue
        for j in range(n1):
            for k in range(n2):
                out[fc, j // c1, k // c2] += scale * g[f, j, k]
    return out


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


@numba.njit(cache=True, fastmath=True)
def _dot(a, b):
    """a . b of two 1-D arrays (one thread, unlike BLAS)."""
    s = 0.0
    for i in range(a.size):
        s += a[i] * b[i]
    return s


@numba.njit(cache=True)
def _cg_update(x, r, p, minus_ap, alpha):
    """x += alpha p and r -= alpha A p, given minus_ap = -A p."""
    for i in range(x.size):
        x[i] += alpha * p[i]
        r[i] += alpha * minus_ap[i]


@numba.njit(cache=True)
def _new_direction(p, z, beta):
    for i in range(p.size):
        p[i] = z[i] + beta * p[i]


@dataclass
class _Level:
    """One grid of the multigrid hierarchy: face conductances, diagonal, coarsening factors to the
    next grid, and the cycle's work vectors (padded): its correction `x` and right-hand side `b`."""

    gx: np.ndarray
    gy: np.ndarray
    gz: np.ndarray
    diag: np.ndarray
    inv_diag: np.ndarray
    factors: tuple[int, int, int]

    def __post_init__(self) -> None:
        self.x = self.padded_zeros()
        self.b = self.padded_zeros()

    def padded_zeros(self) -> np.ndarray:
        n0, n1, n2 = self.diag.shape
        return np.zeros((n0 + 2, n1 + 2, n2 + 2))


def _hierarchy(gx: np.ndarray, gy: np.ndarray, gz: np.ndarray) -> list[_Level]:
    """Grids coarsened by 2 along every axis longer than 3 cells, down to at most 3 x 3 x 3.

    The operators are stored in single precision (half the memory traffic of the stencil sweeps);
    the vectors stay in double precision.
    """
    levels = []
    while True:
        diag, inv_diag = _diagonal(gx, gy, gz)
        factors = tuple(2 if n > 3 else 1 for n in diag.shape)
        levels.append(_Level(gx, gy, gz, diag, inv_diag, factors))
        if factors == (1, 1, 1):
            return levels
        c0, c1, c2 = factors
        # each face array is coarsened with its normal axis first: moveaxis keeps the other two in order
        gx = _coarsen_faces_axis0(gx, c0, c1, c2)
        gy = np.ascontiguousarray(np.moveaxis(_coarsen_faces_axis0(np.moveaxis(gy, 1, 0), c1, c0, c2), 0, 1))
        gz = np.ascontiguousarray(np.moveaxis(_coarsen_faces_axis0(np.moveaxis(gz, 2, 0), c2, c0, c1), 0, 2))


def _smooth(level: _Level, x: np.ndarray, b: np.ndarray, sweeps: int, forward: bool) -> None:
    """Red-black Gauss-Seidel sweeps; the backward order (black, red) is the adjoint of the forward one."""
    for _ in range(sweeps):
        _gauss_seidel(x, b, level.gx, level.gy, level.gz, level.inv_diag, 0 if forward else 1)


def _mg_cycle(levels: list[_Level], depth: int, b: np.ndarray) -> np.ndarray:
    """x ~ A^-1 b by one multigrid cycle from x = 0: V on the finest grid, W below it.

    Returns the level's work vector `x`, overwritten by the next cycle on that level.

    Two coarse corrections per coarse level cost little (each coarse grid has 1/8 of the cells)
    and help most in tortuous media, where the coarse operators are the crudest. Smoothing and
    transfers are symmetric, so the cycle is a fixed SPD operator: a valid CG preconditioner.
    """
    level = levels[depth]
    x = level.x
    x[...] = 0.0
    if depth == len(levels) - 1:
        _smooth(level, x, b, _COARSEST_SWEEPS, forward=True)
        _smooth(level, x, b, _COARSEST_SWEEPS, forward=False)
        return x
    _smooth(level, x, b, _SWEEPS, forward=True)
    coarse = levels[depth + 1]
    for _ in range(1 if depth == 0 else 2):
        _restrict_residual(x, b, level.gx, level.gy, level.gz, level.diag, coarse.b, *level.factors)
        _prolong_add(_mg_cycle(levels, depth + 1, coarse.b), x, level.inv_diag, *level.factors)
    _smooth(level, x, b, _SWEEPS, forward=False)
    return x


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
    levels: list[_Level], x: np.ndarray, b: np.ndarray, flux_rtol: float, max_iter: int
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
    _residual(x, b, fine.gx, fine.gy, fine.gz, fine.diag, r)
    z = _mg_cycle(levels, 0, r)
    p = z.copy()
    q = fine.padded_zeros()
    zero = fine.padded_zeros()
    x1, r1, p1, q1 = x.ravel(), r.ravel(), p.ravel(), q.ravel()
    rz = _dot(r1, z.ravel())
    for it in range(1, max_iter + 1):
        _residual(p, zero, fine.gx, fine.gy, fine.gz, fine.diag, q)  # q = -A p
        p_a_p = -_dot(p1, q1)
        if p_a_p <= 0.0:  # p = 0: the residual vanished exactly
            return it - 1, True
        _cg_update(x1, r1, p1, q1, rz / p_a_p)
        if flux_agrees():
            return it, True
        z = _mg_cycle(levels, 0, r)
        rz_new = _dot(r1, z.ravel())
        _new_direction(p1, z.ravel(), rz_new / rz)
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
        levels = _hierarchy(*_face_conductances(self._cond, self._active))
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
        _residual(x, b, fine.gx, fine.gy, fine.gz, fine.diag, r)
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
