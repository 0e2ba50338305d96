"""Steppable protocols: stages advanced k steps at a time, the full state out and in, observables
per stage, and the one pressure servo of the protocols.

A protocol (drying, plate calendering) is a `SteppedProtocol`: an ordered tuple of stage names and,
for each, a control method called every `block_steps` steps of that stage (it records the
observables of the block, moves the walls and returns True when its stage is over) and a step
budget. Between calls:

- `advance(k)` runs up to k more steps, crossing stage ends; `run()` runs to the end; `done`,
  `stage` (name of the current stage) and `stage_step` (steps into it) say where it stands;
- `state` hands out a copy of the full particle state (positions, velocities, angular velocities,
  radii, masses, types and contact histories) and `set_state(state)` takes one back (the same
  particles, e.g. moved by a learned model's macro-step: the run resumes from it, with the contact
  histories it carries);
- `jump(state, k, wall_z)`: continue as if k more steps had run and left `state` (a learned
  model's macro-step): the clock, the step counters and the walls move on, stage ends that the
  k steps cross are taken, and the steps run after it feed the next control call; `end_stage()`
  ends the current stage and `advance(k, controls=False)` runs steps without the controls, for a
  driver that decides itself;
- `snapshot()` / `restore(snapshot)`: particle state, walls and counters, to re-run a block;
- `observables`: one row per control block (OBSERVABLES): stage, step, time_s, wall_z_m,
  pressure_pa, inertial_number (0 where the stage does not check it).

This is the seam where PAML inserts its DL macro-steps: take the state, predict the one k steps
later with a model, `jump` to it, `advance(n_dem)` real steps that relax its unphysical contacts
(the stage's control runs on them when they end a block), repeat.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from sims.dem.engine import Simulation
from sims.dem.state import ParticleState
from sims.dem.walls import PlaneWall
from sims.errors import PhysicalInputError

OBSERVABLES = ("stage", "step", "time_s", "wall_z_m", "pressure_pa", "inertial_number")


class PressureServo:
    """The one pressure servo of the protocols (drying, plate and roll calendering): the speed
    (m/s, > 0: away from the film) that brings a tool's pressure to a target.

    Proportional with saturation, v = s clip(P / P_target - 1, -1, 1), where the speed scale s
    halves whenever the error changes sign (the tool overshot: a stiff film needs a smaller step)
    and grows back by 20 % per block while it keeps its sign, up to `max_speed_m_s`; with
    adaptive=False it stays at max_speed_m_s.
    """

    def __init__(self, max_speed_m_s: float, adaptive: bool = True) -> None:
        if not (math.isfinite(max_speed_m_s) and max_speed_m_s > 0.0):
            raise PhysicalInputError(f"servo speed must be > 0 m/s, got {max_speed_m_s}")
        self.max_speed_m_s = float(max_speed_m_s)
        self.speed_m_s = float(max_speed_m_s)
        self.adaptive = adaptive
        self._sign = 0.0

    def __call__(self, pressure_pa: float, target_pa: float) -> float:
        error = float(np.clip(pressure_pa / target_pa - 1.0, -1.0, 1.0))
        sign = float(np.sign(error))
        if not self.adaptive:
            self.speed_m_s = self.max_speed_m_s
        elif sign * self._sign < 0.0:
            self.speed_m_s *= 0.5
        else:
            self.speed_m_s = min(self.max_speed_m_s, 1.2 * self.speed_m_s)
        self._sign = sign
        return self.speed_m_s * error


@dataclass
class Snapshot:
    """Everything a protocol needs to resume: particles, wall heights and velocities, counters."""

    state: ParticleState
    walls: list[tuple[float, tuple[float, float, float]]]
    stage_index: int
    stage_step: int
    step: int
    time: float
    n_observables: int


@dataclass(frozen=True)
class Stage:
    """A stage: its name, its control (called every block; True ends the stage) and step budget."""

    name: str
    control: Callable[[], bool]
    max_steps: int
    start: Callable[[], None] | None = None


class SteppedProtocol:
    """Base of the protocols: holds the Simulation, the stages and the observables (module doc).

    Subclasses build `self.sim` (plane walls only) and call `_set_stages`; a stage whose budget runs
    out ends (its control decides beforehand whether that is a failure).
    """

    name = "protocol"

    def __init__(self, block_steps: int) -> None:
        if int(block_steps) != block_steps or block_steps < 1:
            raise PhysicalInputError(f"block_steps must be a positive integer, got {block_steps}")
        self.block_steps = int(block_steps)
        self.sim: Simulation
        self._stages: tuple[Stage, ...] = ()
        self.stage_index = 0
        self.stage_step = 0
        self.step = 0  # steps of the whole protocol (the simulation may change between stages)
        self.time = 0.0
        self._rows: list[tuple] = []
        self._force_sum = np.zeros((0, 3))
        self._block_run = 0

    # -- public ----------------------------------------------------------------------------------

    @property
    def stages(self) -> tuple[str, ...]:
        return tuple(s.name for s in self._stages)

    @property
    def done(self) -> bool:
        return self.stage_index >= len(self._stages)

    @property
    def stage(self) -> str | None:
        """Name of the current stage (None when done)."""
        return None if self.done else self._stages[self.stage_index].name

    def advance(self, k: int, controls: bool = True) -> int:
        """Run up to k steps (fewer when the protocol ends); returns the steps run. With
        controls=False the stages' controls do not run (the walls keep their velocities, no
        observables are recorded, only a stage's step budget ends it): for a driver that controls
        the stage itself, e.g. PAML's relaxation steps."""
        if int(k) != k or k < 0:
            raise PhysicalInputError(f"steps to advance must be a non-negative integer, got {k}")
        ran = 0
        while ran < k and not self.done:
            stage = self._stages[self.stage_index]
            to_block = self.block_steps - self.stage_step % self.block_steps
            n = min(to_block, k - ran, stage.max_steps - self.stage_step)
            self.sim.run(n)
            self._force_sum += n * np.array([w.mean_force for w in self.sim.walls]).reshape(-1, 3)
            self._block_run += n
            self._move_clock(n)
            ran += n
            if self.stage_step % self.block_steps == 0 or self.stage_step >= stage.max_steps:
                for w, total in zip(self.sim.walls, self._force_sum, strict=True):
                    w.mean_force = total / self._block_run  # over the whole block, however it was split
                self._force_sum[:] = 0.0
                self._block_run = 0
                finished = controls and stage.control()
                if finished or self.stage_step >= stage.max_steps:
                    self._next_stage()
        return ran

    def run(self) -> None:
        """Run every remaining stage to its end."""
        while not self.done:
            self.advance(self.block_steps * 1000)

    @property
    def state(self) -> ParticleState:
        """A copy of the full particle state (contact histories included)."""
        return self.sim.state.copy()

    def set_state(self, state: ParticleState) -> None:
        """Continue from `state` (same particles; radii, masses and types may not change)."""
        old = self.sim.state
        if state.n != old.n or not np.array_equal(state.type_id, old.type_id):
            raise PhysicalInputError(f"{self.name}: set_state needs the same {old.n} particles and types")
        self.sim = self._rebuild(state.copy())

    def jump(self, state: ParticleState, k: int, wall_z: Sequence[float | None] | None = None) -> None:
        """Continue as if k more steps had run and left `state` (same particles; its contact
        histories, if any, are resumed): `step`, `stage_step` and `time` move on by k steps of the
        current time step; each wall moves to `wall_z[i]` (m; None or no `wall_z`: on at its
        velocity for k steps). A stage whose step budget the k steps exhaust ends and the next
        starts (its `start` runs on the state before the jump; the new state then goes to the new
        stage's simulation), so a jump may cross budget-limited stages; the controls of the skipped
        blocks do not run. The next control call sees the wall forces averaged over the steps run
        after the jump, or, when the jump itself ends a block, those of `state` as it lies.
        """
        if int(k) != k or k < 0:
            raise PhysicalInputError(f"steps to jump must be a non-negative integer, got {k}")
        if self.done:
            raise PhysicalInputError(f"{self.name}: jump after the protocol ended")
        if wall_z is not None and len(wall_z) != len(self.sim.walls):
            raise PhysicalInputError(
                f"{self.name}: wall_z needs {len(self.sim.walls)} heights, got {len(wall_z)}"
            )
        old = self.sim.state
        if state.n != old.n or not np.array_equal(state.type_id, old.type_id):
            raise PhysicalInputError(f"{self.name}: jump needs the same {old.n} particles and types")
        left = int(k)
        while not self.done:
            stage = self._stages[self.stage_index]
            n = min(left, stage.max_steps - self.stage_step)
            self._move_clock(n)
            for w in self.sim.walls:
                w.z += w.velocity[2] * n * self.sim.dt
            left -= n
            if self.stage_step < stage.max_steps:
                break
            self._next_stage()
        if left:
            raise PhysicalInputError(f"{self.name}: jump of {k} steps runs past the protocol's end")
        for w, z in zip(self.sim.walls, wall_z or [None] * len(self.sim.walls), strict=True):
            if z is not None:
                w.z = float(z)
        self.sim = self._rebuild(state.copy())
        self._force_sum[:] = 0.0
        self._block_run = 0
        if not self.done and self.stage_step > 0 and self.stage_step % self.block_steps == 0 and k > 0:
            for w in self.sim.walls:
                w.mean_force = np.array(w.force)
            if self._stages[self.stage_index].control():
                self._next_stage()

    def end_stage(self) -> None:
        """End the current stage now, as its control returning True would (the next one starts):
        for a driver that decides a stage's end itself, e.g. from a learned model."""
        if self.done:
            raise PhysicalInputError(f"{self.name}: end_stage after the protocol ended")
        self._force_sum[:] = 0.0
        self._block_run = 0
        self._next_stage()

    def snapshot(self) -> Snapshot:
        walls = [(w.z, tuple(w.velocity)) for w in self.sim.walls]
        return Snapshot(
            self.state, walls, self.stage_index, self.stage_step, self.step, self.time, len(self._rows)
        )

    def restore(self, snap: Snapshot) -> None:
        for w, (z, v) in zip(self.sim.walls, snap.walls, strict=True):
            w.z, w.velocity = z, v
        self.sim = self._rebuild(snap.state.copy())
        self.stage_index, self.stage_step = snap.stage_index, snap.stage_step
        self.step, self.time = snap.step, snap.time
        del self._rows[snap.n_observables :]
        self._force_sum[:] = 0.0
        self._block_run = 0

    @property
    def observables(self) -> dict[str, np.ndarray]:
        """Per control block: OBSERVABLES as arrays (stage as names)."""
        rows = list(zip(*self._rows, strict=True)) if self._rows else [()] * len(OBSERVABLES)
        out = {
            name: np.asarray(col, dtype=np.float64)
            for name, col in zip(OBSERVABLES[1:], rows[1:], strict=True)
        }
        return {"stage": np.asarray(rows[0], dtype=object), **out}

    # -- for subclasses -------------------------------------------------------------------------

    def _set_stages(self, stages: tuple[Stage, ...]) -> None:
        self._stages = stages
        self._force_sum = np.zeros((len(self.sim.walls), 3))
        if stages and stages[0].start is not None:
            stages[0].start()

    def _record(self, wall_z_m: float, pressure_pa: float, inertial: float = 0.0) -> None:
        self._rows.append((self.stage, self.step, self.time, wall_z_m, pressure_pa, inertial))

    def _rebuild(self, state: ParticleState) -> Simulation:
        """A Simulation on `state` with the same box, contacts, walls, dt and environment."""
        s = self.sim
        return Simulation(
            state,
            s.box,
            s.params,
            s.walls,
            s.dt,
            skin=s.skin,
            gravity=tuple(s.gravity),
            fluid_viscosity_pa_s=s.fluid_viscosity_pa_s,
            threads=s.threads,
            limits=s.limits,
        )

    def _move_clock(self, n: int) -> None:
        self.stage_step += n
        self.step += n
        self.time += n * self.sim.dt

    def _next_stage(self) -> None:
        self.stage_index += 1
        self.stage_step = 0
        if not self.done and self._stages[self.stage_index].start is not None:
            self._stages[self.stage_index].start()


def plate_pressure_pa(plate: PlaneWall, area_m2: float) -> float:
    """Mean pressure (Pa) a plane tool carried over the last block (its force on the film / area)."""
    return float(plate.mean_force[2]) / area_m2 if math.isfinite(plate.mean_force[2]) else 0.0
