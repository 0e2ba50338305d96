"""Forces and velocity-Verlet stepping of the spheres, many steps per numba call (`run_steps`).

One step: half kick (v += dt/2 F/m, omega += dt/2 T/I), drift (x += dt v), walls move, the neighbour
list is rebuilt if some particle moved more than skin/2 since the last build, forces and torques
are computed (contacts, walls, gravity, Stokes drag), second half kick, checks.

Two force loops: `forces_half` runs serially over a half list (each pair once, Newton's third law);
`forces_full` runs in parallel over particles with a full list (each pair seen from both sides, each
thread writes only its own particle). `run_steps(parallel, ...)` picks the matching pair.

The checks stop the run on a broken state, with a status code and the culprit in `fail`:
ESCAPED (outside the box in z), NOT_FINITE (NaN/inf velocity), OVERLAP (overlap beyond the bound,
a fraction of the smaller radius), TOO_FAST (speed beyond the bound: kinetic energy exploding).
OVERFLOW is not a failure: a neighbour row outgrew its capacity; the caller grows it and resumes.
"""

from __future__ import annotations

import math

import numba

from sims.dem.contact import (
    elastic_plastic_normal,
    normal_damping,
    rolling_cdt,
    sjkr2_cohesion,
    tangential_history,
)
from sims.dem.neighbors import rebuild
from sims.dem.walls import ROLL, move_walls, wall_contact

OK = 0
OVERFLOW = 1
ESCAPED = 2
NOT_FINITE = 3
OVERLAP = 4
TOO_FAST = 5


@numba.njit(cache=True)
def contact_force(delta, n, vr, w_rel, cri, reff, meff, tt, hist, k, tables, dt, a_coh):
    """One contact of i: force on i (3, N), torque on i from the tangential force (3, N m) and
    rolling torque on i (3, N m).

    n: unit normal towards i; vr: velocity of i's contact point relative to the partner's (m/s);
    w_rel: omega_i - omega_partner (rad/s); cri: centre-to-contact distance of i (m); tt: the pair's
    types; hist[k]: this contact's history row (updated); a_coh: sjkr2 area radius (m).
    """
    ystar_t, gstar_t, beta_t, mu_t, mur_t, coh_t, py_t = tables
    ti, tj = tt
    nx, ny, nz = n
    vrx, vry, vrz = vr
    ystar = ystar_t[ti, tj]
    beta = beta_t[ti, tj]
    vn = vrx * nx + vry * ny + vrz * nz
    f_el, dmax = elastic_plastic_normal(delta, hist[k, 3], reff, ystar, py_t[ti, tj])
    hist[k, 3] = dmax
    f_damp, _ = normal_damping(delta, vn, reff, meff, ystar, beta)
    fn = f_el + f_damp
    f_total_n = fn
    coh = coh_t[ti, tj]
    if coh > 0.0:
        f_total_n += sjkr2_cohesion(delta, a_coh, coh)
    fx = f_total_n * nx
    fy = f_total_n * ny
    fz = f_total_n * nz
    tx = 0.0
    ty = 0.0
    tz = 0.0
    mu = mu_t[ti, tj]
    if mu > 0.0:
        vtx = vrx - vn * nx
        vty = vry - vn * ny
        vtz = vrz - vn * nz
        ftx, fty, ftz = tangential_history(
            hist, k, nx, ny, nz, vtx, vty, vtz, delta, reff, meff, gstar_t[ti, tj], beta, mu, fn, dt
        )
        fx += ftx
        fy += fty
        fz += ftz
        # the tangential force acts at -cri n from the centre: torque -cri n x ft
        tx = -cri * (ny * ftz - nz * fty)
        ty = -cri * (nz * ftx - nx * ftz)
        tz = -cri * (nx * fty - ny * ftx)
    rx = 0.0
    ry = 0.0
    rz = 0.0
    mur = mur_t[ti, tj]
    if mur > 0.0:
        rx, ry, rz = rolling_cdt(w_rel[0], w_rel[1], w_rel[2], nx, ny, nz, reff, mur, fn)
    return (fx, fy, fz), (tx, ty, tz), (rx, ry, rz)


@numba.njit(cache=True)
def pair_force(i, k, particles, nlist, tables, dt, checks):
    """Contact of i with its k-th neighbour. Returns (in_contact, force on i (3), torque on i (3),
    torque on the neighbour (3)); resets the history of a pair that is not touching."""
    x, v, w, _, _, r, m, _, _, typ = particles
    nbr, shift, _, hist = nlist
    max_overlap, _, fail, fail_value = checks
    j = nbr[i, k]
    dx = x[i, 0] - x[j, 0] - shift[i, k, 0]
    dy = x[i, 1] - x[j, 1] - shift[i, k, 1]
    dz = x[i, 2] - x[j, 2]
    rs = r[i] + r[j]
    d2 = dx * dx + dy * dy + dz * dz
    if d2 >= rs * rs:
        if hist[i, k, 3] != 0.0:
            hist[i, k, 0] = 0.0
            hist[i, k, 1] = 0.0
            hist[i, k, 2] = 0.0
            hist[i, k, 3] = 0.0
        zero = (0.0, 0.0, 0.0)
        return False, zero, zero, zero
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
    reff = r[i] * r[j] / rs
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
    meff = m[i] * m[j] / (m[i] + m[j])
    fi, ti, ri = contact_force(
        delta, (nx, ny, nz), vr, w_rel, cri, reff, meff, (typ[i], typ[j]), hist[i], k, tables, dt, 2.0 * reff
    )
    # the tangential force on j is -ft at +crj n: torque -crj n x ft = (crj / cri) times i's
    sj = crj / cri
    torque_i = (ti[0] + ri[0], ti[1] + ri[1], ti[2] + ri[2])
    torque_j = (sj * ti[0] - ri[0], sj * ti[1] - ri[1], sj * ti[2] - ri[2])
    return True, fi, torque_i, torque_j


@numba.njit(cache=True)
def body_force(i, particles, env):
    """Gravity and Stokes drag on i: force (3, N) and torque (3, N m)."""
    _, v, w, _, _, r, m, _, _, _ = particles
    gravity, viscosity = env
    c = 6.0 * math.pi * viscosity * r[i]
    ct = 8.0 * math.pi * viscosity * r[i] ** 3
    return (
        (m[i] * gravity[0] - c * v[i, 0], m[i] * gravity[1] - c * v[i, 1], m[i] * gravity[2] - c * v[i, 2]),
        (-ct * w[i, 0], -ct * w[i, 1], -ct * w[i, 2]),
    )


@numba.njit(cache=True)
def forces_half(particles, nlist, tables, dt, env, checks):
    """Forces and torques (serial, half list): body forces plus every pair once."""
    f = particles[3]
    t = particles[4]
    nbr = nlist[0]
    nnb = nlist[2]
    for i in range(f.shape[0]):
        fb, tb = body_force(i, particles, env)
        for d in range(3):
            f[i, d] = fb[d]
            t[i, d] = tb[d]
    for i in range(f.shape[0]):
        for k in range(nnb[i]):
            touch, fi, ti, tj = pair_force(i, k, particles, nlist, tables, dt, checks)
            if touch:
                j = nbr[i, k]
                for d in range(3):
                    f[i, d] += fi[d]
                    f[j, d] -= fi[d]
                    t[i, d] += ti[d]
                    t[j, d] += tj[d]


@numba.njit(cache=True, parallel=True)
def forces_full(particles, nlist, tables, dt, env, checks):
    """Forces and torques (parallel over particles, full list): each particle sums its own pairs."""
    f = particles[3]
    t = particles[4]
    nnb = nlist[2]
    for i in numba.prange(f.shape[0]):
        fb, tb = body_force(i, particles, env)
        fx, fy, fz = fb
        tx, ty, tz = tb
        for k in range(nnb[i]):
            touch, fi, ti, _ = pair_force(i, k, particles, nlist, tables, dt, checks)
            if touch:
                fx += fi[0]
                fy += fi[1]
                fz += fi[2]
                tx += ti[0]
                ty += ti[1]
                tz += ti[2]
        f[i, 0] = fx
        f[i, 1] = fy
        f[i, 2] = fz
        t[i, 0] = tx
        t[i, 1] = ty
        t[i, 2] = tz


@numba.njit(cache=True)
def wall_forces(particles, walls, tables, lx, dt, checks):
    """Contacts of every particle with every wall: adds to f, t, and sets wall_force (W, 3), the force
    the particles exert on each wall (N)."""
    x, v, w, f, t, r, m, _, _, typ = particles
    kind, geom, wtype, whist, wforce = walls
    max_overlap, _, fail, fail_value = checks
    wforce[:] = 0.0
    for i in range(x.shape[0]):
        for q in range(kind.shape[0]):
            dist, nx, ny, nz, sx, sy, sz = wall_contact(kind[q], geom[q], x[i, 0], x[i, 1], x[i, 2], lx)
            delta = r[i] - dist
            if delta <= 0.0:
                if whist[i, q, 3] != 0.0:
                    whist[i, q, :] = 0.0
                continue
            if delta > max_overlap * r[i]:
                fail[0] = OVERLAP
                fail[1] = i
                fail_value[0] = delta / r[i]
            vr = (
                v[i, 0] - sx - dist * (w[i, 1] * nz - w[i, 2] * ny),
                v[i, 1] - sy - dist * (w[i, 2] * nx - w[i, 0] * nz),
                v[i, 2] - sz - dist * (w[i, 0] * ny - w[i, 1] * nx),
            )
            w_wall_y = geom[q, 5] if kind[q] == ROLL else 0.0
            w_rel = (w[i, 0], w[i, 1] - w_wall_y, w[i, 2])
            fi, ti, ri = contact_force(
                delta,
                (nx, ny, nz),
                vr,
                w_rel,
                dist,
                r[i],
                m[i],
                (typ[i], wtype[q]),
                whist[i],
                q,
                tables,
                dt,
                r[i],
            )
            for d in range(3):
                f[i, d] += fi[d]
                t[i, d] += ti[d] + ri[d]
                wforce[q, d] -= fi[d]


@numba.njit(cache=True)
def _kick_drift_one(i, dt, particles, x_build, lim2, z_lo, z_hi, fail):
    x, v, w, f, t, _, _, inv_m, inv_i, _ = particles
    h = 0.5 * dt
    for d in range(3):
        v[i, d] += h * f[i, d] * inv_m[i]
        w[i, d] += h * t[i, d] * inv_i[i]
        x[i, d] += dt * v[i, d]
    if not (x[i, 2] >= z_lo and x[i, 2] <= z_hi):
        fail[0] = ESCAPED
        fail[1] = i
    dx = x[i, 0] - x_build[i, 0]
    dy = x[i, 1] - x_build[i, 1]
    dz = x[i, 2] - x_build[i, 2]
    return 1 if dx * dx + dy * dy + dz * dz > lim2 else 0


@numba.njit(cache=True)
def _kick_one(i, dt, particles, checks):
    _, v, w, f, t, _, _, inv_m, inv_i, _ = particles
    _, vmax2, fail, fail_value = checks
    h = 0.5 * dt
    for d in range(3):
        v[i, d] += h * f[i, d] * inv_m[i]
        w[i, d] += h * t[i, d] * inv_i[i]
    v2 = v[i, 0] * v[i, 0] + v[i, 1] * v[i, 1] + v[i, 2] * v[i, 2]
    w2 = w[i, 0] * w[i, 0] + w[i, 1] * w[i, 1] + w[i, 2] * w[i, 2]
    if not math.isfinite(v2 + w2):
        fail[0] = NOT_FINITE
        fail[1] = i
    elif v2 > vmax2:
        fail[0] = TOO_FAST
        fail[1] = i
        fail_value[0] = math.sqrt(v2)


@numba.njit(cache=True)
def kick_drift_serial(dt, particles, x_build, lim2, z_lo, z_hi, fail):
    """First half kick and drift; returns how many particles moved beyond sqrt(lim2) since the build."""
    n_far = 0
    for i in range(x_build.shape[0]):
        n_far += _kick_drift_one(i, dt, particles, x_build, lim2, z_lo, z_hi, fail)
    return n_far


@numba.njit(cache=True, parallel=True)
def kick_drift_parallel(dt, particles, x_build, lim2, z_lo, z_hi, fail):
    """First half kick and drift in parallel; returns how many particles moved beyond sqrt(lim2)."""
    n_far = 0
    for i in numba.prange(x_build.shape[0]):
        n_far += _kick_drift_one(i, dt, particles, x_build, lim2, z_lo, z_hi, fail)
    return n_far


@numba.njit(cache=True)
def kick_serial(dt, particles, checks):
    """Second half kick with the NaN and speed checks."""
    for i in range(particles[0].shape[0]):
        _kick_one(i, dt, particles, checks)


@numba.njit(cache=True, parallel=True)
def kick_parallel(dt, particles, checks):
    """Second half kick with the NaN and speed checks, in parallel."""
    for i in numba.prange(particles[0].shape[0]):
        _kick_one(i, dt, particles, checks)


@numba.njit(cache=True)
def compute_forces(parallel, particles, nlist, tables, walls, lx, dt, env, checks):
    """All forces and torques at the current state; the walls' force rows are overwritten."""
    if parallel:
        forces_full(particles, nlist, tables, dt, env, checks)
    else:
        forces_half(particles, nlist, tables, dt, env, checks)
    wall_forces(particles, walls, tables, lx, dt, checks)


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
):
    """Advance n_steps velocity-Verlet steps; returns (status, steps completed).

    particles = (x, v, omega, f, torque, r, m, 1/m, 1/I, type_id); nlist, scratch, grid: see
    neighbors.rebuild; walls = (kind, geom, type_id, hist (N, W, HIST_SIZE), force (W, 3));
    env = (gravity (3,), fluid viscosity); checks = (max overlap fraction, max speed^2, fail (2,)
    int64, fail_value (1,)). resume: the previous call stopped with OVERFLOW inside a step (after the
    drift): finish that step first. counters[0] counts list rebuilds; wall_force_sum (W, 3) adds up
    the per-step wall forces (N). On a failure, fail[1] is the culprit and fail_value[0] a measure.
    """
    fail = checks[2]
    fail_value = checks[3]
    lo, length, _ = grid
    geom = walls[1]
    wall_force = walls[4]
    half = not parallel
    lim2 = 0.25 * skin * skin
    for s in range(n_steps):
        need_build = True
        if not (resume and s == 0):
            if parallel:
                n_far = kick_drift_parallel(dt, particles, scratch[3], lim2, lo[2], lo[2] + length[2], fail)
            else:
                n_far = kick_drift_serial(dt, particles, scratch[3], lim2, lo[2], lo[2] + length[2], fail)
            move_walls(walls[0], geom, dt)
            if fail[0] != OK:
                return fail[0], s
            need_build = n_far > 0
        if need_build:
            status, info = rebuild(parallel, half, particles[0], particles[5], skin, grid, nlist, scratch)
            if status == 1:
                fail_value[0] = info
                return OVERFLOW, s
            if status == 2:
                fail[0] = ESCAPED
                fail[1] = info
                return ESCAPED, s
            counters[0] += 1
        compute_forces(parallel, particles, nlist, tables, walls, length[0], dt, env, checks)
        for q in range(wall_force.shape[0]):
            for d in range(3):
                wall_force_sum[q, d] += wall_force[q, d]
        if parallel:
            kick_parallel(dt, particles, checks)
        else:
            kick_serial(dt, particles, checks)
        if fail[0] != OK:
            return fail[0], s + 1
    return OK, n_steps
