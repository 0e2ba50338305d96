"""`Simulation`: the thin object that holds a DEM system and drives the numba kernels.

    state = ParticleState.from_spheres(position, radius, type_id, params.density_kg_m3)
    sim = Simulation(state, Box(lo, hi), params, walls=[PlaneWall(0.0), plate], dt=1e-10, threads=1)
    sim.run(10_000, callback_every=1_000, callback=lambda s: print(s.time, plate.mean_force[2]))

SI units. Between `run` calls the protocols may move walls (position, velocity), change dt,
gravity, fluid_viscosity_pa_s or threads, and edit the state in place; after editing positions,
radii, masses or types outside `run`, call `refresh()` (rebuilds the neighbour list keeping contact
histories, recomputes forces). The state carries the contact histories (`state.contacts`, shear
springs and largest overlaps per pair and per wall), so a new Simulation on it resumes them, as a
LIGGGHTS restart does. The set of walls is fixed at construction. A run that reaches a broken
state raises SimulationFailed with the reason, and the simulation refuses to run further.

Threads: `threads=1` runs serial kernels; more set numba's thread count (numba.set_num_threads)
before each call. Unless NUMBA_THREADING_LAYER(_PRIORITY) is set, GNU OpenMP is preferred.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numba
import numpy as np

from sims.dem import integrate
from sims.dem.contact import HIST_SIZE
from sims.dem.neighbors import cell_grid, rebuild
from sims.dem.params import ContactParams
from sims.dem.state import Box, ContactHistory, ParticleState
from sims.dem.walls import Wall, pack_walls, same_surface
from sims.errors import PhysicalInputError, SimulationFailed

# Each step opens two parallel regions, so the layer's wake-up latency is what threads cost.
# Measured on the 3,000-sphere bed of benchmarks/dem_throughput.py, 2 cores (p-steps/s, 1 thread
# 8.3e6): idle machine, 2 threads: omp 1.18e7, tbb 7.9e6, workqueue 6.1e6; with one busy process
# beside it: omp 1.2e6 (its threads spin 300,000 times before sleeping, on a core the other
# process needs), tbb 2.5e6, workqueue 5.8e6. With GOMP_SPINCOUNT=1000: idle 1.13e7, busy 6.2e6,
# the best of both; set before libgomp loads (at the first parallel run). Only when the user has
# not chosen a layer or a spin count.
os.environ.setdefault("GOMP_SPINCOUNT", "1000")
if "NUMBA_THREADING_LAYER" not in os.environ and "NUMBA_THREADING_LAYER_PRIORITY" not in os.environ:
    numba.config.THREADING_LAYER_PRIORITY = ["omp", "tbb", "workqueue"]


@dataclass(frozen=True)
class FailureLimits:
    """Bounds beyond which a run is declared broken.

    max_overlap_fraction: overlap / smaller radius of the pair (a wall counts as infinitely large).
    max_speed_m_s: particle speed bound (kinetic energy exploding); None: 0.1 r_min / dt, i.e. a
    particle crossing a tenth of the smallest radius in one step.
    """

    max_overlap_fraction: float = 0.5
    max_speed_m_s: float | None = None

    def __post_init__(self) -> None:
        if not 0.0 < self.max_overlap_fraction <= 2.0:
            raise PhysicalInputError(
                f"max_overlap_fraction must lie in (0, 2], got {self.max_overlap_fraction}"
            )
        if self.max_speed_m_s is not None and not self.max_speed_m_s > 0.0:
            raise PhysicalInputError(f"max_speed_m_s must be > 0, got {self.max_speed_m_s}")


@dataclass(frozen=True)
class Contacts:
    """Touching pairs (each once) at the current state: i, j (C,) int64; overlap (C,) m; reff (C,) m."""

    i: np.ndarray
    j: np.ndarray
    overlap: np.ndarray
    reff: np.ndarray


class Simulation:
    """A DEM system: particles, box, contact tables, walls, and the neighbour list between runs.

    dt: time step (s), at most the Rayleigh time (0.1-0.2 of it is usual). skin: Verlet skin (m),
    default half the smallest radius. gravity: (3,) m/s2. fluid_viscosity_pa_s: Stokes drag of a
    fluid at rest (slurry solvent), 0 for none. threads: numba threads; 1 runs the serial kernels,
    more the parallel ones (each thread accumulates the pair forces of a block of rows).

    Attributes: time (s) and step since construction, n_rebuilds (neighbour-list builds), walls,
    state, params, limits; `rayleigh_time` (s).
    """

    def __init__(
        self,
        state: ParticleState,
        box: Box,
        params: ContactParams,
        walls: Sequence[Wall] = (),
        dt: float = 1e-10,
        *,
        skin: float | None = None,
        gravity: Sequence[float] = (0.0, 0.0, 0.0),
        fluid_viscosity_pa_s: float = 0.0,
        threads: int = 1,
        limits: FailureLimits | None = None,
    ) -> None:
        self.state = state
        self.box = box
        self.params = params
        self.walls = list(walls)
        self.limits = limits or FailureLimits()
        self.time = 0.0
        self.step = 0
        self.n_rebuilds = 0
        self._failed: str | None = None
        if state.n == 0:
            raise PhysicalInputError("state has no particles")
        if state.type_id.max() >= params.n_types:
            raise PhysicalInputError(f"type_id {state.type_id.max()} >= number of types {params.n_types}")
        if not (np.isfinite(dt) and dt > 0.0):
            raise PhysicalInputError(f"dt must be finite and > 0, got {dt}")
        t_rayleigh = params.rayleigh_time(state.radius, state.mass, state.type_id)
        if dt > t_rayleigh:
            raise PhysicalInputError(
                f"dt = {dt:.3g} s exceeds the Rayleigh time {t_rayleigh:.3g} s (unstable)"
            )
        self.dt = float(dt)
        self.skin = 0.5 * float(state.radius.min()) if skin is None else float(skin)
        if not (np.isfinite(self.skin) and self.skin > 0.0):
            raise PhysicalInputError(f"skin must be finite and > 0, got {skin}")
        self.gravity = np.asarray(gravity, dtype=np.float64)
        if self.gravity.shape != (3,) or not np.all(np.isfinite(self.gravity)):
            raise PhysicalInputError(f"gravity must be 3 finite numbers, got {gravity}")
        if not (np.isfinite(fluid_viscosity_pa_s) and fluid_viscosity_pa_s >= 0.0):
            raise PhysicalInputError(
                f"fluid_viscosity_pa_s must be finite and >= 0, got {fluid_viscosity_pa_s}"
            )
        self.fluid_viscosity_pa_s = float(fluid_viscosity_pa_s)
        self._tables = (
            params.youngs_eff,
            params.shear_eff,
            params.damping,
            params.friction,
            params.rolling_friction,
            params.cohesion,
            params.yield_pressure,
        )
        self._lo = np.array(box.lo)
        self._length = box.length
        cutoff = 2.0 * float(state.radius.max()) + self.skin
        if np.any(self._length[:2] <= 2.0 * cutoff):
            raise PhysicalInputError(
                f"box x, y lengths {self._length[:2]} m must exceed 2 (2 r_max + skin) = {2 * cutoff:.3g} m"
            )
        self._grid = (self._lo, self._length, cell_grid(self._length, state.radius, self.skin))
        n = state.n
        self._cells = (
            np.zeros(int(np.prod(self._grid[2])) + 2, dtype=np.int64),
            np.zeros(n, dtype=np.int64),
            np.zeros((n, 4)),
            np.zeros(n, dtype=np.int64),
        )
        self._x_build = np.empty((n, 3))
        self._alloc_list(16)
        self._wall_hist = np.zeros((n, len(self.walls), HIST_SIZE))
        self._fail = np.zeros(2, dtype=np.int64)
        self._fail_value = np.zeros(1)
        self._counters = np.zeros(1, dtype=np.int64)
        self._threads = _checked_threads(threads)
        if state.contacts is not None:
            self._resume(state.contacts)
        self.refresh()

    # -- public --------------------------------------------------------------------------------

    @property
    def threads(self) -> int:
        """Number of numba threads the kernels use (1: serial kernels)."""
        return self._threads

    @threads.setter
    def threads(self, value: int) -> None:
        self._threads = _checked_threads(value)

    @property
    def rayleigh_time(self) -> float:
        """Smallest Rayleigh time of the particles (s)."""
        return self.params.rayleigh_time(self.state.radius, self.state.mass, self.state.type_id)

    def refresh(self) -> None:
        """Rebuild the neighbour list and recompute forces after editing the state outside `run`."""
        self._check_not_failed()
        self._build_list()
        self._compute_forces()
        self._publish()

    def run(
        self,
        n_steps: int,
        callback_every: int | None = None,
        callback: Callable[[Simulation], bool | None] | None = None,
    ) -> None:
        """Advance n_steps steps; every `callback_every` steps call `callback(self)` (True stops).

        Each block of callback_every steps is one numba call. After each block every wall holds
        `force` (last step) and `mean_force` (mean over the block), in N.
        """
        self._check_not_failed()
        if int(n_steps) != n_steps or n_steps < 0:
            raise PhysicalInputError(f"n_steps must be a non-negative integer, got {n_steps}")
        block = int(n_steps) if callback_every is None else int(callback_every)
        if block <= 0 and n_steps > 0:
            raise PhysicalInputError(f"callback_every must be a positive integer, got {callback_every}")
        done = 0
        while done < n_steps:
            k = min(block, n_steps - done)
            self._advance(k)
            done += k
            self._publish()
            if callback is not None and callback(self):
                break

    def kinetic_energy(self) -> np.ndarray:
        """Kinetic energy of each particle (N,), J (translation + rotation)."""
        return self.state.kinetic_energy()

    def contacts(self) -> Contacts:
        """The touching particle pairs now (walls excluded), each pair once."""
        s = self.state
        n, cap = self._nbr.shape
        mask = np.arange(cap)[None, :] < self._nnb[:, None]
        i = np.repeat(np.arange(n), cap).reshape(n, cap)[mask]
        j = self._nbr[mask]
        d = s.position[i] - s.position[j]
        d[:, :2] -= self._shift[mask]
        overlap = s.radius[i] + s.radius[j] - np.linalg.norm(d, axis=1)
        keep = overlap > 0.0
        i, j, overlap = i[keep], j[keep], overlap[keep]
        ri, rj = s.radius[i], s.radius[j]
        return Contacts(i=i, j=j, overlap=overlap, reff=ri * rj / (ri + rj))

    # -- internals -----------------------------------------------------------------------------

    def _check_not_failed(self) -> None:
        if self._failed is not None:
            raise SimulationFailed(f"the simulation failed earlier and cannot continue: {self._failed}")

    def _resume(self, h: ContactHistory) -> None:
        """Start from the histories of an earlier Simulation on these particles: its list becomes
        the one the first build carries histories from; a wall takes the histories of the earlier
        wall that was the same surface in the same place (e.g. the current collector)."""
        self._alloc_list(max(h.partner.shape[1], 1))
        c = h.partner.shape[1]
        self._nbr[:, :c] = h.partner
        self._shift[:, :c] = h.shift
        self._nnb[:] = h.count
        self._hist[:, :c] = h.pair
        if h.wall is None:
            return
        kind, geom, wtype = pack_walls(self.walls, self.params.n_types)
        for w in range(len(self.walls)):
            for q in range(len(h.wall_kind)):
                if wtype[w] == h.wall_type[q] and same_surface(
                    kind[w], geom[w], h.wall_kind[q], h.wall_geometry[q]
                ):
                    self._wall_hist[:, w] = h.wall[:, q]
                    break

    def _publish(self) -> None:
        """Keep the live histories with the state (no copy: `state.copy()` copies them)."""
        kind, geom, wtype = pack_walls(self.walls, self.params.n_types)
        self.state.contacts = ContactHistory(
            self._nbr, self._shift, self._nnb, self._hist, kind, geom, wtype, self._wall_hist
        )

    def _alloc_list(self, cap: int) -> None:
        n = self.state.n
        old = getattr(self, "_nbr", None)
        nbr = np.full((n, cap), -1, dtype=np.int64)
        shift = np.zeros((n, cap, 2))
        hist = np.zeros((n, cap, HIST_SIZE))
        if old is not None:
            c = min(cap, old.shape[1])
            nbr[:, :c] = old[:, :c]
            shift[:, :c] = self._shift[:, :c]
            hist[:, :c] = self._hist[:, :c]
        else:
            self._nnb = np.zeros(n, dtype=np.int64)
        self._nbr, self._shift, self._hist = nbr, shift, hist
        self._old_nbr = np.empty_like(nbr)
        self._old_nnb = np.empty_like(self._nnb)
        self._old_hist = np.empty_like(hist)

    def _nlist(self) -> tuple:
        return self._nbr, self._shift, self._nnb, self._hist

    def _scratch(self) -> tuple:
        return (self._old_nbr, self._old_nnb, self._old_hist, self._x_build, *self._cells)

    def _particles(self) -> tuple:
        s = self.state
        return (
            s.position,
            s.velocity,
            s.angular_velocity,
            s.force,
            s.torque,
            s.radius,
            s.mass,
            1.0 / s.mass,
            1.0 / s.inertia,
            s.type_id,
        )

    def _walls(self) -> tuple:
        kind, geom, wtype = pack_walls(self.walls, self.params.n_types)
        return kind, geom, wtype, self._wall_hist, np.zeros((len(self.walls), 3))

    @property
    def _env(self) -> tuple:
        return np.asarray(self.gravity, dtype=np.float64), float(self.fluid_viscosity_pa_s)

    def _buffers(self) -> tuple:
        n_buf = self._threads if self._threads > 1 else 0
        return np.empty((n_buf, self.state.n, 3)), np.empty((n_buf, self.state.n, 3))

    def _checks(self, vmax: float) -> tuple:
        return self.limits.max_overlap_fraction, vmax * vmax, self._fail, self._fail_value

    def _build_list(self) -> None:
        s = self.state
        numba.set_num_threads(self._threads)
        while True:
            status, info = rebuild(
                self._threads,
                s.position,
                s.radius,
                self.skin,
                self._grid,
                self._nlist(),
                self._scratch(),
            )
            if status == 0:
                break
            if status == 2:
                z = s.position[info, 2]
                raise PhysicalInputError(f"particle {info} lies outside the box in z (z = {z:.4g} m)")
            self._alloc_list(int(1.3 * info) + 4)
        self.n_rebuilds += 1

    def _compute_forces(self) -> None:
        walls = self._walls()
        # dt = 0: evaluating the forces must not advance the shear histories
        integrate.compute_forces(
            self._particles(),
            self._nlist(),
            self._tables,
            walls,
            self._length[0],
            0.0,
            self._env,
            self._checks(np.inf),
        )
        self._raise_on_failure(int(self._fail[0]))
        for q, wall in enumerate(self.walls):
            wall.force = walls[4][q].copy()

    def _advance(self, n_steps: int) -> None:
        walls = self._walls()
        wall_force_sum = np.zeros((len(self.walls), 3))
        vmax = self.limits.max_speed_m_s or 0.1 * float(self.state.radius.min()) / self.dt
        particles = self._particles()
        checks = self._checks(vmax)
        buffers = self._buffers()
        numba.set_num_threads(self._threads)
        remaining, resume = n_steps, False
        self._counters[0] = 0
        while remaining > 0:
            status, done = integrate.run_steps(
                self._threads > 1,
                remaining,
                resume,
                self.dt,
                particles,
                self._tables,
                self._nlist(),
                self._scratch(),
                self._grid,
                self.skin,
                walls,
                wall_force_sum,
                self._env,
                checks,
                self._counters,
                buffers,
            )
            self.step += done
            self.time += done * self.dt
            remaining -= done
            for q, wall in enumerate(self.walls):
                wall.update_from(walls[1][q])
            if status == integrate.OVERFLOW:
                self._alloc_list(int(1.3 * self._fail_value[0]) + 4)
                resume = True
                continue
            self._raise_on_failure(status, vmax)
            resume = False
        self.n_rebuilds += int(self._counters[0])
        for q, wall in enumerate(self.walls):
            wall.force = walls[4][q].copy()
            wall.mean_force = wall_force_sum[q] / max(n_steps, 1)

    def _raise_on_failure(self, status: int, vmax: float = np.inf) -> None:
        if status == integrate.OK:
            return
        i = int(self._fail[1])
        value = float(self._fail_value[0])
        where = f"at step {self.step} (t = {self.time:.4g} s)"
        reasons = {
            integrate.ESCAPED: f"particle {i} left the box in z (z = {self.state.position[i, 2]:.4g} m)",
            integrate.NOT_FINITE: f"particle {i} has a non-finite velocity or position (NaN or inf)",
            integrate.OVERLAP: f"overlap of particle {i} reached {value:.3g} of the smaller radius "
            f"(bound {self.limits.max_overlap_fraction})",
            integrate.TOO_FAST: f"particle {i} speed {value:.3g} m/s exceeds the bound {vmax:.3g} m/s "
            "(kinetic energy exploding)",
        }
        self._failed = f"{reasons.get(status, f'status {status}')} {where}"
        self._fail[:] = 0
        raise SimulationFailed(self._failed)


def _checked_threads(value: int) -> int:
    if int(value) != value or not 1 <= value <= numba.config.NUMBA_NUM_THREADS:
        raise PhysicalInputError(
            f"threads must be an integer in [1, {numba.config.NUMBA_NUM_THREADS}], got {value}"
        )
    return int(value)
