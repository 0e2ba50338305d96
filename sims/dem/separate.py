"""Geometric separation of interpenetrating spheres: positions moved apart until no pair overlaps by
more than a fraction of its smaller radius.

A state that does not come from integrating the contact laws (a learned model's prediction, PAML)
can hold spheres deep inside one another (a CBD particle inside an AM particle). The DEM cannot
start from it: a Hertz contact at such overlaps fires the particle out at speeds the integrator
refuses. `separate_overlaps` projects such a state onto the set where every pair overlaps by at most
`max_overlap_fraction` of its smaller radius: Gauss-Seidel sweeps over the candidate pairs (scipy
cKDTree, periodic in x and y), each overlapping pair pushed apart along its centre line, shared in
inverse proportion to the masses (a light CBD particle yields to a heavy AM particle), the centres
kept between the planes z_lo + r and z_hi - r (collector and top wall). It is position-based,
not a dynamics: the DEM steps that follow restore the contact forces.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from scipy.spatial import cKDTree

from sims.errors import PhysicalInputError

MARGIN_FRACTION = 0.5  # candidate pairs: gap below this fraction of the smallest radius


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
    """Pairs (i, j) whose gap is below `margin`."""
    p = np.array(position)
    p[:, 0] %= lx
    p[:, 1] %= ly
    p[:, 2] -= p[:, 2].min()
    tree = cKDTree(p, boxsize=[lx, ly, 1e9 * (1.0 + p[:, 2].max())])
    big = r > 0.5 * r.max()
    small_reach = float(2.0 * r[~big].max() + margin) if (~big).any() else 0.0
    small = tree.query_pairs(small_reach, output_type="ndarray").reshape(-1, 2)
    pairs = [small[~(big[small[:, 0]] | big[small[:, 1]])]]  # pairs with a big one come below
    index = np.flatnonzero(big)
    big_tree = cKDTree(p[big], boxsize=tree.boxsize)
    found = big_tree.sparse_distance_matrix(tree, float(2.0 * r.max() + margin), output_type="ndarray")
    a, other = index[found["i"]], found["j"].astype(np.int64)
    keep = (a != other) & ~(big[other] & (other < a))  # a pair of big ones once
    pairs.append(np.stack([a[keep], other[keep]], axis=1))
    both = np.concatenate(pairs).astype(np.int64)
    i, j = both[:, 0], both[:, 1]
    d = p[i] - p[j]
    d[:, 0] -= lx * np.round(d[:, 0] / lx)
    d[:, 1] -= ly * np.round(d[:, 1] / ly)
    gap = np.linalg.norm(d, axis=1) - r[i] - r[j]
    keep = gap < margin
    return np.ascontiguousarray(i[keep]), np.ascontiguousarray(j[keep])


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
