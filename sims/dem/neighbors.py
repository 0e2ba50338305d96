"""Cell-list binning and Verlet neighbour lists with a skin, periodic in x and y.

A list holds, for each particle i, the particles j with |x_i - x_j| < r_i + r_j + skin, in fixed-width
rows: nbr (N, cap) int64, nnb (N,) int64, shift (N, cap, 2) float64, the periodic image offset (m)
added to x_j (x, y) so that x_j + shift is the image nearest to x_i. It is a half list: each pair
once, in row i if (j > i) == (i + j even), i.e. in the lower-index row for half of the pairs and
in the higher-index one for the others, so that every row holds about half of its neighbours and
equal blocks of rows carry equal work (a plain j > i rule loads the first rows most). Contact
histories, (N, cap, HIST_SIZE), follow their pair through a rebuild.

The list stays valid while no particle has moved more than skin/2 since the build (x_build).
Positions are wrapped into the box (x, y) at each build, so the shifts stay fixed between builds.
"""

from __future__ import annotations

import math

import numba
import numpy as np


def cell_grid(box_length: np.ndarray, radius: np.ndarray, skin: float) -> np.ndarray:
    """Number of cells (3,) int64 along x, y, z for spheres of these radii (m).

    Particle i scans the cells within its reach r_i + r_max + skin; the cell size is picked among
    fractions of the smallest, median and largest reach as the one that scans the fewest particles
    and cells in all (small cells suit small particles, and the big ones scan more of them).
    """
    reach = radius + radius.max() + skin
    density = len(radius) / np.prod(box_length)
    best, best_cost = None, np.inf
    for r_ref in np.unique(np.quantile(reach, [0.0, 0.5, 1.0])):
        for fraction in (1.0, 1.0 / 2.0, 1.0 / 3.0):
            ncell = np.maximum(np.floor(box_length / (r_ref * fraction)), 1).astype(np.int64)
            if np.prod(ncell) > max(8 * len(radius), 1000):
                continue  # too many (mostly empty) cells
            side = box_length / ncell
            stencil = np.minimum(2 * np.ceil(reach[:, None] / side) + 1, ncell)
            cells = np.prod(stencil, axis=1)
            cost = np.sum(density * cells * np.prod(side) + 0.5 * cells)
            if cost < best_cost:
                best, best_cost = ncell, cost
    if best is None:
        best = np.maximum(np.floor(box_length / reach.max()), 1).astype(np.int64)
    return best


@numba.njit(cache=True)
def bin_particles(x, r, lo, length, ncell, first, order, xr, cell_of):
    """Wrap x, y into the box and sort the particles by cell (counting sort).

    first (n_cells + 2,), order (N,), xr (N, 4), cell_of (N,) int64: afterwards the particles
    of cell c are order[first[c + 1]:first[c + 2]], xr holds their (x, y, z, r) in that order (so
    that scanning a cell reads contiguous memory) and cell_of[i] is particle i's cell. Returns -1,
    or the index of a particle outside the box in z (it cannot be binned).
    """
    n_cells = first.shape[0] - 2
    first[:] = 0
    cell_x = length[0] / ncell[0]
    cell_y = length[1] / ncell[1]
    cell_z = length[2] / ncell[2]
    for i in range(x.shape[0]):
        x[i, 0] -= length[0] * math.floor((x[i, 0] - lo[0]) / length[0])
        x[i, 1] -= length[1] * math.floor((x[i, 1] - lo[1]) / length[1])
        zr = x[i, 2] - lo[2]
        if not (zr >= 0.0 and zr <= length[2]):
            return i
        cx = min(int((x[i, 0] - lo[0]) / cell_x), ncell[0] - 1)
        cy = min(int((x[i, 1] - lo[1]) / cell_y), ncell[1] - 1)
        cz = min(int(zr / cell_z), ncell[2] - 1)
        c = (cz * ncell[1] + cy) * ncell[0] + cx
        cell_of[i] = c
        first[c + 1] += 1
    for c in range(1, n_cells + 1):
        first[c] += first[c - 1]  # first[c + 1]: end of cell c
    for i in range(x.shape[0] - 1, -1, -1):
        c = cell_of[i]
        first[c + 1] -= 1  # ends as the start of cell c
        p = first[c + 1]
        order[p] = i
        xr[p, 0] = x[i, 0]
        xr[p, 1] = x[i, 1]
        xr[p, 2] = x[i, 2]
        xr[p, 3] = r[i]
    first[n_cells + 1] = x.shape[0]
    return -1


@numba.njit(cache=True, inline="always")
def _find(row_nbr, count, j):
    for k in range(count):
        if row_nbr[k] == j:
            return k
    return -1


@numba.njit(cache=True, inline="always")
def _carry_history(i, j, k, hist, old_nbr, old_nnb, old_hist):
    ko = _find(old_nbr[i], old_nnb[i], j)
    if ko >= 0:
        for h in range(hist.shape[2]):
            hist[i, k, h] = old_hist[i, ko, h]
        return
    # the pair may have been stored from j's side: same contact, opposite shear
    ko = _find(old_nbr[j], old_nnb[j], i)
    if ko >= 0:
        hist[i, k, 0] = -old_hist[j, ko, 0]
        hist[i, k, 1] = -old_hist[j, ko, 1]
        hist[i, k, 2] = -old_hist[j, ko, 2]
        for h in range(3, hist.shape[2]):
            hist[i, k, h] = old_hist[j, ko, h]
        return
    for h in range(hist.shape[2]):
        hist[i, k, h] = 0.0


@numba.njit(cache=True)
def build_rows(i0, i1, x, r, skin, r_max, grid, nlist, scratch):
    """Fill rows i0..i1-1 of the list (up to the capacity: longer rows are counted, not stored) and
    carry the histories over; the particles must be binned (bin_particles).

    Particle i scans the cells within r_i + r_max + skin of its own (r_max: the largest radius), so
    that with cells sized for the small particles, small ones scan few cells and big ones more.
    """
    _, length, ncell = grid
    nbr, shift, nnb, hist = nlist
    old_nbr, old_nnb, old_hist, _, first, order, xr, cell_of = scratch
    cap = nbr.shape[1]
    lx = length[0]
    ly = length[1]
    cell = (lx / ncell[0], ly / ncell[1], length[2] / ncell[2])
    for i in range(i0, i1):
        c = cell_of[i]
        cx = c % ncell[0]
        cy = (c // ncell[0]) % ncell[1]
        cz = c // (ncell[0] * ncell[1])
        xi = x[i, 0]
        yi = x[i, 1]
        zi = x[i, 2]
        ri = r[i] + skin
        reach = r[i] + r_max + skin
        nx = int(math.ceil(reach / cell[0]))
        ny = int(math.ceil(reach / cell[1]))
        nz = int(math.ceil(reach / cell[2]))
        # along x and y (periodic) a stencil as wide as the box visits every cell once
        x0, x1 = (0, ncell[0]) if 2 * nx + 1 >= ncell[0] else (cx - nx, cx + nx + 1)
        y0, y1 = (0, ncell[1]) if 2 * ny + 1 >= ncell[1] else (cy - ny, cy + ny + 1)
        count = 0
        for czz in range(max(cz - nz, 0), min(cz + nz + 1, ncell[2])):
            for oy in range(y0, y1):
                cyy = oy % ncell[1]
                for ox in range(x0, x1):
                    cxx = ox % ncell[0]
                    cc = (czz * ncell[1] + cyy) * ncell[0] + cxx
                    for p in range(first[cc + 1], first[cc + 2]):
                        j = order[p]
                        if j == i or (j > i) != ((i + j) & 1 == 0):
                            continue  # not i's half of the pair
                        dx = xr[p, 0] - xi
                        dy = xr[p, 1] - yi
                        sx = -lx * math.floor(dx / lx + 0.5)
                        sy = -ly * math.floor(dy / ly + 0.5)
                        dx += sx
                        dy += sy
                        dz = xr[p, 2] - zi
                        rc = ri + xr[p, 3]
                        if dx * dx + dy * dy + dz * dz < rc * rc:
                            if count < cap:
                                nbr[i, count] = j
                                shift[i, count, 0] = sx
                                shift[i, count, 1] = sy
                                _carry_history(i, j, count, hist, old_nbr, old_nnb, old_hist)
                            count += 1
        nnb[i] = count


@numba.njit(cache=True, parallel=True)
def build_parallel(n_blocks, x, r, skin, r_max, grid, nlist, scratch):
    """build_rows over all particles, n_blocks blocks of rows in parallel (one per thread)."""
    n = x.shape[0]
    c = max(1, min(n, n_blocks))
    for b in numba.prange(c):
        build_rows(b * n // c, (b + 1) * n // c, x, r, skin, r_max, grid, nlist, scratch)


@numba.njit(cache=True)
def rebuild(n_blocks, x, r, skin, grid, nlist, scratch):
    """Bin, build the list carrying histories over, and remember the positions in x_build.

    n_blocks: threads building rows in parallel (0 or 1: serial). grid = (lo (3,), length (3,),
    ncell (3,)); nlist = (nbr, shift, nnb, hist); scratch = (old_nbr, old_nnb, old_hist, x_build,
    first, order, xr, cell_of), the last four as in bin_particles. Returns (status, index): (0, -1) done;
    (1, longest row) a row outgrew the capacity: nbr, nnb and hist are as before (for carrying the
    histories over), the rest is stale, rebuild with a larger capacity; (2, i) particle i is outside
    the box in z.
    """
    nbr, _, nnb, hist = nlist
    old_nbr, old_nnb, old_hist, x_build, first, order, xr, cell_of = scratch
    old_nbr[:] = nbr
    old_nnb[:] = nnb
    old_hist[:] = hist
    i_out = bin_particles(x, r, grid[0], grid[1], grid[2], first, order, xr, cell_of)
    if i_out >= 0:
        return 2, i_out
    r_max = r.max() if r.shape[0] else 0.0
    if n_blocks > 1:
        build_parallel(n_blocks, x, r, skin, r_max, grid, nlist, scratch)
    else:
        build_rows(0, x.shape[0], x, r, skin, r_max, grid, nlist, scratch)
    longest = nnb.max() if nnb.shape[0] else 0
    if longest > nbr.shape[1]:
        nbr[:] = old_nbr
        nnb[:] = old_nnb
        hist[:] = old_hist
        return 1, longest
    x_build[:] = x
    return 0, -1
