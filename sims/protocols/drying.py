"""Drying: a slurry film shrinks as its solvent evaporates and ends as a dried, cohesive electrode.

Model. The solvent's free surface is a frictionless plane (no cohesion) descending towards the
current collector at the film shrinkage speed; particles settle in the solvent (gravity, Stokes drag
of a fluid at rest) and are collected by the descending surface. The surface can push the bed with
at most the capillary pressure P_cap = 4 gamma / d_CBD (menisci between the CBD particles): when its
pressure reaches P_cap the film has consolidated, the menisci enter the pores and the surface is
removed. CBD sticks to AM, to CBD and to the collector (sjkr2 cohesion), which holds the dried film.
The last stages switch to the real contact stiffness, without solvent: the surface holds the film
at P_cap (servo) while the overlaps adapt, then it is removed and the film comes to rest: that is
the dried electrode.

`Drying` is a steppable protocol (sims.protocols.stepping) of three stages, "wet" (soft contacts,
solvent, descending surface), "consolidate" (real contacts, surface servo at P_cap) and "relax"
(no surface); the observables per block are the surface height and pressure, and I at P_cap in the
wet stage. `dry` runs it to its end. The wet stage is the one PAML's macro-steps replace.

Scaling (quasi-static, checked). Real drying takes seconds to minutes; here it takes ~1e-4 s of
simulated time, so:
- the contact moduli are scaled down during the wet stage (AM x1e-2, CBD x1e-1): at pressures
  below P_cap (~0.1 MPa) overlaps stay below ~10 % of the CBD radius even where a large AM particle
  rests on one CBD particle, and the softer contacts allow a ~3 x longer time step;
- the surface descends `fast_factor` times faster while it carries less than `switch_fraction` of
  P_cap (it sweeps the suspension), then, as the film consolidates, at the speed for which the
  inertial number at the capillary pressure, I = (v / h) d sqrt(rho / P_cap), is `inertial_target`
  (default 8e-3; checked against `inertial_bound`, 1e-2);
- gravity and viscosity are set so that the d50 AM particle settles `sedimentation_number` times
  faster than the surface descends, as it does in the real slurry (hindered Stokes settling in the
  solvent, Richardson-Zaki (1 - phi)^4.65, over the drying rate), capped
  at `max_sedimentation_number` (beyond it the AM has settled before the surface arrives anyway),
  and its velocity relaxes in a tenth of the stage. The drying rate enters through that ratio.
Buoyancy is applied to the AM (gravity scaled by (rho_AM - rho_solvent) / rho_AM); the engine has
one gravity vector, so the CBD gets the same factor (it barely settles at any rate).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np

from sims.dem.engine import Simulation
from sims.dem.state import Box, ParticleState
from sims.dem.walls import PlaneWall
from sims.errors import PhysicalInputError, SimulationFailed
from sims.materials import ElectrodeMaterial
from sims.protocols.contact_tables import COLLECTOR_TYPE, FREE_SURFACE_TYPE, electrode_contact_params
from sims.protocols.film import inertial_number, mean_diameter_and_density, sphere_volume_m3, top_m
from sims.protocols.stepping import PressureServo, Stage, SteppedProtocol, plate_pressure_pa
from sims.protocols.timeseries import FrameRecorder, TimeSeriesWriter

log = logging.getLogger(__name__)

G = 9.81  # m/s2
DT_FRACTION = 0.2  # time step as a fraction of the smallest Rayleigh time


@dataclass(frozen=True)
class DryingConfig:
    """Numerical settings of the drying protocol (defaults sized for the default RVE)."""

    inertial_target: float = 8e-3
    inertial_bound: float = 1e-2
    stiffness_scale_am: float = 1e-2
    stiffness_scale_cbd: float = 1e-1
    fast_factor: float = 10.0
    switch_fraction: float = 0.25
    max_sedimentation_number: float = 3.0
    jammed_solid_fraction: float = 0.64  # the surface's planned stop (random close packing)
    servo_steps: int = 3000
    servo_step_fraction: float = 1e-3  # largest surface move per servo block, in mean diameters
    relax_steps: int = 2000
    block_steps: int = 250
    max_wet_steps: int = 200_000

    def __post_init__(self) -> None:
        if not 0.0 < self.inertial_target <= self.inertial_bound:
            raise PhysicalInputError("inertial_target must lie in (0, inertial_bound]")
        for name in ("stiffness_scale_am", "stiffness_scale_cbd"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise PhysicalInputError(f"{name} must lie in (0, 1]")


@dataclass
class DryingResult:
    """The dried electrode and how it got there (SI units).

    state/box: the dried particles at rest (real masses and stiffness); thickness_m: top of the
    highest particle; wet_thickness_m: the film before drying; capillary_pressure_pa: P_cap;
    inertial_number: I at P_cap during the wet stage; sedimentation_number: v_settle(d50) / drying
    rate as simulated (real value capped); real_duration_s: the drying time the run stands for;
    history: per block (time_s, surface z m, surface pressure Pa).
    """

    state: ParticleState
    box: Box
    thickness_m: float
    wet_thickness_m: float
    capillary_pressure_pa: float
    inertial_number: float
    sedimentation_number: float
    real_duration_s: float
    steps: int
    history: list[tuple[float, float, float]] = field(default_factory=list)


def capillary_pressure_pa(material: ElectrodeMaterial) -> float:
    """Largest pressure the solvent menisci exert on the film: 2 gamma / r_pore, r_pore = d_CBD / 2."""
    return 4.0 * material.solvent.surface_tension_n_m / (1e-6 * material.cbd.mean_diameter_um)


def stokes_settling_m_s(material: ElectrodeMaterial, diameter_m: float) -> float:
    """Real Stokes settling speed (m/s) of an AM sphere of `diameter_m` in the slurry's solvent."""
    drho = 1000.0 * (material.active.density_g_cm3 - material.solvent.density_g_cm3)
    return 2.0 / 9.0 * drho * G * (0.5 * diameter_m) ** 2 / material.solvent.viscosity_pa_s


class Drying(SteppedProtocol):
    """The drying protocol (module doc) on a copy of the slurry `state` (particles at rest, no
    overlap, inside `box`); wet_thickness_m: film after coating (m); drying_rate_um_s: film
    shrinkage speed, i.e. solvent evaporation flux over solvent density (um/s)."""

    name = "drying"

    def __init__(
        self,
        state: ParticleState,
        box: Box,
        material: ElectrodeMaterial,
        wet_thickness_m: float,
        drying_rate_um_s: float,
        *,
        config: DryingConfig | None = None,
        threads: int = 1,
        writer: TimeSeriesWriter | None = None,
    ) -> None:
        cfg = self.cfg = config or DryingConfig()
        super().__init__(cfg.block_steps)
        if not (math.isfinite(drying_rate_um_s) and drying_rate_um_s > 0.0):
            raise PhysicalInputError(f"drying_rate must be > 0 um/s, got {drying_rate_um_s}")
        if not (math.isfinite(wet_thickness_m) and wet_thickness_m > 0.0):
            raise PhysicalInputError(f"wet film thickness must be > 0, got {wet_thickness_m}")
        self.material, self.box = material, box
        self.wet_thickness_m = float(wet_thickness_m)
        self.drying_rate = 1e-6 * drying_rate_um_s
        state = state.copy()
        lx, ly = box.length[0], box.length[1]
        self.area = lx * ly
        self.p_cap = capillary_pressure_pa(material)

        scale = (cfg.stiffness_scale_am, cfg.stiffness_scale_cbd, 1.0, 1.0, 1.0)
        soft = electrode_contact_params(material, stiffness_scale=scale)
        dt = DT_FRACTION * soft.rayleigh_time(state.radius, state.mass, state.type_id)

        self.z0 = z0 = max(wet_thickness_m, top_m(state))
        self.h_jam = h_jam = sphere_volume_m3(state) / (self.area * cfg.jammed_solid_fraction)
        if z0 <= h_jam:
            raise PhysicalInputError(
                f"wet film ({z0 * 1e6:.1f} um) is already denser than a random close packing "
                f"({h_jam * 1e6:.1f} um): solid_content too high"
            )
        # consolidation speed from the inertial-number target at the capillary pressure (at h_jam)
        self.d_mean, rho = mean_diameter_and_density(state)
        self.speed = speed = cfg.inertial_target * h_jam / (self.d_mean * math.sqrt(rho / self.p_cap))
        n_planned = max(int(math.ceil((z0 - h_jam) / (cfg.fast_factor * speed * dt))), cfg.block_steps)

        # sedimentation: d50 AM settles sed_number times faster than the surface descends
        d50 = 1e-6 * material.active.mean_diameter_um
        # hindered settling in the concentrated slurry (Richardson-Zaki, n = 4.65 at low Reynolds number)
        solid_fraction_wet = min(sphere_volume_m3(state) / (self.area * wet_thickness_m), 0.6)
        sed_real = stokes_settling_m_s(material, d50) * (1.0 - solid_fraction_wet) ** 4.65 / self.drying_rate
        self.sedimentation_number = sed_number = min(sed_real, cfg.max_sedimentation_number)
        m50 = 1000.0 * material.active.density_g_cm3 * math.pi / 6.0 * d50**3
        tau50 = 0.1 * n_planned * dt
        viscosity = m50 / (3.0 * math.pi * d50 * tau50)
        buoyancy = 1.0 - material.solvent.density_g_cm3 / material.active.density_g_cm3
        g_eff = sed_number * speed * 3.0 * math.pi * viscosity * d50 / (m50 * buoyancy)

        self.surface = PlaneWall(
            z=z0, normal=-1, velocity=(0.0, 0.0, -cfg.fast_factor * speed), type_id=FREE_SURFACE_TYPE
        )
        walls = [PlaneWall(0.0, normal=1, type_id=COLLECTOR_TYPE), self.surface]
        self.sim = Simulation(
            state,
            box,
            soft,
            walls,
            dt,
            gravity=(0.0, 0.0, -g_eff * buoyancy),
            fluid_viscosity_pa_s=viscosity,
            threads=threads,
        )
        log.info(
            "drying: dt %.3g s, surface %.3g m/s, ~%d steps, Ns %.2g (real %.2g)",
            dt,
            speed,
            n_planned,
            sed_number,
            sed_real,
        )
        self.history: list[tuple[float, float, float]] = []
        self.frames = FrameRecorder(writer, "drying", (lx, ly))
        self.frames.maybe(self.sim, z0, 0.0, force=True, step=0)
        self.inertial = 0.0
        self.real_duration_s = 0.0
        self._hold_p_cap: PressureServo | None = None
        self._set_stages(
            (
                Stage("wet", self._wet, cfg.max_wet_steps),
                Stage("consolidate", self._consolidate, cfg.servo_steps, self._start_consolidate),
                Stage("relax", self._relax, cfg.relax_steps, self._start_relax),
            )
        )

    @property
    def pressure_pa(self) -> float:
        return plate_pressure_pa(self.surface, self.area)

    def _wet(self) -> bool:
        cfg, surface, pressure = self.cfg, self.surface, self.pressure_pa
        self.history.append((self.time, surface.z, pressure))
        log.debug("drying step %d: surface %.3g m, pressure %.3g Pa", self.step, surface.z, pressure)
        self.frames.maybe(self.sim, surface.z, (self.z0 - surface.z) / self.drying_rate, step=self.step)
        # consolidated: P_cap reached while the surface was already moving at the slow speed (a
        # pressure peak of the fast sweep is the suspension's drag, not a consolidated film)
        was_slow = surface.velocity[2] == -self.speed
        compacting = pressure >= cfg.switch_fraction * self.p_cap
        i_num = inertial_number(self.speed / surface.z, self.p_cap, self.sim.state) if compacting else 0.0
        self._record(surface.z, pressure, i_num)
        if (pressure >= self.p_cap and was_slow) or surface.z <= 0.5 * self.h_jam:
            return True
        surface.velocity = (0.0, 0.0, -self.speed if compacting else -cfg.fast_factor * self.speed)
        self.inertial = max(self.inertial, i_num)
        return False

    def _start_consolidate(self) -> None:
        # dried: no solvent, real stiffness. The surface first holds the film at P_cap (servo) while
        # the soft-contact overlaps relax to real-stiffness ones, then it is removed and the film
        # comes to rest under real gravity (its elastic rebound at real stiffness is then negligible).
        cfg, surface = self.cfg, self.surface
        if surface.z <= 0.5 * self.h_jam:
            raise SimulationFailed(
                f"drying: the free surface sank to {surface.z * 1e6:.2f} um without resistance"
            )
        if self.inertial > cfg.inertial_bound:
            raise SimulationFailed(
                f"drying: inertial number {self.inertial:.3g} above the bound {cfg.inertial_bound}"
            )
        self.real_duration_s = (self.z0 - surface.z) / self.drying_rate
        dried = self.sim.state
        dried.velocity[:] = 0.0
        dried.angular_velocity[:] = 0.0
        # the soft contacts' overlaps (largest overlaps, i.e. plastic flattening) and tangential
        # springs are artefacts of the stiffness scaling: the real-stiffness contacts start afresh
        dried.contacts = None
        params = electrode_contact_params(self.material)
        dt_real = DT_FRACTION * params.rayleigh_time(dried.radius, dried.mass, dried.type_id)
        surface.velocity = (0.0, 0.0, 0.0)
        self.sim = Simulation(
            dried,
            self.box,
            params,
            [PlaneWall(0.0, normal=1, type_id=COLLECTOR_TYPE), surface],
            dt_real,
            gravity=(0.0, 0.0, -G),
            threads=self.sim.threads,
        )
        self.frames.next_stage("drying_consolidate", 0)
        servo_speed = cfg.servo_step_fraction * self.d_mean / (cfg.block_steps * dt_real)
        self._hold_p_cap = PressureServo(servo_speed)

    def _consolidate(self) -> bool:
        self._record(self.surface.z, self.pressure_pa)
        self.frames.maybe(self.sim, self.surface.z, self.real_duration_s, step=self.step)
        self.surface.velocity = (0.0, 0.0, self._hold_p_cap(self.pressure_pa, self.p_cap))
        return False

    def _start_relax(self) -> None:
        self.surface.velocity = (0.0, 0.0, 0.0)
        self.surface.z = self.box.hi[2] - 1e-9
        self.sim.refresh()
        self.frames.next_stage("drying_relax", 0)

    def _relax(self) -> bool:
        self._record(float("nan"), 0.0)
        self.frames.maybe(self.sim, float("nan"), self.real_duration_s, step=self.step)
        return False

    def result(self) -> DryingResult:
        """The dried electrode once the protocol is done."""
        if not self.done:
            raise PhysicalInputError("drying: result() before the protocol ended")
        final = self.sim.state
        if not np.all(np.isfinite(final.position)):
            raise SimulationFailed("drying: non-finite positions at the end of the relaxation")
        return DryingResult(
            state=final,
            box=self.box,
            thickness_m=top_m(final),
            wet_thickness_m=self.wet_thickness_m,
            capillary_pressure_pa=self.p_cap,
            inertial_number=self.inertial,
            sedimentation_number=self.sedimentation_number,
            real_duration_s=self.real_duration_s,
            steps=self.step,
            history=self.history,
        )


def dry(
    state: ParticleState,
    box: Box,
    material: ElectrodeMaterial,
    wet_thickness_m: float,
    drying_rate_um_s: float,
    *,
    config: DryingConfig | None = None,
    threads: int = 1,
    writer: TimeSeriesWriter | None = None,
) -> DryingResult:
    """Dry the slurry `state` (particles at rest, no overlap, inside `box`) into an electrode, to
    the end of the Drying protocol. The state is not modified."""
    protocol = Drying(
        state, box, material, wet_thickness_m, drying_rate_um_s, config=config, threads=threads, writer=writer
    )
    protocol.run()
    return protocol.result()
