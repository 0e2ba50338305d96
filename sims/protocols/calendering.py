"""Calendering: a plate compresses the dried electrode to a target gap (or pressure), holds, releases.

`PlateCalendering` is a steppable protocol (sims.protocols.stepping) of four stages:
- load: the steel plate descends from the film top to the gap h_min = (1 - compression_ratio)
  h_dried, or until its pressure reaches `target_pressure_pa`; the CBD densifies with its local
  pressure as it goes (sims.protocols.densification, unless `densify=False`);
- hold: the plate stays at the gap (the CBD keeps densifying);
- release: the plate pressure is ramped down to a light touch (a micrometer's), the plate
  following the film as it springs back (servo);
- settle: the plate stays at the touch pressure until the film has stopped moving (the plate
  moved less than `settle_tolerance` of the film over the last `settle_blocks` blocks, within
  `settle_steps`); the final thickness is the plate height then, as a micrometer measures.
Recorded: pressure vs strain (strain = 1 - z_plate / h_dried), the largest pressure, and the
spring-back 100 (h_final - h_loaded) / h_loaded in %, on the relaxed film: h_loaded is the
lowest plate height from the end of the load on (the gap, or lower where the film kept creeping
under the falling load: a loose, lightly loaded film sinks by up to ~1 % after the hold, and that
creep, 100 (h_loaded - gap) / gap <= 0, is reported apart as `creep_pct` instead of counting as a
negative recovery).
`calender` runs the protocol to its end.

Contacts are the real ones (elastic-plastic Thornton normal law unless `plastic=False`, sjkr2
cohesion unless `cohesion=False`), except that CBD contacts are frictionless (`cbd_friction`): the
binder-rich CBD flows under the calendering load, whereas Coulomb friction traps an effective CBD
sphere under an AM particle (on the foil or on another AM particle) until it is crushed through.

Time scaling: the plate moves ~1e5 times faster than in a press, which is quasi-static as long as
the inertial number I = (v / h) d sqrt(rho / P) stays small. The plate moves at the nominal speed
(`load_steps` to the gap) but slows down (to 1 / `max_slowdown` of it) where I at the current
pressure would exceed `inertial_target` (1e-2). A loading block whose I exceeds `inertial_bound`
(2e-2; I < 1e-2 is the usual quasi-static range, 1e-3 the strict one) while it carries at least
`pressure_floor_fraction` of the largest pressure so far and the touch pressure is run again from
its start, slower (speed x 0.5 target / I, which then recovers by 10 % per block), up to
`max_retries` times and within `max_load_steps` x `load_steps` steps; only a run that cannot stay
quasi-static within that budget fails (SimulationFailed). The final check is over the loading
blocks that carry at least `pressure_floor_fraction` of the largest pressure and the touch pressure
(before that the plate only touches a few particles and P is no confining pressure). The material
law is rate independent, so the calendering speed only sets the real duration of the stages; no
mass scaling is used (at a fixed number of steps it would not change I).

Measured (60-AM films, 22 um wide, 2-3 seeds; tests/sims/test_process_window.py and
benchmarks/process_vs_dem.py): no failed run over AM 0.90-0.97 x compression 0-0.35 (1-20 slower
re-runs per run); at 95 % AM the porosity falls from 0.47 (dried) to 0.39 / 0.31 / 0.20 at
compression 0.12 / 0.24 / 0.35, the peak pressure rises 8 / 55 / 137 MPa, the spring-back 0.5 /
1.5 / 2.4 %. The CBD carries little of the load (mean stress 2-9 MPa in its particles while the
plate carries 117 MPa: the force chains run through the AM), so its nanoporosity only falls from
0.47 to ~0.45: the film reaches the calendered range by AM rearrangement and plastic flattening,
and counting the CBD at its densest in the gap check is what lets compression 0.35 through.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from sims.dem.engine import FailureLimits, Simulation
from sims.dem.state import Box, ParticleState
from sims.dem.walls import PlaneWall
from sims.errors import PhysicalInputError, SimulationFailed
from sims.materials import ElectrodeMaterial
from sims.protocols.calendering_common import (
    DT_FRACTION,
    CalenderingConfig,
    CalenderingResult,
    G,
    calendering_gap,
    checked_inertial_number,
)
from sims.protocols.contact_tables import CBD_TYPE, COLLECTOR_TYPE, TOOL_TYPE, electrode_contact_params
from sims.protocols.densification import CBDCompaction, CBDDensifier, mean_cbd_nanoporosity
from sims.protocols.film import inertial_number, mean_diameter_and_density, sphere_volume_m3
from sims.protocols.stepping import PressureServo, Stage, SteppedProtocol, plate_pressure_pa
from sims.protocols.timeseries import FrameRecorder, TimeSeriesWriter

log = logging.getLogger(__name__)

STAGE_CODES = {"load": 0, "hold": 1, "release": 2, "settle": 3}


def densest_solid_volume_m3(state: ParticleState, material: ElectrodeMaterial, densify: bool) -> float:
    """Particle volume (m3) once the CBD is at its densest (its present volume without densification)."""
    if not densify:
        return sphere_volume_m3(state)
    cbd = state.type_id == CBD_TYPE
    law = CBDCompaction.of(material)
    skeleton = np.sum(state.mass[cbd]) / (1000.0 * material.cbd_solid_density_g_cm3)
    return float(np.sum(4.0 / 3.0 * np.pi * state.radius[~cbd] ** 3)) + skeleton / (
        1.0 - law.nanoporosity_min
    )


class PlateCalendering(SteppedProtocol):
    """The plate calendering protocol (module doc) on a copy of the dried electrode `state`."""

    name = "calendering"

    def __init__(
        self,
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
    ) -> None:
        cfg = self.cfg = config or CalenderingConfig()
        super().__init__(cfg.block_steps)
        if target_pressure_pa is not None and not target_pressure_pa > 0.0:
            raise PhysicalInputError(f"target pressure must be > 0 Pa, got {target_pressure_pa}")
        solids = densest_solid_volume_m3(state, material, cfg.densify)
        self.h0, self.gap = calendering_gap(state, box, compression_ratio, speed_mm_s, solids)
        self.compression_ratio = compression_ratio
        self.target_pressure_pa = target_pressure_pa
        self.box = box
        self.area = box.length[0] * box.length[1]
        state = state.copy()
        state.velocity[:] = 0.0
        state.angular_velocity[:] = 0.0
        params = electrode_contact_params(
            material, plastic=cfg.plastic, cohesion=cfg.cohesion, cbd_friction=cfg.cbd_friction
        )
        dt = DT_FRACTION * params.rayleigh_time(state.radius, state.mass, state.type_id)
        self.speed = (self.h0 - self.gap) / (cfg.load_steps * dt)
        self.time_scale = self.speed / (1e-3 * speed_mm_s)  # simulated process runs this many times faster
        self.plate = PlaneWall(z=self.h0, normal=-1, velocity=(0.0, 0.0, -self.speed), type_id=TOOL_TYPE)
        self.sim = Simulation(
            state,
            box,
            params,
            [PlaneWall(0.0, normal=1, type_id=COLLECTOR_TYPE), self.plate],
            dt,
            gravity=(0.0, 0.0, -G),
            threads=threads,
            limits=FailureLimits(max_overlap_fraction=cfg.max_overlap_fraction),
        )
        self.densifier = CBDDensifier.of(material) if cfg.densify else None
        self.skeleton_density_kg_m3 = 1000.0 * material.cbd_solid_density_g_cm3
        self.d_mean, self.rho = mean_diameter_and_density(state)
        self.frames = FrameRecorder(writer, "calender_load", (box.length[0], box.length[1]))
        self.frames.maybe(self.sim, self.h0, 0.0, force=True, step=0)
        self.p_running_max = 0.0
        self.min_gap = self.h0
        self.retries = 0
        self._cap = 1.0
        self._block_start = self.snapshot() if compression_ratio > 0.0 else None
        self._settle_z: list[float] = []
        self._ramp: np.ndarray = np.zeros(0)
        self._servo_speed = PressureServo(self.speed) if self.speed > 0.0 else None
        log.info(
            "calendering: dt %.3g s, plate %.3g m/s, gap %.3g m from %.3g m",
            dt,
            self.speed,
            self.gap,
            self.h0,
        )
        n_release = max(cfg.release_steps // cfg.block_steps, 1) * cfg.block_steps
        stages = (
            Stage("load", self._load, int(cfg.max_load_steps * cfg.load_steps) + cfg.block_steps),
            Stage("hold", self._hold, cfg.hold_steps, self._start_hold),
            Stage("release", self._release, n_release, self._start_release),
            Stage("settle", self._settle, cfg.settle_steps, self._start_settle),
        )
        self._set_stages(stages if compression_ratio > 0.0 else ())

    # -- stages ----------------------------------------------------------------------------------

    @property
    def pressure_pa(self) -> float:
        return plate_pressure_pa(self.plate, self.area)

    def _frame(self, stage: str) -> None:
        self.frames.stage = stage
        self.frames.maybe(
            self.sim,
            self.plate.z,
            self.time * self.time_scale,
            wall_pressure_pa=self.pressure_pa,
            step=self.step,
        )

    def _load(self) -> bool:
        cfg, p = self.cfg, self.pressure_pa
        v = -self.plate.velocity[2]
        i_num = inertial_number(v / self.plate.z, p, self.sim.state)
        self.p_running_max = max(self.p_running_max, p)
        floor = max(cfg.pressure_floor_fraction * self.p_running_max, cfg.touch_pressure_pa)
        if i_num > cfg.inertial_bound and p >= floor and self.retries < cfg.max_retries:
            # not quasi-static: run this block again, slower
            self.restore(self._block_start)
            self.retries += 1
            self._cap *= min(0.5, 0.5 * cfg.inertial_target / i_num)
            self.plate.velocity = (0.0, 0.0, -v * min(0.5, 0.5 * cfg.inertial_target / i_num))
            log.debug("calendering: I %.3g at %.3g Pa, block run again at %.3g m/s", i_num, p, v)
            return False
        self._record(self.plate.z, p, i_num)
        self._frame("calender_load")
        self.min_gap = min(self.min_gap, self.plate.z)
        if self.plate.z <= self.gap * (1.0 + 1e-9) or (
            self.target_pressure_pa is not None and p >= self.target_pressure_pa
        ):
            return True
        if self.densifier is not None:
            self.densifier.update(self.sim)
        # loading speed: nominal, slowed where the inertial number at the current pressure would
        # exceed its target (to 1 / max_slowdown), times the cap left by re-runs; lands on the gap
        v = self.speed
        if p > 0.0:
            v_quasi_static = cfg.inertial_target * self.plate.z / (self.d_mean * math.sqrt(self.rho / p))
            v = min(self.speed, max(v_quasi_static, self.speed / cfg.max_slowdown))
        v = min(v * self._cap, (self.plate.z - self.gap) / (cfg.block_steps * self.sim.dt))
        self._cap = min(1.0, 1.1 * self._cap)
        self.plate.velocity = (0.0, 0.0, -v)
        self._block_start = self.snapshot()
        return False

    def _start_hold(self) -> None:
        self.plate.velocity = (0.0, 0.0, 0.0)

    def _hold(self) -> bool:
        self._record(self.plate.z, self.pressure_pa)
        self._frame("calender_hold")
        if self.densifier is not None:
            self.densifier.update(self.sim)
        return False

    def _start_release(self) -> None:
        # force controlled: the plate pressure is ramped down from its hold value to a light touch
        # and the plate follows the film as it springs back. (Lifting the plate off at once would
        # fling particles up with the stored elastic energy; raising it at a set speed would drag
        # the top particles with the contact damping.)
        cfg = self.cfg
        p_hold = max(self.pressure_pa, cfg.touch_pressure_pa)
        n_blocks = max(cfg.release_steps // cfg.block_steps, 1)
        self._ramp = np.linspace(p_hold, cfg.touch_pressure_pa, n_blocks + 1)
        self._servo(self._ramp[0])

    def _servo(self, target_pa: float) -> None:
        self.plate.velocity = (0.0, 0.0, self._servo_speed(self.pressure_pa, target_pa))

    def _release(self) -> bool:
        self._record(self.plate.z, self.pressure_pa)
        self._frame("calender_release")
        k = min(self.stage_step // self.cfg.block_steps, len(self._ramp) - 1)
        self._servo(self._ramp[k])
        return False

    def _start_settle(self) -> None:
        self._settle_z = []
        self._servo(self.cfg.touch_pressure_pa)

    def _settle(self) -> bool:
        cfg = self.cfg
        self._record(self.plate.z, self.pressure_pa)
        self._frame("calender_settle")
        self._settle_z.append(self.plate.z)
        self._servo(cfg.touch_pressure_pa)
        recent = self._settle_z[-cfg.settle_blocks - 1 :]
        return (
            len(recent) > cfg.settle_blocks
            and (max(recent) - min(recent)) < cfg.settle_tolerance * self.plate.z
        )

    # -- result ----------------------------------------------------------------------------------

    def result(self) -> CalenderingResult:
        """The calendered electrode once the protocol is done (module doc)."""
        if not self.done:
            raise PhysicalInputError("calendering: result() before the protocol ended")
        cfg, final = self.cfg, self.sim.state
        eps = mean_cbd_nanoporosity(final, self.skeleton_density_kg_m3)
        if self.compression_ratio == 0.0:  # uncalendered: the dried film as it is
            empty = np.zeros(0)
            h0 = self.h0
            return CalenderingResult(
                final,
                self.box,
                h0,
                h0,
                h0,
                0.0,
                0.0,
                0.0,
                0.0,
                empty,
                empty,
                empty.astype(np.int64),
                0,
                h0,
                cbd_nanoporosity=eps,
            )
        if not np.all(np.isfinite(final.position)):
            raise SimulationFailed("calendering: non-finite positions after the release")
        obs = self.observables
        stage = np.array([STAGE_CODES[s] for s in obs["stage"]], dtype=np.int64)
        pressure = obs["pressure_pa"]
        loaded = stage == 0
        p_max = float(pressure.max()) if len(pressure) else 0.0
        inertial = checked_inertial_number(
            pressure[loaded], obs["inertial_number"][loaded], p_max, cfg, self.name
        )
        if not self.done or self.stage_index < len(self._stages):
            raise SimulationFailed("calendering: the protocol did not finish")
        thickness = self.plate.z
        h_loaded = float(np.min(obs["wall_z_m"][stage > 0]))
        return CalenderingResult(
            state=final,
            box=self.box,
            h_dried_m=self.h0,
            min_gap_m=self.min_gap,
            thickness_m=thickness,
            spring_back_pct=100.0 * (thickness - h_loaded) / h_loaded,
            max_pressure_pa=p_max,
            inertial_number=inertial,
            real_duration_s=self.time * self.time_scale,
            strain=1.0 - obs["wall_z_m"] / self.h0,
            pressure_pa=pressure,
            stage=stage,
            steps=self.step,
            loaded_thickness_m=h_loaded,
            creep_pct=100.0 * (h_loaded - self.min_gap) / self.min_gap,
            retries=self.retries,
            cbd_nanoporosity=eps,
        )


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
    """Calender the dried electrode `state` (at rest in `box`, collector at z = 0) to the end.

    compression_ratio: thickness reduction of the dried film, in [0, 1); with target_pressure_pa
    the plate stops at that pressure (Pa) if it comes first. speed_mm_s: real plate speed (mm/s).
    The state is not modified.
    """
    protocol = PlateCalendering(
        state,
        box,
        material,
        compression_ratio,
        target_pressure_pa=target_pressure_pa,
        speed_mm_s=speed_mm_s,
        config=config,
        threads=threads,
        writer=writer,
    )
    protocol.run()
    return protocol.result()
