"""Overlap removal: the physical correction applied to the calendering model's predicted particles.

A network that predicts each particle's displacement from local descriptors predicts the mean
rearrangement of particles like it; the DEM's own rearrangement is largely collective (particles
slide past each other wherever the squeezed film has no room), so the predicted particles overlap
one another far more than the DEM's ever do (AM-CBD overlaps of ~35 % of the smaller radius
against ~2 % in the DEM, at 12 % compression). `remove_overlaps` pushes overlapping pairs apart
until their overlap is at most TOLERANCE x the smaller radius, the DEM's own (sims.dem.projection:
geometry only, no forces and no time; AM hardly moves for a CBD particle), keeping every particle
above the current collector and under the plate, periodic in x and y: the positions nearest to
the prediction that the DEM would accept, as PAML's DEM relaxation removes the unphysical overlaps
of its DL drying steps. Candidate pairs are found with a skin and rebuilt every `rebuild` sweeps.
"""

from __future__ import annotations

import numpy as np

from batman_opt.surrogates.descriptors import close_pairs
from sims.dem.projection import project_overlaps

PAIR_KINDS = ("am_am", "am_cbd", "cbd_cbd")


def remove_overlaps(
    position_um: np.ndarray,
    radius_um: np.ndarray,
    lateral_um: np.ndarray,
    plate_um: float,
    is_cbd: np.ndarray,
    tolerance: tuple[float, float, float],
    below_um: float = 0.0,
    above_um: float = 0.0,
    *,
    sweeps: int = 40,
    rebuild: int = 10,
) -> np.ndarray:
    """Positions (N, 3) um with each pair's overlap reduced to its tolerance x the smaller radius
    (module doc; `tolerance` per PAIR_KINDS, `is_cbd` (N,) the phases), every particle between
    z = -below_um and the plate height `plate_um` + above_um (the DEM's particles dig into the
    collector and the plate); x and y wrapped into the box."""
    pos = np.ascontiguousarray(position_um, dtype=np.float64).copy()
    radius = np.ascontiguousarray(radius_um, dtype=np.float64)
    lateral = np.ascontiguousarray(lateral_um[:2], dtype=np.float64)
    table = np.asarray(tolerance, dtype=np.float64)
    cbd = np.asarray(is_cbd, dtype=np.int64)
    for _ in range(0, sweeps, rebuild):
        i, j, _, _ = close_pairs(pos, radius, lateral, 1.15 + float(table.max()))
        allowed = table[cbd[i] + cbd[j]]
        worst = project_overlaps(
            pos,
            radius,
            i.astype(np.int64),
            j.astype(np.int64),
            allowed,
            lateral,
            -below_um,
            plate_um + above_um,
            rebuild,
        )
        if worst == 0.0:
            break
    pos[:, :2] = np.mod(pos[:, :2], lateral)
    return pos
