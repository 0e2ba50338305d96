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

from batman_opt.surrogates.descriptors import _close_pairs
from sims.dem.projection import project_overlaps

TOLERANCE = 0.02  # overlap kept, as a fraction of the smaller radius: the DEM's own (module doc)


def remove_overlaps(
    position_um: np.ndarray,
    radius_um: np.ndarray,
    lateral_um: np.ndarray,
    plate_um: float,
    *,
    tolerance: float = TOLERANCE,
    sweeps: int = 40,
    rebuild: int = 10,
) -> np.ndarray:
    """Positions (N, 3) um with the overlaps reduced to `tolerance` x the smaller radius (module
    doc), x and y wrapped into the box; `plate_um` the plate height (inf for none)."""
    pos = np.ascontiguousarray(position_um, dtype=np.float64).copy()
    radius = np.ascontiguousarray(radius_um, dtype=np.float64)
    lateral = np.ascontiguousarray(lateral_um[:2], dtype=np.float64)
    for _ in range(0, sweeps, rebuild):
        i, j, _, _ = _close_pairs(pos, radius, lateral, 1.15)
        worst = project_overlaps(
            pos, radius, i.astype(np.int64), j.astype(np.int64), lateral, plate_um, tolerance, rebuild
        )
        if worst == 0.0:
            break
    pos[:, :2] = np.mod(pos[:, :2], lateral)
    return pos
