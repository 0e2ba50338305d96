"""What the plate (sims.protocols.calendering) and roll (sims.protocols.roll) calendering protocols
share: their numerical settings (`CalenderingConfig`), their result (`CalenderingResult`), the check
of a run's inputs and gap (`calendering_gap`: a gap the solids cannot fit in is refused), and the
quasi-static check of the loading (`checked_inertial_number`; the time scaling is described in
sims.protocols.calendering). SI units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sims.dem.state import Box, ParticleState
from sims.errors import PhysicalInputError, SimulationFailed
from sims.protocols.film import top_m

G = 9.81  # m/s2
DT_FRACTION = 0.2  # time step as a fraction of the smallest Rayleigh time
# Spheres cannot fill more than this volume fraction without overlaps of the order of their radii
# (random close packing ~0.64, polydisperse beds ~0.7); a gap that asks for more has no room. The
# CBD counts at its densest (sims.protocols.densification).
MAX_SOLID_FRACTION = 0.85


@dataclass(frozen=True)
class CalenderingConfig:
    """Numerical settings (defaults sized for the default RVE)."""

    load_steps: int = 15_000
    hold_steps: int = 1_000
    release_steps: int = 4_000
    settle_steps: int = 6_000
    settle_blocks: int = 5
    settle_tolerance: float = 2e-4
    touch_pressure_pa: float = 1e4
    block_steps: int = 200
    inertial_target: float = 1e-2
    inertial_bound: float = 2e-2
    max_slowdown: float = 5.0
    max_load_steps: float = 20.0
    max_retries: int = 60
    pressure_floor_fraction: float = 0.1
    plastic: bool = True
    cohesion: bool = True
    cbd_friction: bool = False
    densify: bool = True
    # of the smaller radius; CBD particles are nanoporous agglomerates that calendering squashes
    # between AM particles, so they may overlap deeper than dense spheres before the state is broken
    max_overlap_fraction: float = 1.0

    def __post_init__(self) -> None:
        for name in (
            "load_steps",
            "hold_steps",
            "release_steps",
            "settle_steps",
            "block_steps",
            "settle_blocks",
        ):
            if int(getattr(self, name)) != getattr(self, name) or getattr(self, name) < 1:
                raise PhysicalInputError(f"{name} must be a positive integer")
        if not self.max_load_steps >= self.max_slowdown >= 1.0:
            raise PhysicalInputError("calendering needs max_load_steps >= max_slowdown >= 1")


@dataclass
class CalenderingResult:
    """The calendered electrode (SI units, pressures in Pa).

    strain, pressure_pa, stage: per recorded block (stage codes of sims.protocols.calendering:
    0 load, 1 hold, 2 release, 3 settle). h_dried_m: film before; min_gap_m: plate height at the
    deepest point; loaded_thickness_m: the film under load and creep_pct its creep below the gap;
    thickness_m: plate height on the relaxed film at the touch pressure; inertial_number: largest I
    while loaded (creep and I: sims.protocols.calendering's doc); retries: loading blocks run again
    slower; cbd_nanoporosity: CBD nanopore volume over CBD particle volume at the end.
    """

    state: ParticleState
    box: Box
    h_dried_m: float
    min_gap_m: float
    thickness_m: float
    spring_back_pct: float
    max_pressure_pa: float
    inertial_number: float
    real_duration_s: float
    strain: np.ndarray
    pressure_pa: np.ndarray
    stage: np.ndarray
    steps: int
    loaded_thickness_m: float = float("nan")
    creep_pct: float = 0.0
    retries: int = 0
    cbd_nanoporosity: float = float("nan")


def calendering_gap(
    state: ParticleState, box: Box, compression_ratio: float, speed_mm_s: float, solid_volume_m3: float
) -> tuple[float, float]:
    """(dried thickness h0, gap (1 - compression_ratio) h0), m, after checking the inputs of a
    calendering run (PhysicalInputError names a bad one, or a gap the solids cannot fit in).

    solid_volume_m3: the particle volume the gap must hold (densest_solid_volume_m3)."""
    if not (math.isfinite(compression_ratio) and 0.0 <= compression_ratio < 1.0):
        raise PhysicalInputError(f"compression_ratio must lie in [0, 1), got {compression_ratio}")
    if not (math.isfinite(speed_mm_s) and speed_mm_s > 0.0):
        raise PhysicalInputError(f"calendering_speed_mm_s must be > 0, got {speed_mm_s}")
    h0 = top_m(state)
    gap = h0 * (1.0 - compression_ratio)
    solid_height = solid_volume_m3 / (box.length[0] * box.length[1])
    if gap < solid_height / MAX_SOLID_FRACTION:
        raise PhysicalInputError(
            f"compression_ratio={compression_ratio} leaves a {gap * 1e6:.2f} um gap, less than the "
            f"{solid_height / MAX_SOLID_FRACTION * 1e6:.2f} um the solids need "
            f"(solid fraction {MAX_SOLID_FRACTION} at most)"
        )
    return h0, gap


def checked_inertial_number(
    pressure: np.ndarray, inertial: np.ndarray, p_max: float, cfg: CalenderingConfig, protocol: str
) -> float:
    """Largest inertial number of the loading blocks (pressure_pa, I per block) that carry at least
    `pressure_floor_fraction` of p_max and the touch pressure (Pa); SimulationFailed if it exceeds
    `inertial_bound`."""
    floor = max(cfg.pressure_floor_fraction * p_max, cfg.touch_pressure_pa)
    carrying = inertial[pressure >= floor] if p_max > 0 else inertial[:0]
    value = float(carrying.max()) if len(carrying) else 0.0
    if value > cfg.inertial_bound:
        raise SimulationFailed(
            f"{protocol}: inertial number {value:.3g} above the quasi-static bound {cfg.inertial_bound} "
            f"within the step budget ({cfg.max_load_steps:g} x {cfg.load_steps} loading steps, "
            f"{cfg.max_retries} slower re-runs)"
        )
    return value
