"""Geometric separation of interpenetrating spheres: positions moved apart until no pair overlaps by
more than a fraction of its smaller radius.

A state that does not come from integrating the contact laws (a learned model's prediction, PAML)
can hold spheres deep inside one another (a CBD particle inside an AM particle). The DEM cannot
start from it: a Hertz contact at such overlaps fires the particle out at speeds the integrator
refuses. `separate_overlaps` projects such a state onto the set where every pair overlaps by at most
`max_overlap_fraction` of its smaller radius: Gauss-Seidel sweeps over the candidate pairs (a cell
grid, periodic in x and y, kept as a Verlet list until particles have moved half its margin), each
overlapping pair pushed apart along its centre line, shared in inverse proportion to the masses (a
light CBD particle yields to a heavy AM particle), the centres kept between the planes z_lo + r and
z_hi - r (collector and top wall). It is position-based, not a dynamics: the DEM steps that follow
restore the contact forces.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from sims.errors import PhysicalInputError

MARGIN_FRACTION = 1.0  # candidate pairs: gap below this fraction of the smallest radius


def separate_overlaps(
    position: np.ndarray,
    radius: np.ndarray,
    mass: np.ndarray,
    lateral: tuple[float, float],
    z_bounds: tuple[float, float],
    max_overlap_fraction: float = 0.2,
    tolerance: float = 0.05,
    sweeps: int = 100,
    rounds: int = 10,
) -> float:
    """Move `position` (N, 3) in place (module doc); returns the largest overlap over the smaller
    radius found by the last round's first sweep, on a fresh candidate list (<= max_overlap_fraction
    + tolerance: converged; more: `rounds` ran out). Pairs are pushed to max_overlap_fraction
    exactly; a round stops when no pair exceeds it by more than `tolerance` (Gauss-Seidel converges
    slowly in a jammed film, and the DEM relaxes a few % of overlap easily). Units: any one length
    unit."""
    if not 0.0 <= max_overlap_fraction < 1.0:
        raise PhysicalInputError(f"max_overlap_fraction must lie in [0, 1), got {max_overlap_fraction}")
    lx, ly = float(lateral[0]), float(lateral[1])
    r = np.ascontiguousarray(radius, dtype=np.float64)
    inv_mass = 1.0 / np.ascontiguousarray(mass, dtype=np.float64)
    margin = MARGIN_FRACTION * float(r.min())
    worst, fresh, built = np.inf, False, position.copy()
    for _ in range(rounds):
        if not fresh:
            i, j = _candidate_pairs(position, r, lx, ly, margin)
            built[:] = position
        worst = _project(
            position, r, inv_mass, i, j, lx, ly, max_overlap_fraction, tolerance, z_bounds, sweeps
        )
        if worst <= max_overlap_fraction + tolerance:  # met at the start of the round, on a valid list
            break
        # the list stays valid (a Verlet list) while no particle has moved half the margin
        fresh = float(np.max(np.abs(position - built))) < 0.5 * margin / np.sqrt(3.0)
    return float(worst)


def _candidate_pairs(
    position: np.ndarray, r: np.ndarray, lx: float, ly: float, margin: float
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (i, j) whose gap is below `margin`: the small spheres through a cell grid of their
    own reach, each big one (radius above half the largest) against all."""
    big = r > 0.5 * r.max()
    small_reach = float(2.0 * r[~big].max() + margin) if (~big).any() else margin
    nx, ny = int(lx // small_reach), int(ly // small_reach)
    if nx < 3 or ny < 3:  # a box a few cells wide: every sphere counts as big (all pairs)
        big[:] = True
        nx = ny = 3
    p = np.ascontiguousarray(position, dtype=np.float64)
    args = (p, r, big, lx, ly, margin, nx, ny, small_reach)
    out = np.empty((32 * len(r), 2), dtype=np.int64)
    count = _pairs(*args, out)
    if count > len(out):  # more than guessed: again, into an array of the size counted
        out = np.empty((count, 2), dtype=np.int64)
        _pairs(*args, out)
    return np.ascontiguousarray(out[:count, 0]), np.ascontiguousarray(out[:count, 1])


@numba.njit(cache=True)
def _gap(p, r, i, j, lx, ly):  # pragma: no cover - numba
    dx = p[i, 0] - p[j, 0]
    dy = p[i, 1] - p[j, 1]
    dx -= lx * math.floor(dx / lx + 0.5)
    dy -= ly * math.floor(dy / ly + 0.5)
    dz = p[i, 2] - p[j, 2]
    return math.sqrt(dx * dx + dy * dy + dz * dz) - r[i] - r[j]


@numba.njit(cache=True)
def _pairs(p, r, big, lx, ly, margin, nx, ny, cell, out):  # pragma: no cover - numba
    """Candidate pairs into `out` (as many as it holds); returns how many there are."""
    cap = len(out)
    n = len(r)
    z0 = p[:, 2].min()
    nz = int((p[:, 2].max() - z0) // cell) + 1
    head = -np.ones(nx * ny * nz, dtype=np.int64)
    nxt = -np.ones(n, dtype=np.int64)
    cx = np.zeros(n, dtype=np.int64)
    cy = np.zeros(n, dtype=np.int64)
    cz = np.zeros(n, dtype=np.int64)
    for i in range(n):
        if big[i]:
            continue
        cx[i] = int((p[i, 0] % lx) / lx * nx) % nx
        cy[i] = int((p[i, 1] % ly) / ly * ny) % ny
        cz[i] = min(int((p[i, 2] - z0) // cell), nz - 1)
        c = (cz[i] * ny + cy[i]) * nx + cx[i]
        nxt[i] = head[c]
        head[c] = i
    k = 0
    for i in range(n):
        if big[i]:
            for j in range(n):
                if j == i or (big[j] and j < i):
                    continue
                if _gap(p, r, i, j, lx, ly) < margin:
                    if k < cap:
                        out[k, 0], out[k, 1] = i, j
                    k += 1
            continue
        for ddz in (-1, 0, 1):
            z = cz[i] + ddz
            if z < 0 or z >= nz:
                continue
            for ddy in (-1, 0, 1):
                y = (cy[i] + ddy) % ny
                for ddx in (-1, 0, 1):
                    j = head[(z * ny + y) * nx + (cx[i] + ddx) % nx]
                    while j >= 0:
                        if j > i and _gap(p, r, i, j, lx, ly) < margin:
                            if k < cap:
                                out[k, 0], out[k, 1] = i, j
                            k += 1
                        j = nxt[j]
    return k


@numba.njit(cache=True)
def _project(pos, r, w, pi, pj, lx, ly, fraction, tolerance, z_bounds, sweeps):  # pragma: no cover
    """Gauss-Seidel sweeps; returns the largest overlap fraction its first sweep met."""
    z_lo, z_hi = z_bounds
    first = 0.0
    for sweep in range(sweeps):
        worst = 0.0
        for q in range(len(pi)):
            i, j = pi[q], pj[q]
            dx = pos[i, 0] - pos[j, 0]
            dy = pos[i, 1] - pos[j, 1]
            dz = pos[i, 2] - pos[j, 2]
            dx -= lx * math.floor(dx / lx + 0.5)
            dy -= ly * math.floor(dy / ly + 0.5)
            dist = np.sqrt(dx * dx + dy * dy + dz * dz)
            rmin = min(r[i], r[j])
            over = r[i] + r[j] - dist
            worst = max(worst, over / rmin)
            excess = over - fraction * rmin
            if excess <= 0.0:
                continue
            if dist < 1e-12 * rmin:  # coincident centres: part them vertically
                dx, dy, dz, dist = 0.0, 0.0, 1.0, 1.0
            share_i = w[i] / (w[i] + w[j])
            for axis, comp in ((0, dx), (1, dy), (2, dz)):
                step = (excess + 1e-9 * rmin) * comp / dist
                pos[i, axis] += share_i * step
                pos[j, axis] -= (1.0 - share_i) * step
            # a particle held by a wall passes the rest of its share to the other one
            for a, b in ((i, j), (j, i)):
                held = min(max(pos[a, 2], z_lo + r[a]), z_hi - r[a])
                pos[b, 2] += held - pos[a, 2]
                pos[a, 2] = held
                pos[b, 2] = min(max(pos[b, 2], z_lo + r[b]), z_hi - r[b])
        if sweep == 0:
            first = worst
        if worst <= fraction + tolerance:
            break
    return first
