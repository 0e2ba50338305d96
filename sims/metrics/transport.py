"""Tortuosity factor and effective diffusivity of the pore phase (TauFactor's definition).

Steady diffusion through the conducting voxels along one axis: c = 1 on the inlet face, c = 0 on the
outlet face, no flux through the four other faces (no periodic wrap). Finite volumes on voxel centres
as TauFactor: unit conductance D between face-neighbours (harmonic mean when phases differ), 2 D
between a face voxel and its face (half a voxel). With the mean flux F through a layer,

    D_eff / D_bulk = F * n_axis / (n_1 * n_2),      tau = D_mean / (D_eff / D_bulk),

where D_mean = sum over phases of volume fraction x relative diffusivity (the porosity when only the
pores conduct, every pore voxel counted, as TauFactor does). Only clusters touching both faces carry
flux, so the solver keeps just those voxels (compressed indexing) and solves the SPD system by
conjugate gradients preconditioned with modified incomplete Cholesky (MIC(0), natural ordering),
from the linear profile, until the fluxes through all layers agree within `flux_rtol`.
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
def _build_system(index, cond, nb, g, diag, bc_in, bc_out):
    """Plus-neighbours `nb` (3, n), their conductances `g` (3, n), the diagonal, face conductances."""
    n0, n1, n2 = index.shape
    for i in range(n0):
        for j in range(n1):
            for k in range(n2):
                p = index[i, j, k]
                if p < 0:
                    continue
                d = cond[i, j, k]
                # half a voxel between a face voxel's centre and the face: conductance 2 D
                if i == 0:
                    bc_in[p] = 2.0 * d
                if i == n0 - 1:
                    bc_out[p] = 2.0 * d
                diag[p] += bc_in[p] + bc_out[p]
                for a in range(3):
                    ii, jj, kk = i, j, k
                    if a == 0:
                        ii += 1
                        if ii >= n0:
                            continue
                    elif a == 1:
                        jj += 1
                        if jj >= n1:
                            continue
                    else:
                        kk += 1
                        if kk >= n2:
                            continue
                    q = index[ii, jj, kk]
                    if q < 0:
                        continue
                    e = cond[ii, jj, kk]
                    c = 2.0 * d * e / (d + e)
                    nb[a, p] = q
                    g[a, p] = c
                    diag[p] += c
                    diag[q] += c


@numba.njit(cache=True)
def _mic0(nb, g, diag, precon):
    """Modified incomplete Cholesky factor (Bridson's fluid solvers: tau 0.97, safety 0.25)."""
    n = diag.size
    sub = np.zeros(n)
    for i in range(n):
        e = diag[i] - sub[i]
        if e < 0.25 * diag[i]:
            e = diag[i]
        pi = 1.0 / math.sqrt(e)
        precon[i] = pi
        s = g[0, i] + g[1, i] + g[2, i]
        for a in range(3):
            k = nb[a, i]
            if k >= 0:
                ga = g[a, i]
                sub[k] += (ga * pi) ** 2 + 0.97 * ga * (s - ga) * pi * pi


@numba.njit(cache=True)
def _apply_precon(r, nb, g, precon, q, z):
    """z = M^-1 r with M = L L^T the MIC(0) factorisation; q is scratch."""
    n = r.size
    q[:] = r
    for i in range(n):
        qi = q[i] * precon[i]
        q[i] = qi
        w = precon[i] * qi
        for a in range(3):
            k = nb[a, i]
            if k >= 0:
                q[k] += g[a, i] * w
    for i in range(n - 1, -1, -1):
        s = 0.0
        for a in range(3):
            k = nb[a, i]
            if k >= 0:
                s += g[a, i] * z[k]
        z[i] = precon[i] * (q[i] + precon[i] * s)


@numba.njit(cache=True)
def _matvec(x, nb, g, diag, y):
    n = x.size
    for i in range(n):
        y[i] = diag[i] * x[i]
    for i in range(n):
        xi = x[i]
        for a in range(3):
            k = nb[a, i]
            if k >= 0:
                y[i] -= g[a, i] * x[k]
                y[k] -= g[a, i] * xi


@numba.njit(cache=True)
def _layer_fluxes(x, nb, g, bc_in, bc_out, layer_start):
    """Fluxes [F_in, F_(0,1), ..., F_(n0-2,n0-1), F_out] for c = 1 at the inlet and 0 at the outlet."""
    n0 = layer_start.size - 1
    flux = np.zeros(n0 + 1)
    for p in range(layer_start[0], layer_start[1]):
        flux[0] += bc_in[p] * (1.0 - x[p])
    for p in range(layer_start[n0 - 1], layer_start[n0]):
        flux[n0] += bc_out[p] * x[p]
    for layer in range(n0 - 1):
        for p in range(layer_start[layer], layer_start[layer + 1]):
            k = nb[0, p]
            if k >= 0:
                flux[layer + 1] += g[0, p] * (x[p] - x[k])
    return flux


@numba.njit(cache=True)
def _spread(flux):
    mean = np.mean(flux)
    if mean <= 0.0:
        return np.inf
    return (np.max(flux) - np.min(flux)) / mean


@numba.njit(cache=True)
def _pcg(x, nb, g, diag, bc_in, bc_out, layer_start, precon, flux_rtol, max_iter, check_every):
    """MIC(0)-preconditioned CG on A x = b from `x`, stopped on the layer-flux spread.

    Returns (iterations, converged).
    """
    n = x.size
    r = np.empty(n)
    q = np.empty(n)
    z = np.empty(n)
    scratch = np.empty(n)
    _matvec(x, nb, g, diag, q)
    for i in range(n):
        r[i] = bc_in[i] - q[i]
    _apply_precon(r, nb, g, precon, scratch, z)
    p = z.copy()
    rz = np.dot(r, z)
    for it in range(1, max_iter + 1):
        _matvec(p, nb, g, diag, q)
        alpha = rz / np.dot(p, q)
        for i in range(n):
            x[i] += alpha * p[i]
            r[i] -= alpha * q[i]
        if it % check_every == 0:
            if _spread(_layer_fluxes(x, nb, g, bc_in, bc_out, layer_start)) < flux_rtol:
                return it, True
        _apply_precon(r, nb, g, precon, scratch, z)
        rz_new = np.dot(r, z)
        if rz_new == 0.0:
            return it, True
        beta = rz_new / rz
        rz = rz_new
        for i in range(n):
            p[i] = z[i] + beta * p[i]
    return max_iter, False


def _conductivity(labels: np.ndarray, phase_diffusivity: dict[int, float]) -> np.ndarray:
    for label, value in phase_diffusivity.items():
        if label not in LABELS:
            raise PhysicalInputError(f"phase_diffusivity names unknown label {label}; known: {list(LABELS)}")
        if not (np.isfinite(value) and value >= 0):
            raise PhysicalInputError(f"phase_diffusivity[{label}] must be finite and >= 0, got {value}")
    table = np.zeros(max(LABELS) + 1)
    for label, value in phase_diffusivity.items():
        table[label] = value
    return table[labels]


class TortuositySolver:
    """Steady diffusion through an image along one axis; `solve()` returns a TortuosityResult.

    `phase_diffusivity` maps labels to D / D_bulk (default: pores 1, solids 0), e.g. to let the
    nanoporous CBD conduct with a Bruggeman-reduced diffusivity.
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
        cond = _conductivity(img.labels, phase_diffusivity or {PORE: 1.0})
        self.volume_fraction = float(cond.mean())
        # the flux axis becomes axis 0 so that the layers are contiguous in the compressed ordering
        self._cond = np.ascontiguousarray(np.moveaxis(cond, axis_index(axis), 0))
        self._active = percolating_mask(self._cond > 0, 0)
        self.n_unknowns = int(np.count_nonzero(self._active))

    def solve(self, flux_rtol: float = 1e-3, max_iter: int = 5000, check_every: int = 5) -> TortuosityResult:
        """Solve until the fluxes through inlet, layers and outlet agree within `flux_rtol`."""
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
        n = self.n_unknowns
        index = np.full(shape, -1, dtype=np.int64)
        index[self._active] = np.arange(n)
        nb = np.full((3, n), -1, dtype=np.int64)
        g = np.zeros((3, n))
        diag = np.zeros(n)
        bc_in = np.zeros(n)
        bc_out = np.zeros(n)
        _build_system(index, self._cond, nb, g, diag, bc_in, bc_out)
        del index
        per_layer = np.count_nonzero(self._active, axis=(1, 2))
        layer_start = np.concatenate(([0], np.cumsum(per_layer))).astype(np.int64)
        precon = np.empty(n)
        _mic0(nb, g, diag, precon)
        # the linear profile is the exact solution of a uniform medium
        x = np.repeat(1.0 - (np.arange(shape[0]) + 0.5) / shape[0], per_layer)
        iterations, converged = _pcg(
            x, nb, g, diag, bc_in, bc_out, layer_start, precon, flux_rtol, max_iter, check_every
        )
        flux = _layer_fluxes(x, nb, g, bc_in, bc_out, layer_start)
        ax_q = np.empty(n)
        _matvec(x, nb, g, diag, ax_q)
        residual = float(np.linalg.norm(bc_in - ax_q) / np.linalg.norm(bc_in))
        mean = float(np.mean(flux))
        d_rel = mean * shape[0] / (shape[1] * shape[2])
        return TortuosityResult(
            axis=self.axis,
            tortuosity_factor=self.volume_fraction / d_rel,
            effective_diffusivity_ratio=d_rel,
            volume_fraction=self.volume_fraction,
            percolating_fraction=n / self._cond.size,
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
    max_iter: int = 5000,
) -> TortuosityResult:
    """Tortuosity factor and D_eff / D_bulk of the pore phase (or the conducting phases) along `axis`."""
    return TortuositySolver(image, axis, phase_diffusivity=phase_diffusivity).solve(flux_rtol, max_iter)
