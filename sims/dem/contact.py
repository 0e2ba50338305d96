"""Contact laws as small numba functions of the contact geometry and the pair constants (SI units).

Conventions: for particle i against j (or a wall), n is the unit normal from j to i, delta > 0 the
overlap, R* and m* the effective radius and mass, vn = (v_i - v_j) . n the normal relative velocity
(negative while approaching). Forces are returned as the force on i along n (positive pushes i
away from j). History per contact: shear displacement (3) and largest overlap reached (1).

- `elastic_plastic_normal`: Hertz (p_y = inf) or Thornton's elastic-perfectly-plastic law: Hertz up to
  the yield overlap, then linear loading at the limiting pressure p_y; unloading and reloading along a
  stiffer Hertz curve of larger radius R_p that ends at a residual (plastic) overlap delta_p.
  C. Thornton, J. Appl. Mech. 64 (1997) 383; Thornton & Ning, Powder Technol. 99 (1998) 154.
- `normal_damping`: LIGGGHTS hertz damping, -gamma_n vn, gamma_n = 2 sqrt(5/6) beta sqrt(S_n m*).
- `sjkr2_cohesion`: LIGGGHTS sjkr2, -k A with A = 2 pi delta a (a = 2 R* between spheres, r at a wall).
- `tangential_history`: LIGGGHTS tangential history: spring k_t = 8 G* sqrt(R* delta) on the total
  shear displacement, damping gamma_t, Coulomb limit mu |F_n| (F_n: elastic + damping, as LIGGGHTS
  with tangential_reduce off).
- `rolling_cdt`: constant directional torque mu_r R* |F_n| against the relative rolling velocity.
- `contact_force`: all of them for one contact (a function of scalars and tuples only: it is
  inlined into the kernels' loops).
"""

from __future__ import annotations

import math

import numba

SQRT_5_6 = math.sqrt(5.0 / 6.0)
HIST_SIZE = 4  # shear x, y, z (m) and largest overlap (m)


@numba.njit(cache=True, inline="always")
def elastic_plastic_normal(delta, delta_max, reff, ystar, p_y):
    """Normal elastic(-plastic) force (N) at overlap delta (m) and the updated largest overlap (m).

    delta_max (m) is the largest overlap of this contact so far (0 for a new contact); p_y (Pa) the
    limiting contact pressure, math.inf for a purely elastic Hertz contact.
    """
    if p_y == math.inf:
        # written with sqrt(R* delta), which the damping and tangential laws share once inlined
        return 4.0 / 3.0 * ystar * delta * math.sqrt(reff * delta), max(delta, delta_max)
    k_hertz = 4.0 / 3.0 * ystar * math.sqrt(reff)
    delta_y = (0.5 * math.pi * p_y / ystar) ** 2 * reff
    f_y = k_hertz * delta_y * math.sqrt(delta_y)
    if delta >= delta_max:
        if delta <= delta_y:
            return k_hertz * delta * math.sqrt(delta), delta
        return f_y + math.pi * p_y * reff * (delta - delta_y), delta
    if delta_max <= delta_y:
        return k_hertz * delta * math.sqrt(delta), delta_max
    f_max = f_y + math.pi * p_y * reff * (delta_max - delta_y)
    r_p = 4.0 * ystar / (3.0 * f_max) * ((2.0 * f_max + f_y) / (2.0 * math.pi * p_y)) ** 1.5
    k_unload = 4.0 / 3.0 * ystar * math.sqrt(r_p)
    delta_p = delta_max - (f_max / k_unload) ** (2.0 / 3.0)
    if delta <= delta_p:
        return 0.0, delta_max
    d = delta - delta_p
    return k_unload * d * math.sqrt(d), delta_max


@numba.njit(cache=True, inline="always")
def normal_damping(delta, vn, reff, meff, ystar, beta):
    """LIGGGHTS hertz normal damping force (N) and S_n = 2 Y* sqrt(R* delta) (N/m)."""
    s_n = 2.0 * ystar * math.sqrt(reff * delta)
    return -2.0 * SQRT_5_6 * beta * math.sqrt(s_n * meff) * vn, s_n


@numba.njit(cache=True, inline="always")
def sjkr2_cohesion(delta, area_radius, k_coh):
    """sjkr2 cohesion force (N, negative: attractive); area_radius a = 2 R* (spheres) or r (wall)."""
    return -k_coh * 2.0 * math.pi * delta * area_radius


@numba.njit(cache=True, inline="always")
def tangential_history(shear, n, vt, delta, reff, meff, gstar, beta, mu, fn, dt):
    """Tangential force on i (3, N) and the updated shear displacement (3, m).

    shear: the contact's shear displacement so far (m); n: unit normal; vt: tangential relative
    velocity (m/s) at the contact; fn: normal force (N) for the Coulomb limit.
    """
    nx, ny, nz = n
    sx = shear[0] + vt[0] * dt
    sy = shear[1] + vt[1] * dt
    sz = shear[2] + vt[2] * dt
    # keep the spring in the current tangent plane (the contact rotates), as LAMMPS and LIGGGHTS do
    sn = sx * nx + sy * ny + sz * nz
    sx -= sn * nx
    sy -= sn * ny
    sz -= sn * nz
    s_t = 8.0 * gstar * math.sqrt(reff * delta)
    k_t = s_t
    fs2 = k_t * k_t * (sx * sx + sy * sy + sz * sz)
    f_coulomb = mu * abs(fn)
    if fs2 > f_coulomb * f_coulomb:
        ratio = f_coulomb / math.sqrt(fs2)
        sx *= ratio
        sy *= ratio
        sz *= ratio
        ftx = -k_t * sx
        fty = -k_t * sy
        ftz = -k_t * sz
    else:
        gamma_t = 2.0 * SQRT_5_6 * beta * math.sqrt(s_t * meff)
        ftx = -k_t * sx - gamma_t * vt[0]
        fty = -k_t * sy - gamma_t * vt[1]
        ftz = -k_t * sz - gamma_t * vt[2]
    return (ftx, fty, ftz), (sx, sy, sz)


@numba.njit(cache=True, inline="always")
def rolling_cdt(w_rel, n, reff, mu_r, fn):
    """Rolling-resistance torque on i (3, N m); w_rel = omega_i - omega_j (rad/s), twist removed."""
    wx, wy, wz = w_rel
    nx, ny, nz = n
    wn = wx * nx + wy * ny + wz * nz
    rx = wx - wn * nx
    ry = wy - wn * ny
    rz = wz - wn * nz
    mag = math.sqrt(rx * rx + ry * ry + rz * rz)
    if mag == 0.0:
        return 0.0, 0.0, 0.0
    c = -mu_r * reff * abs(fn) / mag
    return c * rx, c * ry, c * rz


@numba.njit(cache=True, inline="always")
def contact_force(delta, n, vr, w_rel, cri, reff, meff, history, pair, dt, a_coh):
    """All laws together for one contact of i: (force on i (3, N), torque on i (3, N m) from the
    tangential force and the rolling resistance, torque of the tangential force alone (3, N m),
    updated history (4)).

    n: unit normal towards i; vr: velocity of i's contact point relative to the partner's (m/s);
    w_rel: omega_i - omega_partner (rad/s); cri: centre-to-contact distance of i (m); history:
    (shear x, y, z, largest overlap); pair: (Y*, G*, beta, mu, mu_r, cohesion, p_y) of the pair;
    a_coh: sjkr2 area radius (m).
    """
    ystar, gstar, beta, mu, mu_r, k_coh, p_y = pair
    nx, ny, nz = n
    vn = vr[0] * nx + vr[1] * ny + vr[2] * nz
    f_el, delta_max = elastic_plastic_normal(delta, history[3], reff, ystar, p_y)
    f_damp, _ = normal_damping(delta, vn, reff, meff, ystar, beta)
    fn = f_el + f_damp
    f_along_n = fn + sjkr2_cohesion(delta, a_coh, k_coh) if k_coh > 0.0 else fn
    fx = f_along_n * nx
    fy = f_along_n * ny
    fz = f_along_n * nz
    tx = ty = tz = 0.0
    sx, sy, sz = history[0], history[1], history[2]
    if mu > 0.0:
        vt = (vr[0] - vn * nx, vr[1] - vn * ny, vr[2] - vn * nz)
        ft, shear = tangential_history((sx, sy, sz), n, vt, delta, reff, meff, gstar, beta, mu, fn, dt)
        sx, sy, sz = shear
        fx += ft[0]
        fy += ft[1]
        fz += ft[2]
        # the tangential force acts at -cri n from the centre: torque -cri n x ft
        tx = -cri * (ny * ft[2] - nz * ft[1])
        ty = -cri * (nz * ft[0] - nx * ft[2])
        tz = -cri * (nx * ft[1] - ny * ft[0])
    rx = ry = rz = 0.0
    if mu_r > 0.0:
        rx, ry, rz = rolling_cdt(w_rel, n, reff, mu_r, fn)
    return (fx, fy, fz), (tx + rx, ty + ry, tz + rz), (tx, ty, tz), (sx, sy, sz, delta_max)
