"""Walls: horizontal planes (current collector, moving plate) and a cylindrical roll section.

A wall is a small object the protocols move between `Simulation.run` calls (set its position or
velocity); during a run the engine moves it with its velocity. After each run it holds the force the
particles exerted on it in the last step (`force`, N) and averaged over the run (`mean_force`, N).
Its `type_id` picks its row of the ContactParams tables (a wall is a material like the particles).
Contacts with walls use R* = r_i and m* = m_i (infinite wall radius and mass).

The kernels see the walls as arrays: kind (W,) int64 and geometry (W, GEOM_SIZE) float64, with
    PLANE: [z, normal_sign, vx, vy, vz, 0, 0, 0]
    ROLL:  [x_c, z_c, radius, vx, vz, omega_y, 0, 0]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numba
import numpy as np

from sims.errors import PhysicalInputError

PLANE = 0
ROLL = 1
GEOM_SIZE = 8


@dataclass
class PlaneWall:
    """The plane z = `z` (m); `normal` = +1: particles above it (current collector), -1: below (plate).

    velocity: (3,) m/s; its z part moves the plane, its x, y parts only enter the friction.
    """

    z: float
    normal: int = 1
    velocity: tuple[float, float, float] = (0.0, 0.0, 0.0)
    type_id: int = 0
    force: np.ndarray = field(default_factory=lambda: np.zeros(3))
    mean_force: np.ndarray = field(default_factory=lambda: np.zeros(3))

    def __post_init__(self) -> None:
        if self.normal not in (1, -1):
            raise PhysicalInputError(f"PlaneWall normal must be +1 or -1, got {self.normal}")
        _check_finite("PlaneWall z", [self.z])
        _check_finite("PlaneWall velocity", self.velocity, size=3)
        _check_type("PlaneWall", self.type_id)

    def geometry(self) -> tuple[int, np.ndarray]:
        """(kind, geometry row) for the kernels."""
        g = np.zeros(GEOM_SIZE)
        g[0], g[1] = self.z, float(self.normal)
        g[2:5] = self.velocity
        return PLANE, g

    def update_from(self, geom: np.ndarray) -> None:
        """Take the position the kernel moved the wall to."""
        self.z = float(geom[0])


@dataclass
class RollWall:
    """A roll (cylinder of axis y) of `radius` (m) centred at x = `center_x`, z = `center_z` (m).

    Particles stay outside it. velocity: (vx, vz) m/s of the axis; angular_velocity: rad/s about +y
    (surface speed angular_velocity * radius; it enters the friction). In the periodic box the
    particle sees the nearest periodic image of the axis in x, so use a box longer in x than the
    roll's contact arc with the electrode.
    """

    center_x: float
    center_z: float
    radius: float
    velocity: tuple[float, float] = (0.0, 0.0)
    angular_velocity: float = 0.0
    type_id: int = 0
    force: np.ndarray = field(default_factory=lambda: np.zeros(3))
    mean_force: np.ndarray = field(default_factory=lambda: np.zeros(3))

    def __post_init__(self) -> None:
        _check_finite("RollWall center", [self.center_x, self.center_z])
        _check_finite("RollWall velocity", self.velocity, size=2)
        _check_finite("RollWall angular_velocity", [self.angular_velocity])
        if not np.isfinite(self.radius) or self.radius <= 0.0:
            raise PhysicalInputError(f"RollWall radius must be finite and > 0, got {self.radius}")
        _check_type("RollWall", self.type_id)

    def geometry(self) -> tuple[int, np.ndarray]:
        """(kind, geometry row) for the kernels."""
        g = np.zeros(GEOM_SIZE)
        g[0], g[1], g[2] = self.center_x, self.center_z, self.radius
        g[3], g[4], g[5] = self.velocity[0], self.velocity[1], self.angular_velocity
        return ROLL, g

    def update_from(self, geom: np.ndarray) -> None:
        """Take the position the kernel moved the roll to."""
        self.center_x, self.center_z = float(geom[0]), float(geom[1])


Wall = PlaneWall | RollWall


def pack_walls(walls: Sequence[Wall], n_types: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(kind (W,) int64, geometry (W, GEOM_SIZE) float64, type_id (W,) int64) of `walls`."""
    kind = np.zeros(len(walls), dtype=np.int64)
    geom = np.zeros((len(walls), GEOM_SIZE))
    type_id = np.zeros(len(walls), dtype=np.int64)
    for w, wall in enumerate(walls):
        if wall.type_id >= n_types:
            raise PhysicalInputError(f"wall {w} type_id {wall.type_id} >= number of types {n_types}")
        kind[w], geom[w] = wall.geometry()
        type_id[w] = wall.type_id
    return kind, geom, type_id


def same_surface(kind_a: int, geom_a: np.ndarray, kind_b: int, geom_b: np.ndarray) -> bool:
    """Whether two packed walls are the same surface in the same place (a plane's z and side, a
    roll's axis and radius; velocities aside), to within 1 pm."""
    if kind_a != kind_b:
        return False
    n = 2 if kind_a == PLANE else 3
    return bool(np.allclose(geom_a[:n], geom_b[:n], rtol=0.0, atol=1e-12))


def _check_finite(name: str, values: Sequence[float], size: int | None = None) -> None:
    arr = np.asarray(values, dtype=np.float64)
    if (size is not None and arr.shape != (size,)) or not np.all(np.isfinite(arr)):
        raise PhysicalInputError(f"{name} must be {size or len(arr)} finite numbers, got {values}")


def _check_type(name: str, type_id: int) -> None:
    if int(type_id) != type_id or type_id < 0:
        raise PhysicalInputError(f"{name} type_id must be a non-negative integer, got {type_id}")


@numba.njit(cache=True, inline="always")
def wall_contact(kind, g, px, py, pz, lx):
    """Geometry of a sphere centre (px, py, pz) against one wall of geometry g (tuple, first 6 values).

    Returns (distance from the surface to the centre (m), unit normal from the wall to the centre
    (3,), velocity of the wall surface at the contact point (3, m/s)). `lx` is the periodic box
    length in x (the roll axis nearest in x is used).
    """
    if kind == PLANE:
        s = g[1]
        return (pz - g[0]) * s, (0.0, 0.0, s), (g[2], g[3], g[4])
    dx = px - g[0]
    dx -= lx * np.floor(dx / lx + 0.5)
    dz = pz - g[1]
    d = np.sqrt(dx * dx + dz * dz)
    nx = dx / d
    nz = dz / d
    # surface point c + R n moves with v_axis + omega_y e_y x (R n) = v_axis + omega R (nz, 0, -nx)
    wr = g[5] * g[2]
    return d - g[2], (nx, 0.0, nz), (g[3] + wr * nz, 0.0, g[4] - wr * nx)


@numba.njit(cache=True)
def move_walls(kind, geom, dt):
    """Advance every wall by its velocity over dt (s)."""
    for w in range(len(kind)):
        if kind[w] == PLANE:
            geom[w, 0] += geom[w, 4] * dt
        else:
            geom[w, 0] += geom[w, 3] * dt
            geom[w, 1] += geom[w, 4] * dt
