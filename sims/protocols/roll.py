"""Roll calendering: a scaled roll passes over the dried electrode at a set gap, then lifts off.

A press roll (radius 0.1-0.5 m) is flat over a 30-40 um RVE and its nip arc, sqrt(2 R dh) ~ 1 mm,
is far longer than an affordable box, so the roll is scaled: its radius is an option
(`roll_radius_m`, default 200 um, several RVE widths), its gap is the real one,
gap = (1 - compression_ratio) h_dried, and its axis travels along +x at the line speed while it
rolls without slip (angular velocity = speed / radius). What the scaling keeps: every point of the
film is squeezed once from h_dried to the gap under a curved, inclined tool that drags it along x,
as in the press; what it changes: the entry arc a = sqrt(2 R dh) (tens of um instead of ~1 mm), so
the nip tilts the film more (entry angle a / R) and the film is loaded for a shorter distance.

Box. The engine's roll is seen through its nearest periodic image in x, so the dried RVE is tiled
`tiles` times along x until the box is at least `ARC_MARGIN` x 2a long: the roll surface is then
above the film at half a box from its axis and only one image touches it. The returned state and
box are the tiled ones (porosity, density and mass loading are per area, unchanged by tiling).

Stages (`stage` per record: 0 load, 2 release, as in the plate protocol; a roll has no hold):
- load: the roll touches the film top at x = 0 and descends to the gap while its axis travels one
  arc length a (a ramp into the nip), then travels one box length at the gap: every point sees the
  full nip once (the ramp region a second time, at the gap).
- release: the roll stops and is lifted force controlled (its pressure ramped down to the touch
  pressure, the roll following the film), then removed; a plate comes down on the film to the touch
  pressure (a micrometer), and its height is the final thickness, as for the plate protocol.
Recorded per block: roll travel (m), roll bottom height (strain = 1 - z_bottom / h_dried), vertical
roll force, line load F_z / L_y (N/m) and the nip pressure F_z / (a L_y) (Pa): the mean pressure on
the projected entry arc (the film in contact; the exit side only carries its spring-back), where a
is the arc at the current roll depth. The peak of the local pressure, at the bottom of the nip, is
higher than this mean, so at the same gap the roll's max pressure is below the plate's.

Film restraint (numerical). The dried film comes with its contact histories (`state.contacts`,
tiled with it), so it restarts at rest; but the film the roll has passed rebounds ballistically
(the sheared bed dilates; gravity does not bring it back on these time scales). So a plate rests at
the dried film top h_dried during the pass (it holds the film ahead of the roll as the plate
protocol's plate does; the film behind the roll springs back up to it at most), and the particles
feel the Stokes drag of a fluid at rest whose viscosity relaxes a d50 AM particle's velocity in
DAMPING_TIME_FRACTION of the time the nip takes to pass a point (it leaves the nip pressure
unchanged within a few %).

Measured against the plate (tests/sims/protocols/test_roll.py, 60-AM film, R = 150 um, porosity of
the dense spheres): the roll's porosity falls with compression (0.45 / 0.44 / 0.42 at 0.1 / 0.15 /
0.2, dried 0.46) and its largest nip pressure is within 3-7 % of the plate's (29 / 60 / 89 vs
30 / 62 / 95 MPa), but the film springs back more (10-17 % vs 1-1.6 %), so it ends 0.05-0.09 more
porous than under the plate (0.40 / 0.37 / 0.33). The cause is the pass on this 1-2-layer film of
~10 um spheres, not the roll's scaled radius: 20-30 um behind the axis the film is back near
h_dried (particles move at ~1 m/s, the sheared bed dilates); a 20 times larger roll (3 mm, entry
angle 0.04 rad, 13 tiles) left it at 0.43 at 0.2, and a frictionless roll at the dried thickness
(friction, i.e. rolling without slip, is what holds the film). Carrying the dried film's contact
histories into the pass changed none of these figures by more than 0.01 in porosity or 1 point of
spring-back. Over a real RVE the press roll is
a plane tilted by < 0.01 rad, so the plate protocol remains the closer local model of the press.
Default RVE (300 AM, 96:2:2, R = 200 um, compression 0.2): 4 tiles, 13,900 particles, 151,000
steps, ~9.5 min on one core; porosity 0.38 (dried 0.44), spring-back 14 %, nip pressure 15 MPa.

Not (yet) shared with the plate protocol: the roll is a plain function, not a steppable protocol,
it does not densify the CBD (its gap check counts the CBD particles as they are, so it refuses
compressions above ~0.28 on 96:2:2 films), and a loading block above the inertial bound is not
re-run (the run fails instead); its lift and micrometer use the same PressureServo, non-adaptive.

Quasi-static check: at the nip entry a point is compressed at the rate v a / R (+ the roll's descent
during the ramp), over the current thickness; I = rate d sqrt(rho / P) with the nip pressure, held
to the plate protocol's target and bound (`CalenderingConfig`: the roll slows down where I would
exceed `inertial_target`, at most `max_slowdown` times, and SimulationFailed is raised past
`inertial_bound`, over the blocks carrying at least `pressure_floor_fraction` of the largest
pressure). Nominal speed: the entry arc passes a point in `load_steps` steps (the plate's mean
strain rate). The real line speed only sets the real duration.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from sims.dem.engine import FailureLimits, Simulation
from sims.dem.state import Box, ParticleState
from sims.dem.walls import PlaneWall, RollWall
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
from sims.protocols.contact_tables import COLLECTOR_TYPE, TOOL_TYPE, electrode_contact_params
from sims.protocols.film import inertial_number, mean_diameter_and_density, sphere_volume_m3, top_m
from sims.protocols.stepping import PressureServo
from sims.protocols.timeseries import FrameRecorder, TimeSeriesWriter

log = logging.getLogger(__name__)

DEFAULT_ROLL_RADIUS_M = 200e-6
ARC_MARGIN = 1.1  # box length >= ARC_MARGIN * 2 a: the roll clears the film at half a box
DAMPING_TIME_FRACTION = 0.05  # drag relaxation time / nip passage time (module doc)


@dataclass(kw_only=True)
class RollResult(CalenderingResult):
    """A roll-calendered electrode: CalenderingResult (strain, pressure_pa = nip pressure, stage per
    block; min_gap_m = the roll gap) plus, per block, roll_travel_m (axis travel along x, m) and
    line_load_n_m (F_z / L_y, N/m); roll_radius_m, contact_arc_m (entry arc a at the gap, m) and
    tiles (copies of the dried RVE along x in `state` and `box`)."""

    roll_travel_m: np.ndarray
    line_load_n_m: np.ndarray
    roll_radius_m: float
    contact_arc_m: float
    tiles: int


def tile_x(state: ParticleState, box: Box, tiles: int) -> tuple[ParticleState, Box]:
    """`tiles` copies of a periodic state side by side along x (contact histories included), and
    the box tiles times longer."""
    lx = float(box.length[0])
    fields = {k: np.concatenate([v] * tiles) for k, v in state.__dict__.items() if k != "contacts"}
    fields["position"][:, 0] += np.repeat(np.arange(tiles) * lx, state.n)
    contacts = None if state.contacts is None else state.contacts.tiled_x(tiles, lx)
    hi = (box.lo[0] + tiles * lx, box.hi[1], box.hi[2])
    return ParticleState(**fields, contacts=contacts), Box(box.lo, hi)


def roll_calender(
    state: ParticleState,
    box: Box,
    material: ElectrodeMaterial,
    compression_ratio: float,
    *,
    roll_radius_m: float = DEFAULT_ROLL_RADIUS_M,
    speed_mm_s: float = 10.0,
    config: CalenderingConfig | None = None,
    threads: int = 1,
    writer: TimeSeriesWriter | None = None,
) -> RollResult:
    """Roll-calender the dried electrode `state` (at rest in `box`, collector at z = 0).

    compression_ratio: thickness reduction of the dried film at the gap, in [0, 1); roll_radius_m:
    the scaled roll's radius (m); speed_mm_s: real line speed (mm/s). The state is not modified.
    """
    cfg = config or CalenderingConfig()
    if not (math.isfinite(roll_radius_m) and roll_radius_m > 0.0):
        raise PhysicalInputError(f"roll_radius_um must be > 0, got {roll_radius_m * 1e6}")
    h0, gap = calendering_gap(state, box, compression_ratio, speed_mm_s, sphere_volume_m3(state))
    radius = float(roll_radius_m)
    arc = math.sqrt(2.0 * radius * (h0 - gap))
    lx = float(box.length[0])
    tiles = max(1, math.ceil(ARC_MARGIN * 2.0 * arc / lx))
    if compression_ratio == 0.0:  # uncalendered: the dried film as it is
        e = np.zeros(0)
        return RollResult(
            state=state.copy(),
            box=box,
            h_dried_m=h0,
            min_gap_m=h0,
            thickness_m=h0,
            spring_back_pct=0.0,
            max_pressure_pa=0.0,
            inertial_number=0.0,
            real_duration_s=0.0,
            strain=e,
            pressure_pa=e,
            stage=e.astype(np.int64),
            steps=0,
            roll_travel_m=e,
            line_load_n_m=e,
            roll_radius_m=radius,
            contact_arc_m=0.0,
            tiles=1,
        )
    state, box = tile_x(state, box, tiles)
    state.velocity[:] = 0.0
    state.angular_velocity[:] = 0.0
    lx, ly = float(box.length[0]), float(box.length[1])
    params = electrode_contact_params(
        material, plastic=cfg.plastic, cohesion=cfg.cohesion, cbd_friction=cfg.cbd_friction
    )
    dt = DT_FRACTION * params.rayleigh_time(state.radius, state.mass, state.type_id)
    speed = arc / (cfg.load_steps * dt)
    time_scale = speed / (1e-3 * speed_mm_s)
    x0 = box.lo[0]
    roll = RollWall(
        x0, h0 + radius, radius, velocity=(speed, 0.0), angular_velocity=speed / radius, type_id=TOOL_TYPE
    )
    plate = PlaneWall(h0, normal=-1, type_id=TOOL_TYPE)  # restrains the film top, then the micrometer
    d50 = 1e-6 * material.active.mean_diameter_um
    m50 = 1000.0 * material.active.density_g_cm3 * math.pi / 6.0 * d50**3
    viscosity = m50 / (3.0 * math.pi * d50 * DAMPING_TIME_FRACTION * cfg.load_steps * dt)
    sim = Simulation(
        state,
        box,
        params,
        [PlaneWall(0.0, normal=1, type_id=COLLECTOR_TYPE), roll, plate],
        dt,
        gravity=(0.0, 0.0, -G),
        fluid_viscosity_pa_s=viscosity,
        threads=threads,
        limits=FailureLimits(max_overlap_fraction=cfg.max_overlap_fraction),
    )
    travel_total = lx + arc
    log.info(
        "roll calendering: R %.3g m, arc %.3g m, %d tiles, dt %.3g s, roll %.3g m/s, gap %.3g m from %.3g m",
        radius,
        arc,
        tiles,
        dt,
        speed,
        gap,
        h0,
    )
    d_mean, rho = mean_diameter_and_density(state)
    block_time = cfg.block_steps * dt
    rec: list[tuple[float, float, float, float, int, float]] = []  # travel, bottom, Fz, P, stage, I
    frames = FrameRecorder(writer, "calender_roll", (lx, ly))

    def bottom_at(travel: float) -> float:
        """Roll bottom height (m) planned at an axis travel (m): a ramp into the nip over one arc."""
        return h0 - (h0 - gap) * min(travel / arc, 1.0)

    def nip(stage: int) -> tuple[float, float]:
        """Record a block; return the nip pressure (Pa) and the rate factor (strain rate / speed)."""
        travel = roll.center_x - x0
        bottom = roll.center_z - radius
        arc_now = math.sqrt(2.0 * radius * max(h0 - bottom, 0.0))
        force = roll.mean_force[2]
        pressure = force / (arc_now * ly) if arc_now > 0.0 else 0.0
        descent = -roll.velocity[1] / roll.velocity[0] if roll.velocity[0] > 0.0 else 0.0
        per_speed = (arc_now / radius + descent) / bottom  # strain rate at the entry / roll speed
        i_num = inertial_number(roll.velocity[0] * per_speed, pressure, sim.state) if stage == 0 else 0.0
        rec.append((travel, bottom, force, pressure, stage, i_num))
        frames.maybe(sim, bottom, sim.time * time_scale, wall_pressure_pa=pressure)
        return pressure, per_speed

    def load(s: Simulation) -> bool:
        pressure, per_speed = nip(0)
        travel = roll.center_x - x0
        if travel >= travel_total * (1.0 - 1e-9):
            return True
        v = speed
        if pressure > 0.0 and per_speed > 0.0:
            v_quasi_static = cfg.inertial_target / (per_speed * d_mean * math.sqrt(rho / pressure))
            v = min(speed, max(v_quasi_static, speed / cfg.max_slowdown))
        v = min(v, (travel_total - travel) / block_time)
        vz = (bottom_at(travel + v * block_time) - (roll.center_z - radius)) / block_time
        roll.velocity = (v, vz)
        roll.angular_velocity = v / radius  # rolling without slip on the film
        return False

    roll.velocity = (speed, (bottom_at(speed * block_time) - h0) / block_time)
    frames.maybe(sim, h0, 0.0, force=True)
    n_nominal = int(math.ceil(travel_total / arc * cfg.load_steps))
    sim.run(
        n_nominal * int(cfg.max_slowdown) + cfg.block_steps, callback_every=cfg.block_steps, callback=load
    )
    if roll.center_x - x0 < travel_total * (1.0 - 1e-6):
        raise SimulationFailed("roll calendering: the roll did not finish its pass")
    min_gap = roll.center_z - radius

    # release: the roll stops and lifts, its pressure ramped down to a light touch (force controlled,
    # as the plate's release), then it is removed and a plate measures the thickness at that touch
    frames.next_stage("calender_release", sim.step)
    roll.velocity, roll.angular_velocity = (0.0, 0.0), 0.0
    lift_speed = (h0 - gap) / (cfg.load_steps * dt)
    n_blocks = max(cfg.release_steps // (2 * cfg.block_steps), 1)
    p_start = max(rec[-1][3], cfg.touch_pressure_pa)
    ramp = iter(np.linspace(p_start, cfg.touch_pressure_pa, n_blocks))

    lift_servo = PressureServo(lift_speed, adaptive=False)

    def lift(s: Simulation) -> None:
        pressure, _ = nip(2)
        roll.velocity = (0.0, lift_servo(pressure, next(ramp, cfg.touch_pressure_pa)))

    lift(sim)
    sim.run(n_blocks * cfg.block_steps, callback_every=cfg.block_steps, callback=lift)
    roll.center_z, roll.velocity = box.hi[2] + 2.0 * radius, (0.0, 0.0)  # away
    # the micrometer starts on the highest particle (rattlers of the dried film may have flown up),
    # comes down fast enough to reach the gap within its stage, and from its first touch on it
    # follows the film at the lift speed (a fast servo would bounce on the film)
    plate.z = top_m(sim.state) + 1e-3 * d_mean
    approach = [max(lift_speed, 2.0 * (plate.z - gap) / (n_blocks * block_time))]
    sim.refresh()
    area = lx * ly

    touch_servo = PressureServo(approach[0], adaptive=False)

    def touch(s: Simulation) -> None:
        pressure = plate.mean_force[2] / area
        rec.append((roll.center_x - x0, plate.z, plate.mean_force[2], pressure, 2, 0.0))
        frames.maybe(s, plate.z, s.time * time_scale, wall_pressure_pa=pressure)
        if pressure >= cfg.touch_pressure_pa:
            approach[0] = lift_speed
        touch_servo.max_speed_m_s = approach[0]
        plate.velocity = (0.0, 0.0, touch_servo(pressure, cfg.touch_pressure_pa))

    touch(sim)
    sim.run(n_blocks * cfg.block_steps, callback_every=cfg.block_steps, callback=touch)
    final = sim.state
    if not np.all(np.isfinite(final.position)):
        raise SimulationFailed("roll calendering: non-finite positions after the release")
    arr = np.array(rec, dtype=np.float64).reshape(-1, 6)
    loaded = arr[arr[:, 4] == 0]
    p_max = float(loaded[:, 3].max()) if len(loaded) else 0.0
    inertial = checked_inertial_number(loaded[:, 3], loaded[:, 5], p_max, cfg, "roll calendering")
    thickness = plate.z
    return RollResult(
        state=final,
        box=box,
        h_dried_m=h0,
        min_gap_m=min_gap,
        thickness_m=thickness,
        spring_back_pct=100.0 * (thickness - min_gap) / min_gap,
        max_pressure_pa=p_max,
        inertial_number=inertial,
        real_duration_s=sim.time * time_scale,
        strain=1.0 - arr[:, 1] / h0,
        pressure_pa=arr[:, 3],
        stage=arr[:, 4].astype(np.int64),
        steps=sim.step,
        roll_travel_m=arr[:, 0],
        line_load_n_m=arr[:, 2] / ly,
        roll_radius_m=radius,
        contact_arc_m=arc,
        tiles=tiles,
    )
