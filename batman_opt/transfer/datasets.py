"""Datasets of the transfer-learning study: electrode recipes -> properties, written as Parquet files
whose schema metadata records their provenance (generator, version, seed, command).

Electrodes (inputs: ELECTRODE_INPUTS; outputs: density, mass loading, porosity, tortuosity factor)
- Source, `process_dataset(..., "graphite")`: the closed-form process model of sims.process, thousands
  of recipes in milliseconds.
- Targets, `dem_dataset(..., "NMC111" | "SiGr")`: a few dozen recipes whose film is simulated by the
  DEM of sims.electrode (packing, drying, plate calendering with spring-back, voxel metrics).

What differs between source and target physics (not only the material constants):
- Packing after drying: the process model takes one fitted packing fraction of the effective
  particles (0.603) for every recipe; in the DEM it emerges from the particle size distribution,
  CBD cohesion and the shrinking film, so it depends on formulation and solid content.
- Film-thickness effect: the process model adds one mean AM diameter of rough surface and wall layer,
  so thin films (small comma gap, fast web) are less dense; the DEM target's density is that of its
  RVE, whatever the coated thickness, so in the target density does not depend on gap or speed.
- Calendering: a saturating volume-conservation law with a dense limit (0.85) and a spring-back
  estimated from moduli in series, against elastic-plastic particle contacts whose unloading gives
  the spring-back; the DEM's densification with compression follows from the contacts.
- Tortuosity factor: a Bruggeman estimate against a diffusion solve on the voxelized structure.
- The target's RVE: 120 NMC111 AM particles, 2.2 largest diameters wide, dry to a film 19-32 um
  thick (two to three particles; ~70 s a recipe on one core). Its density (2.2-3.7 g/cm3; a dense
  calendered NMC111 electrode reaches 3-3.4) follows the recipe: a linear fit on AM fraction,
  compression and solid content explains 92 % of its variance over the 39 shipped recipes. The
  first target had 40 particles, a film 8-11 um thick, about one particle: a film that is all
  rough top and wall, less dense (2.71 against 2.96 g/cm3 at 62 % solids, 94 % AM, 20 %
  compression) and barely sensitive to the AM fraction (63 % explained over its 36 recipes).
  Packing seeds scatter the thicker film more at that recipe (4 seeds: 0.047 g/cm3 standard
  deviation against 0.008), of the size of nmc_transfer's tolerance (0.06).
- Si-graphite: no target ships. Its DEM runs stop in the wet stage of drying on the overlap bound
  (half the smaller radius): 8 of the first 9 recipes with 70 AM particles 2.2 diameters wide, the
  first one with 110 particles 3 diameters wide. Cause (measured on recipe 0 of `--seed 2`): the wet
  stage's scalings were sized for NMC111 in NMP, not for a coarse anode in water. A d50 particle
  pressed at the capillary pressure (water 0.22 MPa, NMP 0.13) on one CBD contact overlaps ~0.7 of
  the CBD radius at the softened CBD (x0.1; ~0.15 at its real stiffness; NMC111 ~0.1), and the fast
  sweep (10x) resumes whenever a block ends below a quarter of that pressure, so the surface strikes
  the AM skeleton, which jams far above the random-close-packing height, again and again (pressure
  peaks of 1.4-2.6 P_cap, CBD particles pinched out at 17-35 m/s). Holding the slow speed once the
  film carries load removes the peaks, yet the soft CBD still reaches the bound at 0.4 P_cap (59,000
  steps instead of ~8,000); the real CBD stiffness alone triples the steps and still meets the
  peaks. Both together cost ~20x the wet stage's steps (~7 min a recipe on one core) and change
  the NMC111 runs, whose sweep also resumes 9-23 times after first carrying load; they wait for a
  drying change of their own. `batman dataset dem --material SiGr` builds the target once the DEM handles it.
- Shared by both: the comma-bar coating (sims.process.wet_thickness_um, Couette + pool-driven flux)
  and the mass balance that gives the mass loading, which the DEM RVE does not resolve (its film is
  a few particles thick); the target's thickness is that loading over the DEM density.

Sim -> real: `lab_space_dataset` runs the process model over the recipe space of the NMC111 lab data
of Cunha et al. 2020 (uncalendered, 0.3 m/min) with textbook coefficients (wet film = comma gap,
random close packing 0.64) instead of the two constants fitted on that very lab data, so that the
held-out lab recipes have not informed the source.

GDLs are made by sims.gdl (`batman dataset gdl`), written through `write_dataset` too.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from scipy.stats import qmc

from batman_opt import __version__
from batman_opt.errors import InputError
from sims import process
from sims.electrode import simulate_electrode
from sims.errors import PhysicalInputError, SimulationFailed
from sims.materials import get_material

log = logging.getLogger(__name__)

# Recipe space shared by source and targets (uniform, Latin hypercube): slurry solid content (-),
# AM mass fraction of the solids (-), calendering thickness reduction (-), comma gap (um), web speed.
ELECTRODE_SPACE: dict[str, tuple[float, float]] = {
    "solid_content": (0.50, 0.75),
    "am_mass_fraction": (0.90, 0.97),
    "compression_ratio": (0.0, 0.30),
    "comma_gap_um": (50.0, 400.0),
    "coating_speed_m_min": (0.1, 1.0),
}
ELECTRODE_INPUTS = tuple(ELECTRODE_SPACE)
# The DEM targets start at 10 % compression: below, the plate meets a film that barely resists and the
# calendering run fails its quasi-static check (inertial number above 0.02) at the default plate speed.
DEM_SPACE = {**ELECTRODE_SPACE, "compression_ratio": (0.10, 0.30)}
ELECTRODE_OUTPUTS = ("density_g_cm3", "mass_loading_mg_cm2", "porosity", "tortuosity_factor")

# The lab's recipe space (Cunha et al. 2020): NMC111, uncalendered, coated at 0.3 m/min.
LAB_SPACE: dict[str, tuple[float, float]] = {
    "am_mass_fraction": (0.927, 0.96),
    "solid_content": (0.55, 0.735),
    "comma_gap_um": (50.0, 400.0),
}
LAB_INPUTS = tuple(LAB_SPACE)
LAB_OUTPUTS = ("mass_loading_mg_cm2", "porosity")
TEXTBOOK_WET_TO_GAP_RATIO = 1.0  # wet film = comma gap, the coater's rule of thumb
TEXTBOOK_PACKING_FRACTION = 0.64  # random close packing of monodisperse spheres

# The target RVE: AM particles and a square side of 2.2 largest AM diameters (the default of
# sims.electrode is three): NMC111's dried film is two to three particles thick at about a minute
# per recipe on one core (module doc).
DEM_N_AM = {"NMC111": 120, "SiGr": 70, "graphite": 70}
DEM_LATERAL_DIAMETERS = 2.2


@dataclass(frozen=True)
class Provenance:
    """What made a dataset: generator (function), package version, seed and the rebuilding command."""

    generator: str
    version: str
    seed: int
    command: str

    @classmethod
    def of(cls, generator: str, seed: int, command: str) -> Provenance:
        return cls(generator=generator, version=__version__, seed=int(seed), command=command)


def write_dataset(
    table: pd.DataFrame, path: Path, provenance: Provenance, notes: Mapping[str, str] | None = None
) -> None:
    """Write `table` as Parquet with the provenance (and optional notes) in the schema metadata."""
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    meta = dict(arrow.schema.metadata or {})
    for key, value in asdict(provenance).items():
        meta[key.encode()] = str(value).encode()
    if notes:
        meta[b"notes"] = json.dumps(dict(notes)).encode()
    try:
        pq.write_table(arrow.replace_schema_metadata(meta), path)
    except OSError as exc:
        raise InputError(f"{path}: cannot write ({exc})") from None


def read_provenance(path: Path) -> Provenance:
    """The provenance stored by `write_dataset`; InputError naming the file and the missing key."""
    try:
        meta = pq.read_schema(path).metadata or {}
    except (OSError, pa.ArrowInvalid) as exc:
        raise InputError(f"{path}: not a readable Parquet file ({exc})") from None
    values = {}
    for key in ("generator", "version", "seed", "command"):
        if key.encode() not in meta:
            raise InputError(f"{path}: no provenance key {key!r} in the Parquet schema metadata")
        values[key] = meta[key.encode()].decode()
    return Provenance(values["generator"], values["version"], int(values["seed"]), values["command"])


def sample_space(space: Mapping[str, tuple[float, float]], n: int, seed: int) -> pd.DataFrame:
    """`n` recipes of a Latin hypercube over the intervals of `space` (seeded, scrambled)."""
    if n < 1:
        raise InputError(f"dataset size must be at least 1, got {n}")
    unit = qmc.LatinHypercube(d=len(space), seed=np.random.default_rng(seed)).random(n)
    low = np.array([lo for lo, _ in space.values()])
    high = np.array([hi for _, hi in space.values()])
    return pd.DataFrame(low + unit * (high - low), columns=list(space))


def process_dataset(material: str, n: int, seed: int) -> pd.DataFrame:
    """`n` recipes over ELECTRODE_SPACE with the outcomes of the process model (sims.process)."""
    recipes = sample_space(ELECTRODE_SPACE, n, seed)
    outcomes = process.evaluate_batch({k: recipes[k].to_numpy() for k in ELECTRODE_INPUTS}, material)
    return recipes.assign(**{name: outcomes[name] for name in (*ELECTRODE_OUTPUTS, "thickness_um")})


def coated_loading_mg_cm2(recipes: pd.DataFrame, material: str) -> np.ndarray:
    """Mass loading (mg/cm2) of the comma-bar film: wet thickness * slurry density * solid content."""
    mat = get_material(material)
    form = process.Formulation.of(mat, recipes["am_mass_fraction"].to_numpy())
    s = recipes["solid_content"].to_numpy()
    h_wet = process.wet_thickness_um(
        recipes["comma_gap_um"].to_numpy(),
        recipes["coating_speed_m_min"].to_numpy(),
        process.WET_TO_GAP_RATIO_LAB,
    )
    return h_wet * process.slurry_density_g_cm3(mat, form, s) * s / 10.0


def dem_dataset(
    material: str,
    n: int,
    seed: int,
    *,
    n_am: int | None = None,
    lateral_diameters: float = DEM_LATERAL_DIAMETERS,
    threads: int = 1,
    on_row: Callable[[], None] | None = None,
) -> pd.DataFrame:
    """`n` recipes over DEM_SPACE whose film is simulated by the DEM (module doc).

    n_am: AM particles of the RVE (default DEM_N_AM); lateral_diameters: RVE side in largest AM
    diameters. Columns: ELECTRODE_INPUTS, ELECTRODE_OUTPUTS, thickness_um (coated loading / DEM density),
    rve_thickness_um and rve_mass_loading_mg_cm2 (the simulated RVE's own), dem_seconds. A recipe whose
    DEM run fails (SimulationFailed, or a calendering gap denser than the solids allow) is logged and
    left out.
    """
    n_am = DEM_N_AM.get(material, 60) if n_am is None else n_am
    recipes = sample_space(DEM_SPACE, n, seed)
    loading = coated_loading_mg_cm2(recipes, material)
    lateral_um = lateral_diameters * max(get_material(material).active.diameters_um)
    rows = []
    for i, recipe in recipes.iterrows():
        start = time.perf_counter()
        params = {k: float(recipe[k]) for k in ("solid_content", "am_mass_fraction", "compression_ratio")}
        try:
            out = simulate_electrode(
                params,
                material,
                n_am=n_am,
                lateral_um=lateral_um,
                seed=seed * 100_003 + int(i),
                threads=threads,
            )
        except (
            SimulationFailed,
            PhysicalInputError,
        ) as exc:  # a broken run, or a gap the solids cannot reach
            log.warning("DEM recipe %d (%s) failed: %s", i, params, exc)
            continue
        finally:
            if on_row is not None:
                on_row()
        o = out.outcomes
        rows.append(
            {
                **recipe.to_dict(),
                "density_g_cm3": o["density_g_cm3"],
                "mass_loading_mg_cm2": float(loading[i]),
                "porosity": o["porosity"],
                "tortuosity_factor": o["tortuosity_factor"],
                "thickness_um": float(loading[i]) / o["density_g_cm3"] * 10.0,
                "rve_thickness_um": o["thickness_um"],
                "rve_mass_loading_mg_cm2": o["mass_loading_mg_cm2"],
                "dem_seconds": time.perf_counter() - start,
            }
        )
    if not rows:
        raise SimulationFailed(f"every one of the {n} {material} DEM recipes failed (see the warnings)")
    return pd.DataFrame(rows)


def lab_space_dataset(n: int, seed: int) -> pd.DataFrame:
    """`n` NMC111 recipes over LAB_SPACE with the textbook (uncalibrated) process model (module doc)."""
    recipes = sample_space(LAB_SPACE, n, seed)
    outcomes = process.process_arrays(
        recipes["am_mass_fraction"].to_numpy(),
        recipes["solid_content"].to_numpy(),
        recipes["comma_gap_um"].to_numpy(),
        process.LAB_COATING_SPEED_M_MIN,
        0.0,
        get_material("NMC111"),
        wet_to_gap_ratio_lab=TEXTBOOK_WET_TO_GAP_RATIO,
        dried_packing_fraction=TEXTBOOK_PACKING_FRACTION,
    )
    return recipes.assign(**{name: outcomes[name] for name in LAB_OUTPUTS})


def load_lab_recipes(folder: Path) -> pd.DataFrame:
    """Replicates of the Cunha et al. 2020 lab data in the units of LAB_INPUTS and LAB_OUTPUTS.

    One row per punch of measurements.csv, a `recipe` id per (am_wt_pct, solid_to_liquid_pct,
    comma_gap_um, viscosity_pa_s); the lab's mass loading counts the AM only, so it is divided by the
    AM fraction to give the solids per area of the simulations.
    """
    path = folder / "measurements.csv"
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    raw = pd.read_csv(path)
    missing = {"am_wt_pct", "solid_to_liquid_pct", "comma_gap_um", "viscosity_pa_s"} - set(raw.columns)
    missing |= {"mass_loading_mg_cm2", "porosity_pct"} - set(raw.columns)
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    keys = ["am_wt_pct", "solid_to_liquid_pct", "comma_gap_um", "viscosity_pa_s"]
    am = raw["am_wt_pct"] / 100.0
    return pd.DataFrame(
        {
            "am_mass_fraction": am,
            "solid_content": raw["solid_to_liquid_pct"] / 100.0,
            "comma_gap_um": raw["comma_gap_um"].astype(float),
            "mass_loading_mg_cm2": raw["mass_loading_mg_cm2"] / am,
            "porosity": raw["porosity_pct"] / 100.0,
            "recipe": raw.groupby(keys, sort=False).ngroup(),
        }
    )
