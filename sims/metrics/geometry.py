"""Geometric tortuosity (shortest paths through the pores) and radial distribution function.

Geometric tortuosity along an axis: for every pore voxel of the outlet layer, the shortest path
through pore voxels from any pore voxel of the inlet layer (Dijkstra on the 26-neighbour graph,
steps of 1, sqrt 2 and sqrt 3 voxels; paths may pass where pore voxels share only an edge or a
corner), divided by the straight distance between the two layers' centres, (n - 1) voxels. Mean and
minimum over the reached outlet voxels. No periodic wrap, as in the transport solver.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from sims.errors import PhysicalInputError
from sims.metrics.porosity import AXIS_NAMES, axis_index
from sims.metrics.voxelize import PORE, VoxelImage, as_image


@dataclass(frozen=True)
class GeometricTortuosityResult:
    """Path length / straight distance through the pores along `axis` (dimensionless).

    `reached_fraction`: share of the outlet pore voxels that a path reaches; inf tortuosities and a
    `note` when none does.
    """

    axis: str
    mean_tortuosity: float
    min_tortuosity: float
    reached_fraction: float
    note: str = ""


@numba.njit(cache=True)
def _heap_push(keys, nodes, size, key, node):
    if size == keys.size:
        new_keys = np.empty(2 * keys.size)
        new_nodes = np.empty(2 * nodes.size, dtype=np.int64)
        new_keys[:size] = keys
        new_nodes[:size] = nodes
        keys, nodes = new_keys, new_nodes
    i = size
    keys[i] = key
    nodes[i] = node
    while i > 0:
        parent = (i - 1) // 2
        if keys[parent] <= keys[i]:
            break
        keys[parent], keys[i] = keys[i], keys[parent]
        nodes[parent], nodes[i] = nodes[i], nodes[parent]
        i = parent
    return keys, nodes, size + 1


@numba.njit(cache=True)
def _heap_pop(keys, nodes, size):
    key, node = keys[0], nodes[0]
    size -= 1
    keys[0], nodes[0] = keys[size], nodes[size]
    i = 0
    while True:
        left = 2 * i + 1
        smallest = i
        if left < size and keys[left] < keys[smallest]:
            smallest = left
        if left + 1 < size and keys[left + 1] < keys[smallest]:
            smallest = left + 1
        if smallest == i:
            break
        keys[smallest], keys[i] = keys[i], keys[smallest]
        nodes[smallest], nodes[i] = nodes[i], nodes[smallest]
        i = smallest
    return key, node, size


@numba.njit(cache=True)
def _path_lengths(pore):
    """Shortest 26-neighbour path length (voxels) from layer 0 to every pore voxel; inf if unreachable."""
    n0, n1, n2 = pore.shape
    dist = np.full(pore.size, np.inf)
    keys = np.empty(max(16, 4 * n1 * n2))
    nodes = np.empty(keys.size, dtype=np.int64)
    size = 0
    for j in range(n1):
        for k in range(n2):
            if pore[0, j, k]:
                p = j * n2 + k
                dist[p] = 0.0
                keys, nodes, size = _heap_push(keys, nodes, size, 0.0, p)
    while size > 0:
        d, p, size = _heap_pop(keys, nodes, size)
        if d > dist[p]:
            continue
        i = p // (n1 * n2)
        j = (p // n2) % n1
        k = p % n2
        for di in range(-1, 2):
            ii = i + di
            if ii < 0 or ii >= n0:
                continue
            for dj in range(-1, 2):
                jj = j + dj
                if jj < 0 or jj >= n1:
                    continue
                for dk in range(-1, 2):
                    kk = k + dk
                    if kk < 0 or kk >= n2 or not pore[ii, jj, kk]:
                        continue
                    steps = abs(di) + abs(dj) + abs(dk)
                    if steps == 0:
                        continue
                    nd = d + math.sqrt(steps)
                    q = (ii * n1 + jj) * n2 + kk
                    if nd < dist[q]:
                        dist[q] = nd
                        keys, nodes, size = _heap_push(keys, nodes, size, nd, q)
    return dist.reshape(pore.shape)


def geometric_tortuosity(image: VoxelImage | np.ndarray, axis: str | int = "z") -> GeometricTortuosityResult:
    """Mean and minimum geometric tortuosity of the pore phase from the inlet to the outlet face."""
    img = as_image(image)
    ax = axis_index(axis)
    pore = np.ascontiguousarray(np.moveaxis(img.labels == PORE, ax, 0))
    if pore.shape[0] < 2:
        raise PhysicalInputError(f"geometric tortuosity along {AXIS_NAMES[ax]} needs at least 2 voxels on it")
    outlet = pore[-1]
    lengths = _path_lengths(pore)[-1][outlet]
    reached = lengths[np.isfinite(lengths)]
    if reached.size == 0:
        return GeometricTortuosityResult(
            axis=AXIS_NAMES[ax],
            mean_tortuosity=math.inf,
            min_tortuosity=math.inf,
            reached_fraction=0.0,
            note=f"no path through the pores along {AXIS_NAMES[ax]}: geometric tortuosity = inf",
        )
    straight = pore.shape[0] - 1
    return GeometricTortuosityResult(
        axis=AXIS_NAMES[ax],
        mean_tortuosity=float(reached.mean() / straight),
        min_tortuosity=float(reached.min() / straight),
        reached_fraction=reached.size / lengths.size,
    )


def shortest_pore_path(image: VoxelImage | np.ndarray, axis: str | int = "z") -> np.ndarray:
    """Voxel indices (k, 3), in the image's axes, of one shortest pore path from the inlet layer to
    the outlet voxel it reaches soonest (the path of `min_tortuosity`); (0, 3) when none exists."""
    img = as_image(image)
    ax = axis_index(axis)
    pore = np.ascontiguousarray(np.moveaxis(img.labels == PORE, ax, 0))
    dist = _path_lengths(pore)
    outlet = dist[-1]
    if not np.isfinite(outlet).any():
        return np.zeros((0, 3), dtype=np.int64)
    node = np.array([pore.shape[0] - 1, *np.unravel_index(np.argmin(outlet), outlet.shape)])
    steps = np.array([(a, b, c) for a in (-1, 0, 1) for b in (-1, 0, 1) for c in (-1, 0, 1) if a or b or c])
    lengths = np.sqrt(np.abs(steps).sum(axis=1))
    path = [node]
    while dist[tuple(node)] > 0.0:
        best, best_d = node, dist[tuple(node)]
        for step, length in zip(steps, lengths, strict=True):
            q = node + step
            if np.all(q >= 0) and np.all(q < pore.shape) and abs(dist[tuple(q)] + length - best_d) < 1e-9:
                best = q
                break
        if best is node:
            raise RuntimeError("shortest path backtracking lost its way")  # distances are exact sums
        node = best
        path.append(node)
    moved = np.array(path[::-1])
    order = [ax] + [a for a in range(3) if a != ax]  # axis of the image held by each moved column
    out = np.empty_like(moved)
    out[:, order] = moved
    return out


@dataclass(frozen=True)
class RDFResult:
    """Radial distribution function g(r) of particle centres: bin centres `r_um` and `g` (both (n_bins,))."""

    r_um: np.ndarray
    g: np.ndarray
    n_particles: int


@numba.njit(cache=True)
def _pair_histogram(centres, lx, ly, r_max, n_bins):
    counts = np.zeros(n_bins)
    n = centres.shape[0]
    dr = r_max / n_bins
    for a in range(n):
        for b in range(a + 1, n):
            dx = centres[b, 0] - centres[a, 0]
            dy = centres[b, 1] - centres[a, 1]
            dx -= lx * np.round(dx / lx)
            dy -= ly * np.round(dy / ly)
            dz = centres[b, 2] - centres[a, 2]
            r = math.sqrt(dx * dx + dy * dy + dz * dz)
            if r < r_max:
                counts[int(r / dr)] += 2.0  # the pair counts for both particles
    return counts


def radial_distribution(
    centres_um: np.ndarray,
    box_xy_um: tuple[float, float],
    thickness_um: float,
    r_max_um: float,
    n_bins: int = 50,
) -> RDFResult:
    """g(r) of centres (N, 3) in a box periodic in x and y and bounded in z by [0, thickness_um].

    The ideal-gas reference of each particle counts only the part of its shell inside the slab: the
    area of a sphere of radius r between two planes is 2 pi r x (height between them), so a centre
    at height z keeps the fraction (min(z + r, H) - max(z - r, 0)) / (2 r) of its shell.
    `r_max_um` must not exceed half the smaller periodic length (minimum image).
    """
    centres = np.asarray(centres_um, dtype=np.float64)
    if centres.ndim != 2 or centres.shape[1] != 3 or centres.shape[0] < 2:
        raise PhysicalInputError(f"centres_um must have shape (N >= 2, 3), got {centres.shape}")
    if not np.all(np.isfinite(centres)):
        raise PhysicalInputError("centres_um holds non-finite coordinates")
    lx, ly = (float(v) for v in box_xy_um)
    if not (lx > 0 and ly > 0 and thickness_um > 0):
        raise PhysicalInputError("box_xy_um and thickness_um must be positive")
    if not 0 < r_max_um <= 0.5 * min(lx, ly):
        raise PhysicalInputError(f"r_max_um must be in (0, {0.5 * min(lx, ly)}] (half the periodic box)")
    if n_bins < 1:
        raise PhysicalInputError(f"n_bins must be >= 1, got {n_bins}")
    counts = _pair_histogram(centres, lx, ly, float(r_max_um), int(n_bins))
    edges = np.linspace(0.0, r_max_um, n_bins + 1)
    r_mid = 0.5 * (edges[1:] + edges[:-1])
    shell = 4.0 / 3.0 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    z = centres[:, 2][:, None]
    inside = (np.minimum(z + r_mid, thickness_um) - np.maximum(z - r_mid, 0.0)) / (2.0 * r_mid)
    density = (centres.shape[0] - 1) / (lx * ly * thickness_um)
    expected = density * shell * np.clip(inside, 0.0, 1.0).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(expected > 0, counts / expected, 0.0)
    return RDFResult(r_um=r_mid, g=g, n_particles=int(centres.shape[0]))
