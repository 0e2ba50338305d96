"""Particle state (structure of arrays) and the simulation box of the DEM engine.

Units are SI throughout: m, kg, s, N, J, rad/s. Every array is contiguous float64 (int64 for
type ids) so that the numba kernels take them as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from sims.dem.walls import GEOM_SIZE
from sims.errors import PhysicalInputError


@dataclass
class ContactHistory:
    """The contact histories of a `Simulation`, kept with its state so that a new Simulation on the
    same particles resumes them (as LIGGGHTS keeps them in its restart files).

    Without them a restarted bed loses the tangential springs and the largest (plastic) overlaps of
    its contacts: flattened contacts reload along the elastic curve from their residual overlap, and
    a dried film at rest expands by ~10 % when restarted unconfined.

    partner: (N, C) int64, partner j of entry k of row i of the engine's half list (the first
    count[i] entries are used); shift: (N, C, 2) m, the x, y offset of that partner's periodic image;
    count: (N,) int64; pair: (N, C, HIST_SIZE), shear (m, 3) and largest overlap (m) per entry;
    wall_kind (W,), wall_geometry (W, GEOM_SIZE), wall_type (W,): the walls as the kernels saw
    them after the last run; wall: (N, W, HIST_SIZE), the particles' histories against them.
    """

    partner: np.ndarray
    shift: np.ndarray
    count: np.ndarray
    pair: np.ndarray
    wall_kind: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    wall_geometry: np.ndarray = field(default_factory=lambda: np.zeros((0, GEOM_SIZE)))
    wall_type: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    wall: np.ndarray | None = None

    def copy(self) -> ContactHistory:
        """A deep copy."""
        return ContactHistory(**{k: None if v is None else np.array(v) for k, v in self.__dict__.items()})

    def tiled_x(self, tiles: int, lx: float) -> ContactHistory:
        """The histories of `tiles` copies of the state side by side along x (box length lx, m,
        before tiling; copy t holds particles t N .. (t + 1) N - 1, shifted by t lx)."""
        n, cap = self.partner.shape
        used = np.arange(cap)[None, :] < self.count[:, None]
        image = np.rint(self.shift[:, :, 0] / lx).astype(np.int64)  # partner seen one box left/right
        tile = np.repeat(np.arange(tiles), n)[:, None]
        k = np.tile(image, (tiles, 1))
        target = (tile + k) % tiles  # the copy holding the partner image of row i of copy `tile`
        partner = np.where(np.tile(used, (tiles, 1)), np.tile(self.partner, (tiles, 1)) + target * n, -1)
        shift = np.tile(self.shift, (tiles, 1, 1))
        shift[:, :, 0] = (tile - target + k) * lx
        wall = None if self.wall is None else np.concatenate([self.wall] * tiles)
        return ContactHistory(
            partner,
            shift,
            np.tile(self.count, tiles),
            np.tile(self.pair, (tiles, 1, 1)),
            self.wall_kind.copy(),
            self.wall_geometry.copy(),
            self.wall_type.copy(),
            wall,
        )


@dataclass
class ParticleState:
    """Spheres as arrays; N particles, index i is the same particle in every array.

    position: (N, 3) m, velocity: (N, 3) m/s, angular_velocity: (N, 3) rad/s,
    radius: (N,) m, mass: (N,) kg, inertia: (N,) kg m2 (moment of inertia of the sphere),
    type_id: (N,) int64, row/column of the per-type-pair tables of `ContactParams`,
    force: (N, 3) N and torque: (N, 3) N m, the last computed ones (the engine fills them);
    contacts: the contact histories of the last Simulation that ran it (None for a new state).

    The engine wraps positions into the periodic box (x, y) when it rebuilds its neighbour list, so
    between rebuilds a position may lie up to skin/2 outside [lo, hi).
    """

    position: np.ndarray
    velocity: np.ndarray
    angular_velocity: np.ndarray
    radius: np.ndarray
    mass: np.ndarray
    inertia: np.ndarray
    type_id: np.ndarray
    force: np.ndarray
    torque: np.ndarray
    contacts: ContactHistory | None = None

    def __post_init__(self) -> None:
        n = len(self.radius)
        for name in ("position", "velocity", "angular_velocity", "force", "torque"):
            arr = np.ascontiguousarray(getattr(self, name), dtype=np.float64)
            if arr.shape != (n, 3):
                raise PhysicalInputError(f"{name} must have shape ({n}, 3), got {arr.shape}")
            setattr(self, name, arr)
        for name in ("radius", "mass", "inertia"):
            arr = np.ascontiguousarray(getattr(self, name), dtype=np.float64)
            if arr.shape != (n,):
                raise PhysicalInputError(f"{name} must have shape ({n},), got {arr.shape}")
            if not np.all(np.isfinite(arr)) or np.any(arr <= 0.0):
                raise PhysicalInputError(f"{name} must be finite and > 0 for every particle")
            setattr(self, name, arr)
        self.type_id = np.ascontiguousarray(self.type_id, dtype=np.int64)
        if self.type_id.shape != (n,) or (n and self.type_id.min() < 0):
            raise PhysicalInputError(f"type_id must be {n} non-negative integers")
        for name in ("position", "velocity", "angular_velocity"):
            if not np.all(np.isfinite(getattr(self, name))):
                raise PhysicalInputError(f"{name} must be finite")
        if self.contacts is not None and self.contacts.count.shape != (n,):
            raise PhysicalInputError(
                f"contacts hold the histories of {len(self.contacts.count)} particles, the state has {n}"
            )

    @classmethod
    def from_spheres(
        cls,
        position: np.ndarray,
        radius: np.ndarray,
        type_id: np.ndarray,
        density_kg_m3: Sequence[float] | np.ndarray,
        velocity: np.ndarray | None = None,
    ) -> ParticleState:
        """Solid spheres at rest (unless `velocity` is given); `density_kg_m3[t]` is type t's density.

        position: (N, 3) m, radius: (N,) m, type_id: (N,) ints, velocity: (N, 3) m/s or None.
        """
        radius = np.ascontiguousarray(radius, dtype=np.float64)
        type_id = np.ascontiguousarray(type_id, dtype=np.int64)
        density = np.asarray(density_kg_m3, dtype=np.float64)
        if np.any(~np.isfinite(density)) or np.any(density <= 0.0):
            raise PhysicalInputError("density_kg_m3 must be finite and > 0 for every type")
        if len(type_id) and (type_id.min() < 0 or type_id.max() >= len(density)):
            raise PhysicalInputError(f"type_id must lie in [0, {len(density)}) (one density per type)")
        if np.any(~np.isfinite(radius)) or np.any(radius <= 0.0):
            raise PhysicalInputError("radius must be finite and > 0 for every particle")
        n = len(radius)
        mass = density[type_id] * (4.0 / 3.0) * np.pi * radius**3
        zeros = np.zeros((n, 3))
        return cls(
            position=np.array(position, dtype=np.float64),
            velocity=zeros.copy() if velocity is None else np.array(velocity, dtype=np.float64),
            angular_velocity=zeros.copy(),
            radius=radius,
            mass=mass,
            inertia=0.4 * mass * radius**2,
            type_id=type_id,
            force=zeros.copy(),
            torque=zeros.copy(),
        )

    @property
    def n(self) -> int:
        """Number of particles."""
        return len(self.radius)

    def kinetic_energy(self) -> np.ndarray:
        """Translational plus rotational kinetic energy of each particle (N,), J."""
        return 0.5 * self.mass * np.einsum("ij,ij->i", self.velocity, self.velocity) + 0.5 * (
            self.inertia * np.einsum("ij,ij->i", self.angular_velocity, self.angular_velocity)
        )

    def copy(self) -> ParticleState:
        """A deep copy (arrays and contact histories copied)."""
        arrays = {k: np.array(v) for k, v in self.__dict__.items() if k != "contacts"}
        return ParticleState(**arrays, contacts=None if self.contacts is None else self.contacts.copy())


@dataclass(frozen=True)
class Box:
    """Simulation box, periodic in x and y, bounded in z by walls (m).

    lo, hi: (3,) corners. Particles must stay in lo[2] <= z <= hi[2]; one that leaves this
    range makes the run fail (SimulationFailed), so put hi[2] above the highest wall or particle.
    """

    lo: tuple[float, float, float]
    hi: tuple[float, float, float]

    def __post_init__(self) -> None:
        lo = tuple(float(v) for v in self.lo)
        hi = tuple(float(v) for v in self.hi)
        if len(lo) != 3 or len(hi) != 3:
            raise PhysicalInputError("box lo and hi must have 3 components (x, y, z)")
        if not all(np.isfinite(lo + hi)) or any(h <= lo_ for lo_, h in zip(lo, hi, strict=True)):
            raise PhysicalInputError(f"box hi must exceed lo in x, y and z (lo={lo}, hi={hi})")
        object.__setattr__(self, "lo", lo)
        object.__setattr__(self, "hi", hi)

    @property
    def length(self) -> np.ndarray:
        """Edge lengths (3,), m."""
        return np.array(self.hi) - np.array(self.lo)
