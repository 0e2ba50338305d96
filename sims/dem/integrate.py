"""Forces and velocity-Verlet stepping of the spheres, many steps per numba call (`run_steps`).

One step: half kick (v += dt/2 F/m, omega += dt/2 T/I), drift (x += dt v), walls move, the neighbour
list is rebuilt if some particle moved more than skin/2 since the last build, forces and torques
are computed (contacts, walls, gravity, Stokes drag), second half kick, checks. The second half kick
of a step and the first of the next are done together (`advance_rows`, mode STEP); a run ends with
the second half kick alone (FINISH), so that between runs velocities and forces are in step.

Pair forces run over the half list (each pair once, Newton's third law). With T threads, thread b
takes the b-th block of rows and adds its pair and wall forces into its own buffer (T, N, 3); the
next parallel loop sums the buffers (plus gravity and drag) into f and t, kicks and drifts. So a
step opens two parallel regions (each costs tens of microseconds on a busy machine), plus the
list build when it is due.

Performance notes: the array tuples are unpacked once per row function, never per particle or
pair (unpacking a tuple of arrays in an inner loop costs reference counting on each array and made
the loops five times slower); the per-pair helpers take scalars and are inlined. Parallel loops run
over row blocks that call the serial row functions, which keeps numba's parfor pass away from them.
A full list (each pair computed from both sides, no buffers) was measured 1.5-2x slower at two
threads than this: it does every pair twice.

The checks stop the run on a broken state, with a status code and the culprit in `fail`:
ESCAPED (outside the box in z), NOT_FINITE (NaN/inf velocity), OVERLAP (overlap beyond the bound,
a fraction of the smaller radius), TOO_FAST (speed beyond the bound: kinetic energy exploding).
OVERFLOW is not a failure: a neighbour row outgrew its capacity; the caller grows it and resumes.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from sims.dem.contact import contact_force
from sims.dem.neighbors import rebuild
from sims.dem.walls import ROLL, move_walls, wall_contact

OK = 0
OVERFLOW = 1
ESCAPED = 2
NOT_FINITE = 3
OVERLAP = 4
TOO_FAST = 5


@numba.njit(cache=True)
def pair_rows(i0, i1, particles, nlist, tables, dt, checks, f, t):
    """Add the contact forces (N) and torques (N m) of rows i0..i1-1 of the half list to f, t (N, 3)
    (each pair's to both partners), and update the contact histories of those rows."""
    x, v, w, _, _, r, m, _, _, typ = particles
    nbr, shift, nnb, hist = nlist
    max_overlap, _, fail, fail_value = checks
    ystar_t, gstar_t, beta_t, mu_t, mur_t, coh_t, py_t = tables
    for i in range(i0, i1):
        fx = fy = fz = tx = ty = tz = 0.0
        for k in range(nnb[i]):
            j = nbr[i, k]
            dx = x[i, 0] - x[j, 0] - shift[i, k, 0]
            dy = x[i, 1] - x[j, 1] - shift[i, k, 1]
            dz = x[i, 2] - x[j, 2]
            rs = r[i] + r[j]
            d2 = dx * dx + dy * dy + dz * dz
            if d2 >= rs * rs:
                if hist[i, k, 3] != 0.0:  # contact lost: forget its history
                    for h in range(4):
                        hist[i, k, h] = 0.0
                continue
            d = math.sqrt(d2)
            delta = rs - d
            r_min = min(r[i], r[j])
            if delta > max_overlap * r_min:
                fail[0] = OVERLAP
                fail[1] = i
                fail_value[0] = delta / r_min
            nx = dx / d
            ny = dy / d
            nz = dz / d
            cri = r[i] - 0.5 * delta
            crj = r[j] - 0.5 * delta
            # velocity of i's contact point relative to j's: v_i - v_j - (cri w_i + crj w_j) x n
            cwx = cri * w[i, 0] + crj * w[j, 0]
            cwy = cri * w[i, 1] + crj * w[j, 1]
            cwz = cri * w[i, 2] + crj * w[j, 2]
            vr = (
                v[i, 0] - v[j, 0] - (cwy * nz - cwz * ny),
                v[i, 1] - v[j, 1] - (cwz * nx - cwx * nz),
                v[i, 2] - v[j, 2] - (cwx * ny - cwy * nx),
            )
            w_rel = (w[i, 0] - w[j, 0], w[i, 1] - w[j, 1], w[i, 2] - w[j, 2])
            reff = r[i] * r[j] / rs
            meff = m[i] * m[j] / (m[i] + m[j])
            history = (hist[i, k, 0], hist[i, k, 1], hist[i, k, 2], hist[i, k, 3])
            ti = typ[i]
            tj = typ[j]
            fi, ti, t_tan, new_hist = contact_force(
                delta,
                (nx, ny, nz),
                vr,
                w_rel,
                cri,
                reff,
                meff,
                history,
                (
                    ystar_t[ti, tj],
                    gstar_t[ti, tj],
                    beta_t[ti, tj],
                    mu_t[ti, tj],
                    mur_t[ti, tj],
                    coh_t[ti, tj],
                    py_t[ti, tj],
                ),
                dt,
                2.0 * reff,
            )
            hist[i, k, 0], hist[i, k, 1], hist[i, k, 2], hist[i, k, 3] = new_hist
            fx += fi[0]
            fy += fi[1]
            fz += fi[2]
            tx += ti[0]
            ty += ti[1]
            tz += ti[2]
            # on j: -F; the tangential torque scaled by crj/cri; the rolling torque reversed
            sj = crj / cri
            f[j, 0] -= fi[0]
            f[j, 1] -= fi[1]
            f[j, 2] -= fi[2]
            t[j, 0] += (sj + 1.0) * t_tan[0] - ti[0]
            t[j, 1] += (sj + 1.0) * t_tan[1] - ti[1]
            t[j, 2] += (sj + 1.0) * t_tan[2] - ti[2]
        f[i, 0] += fx
        f[i, 1] += fy
        f[i, 2] += fz
        t[i, 0] += tx
        t[i, 1] += ty
        t[i, 2] += tz


@numba.njit(cache=True)
def body_rows(i0, i1, particles, env):
    """Set f, t of particles i0..i1-1 to gravity and the Stokes drag of the fluid at rest."""
    _, v, w, f, t, r, m, _, _, _ = particles
    gravity, viscosity = env
    for i in range(i0, i1):
        c_drag = 6.0 * math.pi * viscosity * r[i]
        c_spin = 8.0 * math.pi * viscosity * r[i] ** 3
        for d in range(3):
            f[i, d] = m[i] * gravity[d] - c_drag * v[i, d]
            t[i, d] = -c_spin * w[i, d]


@numba.njit(cache=True)
def wall_rows(i0, i1, particles, walls, tables, lx, dt, checks, f, t, wforce):
    """Contacts of particles i0..i1-1 with every wall: adds their forces and torques to f, t (N, 3)
    and the forces they exert on the walls to wforce (W, 3), N."""
    x, v, w, _, _, r, m, _, _, typ = particles
    kind, geom, wtype, whist, _ = walls
    max_overlap, _, fail, fail_value = checks
    ystar_t, gstar_t, beta_t, mu_t, mur_t, coh_t, py_t = tables
    for q in range(kind.shape[0]):
        g = (geom[q, 0], geom[q, 1], geom[q, 2], geom[q, 3], geom[q, 4], geom[q, 5])
        w_wall_y = geom[q, 5] if kind[q] == ROLL else 0.0
        for i in range(i0, i1):
            dist, n, s = wall_contact(kind[q], g, x[i, 0], x[i, 1], x[i, 2], lx)
            delta = r[i] - dist
            if delta <= 0.0:
                if whist[i, q, 3] != 0.0:
                    for h in range(4):
                        whist[i, q, h] = 0.0
                continue
            if delta > max_overlap * r[i]:
                fail[0] = OVERLAP
                fail[1] = i
                fail_value[0] = delta / r[i]
            nx, ny, nz = n
            vr = (
                v[i, 0] - s[0] - dist * (w[i, 1] * nz - w[i, 2] * ny),
                v[i, 1] - s[1] - dist * (w[i, 2] * nx - w[i, 0] * nz),
                v[i, 2] - s[2] - dist * (w[i, 0] * ny - w[i, 1] * nx),
            )
            history = (whist[i, q, 0], whist[i, q, 1], whist[i, q, 2], whist[i, q, 3])
            ti = typ[i]
            tq = wtype[q]
            fi, ti, _, new_hist = contact_force(
                delta,
                n,
                vr,
                (w[i, 0], w[i, 1] - w_wall_y, w[i, 2]),
                dist,
                r[i],
                m[i],
                history,
                (
                    ystar_t[ti, tq],
                    gstar_t[ti, tq],
                    beta_t[ti, tq],
                    mu_t[ti, tq],
                    mur_t[ti, tq],
                    coh_t[ti, tq],
                    py_t[ti, tq],
                ),
                dt,
                r[i],
            )
            whist[i, q, 0], whist[i, q, 1], whist[i, q, 2], whist[i, q, 3] = new_hist
            f[i, 0] += fi[0]
            f[i, 1] += fi[1]
            f[i, 2] += fi[2]
            t[i, 0] += ti[0]
            t[i, 1] += ti[1]
            t[i, 2] += ti[2]
            wforce[q, 0] -= fi[0]
            wforce[q, 1] -= fi[1]
            wforce[q, 2] -= fi[2]


START = 0  # first half kick and drift (forces in f)
STEP = 1  # second half kick of the last step and first half kick of the next (one full kick), drift
FINISH = 2  # second half kick only


@numba.njit(cache=True)
def advance_rows(i0, i1, mode, dt, particles, env, buffers, x_build, lim2, z_lo, z_hi, checks):
    """Velocity-Verlet kicks and drift of particles i0..i1-1, with the checks.

    If buffers (T, N, 3) are not empty, f and t are first set to gravity and drag plus the summed
    per-thread pair and wall forces. mode: START, STEP or FINISH (see above). Returns how many
    particles moved beyond sqrt(lim2) since the list was built.
    """
    x, v, w, f, t, _, _, inv_m, inv_i, _ = particles
    f_buf, t_buf = buffers
    _, vmax2, fail, fail_value = checks
    if f_buf.shape[0]:
        body_rows(i0, i1, particles, env)
        for b in range(f_buf.shape[0]):
            for i in range(i0, i1):
                for d in range(3):
                    f[i, d] += f_buf[b, i, d]
                    t[i, d] += t_buf[b, i, d]
    kick = dt if mode == STEP else 0.5 * dt
    n_far = 0
    for i in range(i0, i1):
        for d in range(3):
            v[i, d] += kick * f[i, d] * inv_m[i]
            w[i, d] += kick * t[i, d] * inv_i[i]
        v2 = v[i, 0] * v[i, 0] + v[i, 1] * v[i, 1] + v[i, 2] * v[i, 2]
        w2 = w[i, 0] * w[i, 0] + w[i, 1] * w[i, 1] + w[i, 2] * w[i, 2]
        if not math.isfinite(v2 + w2):
            fail[0] = NOT_FINITE
            fail[1] = i
        elif v2 > vmax2:
            fail[0] = TOO_FAST
            fail[1] = i
            fail_value[0] = math.sqrt(v2)
        if mode == FINISH:
            continue
        for d in range(3):
            x[i, d] += dt * v[i, d]
        if not (x[i, 2] >= z_lo and x[i, 2] <= z_hi):
            fail[0] = ESCAPED if math.isfinite(x[i, 2]) else NOT_FINITE
            fail[1] = i
        dx = x[i, 0] - x_build[i, 0]
        dy = x[i, 1] - x_build[i, 1]
        dz = x[i, 2] - x_build[i, 2]
        if dx * dx + dy * dy + dz * dz > lim2:
            n_far += 1
    return n_far


@numba.njit(cache=True, parallel=True)
def advance_parallel(n_blocks, mode, dt, particles, env, buffers, x_build, lim2, z_lo, z_hi, checks):
    """advance_rows over all particles, n_blocks blocks of rows in parallel (one per thread: every
    block call unpacks the array tuples, and the reference counts the threads then update
    together cost microseconds per call)."""
    n = particles[0].shape[0]
    c = max(1, min(n, n_blocks))
    n_far = 0
    for b in numba.prange(c):
        n_far += advance_rows(
            b * n // c, (b + 1) * n // c, mode, dt, particles, env, buffers, x_build, lim2, z_lo, z_hi, checks
        )
    return n_far


@numba.njit(cache=True)
def balance_rows(nnb, bounds):
    """Split the rows into len(bounds) - 1 blocks of about equal work (list entries + 1 per row):
    block b is rows bounds[b]..bounds[b + 1] - 1. Rows differ in length (big particles have more
    neighbours), so equal row counts would leave one thread waiting for the other."""
    n = nnb.shape[0]
    n_blocks = bounds.shape[0] - 1
    total = 0
    for i in range(n):
        total += nnb[i] + 1
    bounds[0] = 0
    b = 1
    acc = 0
    for i in range(n):
        acc += nnb[i] + 1
        while b < n_blocks and acc * n_blocks >= b * total:
            bounds[b] = i + 1
            b += 1
    for k in range(b, n_blocks + 1):
        bounds[k] = n


@numba.njit(cache=True)
def block_forces(b, bounds, particles, nlist, tables, walls, lx, dt, checks, buffers, wall_buf):
    """Pair and wall forces of rows bounds[b]..bounds[b + 1] - 1 into buffers[.][b], wall_buf[b]."""
    f_buf, t_buf = buffers
    i0 = bounds[b]
    i1 = bounds[b + 1]
    fb = f_buf[b]
    tb = t_buf[b]
    wb = wall_buf[b]
    fb[:] = 0.0
    tb[:] = 0.0
    wb[:] = 0.0
    pair_rows(i0, i1, particles, nlist, tables, dt, checks, fb, tb)
    wall_rows(i0, i1, particles, walls, tables, lx, dt, checks, fb, tb, wb)


@numba.njit(cache=True, parallel=True)
def forces_parallel(bounds, particles, nlist, tables, walls, lx, dt, checks, buffers, wall_buf):
    """Pair and wall forces, one block of rows per thread (see balance_rows), each into its own
    buffer; wall_buf (T, W, 3) gets each block's forces on the walls."""
    for b in numba.prange(buffers[0].shape[0]):
        block_forces(b, bounds, particles, nlist, tables, walls, lx, dt, checks, buffers, wall_buf)


@numba.njit(cache=True)
def compute_forces(particles, nlist, tables, walls, lx, dt, env, checks):
    """All forces and torques at the current state into f, t (serial); the walls' force rows are
    overwritten."""
    n = particles[0].shape[0]
    f = particles[3]
    t = particles[4]
    wforce = walls[4]
    body_rows(0, n, particles, env)
    pair_rows(0, n, particles, nlist, tables, dt, checks, f, t)
    wforce[:] = 0.0
    wall_rows(0, n, particles, walls, tables, lx, dt, checks, f, t, wforce)


@numba.njit(cache=True)
def run_steps(
    parallel,
    n_steps,
    resume,
    dt,
    particles,
    tables,
    nlist,
    scratch,
    grid,
    skin,
    walls,
    wall_force_sum,
    env,
    checks,
    counters,
    buffers,
):
    """Advance n_steps velocity-Verlet steps; returns (status, steps completed).

    particles = (x, v, omega, f, torque, r, m, 1/m, 1/I, type_id); nlist, scratch, grid: see
    neighbors.rebuild; walls = (kind, geom, type_id, hist (N, W, HIST_SIZE), force (W, 3));
    env = (gravity (3,), fluid viscosity); checks = (max overlap fraction, max speed^2, fail (2,)
    int64, fail_value (1,)). resume: the previous call stopped with OVERFLOW inside a step (after the
    drift): finish that step first. buffers: see compute_forces. counters[0] counts list rebuilds;
    wall_force_sum (W, 3) adds up the per-step wall forces (N). On a failure, fail[1] is the culprit
    and fail_value[0] a measure.
    """
    fail = checks[2]
    fail_value = checks[3]
    lo, length, _ = grid
    geom = walls[1]
    wall_force = walls[4]
    n = particles[0].shape[0]
    lim2 = 0.25 * skin * skin
    z_lo = lo[2]
    z_hi = lo[2] + length[2]
    no_buffers = (buffers[0][:0], buffers[1][:0])
    wall_buf = np.zeros((buffers[0].shape[0], wall_force.shape[0], 3))
    n_blocks = buffers[0].shape[0]  # threads (0: serial)
    bounds = np.zeros(n_blocks + 1, dtype=np.int64)
    if parallel:
        balance_rows(nlist[2], bounds)
    for s in range(n_steps):
        need_build = True
        if not (resume and s == 0):
            # closes the last step (its forces are in f, or in the buffers) and opens this one
            mode = START if s == 0 else STEP
            if parallel:
                sum_bufs = buffers if s > 0 else no_buffers
                n_far = advance_parallel(
                    n_blocks, mode, dt, particles, env, sum_bufs, scratch[3], lim2, z_lo, z_hi, checks
                )
            else:
                n_far = advance_rows(
                    0, n, mode, dt, particles, env, no_buffers, scratch[3], lim2, z_lo, z_hi, checks
                )
            move_walls(walls[0], geom, dt)
            if fail[0] != OK:
                return fail[0], s
            need_build = n_far > 0
        if need_build:
            status, info = rebuild(n_blocks, particles[0], particles[5], skin, grid, nlist, scratch)
            if status == 1:
                fail_value[0] = info
                return OVERFLOW, s
            if status == 2:
                fail[0] = ESCAPED
                fail[1] = info
                return ESCAPED, s
            counters[0] += 1
            if parallel:
                balance_rows(nlist[2], bounds)
        if parallel:
            forces_parallel(bounds, particles, nlist, tables, walls, length[0], dt, checks, buffers, wall_buf)
            wall_force[:] = 0.0
            for b in range(wall_buf.shape[0]):
                wall_force += wall_buf[b]
        else:
            compute_forces(particles, nlist, tables, walls, length[0], dt, env, checks)
        wall_force_sum += wall_force
        if fail[0] != OK:
            return fail[0], s + 1
    if parallel:
        advance_parallel(n_blocks, FINISH, dt, particles, env, buffers, scratch[3], lim2, z_lo, z_hi, checks)
    else:
        advance_rows(0, n, FINISH, dt, particles, env, no_buffers, scratch[3], lim2, z_lo, z_hi, checks)
    if fail[0] != OK:
        return fail[0], n_steps
    return OK, n_steps
