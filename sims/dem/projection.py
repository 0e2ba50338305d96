"""Geometric contact projection: overlapping spheres pushed apart with no forces and no time.

`project_overlaps` sweeps a list of candidate pairs Gauss-Seidel fashion (each correction seen by
the next pair at once, which converges in tens of sweeps where a simultaneous update needs
hundreds): a pair whose overlap exceeds its tolerance x the smaller radius is separated along its
line of centres by the excess, shared in inverse proportion to the particle volumes (a large
sphere hardly moves for a small one), and both are kept between a floor and a ceiling. Periodic in
x and y (nearest image). Lengths in any one unit. Used by the DL calendering model
(batman_opt.surrogates.contacts) to remove the unphysical overlaps of its predictions.
"""

from __future__ import annotations

import math

import numba
import numpy as np


@numba.njit(cache=True)
def _between(z: float, r: float, floor: float, ceiling: float) -> float:
    """z kept between the floor (z - r >= floor) and the ceiling (z + r <= ceiling; floor first)."""
    return min(max(z, floor + r), max(ceiling - r, floor + r))


@numba.njit(cache=True)
def project_overlaps(
    position: np.ndarray,
    radius: np.ndarray,
    pair_i: np.ndarray,
    pair_j: np.ndarray,
    tolerance: np.ndarray,
    lateral: np.ndarray,
    floor: float,
    ceiling: float,
    sweeps: int,
) -> float:
    """Project `position` (N, 3), in place, for `sweeps` sweeps over the pairs (pair_i, pair_j),
    each allowed an overlap of tolerance[k] x the smaller radius, or until none exceeds it; returns
    the largest remaining excess overlap over the smaller radius (module doc). Every sphere is kept
    between z = floor and z = ceiling."""
    worst = 0.0
    for _ in range(sweeps):
        worst = 0.0
        for k in range(pair_i.shape[0]):
            i, j = pair_i[k], pair_j[k]
            dx = position[j, 0] - position[i, 0]
            dy = position[j, 1] - position[i, 1]
            dz = position[j, 2] - position[i, 2]
            dx -= lateral[0] * math.floor(dx / lateral[0] + 0.5)
            dy -= lateral[1] * math.floor(dy / lateral[1] + 0.5)
            dist = math.sqrt(dx * dx + dy * dy + dz * dz)
            r_small = min(radius[i], radius[j])
            excess = radius[i] + radius[j] - tolerance[k] * r_small - dist
            if excess <= 0.0 or dist < 1e-12:
                continue
            worst = max(worst, excess / r_small)
            vi, vj = radius[i] ** 3, radius[j] ** 3
            move_i = excess * vj / (vi + vj) / dist
            move_j = excess * vi / (vi + vj) / dist
            position[i, 0] -= move_i * dx
            position[i, 1] -= move_i * dy
            position[i, 2] = _between(position[i, 2] - move_i * dz, radius[i], floor, ceiling)
            position[j, 0] += move_j * dx
            position[j, 1] += move_j * dy
            position[j, 2] = _between(position[j, 2] + move_j * dz, radius[j], floor, ceiling)
        for i in range(position.shape[0]):
            position[i, 2] = _between(position[i, 2], radius[i], floor, ceiling)
        if worst == 0.0:
            break
    return worst
