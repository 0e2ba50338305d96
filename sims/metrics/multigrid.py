"""Geometric multigrid for the finite-volume diffusion operator on a voxel grid, and the conjugate-
gradient kernels it preconditions (sims.metrics.transport uses both).

Cell-centred grids with face conductances gx, gy, gz (padded vectors, one ghost layer): the
operator's diagonal, residuals, red-black Gauss-Seidel sweeps, piecewise-constant restriction and
prolongation, coarse conductances summed over coarse faces (`hierarchy`), and one cycle from x = 0
(`mg_cycle`: V on the finest grid, W below it, red-black before and black-red after each coarse
correction, so that the cycle is a symmetric positive definite preconditioner).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

_SWEEPS = 2  # red-black Gauss-Seidel sweeps before and after each coarse correction
_COARSEST_SWEEPS = 20  # sweeps each way on the coarsest grid (at most 3 x 3 x 3 cells)


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
def residual(x, b, gx, gy, gz, diag, r):
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


@numba.njit(cache=True, fastmath=True)
def dot(a, b):
    """a . b of two 1-D arrays (one thread, unlike BLAS)."""
    s = 0.0
    for i in range(a.size):
        s += a[i] * b[i]
    return s


@numba.njit(cache=True)
def cg_update(x, r, p, minus_ap, alpha):
    """x += alpha p and r -= alpha A p, given minus_ap = -A p."""
    for i in range(x.size):
        x[i] += alpha * p[i]
        r[i] += alpha * minus_ap[i]


@numba.njit(cache=True)
def new_direction(p, z, beta):
    for i in range(p.size):
        p[i] = z[i] + beta * p[i]


@dataclass
class Level:
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


def hierarchy(gx: np.ndarray, gy: np.ndarray, gz: np.ndarray) -> list[Level]:
    """Grids coarsened by 2 along every axis longer than 3 cells, down to at most 3 x 3 x 3.

    The operators are stored in single precision (half the memory traffic of the stencil sweeps);
    the vectors stay in double precision.
    """
    levels = []
    while True:
        diag, inv_diag = _diagonal(gx, gy, gz)
        factors = tuple(2 if n > 3 else 1 for n in diag.shape)
        levels.append(Level(gx, gy, gz, diag, inv_diag, factors))
        if factors == (1, 1, 1):
            return levels
        c0, c1, c2 = factors
        # each face array is coarsened with its normal axis first: moveaxis keeps the other two in order
        gx = _coarsen_faces_axis0(gx, c0, c1, c2)
        gy = np.ascontiguousarray(np.moveaxis(_coarsen_faces_axis0(np.moveaxis(gy, 1, 0), c1, c0, c2), 0, 1))
        gz = np.ascontiguousarray(np.moveaxis(_coarsen_faces_axis0(np.moveaxis(gz, 2, 0), c2, c0, c1), 0, 2))


def _smooth(level: Level, x: np.ndarray, b: np.ndarray, sweeps: int, forward: bool) -> None:
    """Red-black Gauss-Seidel sweeps; the backward order (black, red) is the adjoint of the forward one."""
    for _ in range(sweeps):
        _gauss_seidel(x, b, level.gx, level.gy, level.gz, level.inv_diag, 0 if forward else 1)


def mg_cycle(levels: list[Level], depth: int, b: np.ndarray) -> np.ndarray:
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
        _prolong_add(mg_cycle(levels, depth + 1, coarse.b), x, level.inv_diag, *level.factors)
    _smooth(level, x, b, _SWEEPS, forward=False)
    return x
