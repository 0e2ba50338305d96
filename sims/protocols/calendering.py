"""Calendering: a plate compresses the dried electrode to a target gap (or pressure), holds, releases.

Stages: load (the steel plate descends at constant speed from the film top to the gap
h_min = (1 - compression_ratio) h_dried, or until its pressure reaches `target_pressure_pa`), hold
at the gap, release (the plate pressure is ramped down to a light touch, the plate following the
film as it springs back; the final thickness is the plate height then, as a micrometer measures).
Recorded: pressure vs strain (strain = 1 - z_plate / h_dried), the largest pressure, and the
spring-back 100 (h_final - h_min) / h_min in %.

Contacts are the real ones (elastic-plastic Thornton normal law unless `plastic=False`, sjkr2
cohesion unless `cohesion=False`), except that CBD contacts are frictionless (`cbd_friction`): the
binder-rich CBD flows under the calendering load, whereas Coulomb friction traps an effective CBD
sphere under an AM particle (on the foil or on another AM particle) until it is crushed through.

Time scaling: the plate moves ~1e5 times faster than in a press, which is quasi-static as long as
the inertial number I = (v / h) d sqrt(rho / P) stays small. The plate moves at the nominal speed
(`load_steps` to the gap) but slows down (up to `max_slowdown` times) where I at the current
pressure would exceed `inertial_target` (1e-2). It is checked against
`inertial_bound` (2e-2; I < 1e-2 is the usual quasi-static range, 1e-3 the strict one) over the
loading blocks that carry at least `pressure_floor_fraction` of the largest pressure (before that
the plate only touches a few particles and P is no confining pressure). The material law is rate
independent, so the calendering speed only sets the real duration of the stages; no mass scaling is
used (at a fixed number of steps it would not change I).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from sims.dem.engine import FailureLimits, Simulation
from sims.dem.state import Box, ParticleState
from sims.dem.walls import PlaneWall
from sims.errors import PhysicalInputError, SimulationFailed
from sims.materials import ElectrodeMaterial
from sims.protocols.contact_tables import COLLECTOR_TYPE, TOOL_TYPE, electrode_contact_params
from sims.protocols.film import inertial_number, mean_diameter_and_density, sphere_volume_m3, top_m
from sims.protocols.timeseries import FrameRecorder, TimeSeriesWriter

log = logging.getLogger(__name__)

G = 9.81  # m/s2
DT_FRACTION = 0.2  # time step as a fraction of the smallest Rayleigh time
# Spheres cannot fill more than this volume fraction without overlaps of the order of their radii
# (random close packing ~0.64, polydisperse beds ~0.7); a gap that asks for more has no room.
MAX_SOLID_FRACTION = 0.85


@dataclass(frozen=True)
class CalenderingConfig:
    """Numerical settings (defaults sized for the default RVE)."""

    load_steps: int = 15_000
    hold_steps: int = 1_000
    release_steps: int = 4_000
    touch_pressure_pa: float = 1e4
    block_steps: int = 200
    inertial_target: float = 1e-2
    inertial_bound: float = 2e-2
    max_slowdown: float = 5.0
    pressure_floor_fraction: float = 0.1
    plastic: bool = True
    cohesion: bool = True
    cbd_friction: bool = False
    # of the smaller radius; CBD particles are nanoporous agglomerates that calendering squashes
    # between AM particles, so they may overlap deeper than dense spheres before the state is broken
    max_overlap_fraction: float = 1.0

    def __post_init__(self) -> None:
        for name in ("load_steps", "hold_steps", "release_steps", "block_steps"):
            if int(getattr(self, name)) != getattr(self, name) or getattr(self, name) < 1:
                raise PhysicalInputError(f"{name} must be a positive integer")


@dataclass
class CalenderingResult:
    """The calendered electrode (SI units, pressures in Pa).

    strain, pressure_pa, stage: per recorded block (stage 0 load, 1 hold, 2 release).
    h_dried_m: film before; min_gap_m: plate height at the deepest point; thickness_m: plate height
    at the end of the release (touch pressure); inertial_number: largest I while loaded (module doc).
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


def calendering_gap(
    state: ParticleState, box: Box, compression_ratio: float, speed_mm_s: float
) -> tuple[float, float]:
    """(dried thickness h0, gap (1 - compression_ratio) h0), m, after checking the inputs of a
    calendering run (PhysicalInputError names a bad one, or a gap the solids cannot fit in)."""
    if not (math.isfinite(compression_ratio) and 0.0 <= compression_ratio < 1.0):
        raise PhysicalInputError(f"compression_ratio must lie in [0, 1), got {compression_ratio}")
    if not (math.isfinite(speed_mm_s) and speed_mm_s > 0.0):
        raise PhysicalInputError(f"calendering_speed_mm_s must be > 0, got {speed_mm_s}")
    h0 = top_m(state)
    gap = h0 * (1.0 - compression_ratio)
    solid_height = sphere_volume_m3(state) / (box.length[0] * box.length[1])
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
    `pressure_floor_fraction` of p_max (Pa); SimulationFailed if it exceeds `inertial_bound`."""
    carrying = inertial[pressure >= cfg.pressure_floor_fraction * p_max] if p_max > 0 else inertial[:0]
    value = float(carrying.max()) if len(carrying) else 0.0
    if value > cfg.inertial_bound:
        raise SimulationFailed(
            f"{protocol}: inertial number {value:.3g} above the quasi-static bound {cfg.inertial_bound}"
        )
    return value


def calender(
    state: ParticleState,
    box: Box,
    material: ElectrodeMaterial,
    compression_ratio: float,
    *,
    target_pressure_pa: float | None = None,
    speed_mm_s: float = 10.0,
    config: CalenderingConfig | None = None,
    threads: int = 1,
    writer: TimeSeriesWriter | None = None,
) -> CalenderingResult:
    """Calender the dried electrode `state` (at rest in `box`, collector at z = 0).

    compression_ratio: thickness reduction of the dried film, in [0, 1); with target_pressure_pa
    the plate stops at that pressure (Pa) if it comes first. speed_mm_s: real plate speed (mm/s).
    The state is not modified.
    """
    cfg = config or CalenderingConfig()
    if target_pressure_pa is not None and not target_pressure_pa > 0.0:
        raise PhysicalInputError(f"target pressure must be > 0 Pa, got {target_pressure_pa}")
    h0, gap = calendering_gap(state, box, compression_ratio, speed_mm_s)
    state = state.copy()
    state.velocity[:] = 0.0
    state.angular_velocity[:] = 0.0
    area = box.length[0] * box.length[1]
    if compression_ratio == 0.0:  # uncalendered: the dried film as it is
        empty = np.zeros(0)
        return CalenderingResult(
            state, box, h0, h0, h0, 0.0, 0.0, 0.0, 0.0, empty, empty, empty.astype(np.int64), 0
        )
    params = electrode_contact_params(
        material, plastic=cfg.plastic, cohesion=cfg.cohesion, cbd_friction=cfg.cbd_friction
    )
    dt = DT_FRACTION * params.rayleigh_time(state.radius, state.mass, state.type_id)
    n_load = cfg.load_steps
    speed = (h0 - gap) / (n_load * dt)
    time_scale = speed / (1e-3 * speed_mm_s)  # simulated process runs this many times faster
    plate = PlaneWall(z=h0, normal=-1, velocity=(0.0, 0.0, -speed), type_id=TOOL_TYPE)
    sim = Simulation(
        state,
        box,
        params,
        [PlaneWall(0.0, normal=1, type_id=COLLECTOR_TYPE), plate],
        dt,
        gravity=(0.0, 0.0, -G),
        threads=threads,
        limits=FailureLimits(max_overlap_fraction=cfg.max_overlap_fraction),
    )
    log.info("calendering: dt %.3g s, plate %.3g m/s, gap %.3g m from %.3g m", dt, speed, gap, h0)
    rec: list[tuple[float, float, int, float]] = []  # strain, pressure, stage, I
    frames = FrameRecorder(writer, "calender_load", (box.length[0], box.length[1]))
    stage = 0

    d_mean, rho = mean_diameter_and_density(state)
    block_time = cfg.block_steps * dt

    def block(s: Simulation) -> bool:
        pressure = plate.mean_force[2] / area
        v = -plate.velocity[2]
        i_num = inertial_number(v / plate.z, pressure, s.state) if stage == 0 else 0.0
        rec.append((1.0 - plate.z / h0, pressure, stage, i_num))
        log.debug(
            "calendering stage %d: plate %.4g m, pressure %.4g Pa, I %.3g", stage, plate.z, pressure, i_num
        )
        frames.maybe(s, plate.z, s.time * time_scale, wall_pressure_pa=pressure)
        if stage != 0:
            return False
        if plate.z <= gap * (1.0 + 1e-9) or (
            target_pressure_pa is not None and pressure >= target_pressure_pa
        ):
            return True
        # loading speed: nominal, slowed where the inertial number at the current pressure would
        # exceed its target (at most max_slowdown times), and landing exactly on the gap
        v = speed
        if pressure > 0.0:
            v_quasi_static = cfg.inertial_target * plate.z / (d_mean * math.sqrt(rho / pressure))
            v = min(speed, max(v_quasi_static, speed / cfg.max_slowdown))
        v = min(v, (plate.z - gap) / block_time)
        plate.velocity = (0.0, 0.0, -v)
        return False

    frames.maybe(sim, plate.z, 0.0, force=True)
    sim.run(n_load * int(cfg.max_slowdown) + cfg.block_steps, callback_every=cfg.block_steps, callback=block)
    min_gap = plate.z
    plate.velocity = (0.0, 0.0, 0.0)
    stage = 1
    frames.next_stage("calender_hold", 0)
    sim.run(cfg.hold_steps, callback_every=cfg.block_steps, callback=block)

    # release, force controlled: the plate pressure is ramped down from its hold value to a light
    # touch (a micrometer's contact pressure) and the plate follows the film as it springs back.
    # (Lifting the plate off at once would fling particles up with the stored elastic energy;
    # raising it at a set speed would drag the top particles with the contact damping.)
    stage = 2
    frames.next_stage("calender_release", 0)
    p_hold = max(rec[-1][1], cfg.touch_pressure_pa)
    n_blocks = max(cfg.release_steps // cfg.block_steps, 1)
    ramp = iter(np.linspace(p_hold, cfg.touch_pressure_pa, n_blocks))

    def release(s: Simulation) -> None:
        block(s)
        target = next(ramp, cfg.touch_pressure_pa)
        excess = plate.mean_force[2] / (area * target) - 1.0
        plate.velocity = (0.0, 0.0, speed * float(np.clip(excess, -1.0, 1.0)))

    release(sim)
    sim.run(cfg.release_steps, callback_every=cfg.block_steps, callback=release)
    final = sim.state
    if not np.all(np.isfinite(final.position)):
        raise SimulationFailed("calendering: non-finite positions after the release")
    arr = np.array(rec, dtype=np.float64).reshape(-1, 4)
    loaded = arr[arr[:, 2] == 0]
    p_max = float(arr[:, 1].max()) if len(arr) else 0.0
    inertial = checked_inertial_number(loaded[:, 1], loaded[:, 3], p_max, cfg, "calendering")
    thickness = plate.z
    return CalenderingResult(
        state=final,
        box=box,
        h_dried_m=h0,
        min_gap_m=min_gap,
        thickness_m=thickness,
        spring_back_pct=100.0 * (thickness - min_gap) / min_gap,
        max_pressure_pa=p_max,
        inertial_number=inertial,
        real_duration_s=sim.time * time_scale,
        strain=arr[:, 0],
        pressure_pa=arr[:, 1],
        stage=arr[:, 2].astype(np.int64),
        steps=sim.step,
    )
