"""Initial structures: formulation -> particle counts, and non-overlapping random packings of them.

`particle_counts` turns a formulation (AM mass fraction of the solids) and an RVE size (number of AM
particles) into counts per size class; `pack_spheres` places spheres without overlap by random
sequential insertion in a box periodic in x and y, above the current collector (z = 0);
`pack_slurry` does both and returns the engine's particle state and box.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from sims.dem.state import Box, ParticleState
from sims.errors import PhysicalInputError, SimulationFailed
from sims.materials import ElectrodeMaterial
from sims.protocols.contact_tables import AM_TYPE, CBD_TYPE

# Random sequential insertion of spheres jams near a solid fraction of 0.38 (monodisperse); above
# ~0.3 the attempts per sphere explode, so denser slurries are first packed in a taller box.
MAX_INSERTION_SOLID_FRACTION = 0.30


@dataclass(frozen=True)
class ParticleCounts:
    """Particles of one RVE: per AM size class, and effective CBD particles.

    Diameters in um, masses in g, volumes in um3 (sphere volumes; CBD nanopores included).
    """

    am_diameters_um: tuple[float, ...]
    am_counts: tuple[int, ...]
    cbd_diameter_um: float
    n_cbd: int
    am_density_g_cm3: float
    cbd_density_g_cm3: float

    @property
    def n_am(self) -> int:
        return sum(self.am_counts)

    @property
    def am_volume_um3(self) -> float:
        return sum(n * np.pi / 6.0 * d**3 for n, d in zip(self.am_counts, self.am_diameters_um, strict=True))

    @property
    def cbd_volume_um3(self) -> float:
        return self.n_cbd * np.pi / 6.0 * self.cbd_diameter_um**3

    @property
    def solid_volume_um3(self) -> float:
        """Volume of all particles (um3), CBD nanopores included."""
        return self.am_volume_um3 + self.cbd_volume_um3

    @property
    def mass_g(self) -> float:
        """Mass of all solids (g)."""
        am = self.am_volume_um3 * self.am_density_g_cm3
        return 1e-12 * (am + self.cbd_volume_um3 * self.cbd_density_g_cm3)

    @property
    def am_mass_fraction(self) -> float:
        """AM mass fraction of the solids that these integer counts achieve."""
        return 1e-12 * self.am_volume_um3 * self.am_density_g_cm3 / self.mass_g

    def radii_m(self) -> tuple[np.ndarray, np.ndarray]:
        """Radii (N,) m and type ids (N,) (AM_TYPE, CBD_TYPE), AM first, in class order."""
        d_um = np.concatenate(
            [np.repeat(self.am_diameters_um, self.am_counts), np.full(self.n_cbd, self.cbd_diameter_um)]
        )
        types = np.concatenate(
            [np.full(self.n_am, AM_TYPE, dtype=np.int64), np.full(self.n_cbd, CBD_TYPE, dtype=np.int64)]
        )
        return 0.5e-6 * d_um, types


def check_fraction(name: str, value: float, *, open_low: bool = False, open_high: bool = False) -> float:
    """`value` as a float if it is a finite fraction in [0, 1] (bounds optionally open), else raise."""
    value = float(value)
    low_ok = value > 0.0 if open_low else value >= 0.0
    high_ok = value < 1.0 if open_high else value <= 1.0
    if not (np.isfinite(value) and low_ok and high_ok):
        interval = f"{'(' if open_low else '['}0, 1{')' if open_high else ']'}"
        raise PhysicalInputError(f"{name} must be a fraction in {interval}, got {value}")
    return value


def _largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    """Integers summing to `total`, proportional to `weights` (Hamilton's apportionment)."""
    exact = total * weights / weights.sum()
    counts = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[: total - counts.sum()]] += 1
    return counts


def particle_counts(material: ElectrodeMaterial, am_mass_fraction: float, n_am: int) -> ParticleCounts:
    """Counts per size class for `n_am` AM particles at an AM mass fraction of the solids.

    The AM counts follow the number fractions implied by the PSD volume fractions (n_i ~ f_i / d_i^3);
    the CBD count is the one whose mass best matches (1 - w) / w times the AM mass.
    """
    am_mass_fraction = check_fraction("am_mass_fraction", am_mass_fraction, open_low=True)
    if int(n_am) != n_am or n_am < 1:
        raise PhysicalInputError(f"n_am must be a positive integer, got {n_am}")
    am, cbd = material.active, material.cbd
    d = np.asarray(am.diameters_um)
    if np.any(d <= 0.0) or cbd.mean_diameter_um <= 0.0:
        raise PhysicalInputError(f"{material.name}: particle diameters must be > 0")
    am_counts = _largest_remainder(int(n_am), np.asarray(am.volume_fractions) / d**3)
    am_mass = float(np.sum(am_counts * np.pi / 6.0 * d**3)) * am.density_g_cm3
    cbd_particle_mass = np.pi / 6.0 * cbd.mean_diameter_um**3 * cbd.density_g_cm3
    n_cbd = round(am_mass * (1.0 - am_mass_fraction) / am_mass_fraction / cbd_particle_mass)
    return ParticleCounts(
        am_diameters_um=tuple(float(x) for x in d),
        am_counts=tuple(int(c) for c in am_counts),
        cbd_diameter_um=float(cbd.mean_diameter_um),
        n_cbd=int(n_cbd),
        am_density_g_cm3=am.density_g_cm3,
        cbd_density_g_cm3=cbd.density_g_cm3,
    )


@njit(cache=True)
def _insert_spheres(radius, lx, ly, z_lo, z_hi, seed, max_attempts):  # pragma: no cover - numba
    """Random sequential insertion, in the given order, periodic in x and y, lo + r <= z <= hi - r.

    Returns positions (N, 3) and the number placed (< N when a sphere found no room).
    """
    np.random.seed(seed)
    n = radius.shape[0]
    pos = np.zeros((n, 3))
    for i in range(n):
        r = radius[i]
        placed = False
        for _ in range(max_attempts):
            x = np.random.random() * lx
            y = np.random.random() * ly
            z = z_lo + r + np.random.random() * (z_hi - z_lo - 2.0 * r)
            ok = True
            for j in range(i):
                dx = x - pos[j, 0]
                dx -= lx * np.round(dx / lx)
                dy = y - pos[j, 1]
                dy -= ly * np.round(dy / ly)
                dz = z - pos[j, 2]
                s = r + radius[j]
                if dx * dx + dy * dy + dz * dz < s * s:
                    ok = False
                    break
            if ok:
                pos[i, 0] = x
                pos[i, 1] = y
                pos[i, 2] = z
                placed = True
                break
        if not placed:
            return pos, i
    return pos, n


def pack_spheres(
    radius_m: np.ndarray, lateral_m: float, height_m: float, seed: int = 0, max_attempts: int = 20000
) -> np.ndarray:
    """Non-overlapping random positions (N, 3) m of spheres of `radius_m` (N,) m.

    The box is [0, lateral)^2 periodic in x and y, and 0 <= z - r, z + r <= height_m. Large spheres
    are inserted first (small ones fill the gaps). O(N^2) overlap checks: fine up to ~1e4 spheres.
    """
    radius_m = np.ascontiguousarray(radius_m, dtype=np.float64)
    if np.any(~np.isfinite(radius_m)) or np.any(radius_m <= 0.0):
        raise PhysicalInputError("particle radii must be finite and > 0")
    if not lateral_m > 2.0 * radius_m.max():
        raise PhysicalInputError(f"lateral size {lateral_m:.3g} m must exceed the largest diameter")
    if not height_m > 2.0 * radius_m.max():
        raise PhysicalInputError(f"box height {height_m:.3g} m must exceed the largest diameter")
    order = np.argsort(-radius_m, kind="stable")
    pos, n_placed = _insert_spheres(radius_m[order], lateral_m, lateral_m, 0.0, height_m, seed, max_attempts)
    if n_placed < len(radius_m):
        raise SimulationFailed(
            f"random insertion found no room for sphere {n_placed + 1} of {len(radius_m)}: "
            f"the box ({lateral_m:.3g} x {lateral_m:.3g} x {height_m:.3g} m) is too dense"
        )
    out = np.empty_like(pos)
    out[order] = pos
    return out


def lateral_size_m(counts: ParticleCounts, solid_fraction: float = 0.55) -> float:
    """Side (m) of a square RVE whose film, at `solid_fraction`, is as thick as it is wide.

    Never less than three largest AM diameters, so that a particle does not touch its own image.
    """
    cube_um = (counts.solid_volume_um3 / solid_fraction) ** (1.0 / 3.0)
    return 1e-6 * max(cube_um, 3.0 * max(counts.am_diameters_um))


def pack_slurry(
    counts: ParticleCounts, lateral_m: float, height_m: float, seed: int = 0
) -> tuple[ParticleState, Box]:
    """The counted particles at rest, randomly placed without overlap in a lateral_m^2 x height_m box.

    If `height_m` is too low for random insertion (solid fraction above MAX_INSERTION_SOLID_FRACTION),
    the box is made taller: the drying protocol compresses it to the wet film anyway. The box top is
    left 10 % above the packing so that particles can move; the caller puts walls where it needs them.
    """
    if not (np.isfinite(lateral_m) and lateral_m > 0.0):
        raise PhysicalInputError(f"lateral size must be > 0 m, got {lateral_m}")
    if not (np.isfinite(height_m) and height_m > 0.0):
        raise PhysicalInputError(f"film height must be > 0 m, got {height_m}")
    radius, types = counts.radii_m()
    solid_m3 = counts.solid_volume_um3 * 1e-18
    height_m = max(height_m, solid_m3 / (lateral_m**2 * MAX_INSERTION_SOLID_FRACTION))
    position = pack_spheres(radius, lateral_m, height_m, seed)
    density = 1e3 * np.array([counts.am_density_g_cm3, counts.cbd_density_g_cm3])
    state = ParticleState.from_spheres(position, radius, types, density)
    box = Box(lo=(0.0, 0.0, 0.0), hi=(lateral_m, lateral_m, 1.1 * height_m))
    return state, box
