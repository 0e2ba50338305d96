"""The `dem` evaluator: recipe -> packing -> drying -> calendering -> outcomes of the electrode.

`simulate_electrode` runs the whole chain on a representative volume element (RVE, periodic in x
and y, current collector at z = 0) and returns an `ElectrodeResult` with the final particles, the
box, each protocol's result and the outcomes; `evaluate` is the thin wrapper that campaigns and
`batman simulate dem` call.

Inputs (INPUTS; defaults in DEFAULTS):
- am_mass_fraction: AM mass fraction of the solids (-), default the material's (0.96 for 96:2:2);
  the rest is CBD (carbon + binder).
- solid_content: solids mass fraction of the slurry (-), default 0.65; sets the wet film thickness.
- drying_rate: film shrinkage speed while drying, um/s (= solvent evaporation flux / solvent
  density), default 1.0.
- compression_ratio: thickness reduction of the dried film by calendering (-), in [0, 1), default
  0.2; 0 leaves the film uncalendered.
- calendering_speed_mm_s: plate speed (line speed of a roll) of the press, mm/s, default 10. The
  contact laws are rate independent and the run is checked to be quasi-static, so it only sets the
  real duration.

Outcomes (OUTCOMES): thickness_um, porosity, density_g_cm3, mass_loading_mg_cm2 of the calendered
electrode; the porosity split into macro_porosity (outside the particles) and cbd_nano_porosity
(the CBD nanopores per electrode volume), and cbd_nanoporosity (inside the CBD: 0.47 dried, lower
where calendering densified it, sims.protocols.densification); spring_back_pct (elastic recovery
on the relaxed film, 100 (h_final - h_loaded) / h_loaded) and creep_pct (<= 0: the loaded film
sinking below the gap; sims.protocols.calendering); max_pressure_mpa (plate, or the roll's mean
nip pressure, see sims.protocols.roll); the dried film's dried_thickness_um and dried_porosity;
inertial_number (largest quasi-static check of both protocols; bounds 1e-2 drying, 2e-2
calendering); METRIC_OUTCOMES of the voxelized electrode (`structure_metrics`): tortuosity_factor
(electrolyte through the thickness, TauFactor's definition, pores conducting with D and the CBD
as `cbd_transport` says) and tortuosity_factor_cbd_blocking (the same with a blocking CBD, always
reported), tortuosity factors along x and y, effective diffusivities (D_eff / D), geometric
tortuosity through the thickness, specific AM surface, AM-CBD contact and AM-pore surfaces per
electrode volume (1/um). Porosity and density come from the particle geometry: the thickness is
the height of the plate resting on the film at a light touch after the release (the dried film's:
the top of its highest particle), the solids are the AM volume and the CBD skeleton (both
conserved), and the CBD nanopores count as pore volume.

CBD transport (`cbd_transport`): see sims.electrode_metrics.

RVE error bars: `seeds: N` runs N RVEs (seeds seed..seed+N-1) and reports the mean of every
outcome with its sample standard deviation as `<name>_std`. At the default recipe
(benchmarks/rve_convergence.py, 3 seeds) the porosity spread is 0.012 / 0.008 / 0.004 at 120 /
200 / 300 AM and the peak-pressure spread 13 / 19 / 7 %; the default RVE (DEFAULT_N_AM = 300,
~3,500 particles, ~4 min a run with metrics on a busy core) keeps the porosity spread below 0.01.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sims.dem.state import Box, ParticleState
from sims.electrode_metrics import METRIC_OUTCOMES, cbd_relative_diffusivity, structure_metrics, voxel_image
from sims.errors import PhysicalInputError
from sims.materials import ElectrodeMaterial, get_material
from sims.metrics import VoxelImage
from sims.protocols.calendering import calender
from sims.protocols.calendering_common import CalenderingConfig, CalenderingResult
from sims.protocols.densification import mean_cbd_nanoporosity
from sims.protocols.drying import DryingConfig, DryingResult, dry
from sims.protocols.packing import (
    ParticleCounts,
    check_fraction,
    lateral_size_m,
    pack_slurry,
    particle_counts,
)
from sims.protocols.roll import DEFAULT_ROLL_RADIUS_M, roll_calender
from sims.protocols.timeseries import TimeSeriesWriter

log = logging.getLogger(__name__)

INPUTS = ("am_mass_fraction", "solid_content", "drying_rate", "compression_ratio", "calendering_speed_mm_s")
DEFAULTS: dict[str, float | None] = {
    "am_mass_fraction": None,  # the material's usual formulation
    "solid_content": 0.65,
    "drying_rate": 1.0,
    "compression_ratio": 0.2,
    "calendering_speed_mm_s": 10.0,
}
OUTCOMES = (
    "thickness_um",
    "porosity",
    "macro_porosity",
    "cbd_nano_porosity",
    "cbd_nanoporosity",
    "density_g_cm3",
    "mass_loading_mg_cm2",
    "spring_back_pct",
    "creep_pct",
    "max_pressure_mpa",
    "dried_thickness_um",
    "dried_porosity",
    "inertial_number",
    *METRIC_OUTCOMES,
)

STD_SUFFIX = "_std"  # with seeds > 1 every outcome also comes as <name>_std
DEFAULT_N_AM = 300  # with 96:2:2 NMC111: ~3,200 CBD particles (the group's smaller electrode)


@dataclass
class ElectrodeResult:
    """A simulated electrode: final particles (SI units), box, protocol results and outcomes."""

    material: ElectrodeMaterial
    params: dict[str, float]
    counts: ParticleCounts
    box: Box
    dried: DryingResult
    calendered: CalenderingResult
    outcomes: dict[str, float] = field(default_factory=dict)
    image: VoxelImage | None = None
    replicates: list[dict[str, float]] = field(default_factory=list)

    @property
    def state(self) -> ParticleState:
        """The final (calendered, relaxed) particles."""
        return self.calendered.state


def resolve_params(params: Mapping[str, float], material: ElectrodeMaterial) -> dict[str, float]:
    """Inputs with defaults filled in, checked; PhysicalInputError names an unknown or bad one."""
    unknown = sorted(set(params) - set(INPUTS))
    if unknown:
        raise PhysicalInputError(f"unknown dem parameter(s) {', '.join(unknown)}; known: {', '.join(INPUTS)}")
    out: dict[str, float] = {}
    for name in INPUTS:
        default = material.am_mass_fraction if name == "am_mass_fraction" else DEFAULTS[name]
        value = params.get(name, default)
        try:
            out[name] = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise PhysicalInputError(f"{name} must be a number, got {value!r}") from None
    check_fraction("am_mass_fraction", out["am_mass_fraction"], open_low=True)
    check_fraction("solid_content", out["solid_content"], open_low=True, open_high=True)
    check_fraction("compression_ratio", out["compression_ratio"], open_high=True)
    for name in ("drying_rate", "calendering_speed_mm_s"):
        if not (math.isfinite(out[name]) and out[name] > 0.0):
            raise PhysicalInputError(f"{name} must be a finite number > 0, got {out[name]}")
    return out


def wet_thickness_m(
    counts: ParticleCounts, material: ElectrodeMaterial, solid_content: float, area_m2: float
) -> float:
    """Wet film thickness (m): particle volumes plus the solvent of a slurry at `solid_content`."""
    solvent_um3 = (
        1e12 * counts.mass_g * (1.0 - solid_content) / solid_content / material.solvent.density_g_cm3
    )
    return 1e-18 * (counts.solid_volume_um3 + solvent_um3) / area_m2


def film_outcomes(
    state: ParticleState,
    counts: ParticleCounts,
    material: ElectrodeMaterial,
    area_m2: float,
    thickness_m: float | None = None,
) -> dict:
    """Thickness (um), porosity, macro_porosity, cbd_nano_porosity, cbd_nanoporosity, density
    (g/cm3) and mass loading (mg/cm2) of a film of particles.

    porosity: all pores, 1 - skeleton volume (AM + CBD without nanopores, conserved) / bulk;
    macro_porosity: outside the particles, 1 - particle volume / bulk (overlaps counted twice, as
    the deformable contacts conserve the particle volume); cbd_nano_porosity = porosity -
    macro_porosity, the CBD nanopores per electrode volume; cbd_nanoporosity: nanopore volume over
    CBD particle volume (densified by calendering). thickness_m defaults to the highest particle top.
    """
    if thickness_m is None:
        thickness_m = float(np.max(state.position[:, 2] + state.radius))
    dense_um3 = counts.am_volume_um3 + counts.cbd_volume_um3 * (1.0 - material.cbd.nanoporosity)
    bulk_um3 = area_m2 * thickness_m * 1e18
    particles_um3 = 1e18 * float(np.sum(4.0 / 3.0 * np.pi * state.radius**3))
    porosity = 1.0 - dense_um3 / bulk_um3
    macro = 1.0 - particles_um3 / bulk_um3
    eps_cbd = mean_cbd_nanoporosity(state, 1000.0 * material.cbd_solid_density_g_cm3)
    return {
        "thickness_um": thickness_m * 1e6,
        "porosity": porosity,
        "macro_porosity": macro,
        "cbd_nano_porosity": porosity - macro,
        "cbd_nanoporosity": eps_cbd if counts.n_cbd else 0.0,
        "density_g_cm3": counts.mass_g / (bulk_um3 * 1e-12),
        "mass_loading_mg_cm2": counts.mass_g * 1e3 / (area_m2 * 1e4),
    }


def simulate_electrode(
    params: Mapping[str, float],
    material: str = "NMC111",
    *,
    n_am: int = DEFAULT_N_AM,
    lateral_um: float | None = None,
    seed: int = 0,
    seeds: int = 1,
    calender_tool: str = "plate",
    roll_radius_um: float = DEFAULT_ROLL_RADIUS_M * 1e6,
    timeseries_path: str | Path | None = None,
    timeseries_every: int = 1000,
    threads: int = 1,
    metrics: bool = True,
    cbd_transport: str = "bruggeman",
    drying_config: DryingConfig | None = None,
    calendering_config: CalenderingConfig | None = None,
) -> ElectrodeResult:
    """Run packing -> drying -> calendering for one recipe and measure the electrode.

    n_am: number of AM particles (the RVE size; CBD follows from the formulation); lateral_um: RVE
    side (default: as wide as the dried film is thick, at least three largest AM diameters);
    calender_tool: "plate" (sims.protocols.calendering) or "roll" (sims.protocols.roll: a scaled
    roll of `roll_radius_um` passes over the RVE tiled along x; the calendered state, box and voxel
    image are then the tiled ones). timeseries_path: Parquet file of
    particle states every `timeseries_every` steps; threads: numba threads; metrics: also compute
    the tortuosity factor; cbd_transport: the CBD's diffusivity in `tortuosity_factor` (module doc).
    seeds: RVE replicates, seeds seed .. seed + seeds - 1, run one after the other (each on
    `threads` numba threads): the outcomes are their means, with `<name>_std` (sample standard
    deviation) beside each, and the result's particles, protocols and image are the first seed's
    (a time series only records that one). SimulationFailed propagates when a run reaches a broken state.
    """
    if int(seeds) != seeds or seeds < 1:
        raise PhysicalInputError(f"seeds must be a positive integer, got {seeds}")
    cbd_relative_diffusivity(cbd_transport, 0.5)  # refuse a bad choice before any run
    options = dict(
        n_am=n_am,
        lateral_um=lateral_um,
        calender_tool=calender_tool,
        roll_radius_um=roll_radius_um,
        threads=threads,
        metrics=metrics,
        cbd_transport=cbd_transport,
        drying_config=drying_config,
        calendering_config=calendering_config,
    )
    first = _simulate_one(
        params,
        material,
        seed=seed,
        timeseries_path=timeseries_path,
        timeseries_every=timeseries_every,
        **options,
    )
    if seeds == 1:
        return first
    runs = [first.outcomes] + [
        _simulate_one(params, material, seed=seed + k, **options).outcomes for k in range(1, int(seeds))
    ]
    first.replicates = runs
    first.outcomes = replicate_statistics(runs)
    return first


def replicate_statistics(runs: list[dict[str, float]]) -> dict[str, float]:
    """Mean of each outcome over the replicates and its sample standard deviation as `<name>_std`
    (both inf when a replicate gave inf, e.g. a non-percolating pore phase)."""
    out: dict[str, float] = {}
    for name in runs[0]:
        values = np.array([r[name] for r in runs], dtype=np.float64)
        finite = bool(np.all(np.isfinite(values)))
        out[name] = float(values.mean()) if finite else float("inf")
        out[f"{name}{STD_SUFFIX}"] = float(values.std(ddof=1)) if finite else float("inf")
    return out


def _simulate_one(
    params: Mapping[str, float],
    material: str,
    *,
    n_am: int,
    lateral_um: float | None,
    seed: int,
    calender_tool: str,
    roll_radius_um: float,
    threads: int,
    metrics: bool,
    cbd_transport: str,
    drying_config: DryingConfig | None,
    calendering_config: CalenderingConfig | None,
    timeseries_path: str | Path | None = None,
    timeseries_every: int = 1000,
) -> ElectrodeResult:
    """One RVE of one seed (simulate_electrode)."""
    mat = get_material(material)
    p = resolve_params(params, mat)
    if calender_tool not in ("plate", "roll"):
        raise PhysicalInputError(f"calender must be 'plate' or 'roll', got {calender_tool!r}")
    counts = particle_counts(mat, p["am_mass_fraction"], n_am)
    lateral_m = lateral_size_m(counts) if lateral_um is None else 1e-6 * float(lateral_um)
    if not (math.isfinite(lateral_m) and lateral_m > 0.0):
        raise PhysicalInputError(f"lateral_um must be > 0, got {lateral_um}")
    area = lateral_m**2
    h_wet = wet_thickness_m(counts, mat, p["solid_content"], area)
    state, box = pack_slurry(counts, lateral_m, h_wet, seed=seed)
    writer = TimeSeriesWriter(timeseries_path, timeseries_every) if timeseries_path is not None else None
    try:
        dried = dry(
            state, box, mat, h_wet, p["drying_rate"], config=drying_config, threads=threads, writer=writer
        )
        tool_options = {"roll_radius_m": 1e-6 * roll_radius_um} if calender_tool == "roll" else {}
        calendered = (roll_calender if calender_tool == "roll" else calender)(
            dried.state,
            box,
            mat,
            p["compression_ratio"],
            speed_mm_s=p["calendering_speed_mm_s"],
            config=calendering_config,
            threads=threads,
            writer=writer,
            **tool_options,
        )
    finally:
        if writer is not None:
            writer.close()
    return measured(ElectrodeResult(mat, p, counts, box, dried, calendered), metrics, cbd_transport)


def measured(result: ElectrodeResult, metrics: bool, cbd_transport: str = "bruggeman") -> ElectrodeResult:
    """`result` with its outcomes (and voxel image when `metrics`) filled in from its protocols."""
    mat, counts, dried, calendered = result.material, result.counts, result.dried, result.calendered
    area = float(result.box.length[0] * result.box.length[1])
    outcomes = film_outcomes(calendered.state, counts, mat, area, calendered.thickness_m)
    dried_film = film_outcomes(dried.state, counts, mat, area)
    outcomes.update(
        spring_back_pct=calendered.spring_back_pct,
        creep_pct=calendered.creep_pct,
        max_pressure_mpa=calendered.max_pressure_pa * 1e-6,
        dried_thickness_um=dried_film["thickness_um"],
        dried_porosity=dried_film["porosity"],
        inertial_number=float(max(dried.inertial_number, calendered.inertial_number)),
    )
    result.outcomes = outcomes
    if metrics:
        result.image = voxel_image(calendered.state, calendered.box, mat)
        outcomes.update(structure_metrics(result.image, mat, cbd_transport))
    return result


def recalender(
    result: ElectrodeResult,
    compression_ratio: float,
    *,
    calendering_config: CalenderingConfig | None = None,
    threads: int = 1,
    metrics: bool = False,
    cbd_transport: str = "bruggeman",
) -> ElectrodeResult:
    """The dried film of an earlier plate run calendered at another compression ratio (same seed,
    same film: what a compression sweep needs, without drying again)."""
    params = {**result.params, "compression_ratio": float(compression_ratio)}
    resolve_params(params, result.material)
    calendered = calender(
        result.dried.state,
        result.box,
        result.material,
        params["compression_ratio"],
        speed_mm_s=params["calendering_speed_mm_s"],
        config=calendering_config,
        threads=threads,
    )
    again = ElectrodeResult(result.material, params, result.counts, result.box, result.dried, calendered)
    return measured(again, metrics, cbd_transport)


def evaluate(params: Mapping[str, float], material: str = "NMC111", **options: object) -> dict[str, float]:
    """Outcomes (OUTCOMES) of one recipe.

    options (strings from a command line are converted): n_am, lateral_um, seed, seeds (or
    replicates), calender ("plate" or "roll"), roll_radius_um, timeseries_path, timeseries_every,
    threads, metrics ("true"/"false"), cbd_transport; see `simulate_electrode`.
    Raises PhysicalInputError for unknown or unphysical inputs or options, SimulationFailed (with the
    reason) when the run breaks: the campaign records a failed trial, never numbers from a broken state.
    """
    kwargs: dict[str, object] = {}
    for name, value in options.items():
        if name not in OPTIONS:
            raise PhysicalInputError(f"unknown dem option {name!r}; known: {', '.join(OPTIONS)}")
        key, convert = OPTIONS[name]
        try:
            kwargs[key] = convert(value)
        except (TypeError, ValueError):
            raise PhysicalInputError(f"dem option {name} = {value!r} is not a valid value") from None
    return dict(simulate_electrode(params, material, **kwargs).outcomes)  # type: ignore[arg-type]


def _to_bool(value: object) -> bool:
    if isinstance(value, str):
        if value.strip().lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(value)
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def _to_int(value: object) -> int:
    number = float(value)  # type: ignore[arg-type]
    if number != int(number):
        raise ValueError(value)
    return int(number)


# option name -> (simulate_electrode keyword, conversion)
OPTIONS: dict[str, tuple[str, Callable[[object], object]]] = {
    "n_am": ("n_am", _to_int),
    "lateral_um": ("lateral_um", float),
    "seed": ("seed", _to_int),
    "seeds": ("seeds", _to_int),
    "replicates": ("seeds", _to_int),
    "cbd_transport": ("cbd_transport", str),
    "calender": ("calender_tool", str),
    "calender_tool": ("calender_tool", str),
    "roll_radius_um": ("roll_radius_um", float),
    "timeseries_path": ("timeseries_path", str),
    "timeseries_every": ("timeseries_every", _to_int),
    "threads": ("threads", _to_int),
    "metrics": ("metrics", _to_bool),
    "drying_config": ("drying_config", lambda v: v),
    "calendering_config": ("calendering_config", lambda v: v),
}
