"""PAML drying: the DL model's macro-steps, each followed by n_DEM DEM steps that relax it.

`paml_dry(protocol, model, conditions, n_dem, macro_steps)` drives a `Drying` protocol (sims.protocols.drying)
through its seam (`SteppedProtocol.jump`):

1. wet stage: the solvent surface descends at the protocol's speeds on the model's schedule (fast
   down to slow_ratio x h_jam, slow down to stop_ratio x h_jam, never below the largest particle;
   `DryingModel.schedule`), in equal macro-steps of at most `macro_steps` steps each. From the
   current state and the surface's heights now and after the macro-step, the model predicts every
   particle's displacement; the predicted film is kept between the collector and the surface, its
   interpenetrating pairs are separated geometrically down to SEPARATION_OVERLAP of the smaller
   radius (sims.dem.separate: the DEM cannot start from a particle inside another, it fires it
   out; and in the solvent its relaxation is drag-limited), and it starts at rest. The protocol
   `jump`s there, then `advance(n_dem, controls=False)` real DEM steps relax the contacts (the
   driver, not the pressure servo, moves the surface). At stop_ratio x h_jam the wet stage ends.
2. final macro-step: the wet film to the dried, relaxed film (the consolidate and relax stages, real
   contact stiffness, no solvent) by the model, kept under the wet stage's last surface and
   separated down to FINAL_SEPARATION_OVERLAP, then n_DEM DEM steps of the relax stage.

Limits (benchmarks/paml_drying.py): the wet stage ends on the learned schedule, not on the
capillary pressure the DEM measures, so the dried thickness carries the scatter of the stop height
over the recipes (about +-0.02 h_jam at 120 AM particles) and, for a formulation outside the
training one, its shift (the 94:6 films jam ~0.015 h_jam lower than the 96:4 line says).

`drying_protocol` builds the DEM's own protocol for a recipe (same packing and seed as
sims.electrode), so that PAML and DEM start from the same slurry.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from batman_opt.errors import InputError
from batman_opt.surrogates.drying import DryingModel, MacroStep, particle_features
from sims.dem.engine import Simulation
from sims.dem.separate import separate_overlaps
from sims.electrode import resolve_params, wet_thickness_m
from sims.materials import ElectrodeMaterial, get_material
from sims.protocols.drying import Drying, DryingResult
from sims.protocols.packing import ParticleCounts, lateral_size_m, pack_slurry, particle_counts

DEFAULT_N_DEM = 10
DEFAULT_MACRO_STEPS = 8000
SEPARATION_OVERLAP = 0.05  # predicted wet films are separated down to this overlap / smaller radius
FINAL_SEPARATION_OVERLAP = 0.0  # and the dried film (real contact stiffness) to contact
# a jammed predicted film converges slowly: pairs are pushed to the target, the separation stops
# once none overlaps by more than what is left here (the DEM's own dried films reach ~0.2 of the
# smaller radius); the DEM steps relax the rest
SEPARATION_LEFT = {SEPARATION_OVERLAP: 0.2, FINAL_SEPARATION_OVERLAP: 0.05}
SEPARATION_SWEEPS, SEPARATION_ROUNDS = 50, 30


@dataclass
class PamlRun:
    """A PAML drying: the dried film, the macro-steps and real DEM steps it took, the largest
    overlap left (over the smaller radius of the pair), wall time (s) and the model's notes."""

    result: DryingResult
    macro_steps: int
    dem_steps: int
    max_overlap: float
    wall_s: float
    notes: list[str] = field(default_factory=list)


@dataclass
class Recipe:
    """The DEM's drying protocol for a recipe, with what the chain after it needs."""

    protocol: Drying
    counts: ParticleCounts
    params: dict[str, float]
    material: ElectrodeMaterial


def drying_protocol(
    conditions: Mapping[str, float],
    material: str = "NMC111",
    *,
    n_am: int,
    seed: int,
    threads: int = 1,
) -> Recipe:
    """The Drying protocol of `conditions` (sims.electrode inputs) on the slurry sims.electrode packs
    for this seed and RVE size."""
    mat = get_material(material)
    params = resolve_params(dict(conditions), mat)
    counts = particle_counts(mat, params["am_mass_fraction"], n_am)
    lateral = lateral_size_m(counts)
    h_wet = wet_thickness_m(counts, mat, params["solid_content"], lateral**2)
    state, box = pack_slurry(counts, lateral, h_wet, seed=seed)
    protocol = Drying(state, box, mat, h_wet, params["drying_rate"], threads=threads)
    return Recipe(protocol, counts, params, mat)


def settle_um_per_step(sim: Simulation) -> np.ndarray:
    """Free Stokes settling distance of each particle per step (um): m |g| / (6 pi mu r) dt."""
    mu = sim.fluid_viscosity_pa_s
    if mu <= 0.0:
        return np.zeros(sim.state.n)
    s = sim.state
    return 1e6 * s.mass * abs(sim.gravity[2]) / (6.0 * math.pi * mu * s.radius) * sim.dt


def max_overlap_fraction(sim: Simulation) -> float:
    """Largest particle-particle overlap over the smaller radius of the pair (0 without contacts)."""
    c = sim.contacts()
    if len(c.i) == 0:
        return 0.0
    r = sim.state.radius
    return float(np.max(c.overlap / np.minimum(r[c.i], r[c.j])))


def paml_dry(
    protocol: Drying,
    model: DryingModel,
    conditions: Mapping[str, float],
    n_dem: int = DEFAULT_N_DEM,
    macro_steps: int = DEFAULT_MACRO_STEPS,
) -> PamlRun:
    """Dry with PAML (module doc) a protocol that has not started. `conditions`: the recipe's
    am_mass_fraction and solid_content (model inputs, with the protocol's drying rate), checked
    against the model's window (notes; OutsideTrainingWindow past its margin)."""
    if int(n_dem) != n_dem or n_dem < 0:
        raise InputError(f"n_dem must be a non-negative integer, got {n_dem}")
    low, high = model.k_range
    if not low <= macro_steps <= high:
        raise InputError(f"macro_steps {macro_steps} outside the model's trained range [{low}, {high}]")
    if protocol.step != 0 or protocol.stage != "wet":
        raise InputError("paml_dry needs a drying protocol that has not started")
    start = time.perf_counter()
    missing = {"am_mass_fraction", "solid_content"} - set(conditions)
    if missing:
        raise InputError(f"paml_dry needs the recipe's {', '.join(sorted(missing))}")
    solid_content = float(conditions["solid_content"])
    drying_rate = 1e6 * protocol.drying_rate
    notes = model.check_conditions({**conditions, "drying_rate": drying_rate})
    h_jam_um = 1e6 * protocol.h_jam
    slow_ratio, stop_ratio = model.schedule(solid_content, drying_rate)
    # never below the largest particle: a thin RVE's surface rests on it, as in the DEM
    z_stop = max(protocol.h_jam * stop_ratio, 2.0 * float(protocol.sim.state.radius.max()))
    z_slow = max(protocol.h_jam * slow_ratio, z_stop)
    fast_speed = protocol.speed * protocol.cfg.fast_factor

    def steps_left() -> int:  # to the end of the wet stage on the schedule
        z, dt = protocol.surface.z, protocol.sim.dt
        fast = max(z - z_slow, 0.0) / (fast_speed * dt)
        return math.ceil(fast + (min(z, z_slow) - z_stop) / (protocol.speed * dt) - 1e-9)

    cycles = max(1, math.ceil(steps_left() / (macro_steps + n_dem)))  # equal macro-steps
    n_macro, n_real = 0, 0
    while protocol.stage == "wet":
        surface, dt = protocol.surface, protocol.sim.dt
        fast_steps = max(surface.z - z_slow, 0.0) / (fast_speed * dt)
        left = steps_left()
        if left <= 0 or n_macro >= cycles:
            protocol.end_stage()
            break
        k = max(math.ceil(left / (cycles - n_macro)) - n_dem, 0)
        if k > 0:
            z_next = (
                surface.z
                - fast_speed * dt * min(k, fast_steps)
                - protocol.speed * dt * max(k - fast_steps, 0.0)
            )
            step = MacroStep(
                1e6 * surface.z,
                1e6 * z_next,
                k,
                settle_um_per_step(protocol.sim),
                h_jam_um,
                solid_content,
                drying_rate,
            )
            protocol.jump(_predicted(protocol, model, step), k, [None, z_next])
        n_macro += 1
        surface.velocity = (0.0, 0.0, -(fast_speed if surface.z > z_slow else protocol.speed))
        n_real += protocol.advance(min(n_dem, left - k), controls=False)
    # the final macro-step: the wet film to the dried film (consolidate and relax stages)
    remaining = protocol.cfg.servo_steps + protocol.cfg.relax_steps - protocol.stage_step
    k = max(remaining - n_dem, 0)
    z_um = 1e6 * protocol.surface.z
    step = MacroStep(
        z_um, z_um, k, np.zeros(protocol.sim.state.n), h_jam_um, solid_content, drying_rate, True
    )
    protocol.jump(_predicted(protocol, model, step, FINAL_SEPARATION_OVERLAP), k)
    n_real += protocol.advance(remaining - k)
    n_macro += 1
    overlap = max_overlap_fraction(protocol.sim)
    return PamlRun(protocol.result(), n_macro, n_real, overlap, time.perf_counter() - start, notes)


def _predicted(protocol: Drying, model: DryingModel, step: MacroStep, overlap: float = SEPARATION_OVERLAP):
    """The protocol's state moved by the model's displacements over `step`, kept inside the film."""
    state = protocol.state
    pos_um = 1e6 * state.position
    lateral_um = 1e6 * protocol.box.length[:2]
    features = particle_features(pos_um, 1e6 * state.radius, state.type_id, lateral_um, step)
    disp = model.displacement(features)
    new = pos_um + disp
    r_um = 1e6 * state.radius
    top = step.surface_next_um  # the final macro-step: the film stays under the wet stage's last surface
    new[:, 2] = np.clip(new[:, 2], r_um, np.maximum(top - r_um, r_um))
    separate_overlaps(
        new,
        r_um,
        state.mass,
        tuple(lateral_um),
        (0.0, top),
        overlap,
        SEPARATION_LEFT[overlap] - overlap,
        SEPARATION_SWEEPS,
        SEPARATION_ROUNDS,
    )
    state.position = np.ascontiguousarray(1e-6 * new)
    state.velocity[:] = 0.0  # at rest: a mean velocity over the macro-step drives fresh overlaps
    state.angular_velocity[:] = 0.0
    state.contacts = None  # the predicted film's pairs are new: no shear springs or overlap records
    return state
