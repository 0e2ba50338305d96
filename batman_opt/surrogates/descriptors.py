"""Local descriptors of each particle of a dried electrode film: what the calendering model sees.

Geometry only (no functional descriptor: no porosity map, no tortuosity): for particle i at height
z_i in a film of thickness h0 (um, collector at z = 0, periodic in x and y), with d the mean AM
diameter of the film as the length unit:
- height_fraction z_i / h0 and depth_d (h0 - z_i) / d: where it sits in the film;
- radius_d r_i / d and is_cbd (phase);
- solid_fraction_1d, solid_fraction_2d: particle volume whose centres lie within 1 d (2 d) of
  z_i, over the part of that sphere above the collector (a local packing density);
- contacts_am, contacts_cbd: neighbours whose surfaces lie within 5 % of r_i + r_j (touching);
- centroid_{x,y,z}_d: offset of the volume-weighted centroid of the neighbours within 1 d, over
  d (which side the particle is supported from);
- push_{x,y,z}_d, push_d: the sum over neighbours of the overlap vectors (over d) the particle
  would have if the film were squeezed affinely (z -> (1 - compression_ratio) z) to the gap:
  where the squeezed film has no room, the DEM must move it (the only descriptor that depends on
  the calendering condition; the others are of the dried film alone).
Neighbour search with scipy's cKDTree, periodic in x and y.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from batman_opt.errors import InputError

PARTICLE_DESCRIPTORS = (
    "height_fraction",
    "depth_d",
    "radius_d",
    "is_cbd",
    "solid_fraction_1d",
    "solid_fraction_2d",
    "contacts_am",
    "contacts_cbd",
    "centroid_x_d",
    "centroid_y_d",
    "centroid_z_d",
    "push_x_d",
    "push_y_d",
    "push_z_d",
    "push_d",
)
TOUCH = 1.05  # centre distance / (r_i + r_j) below which two particles touch


def _tree(position_um: np.ndarray, lateral_um: np.ndarray) -> tuple[cKDTree, np.ndarray]:
    """A periodic (x, y) tree over the wrapped positions, and those positions."""
    wrapped = position_um.astype(np.float64).copy()
    wrapped[:, :2] = np.mod(wrapped[:, :2], lateral_um[:2])
    wrapped[:, :2] = np.where(wrapped[:, :2] >= lateral_um[:2], 0.0, wrapped[:, :2])  # mod rounding
    z_span = 4.0 * (np.abs(wrapped[:, 2]).max() + 1.0)  # a period along z no neighbour reaches
    wrapped[:, 2] = np.mod(wrapped[:, 2], z_span)
    return cKDTree(wrapped, boxsize=[lateral_um[0], lateral_um[1], z_span]), wrapped


def min_image(delta: np.ndarray, lateral_um: np.ndarray) -> np.ndarray:
    """Separations (..., 3) with x and y taken to their nearest periodic image."""
    out = delta.copy()
    out[..., :2] -= lateral_um[:2] * np.round(out[..., :2] / lateral_um[:2])
    return out


def mean_am_diameter_um(radius_um: np.ndarray, is_cbd: np.ndarray) -> float:
    """Mean diameter (um) of the AM particles (of all particles when there is no AM)."""
    am = radius_um[~is_cbd] if np.any(~is_cbd) else radius_um
    return float(2.0 * am.mean())


def particle_descriptors(
    position_um: np.ndarray,
    radius_um: np.ndarray,
    is_cbd: np.ndarray,
    lateral_um: np.ndarray,
    thickness_um: float,
    compression_ratio: float,
) -> np.ndarray:
    """PARTICLE_DESCRIPTORS of every particle of a dried film (module doc), (N, 15) float32.

    position_um (N, 3), radius_um (N,), is_cbd (N,) bool, lateral_um (2,) box sides, thickness_um
    the dried film's thickness (top of its highest particle), compression_ratio in [0, 1).
    """
    position = np.asarray(position_um, dtype=np.float64)
    radius = np.asarray(radius_um, dtype=np.float64)
    cbd = np.asarray(is_cbd, dtype=bool)
    lateral = np.asarray(lateral_um, dtype=np.float64)
    n = len(radius)
    if position.shape != (n, 3) or cbd.shape != (n,) or n < 2:
        raise InputError(f"descriptors need (N, 3) positions and (N,) radii, phases; got {position.shape}")
    if not (thickness_um > 0 and np.all(np.isfinite(position))):
        raise InputError(f"descriptors need finite positions and a thickness > 0, got {thickness_um}")
    d = mean_am_diameter_um(radius, cbd)
    volume = 4.0 / 3.0 * np.pi * radius**3
    tree, _ = _tree(position, lateral)
    out = np.zeros((n, len(PARTICLE_DESCRIPTORS)), dtype=np.float64)
    out[:, 0] = position[:, 2] / thickness_um
    out[:, 1] = (thickness_um - position[:, 2]) / d
    out[:, 2] = radius / d
    out[:, 3] = cbd
    for col, reach in ((4, d), (5, 2.0 * d)):
        pairs = tree.query_pairs(reach, output_type="ndarray")
        own = volume.copy()
        np.add.at(own, pairs[:, 0], volume[pairs[:, 1]])
        np.add.at(own, pairs[:, 1], volume[pairs[:, 0]])
        out[:, col] = own / _sphere_above_collector(reach, position[:, 2])
    i, j, delta, dist = close_pairs(position, radius, lateral, TOUCH)
    touching = dist < TOUCH * (radius[i] + radius[j])
    for col, phase in ((6, False), (7, True)):
        np.add.at(out[:, col], i[touching & (cbd[j] == phase)], 1.0)
        np.add.at(out[:, col], j[touching & (cbd[i] == phase)], 1.0)
    near = tree.query_pairs(d, output_type="ndarray")
    a, b = near[:, 0], near[:, 1]
    sep = min_image(position[b] - position[a], lateral)
    moment = np.zeros((n, 3))
    mass = np.zeros(n)
    np.add.at(moment, a, sep * volume[b, None])
    np.add.at(moment, b, -sep * volume[a, None])
    np.add.at(mass, a, volume[b])
    np.add.at(mass, b, volume[a])
    out[:, 8:11] = np.where(mass[:, None] > 0, moment / np.maximum(mass, 1e-30)[:, None], 0.0) / d
    out[:, 11:14] = _affine_push(position, radius, lateral, compression_ratio) / d
    out[:, 14] = np.linalg.norm(out[:, 11:14], axis=1)
    return out.astype(np.float32)


def close_pairs(
    position: np.ndarray, radius: np.ndarray, lateral: np.ndarray, factor: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (i, j) whose centres lie within factor (r_i + r_j), with the separation from i to j
    (um, nearest image) and its length. Large and small particles are searched apart, so the many
    small (CBD) ones are not searched at the reach of two large (AM) ones."""
    large = np.flatnonzero(radius > 2.0 * radius.min())
    small = np.flatnonzero(radius <= 2.0 * radius.min())
    groups = [g for g in (large, small) if len(g)]
    trees = [_tree(position[g], lateral)[0] for g in groups]
    found_i, found_j = [], []
    for a in range(len(groups)):
        for b in range(a, len(groups)):
            reach = factor * (radius[groups[a]].max() + radius[groups[b]].max())
            if a == b:
                pairs = trees[a].query_pairs(reach, output_type="ndarray")
                found_i.append(groups[a][pairs[:, 0]])
                found_j.append(groups[a][pairs[:, 1]])
            else:
                near = trees[a].sparse_distance_matrix(trees[b], reach, output_type="ndarray")
                found_i.append(groups[a][near["i"]])
                found_j.append(groups[b][near["j"]])
    i, j = np.concatenate(found_i), np.concatenate(found_j)
    delta = min_image(position[j] - position[i], lateral)
    dist = np.linalg.norm(delta, axis=1)
    keep = dist < factor * (radius[i] + radius[j])
    return i[keep], j[keep], delta[keep], dist[keep]


def _sphere_above_collector(reach: float, z: np.ndarray) -> np.ndarray:
    """Volume (um3) of the sphere of radius `reach` around height z that lies above z = 0."""
    cap = np.clip(reach - z, 0.0, 2.0 * reach)  # height of the cap below the collector
    return 4.0 / 3.0 * np.pi * reach**3 - np.pi * cap**2 * (3.0 * reach - cap) / 3.0


def _affine_push(
    position: np.ndarray, radius: np.ndarray, lateral: np.ndarray, compression_ratio: float
) -> np.ndarray:
    """Sum over neighbours of the overlap vectors (um) pushing each particle away from them once
    z is squeezed to (1 - compression_ratio) z (module doc), (N, 3)."""
    squeezed = position.copy()
    squeezed[:, 2] *= 1.0 - compression_ratio
    i, j, delta, dist = close_pairs(squeezed, radius, lateral, 1.0)
    dist = np.maximum(dist, 1e-12)
    overlap = np.maximum(radius[i] + radius[j] - dist, 0.0)
    push = delta / dist[:, None] * overlap[:, None]
    out = np.zeros_like(position)
    np.add.at(out, i, -push)
    np.add.at(out, j, push)
    below = np.maximum(radius - squeezed[:, 2], 0.0)  # the collector pushes up
    out[:, 2] += below
    return out
