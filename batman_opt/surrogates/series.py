"""DEM time series for the DL process models: `batman dataset dem-series` writes them, `DemSeries`
reads them back frame by frame.

A dataset is a folder:
- `recipes.parquet`: one row per recipe: `recipe` (id), the conditions (SERIES_CONDITIONS), `seed`,
  `n_am`, `material`, `split` (train / val / test, by condition: every frame of a recipe is in one
  split), `status` (ok, or failed with its `reason`), `dem_s` (wall time of the DEM run) and the
  DEM's outcomes of the final electrode (porosity, tortuosity_factor, spring_back_pct...), with the
  provenance (generator, version, seed, command) in the schema metadata;
- `series/<recipe>.parquet`: the particle states of drying and calendering every `every` steps, in
  the format of sims.protocols.timeseries (stage, frame, step, time, particle, type, radius,
  position, velocity, top wall height and pressure);
- `frames.parquet`: per frame of every recipe, the film's geometry at that frame: `thickness_um`
  (the top wall where one holds the film, else the top of the highest particle) and
  `solid_fraction` (particle volume over box area x thickness);
- `structures/<recipe>_dried.npz` and `<recipe>_calendered.npz` (sims.structure): the dried film
  the calendering starts from and the final electrode.

The design (`default_design`): Sobol points over the 96:4 (AM:CBD mass) formulation's process
window as train and validation conditions, and the 94:6 formulation as the test split (the PAML
paper's protocol: train on 96/4, test on 94/6).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from scipy.stats import qmc

from batman_opt.errors import InputError
from batman_opt.transfer.datasets import Provenance, write_dataset
from sims.electrode import simulate_electrode
from sims.errors import PhysicalInputError, SimulationFailed
from sims.structure import ElectrodeStructure

SERIES_CONDITIONS = (
    "am_mass_fraction",
    "solid_content",
    "drying_rate",
    "compression_ratio",
    "calendering_speed_mm_s",
)
# the process window the design covers: (low, high) per condition
SERIES_WINDOW = {
    "solid_content": (0.55, 0.72),
    "drying_rate": (0.5, 2.0),
    "compression_ratio": (0.10, 0.40),
    "calendering_speed_mm_s": (5.0, 30.0),
}
TRAIN_FORMULATION = 0.96  # AM mass fraction of the train / validation recipes
TEST_FORMULATION = 0.94  # and of the test recipes
DRYING_STAGES = ("drying", "drying_consolidate", "drying_relax")
CALENDERING_STAGES = ("calender_load", "calender_hold", "calender_release", "calender_settle")
SERIES_N_AM = 120  # AM particles per RVE: ~1,400 particles, ~15 s per recipe on one core


def default_design(
    n_train: int = 16, n_test: int = 4, val_fraction: float = 0.25, seed: int = 0
) -> pd.DataFrame:
    """Conditions of a dem-series dataset (module doc): `n_train` Sobol points at 96:4, of which a
    seeded `val_fraction` are validation, and `n_test` at 94:6; one seed each."""
    if n_train < 1 or n_test < 0 or not 0.0 <= val_fraction < 1.0:
        raise InputError(
            f"design needs n_train >= 1, n_test >= 0, val_fraction in [0, 1);"
            f" got {n_train}, {n_test}, {val_fraction}"
        )
    names = list(SERIES_WINDOW)
    low = np.array([SERIES_WINDOW[k][0] for k in names])
    high = np.array([SERIES_WINDOW[k][1] for k in names])
    rows = []
    for formulation, n, split_seed in (
        (TRAIN_FORMULATION, n_train, seed),
        (TEST_FORMULATION, n_test, seed + 1),
    ):
        if n == 0:
            continue
        with warnings.catch_warnings():  # Sobol's balance wants 2^k points; a design need not
            warnings.simplefilter("ignore", UserWarning)
            unit = qmc.Sobol(len(names), scramble=True, seed=split_seed).random(n)
        for u in unit:
            rows.append(
                {"am_mass_fraction": formulation, **dict(zip(names, low + u * (high - low), strict=True))}
            )
    design = pd.DataFrame(rows)
    rng = np.random.default_rng(seed)
    split = np.where(design["am_mass_fraction"] == TEST_FORMULATION, "test", "train").astype(object)
    train = np.flatnonzero(split == "train")
    n_val = int(round(val_fraction * len(train)))
    split[rng.choice(train, size=n_val, replace=False)] = "val"
    design["split"] = split
    design["seed"] = np.arange(len(design)) + 1000 * seed
    design.insert(0, "recipe", [f"r{i:03d}" for i in range(len(design))])
    return design


def frame_geometry(series: RecipeSeries) -> pd.DataFrame:
    """Per frame: thickness_um (top wall where it holds the film, else the highest particle top)
    and solid_fraction (particle volume / (box area x thickness))."""
    top = (series.position_um[:, :, 2] + series.radius_um[None, :]).max(axis=1)
    wall = series.wall_top_um
    thickness = np.where(np.isfinite(wall) & (wall < 1.5 * top), np.minimum(wall, top), top)
    volume = float(np.sum(4.0 / 3.0 * np.pi * series.radius_um.astype(np.float64) ** 3))
    area = float(series.lateral_um[0] * series.lateral_um[1])
    return pd.DataFrame(
        {
            "recipe": series.recipe,
            "frame": np.arange(series.n_frames),
            "stage": series.stage,
            "step": series.step,
            "thickness_um": thickness,
            "solid_fraction": volume / (area * thickness),
        }
    )


def write_dem_series(
    out: Path,
    design: pd.DataFrame,
    *,
    material: str = "NMC111",
    n_am: int = SERIES_N_AM,
    every: int = 250,
    threads: int = 1,
    command: str = "",
    on_recipe: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Run the DEM (packing, drying, plate calendering, metrics) for every row of `design` and
    write the dataset folder `out` (module doc); returns the recipes table. A recipe whose DEM run
    fails is kept with status 'failed' and its reason, and has no series."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise InputError(f"--out {out}: the folder exists and is not empty")
    (out / "series").mkdir(parents=True, exist_ok=True)
    (out / "structures").mkdir(exist_ok=True)
    rows, frames = [], []
    for _, row in design.iterrows():
        recipe = str(row["recipe"])
        params = {k: float(row[k]) for k in SERIES_CONDITIONS}
        record = {**row.to_dict(), "n_am": n_am, "material": material, "status": "ok", "reason": ""}
        start = time.perf_counter()
        try:
            result = simulate_electrode(
                params,
                material,
                n_am=n_am,
                seed=int(row["seed"]),
                timeseries_path=out / "series" / f"{recipe}.parquet",
                timeseries_every=every,
                threads=threads,
            )
        except (SimulationFailed, PhysicalInputError) as exc:
            record.update(status="failed", reason=str(exc))
            (out / "series" / f"{recipe}.parquet").unlink(missing_ok=True)
        else:
            record.update(result.outcomes)
            dried, calendered = result.dried, result.calendered
            ElectrodeStructure.of(dried.state, result.box, dried.thickness_m, material).save(
                out / "structures" / f"{recipe}_dried.npz"
            )
            ElectrodeStructure.of(calendered.state, result.box, calendered.thickness_m, material).save(
                out / "structures" / f"{recipe}_calendered.npz"
            )
            frames.append(frame_geometry(DemSeries.read_series(out / "series" / f"{recipe}.parquet", recipe)))
        record["dem_s"] = time.perf_counter() - start
        rows.append(record)
        if on_recipe is not None:
            on_recipe(recipe)
    table = pd.DataFrame(rows)
    provenance = Provenance.of("write_dem_series", int(design["seed"].min()), command)
    write_dataset(table, out / "recipes.parquet", provenance)
    if frames:
        pd.concat(frames, ignore_index=True).to_parquet(out / "frames.parquet", index=False)
    return table


@dataclass(frozen=True)
class RecipeSeries:
    """The frames of one recipe as arrays (F frames, N particles; lengths in um).

    Steps and times count from 0 in each protocol (drying, then calendering, whose first frame is
    the dried film).

    stage, step, time_s, wall_top_um (NaN where no wall), wall_pressure_pa: (F,); type_id (0 AM,
    1 CBD) and radius_um: (N,); position_um, velocity_m_s: (F, N, 3); lateral_um: (2,) box sides.
    """

    recipe: str
    stage: np.ndarray
    step: np.ndarray
    time_s: np.ndarray
    wall_top_um: np.ndarray
    wall_pressure_pa: np.ndarray
    type_id: np.ndarray
    radius_um: np.ndarray
    position_um: np.ndarray
    velocity_m_s: np.ndarray
    lateral_um: np.ndarray

    @property
    def n_frames(self) -> int:
        return len(self.step)

    def frames(self, stages: Sequence[str]) -> RecipeSeries:
        """The frames of the given stages only (in their order in the run)."""
        keep = np.isin(self.stage, list(stages))
        return RecipeSeries(
            self.recipe,
            self.stage[keep],
            self.step[keep],
            self.time_s[keep],
            self.wall_top_um[keep],
            self.wall_pressure_pa[keep],
            self.type_id,
            self.radius_um,
            self.position_um[keep],
            self.velocity_m_s[keep],
            self.lateral_um,
        )


class DemSeries:
    """A dem-series dataset folder (module doc), opened for reading."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        path = self.root / "recipes.parquet"
        if not path.is_file():
            raise InputError(f"{self.root}: not a dem-series dataset (no recipes.parquet)")
        self.recipes = pd.read_parquet(path)
        missing = [c for c in ("recipe", "split", "status", *SERIES_CONDITIONS) if c not in self.recipes]
        if missing:
            raise InputError(f"{path}: missing column(s) {', '.join(missing)}")

    def ids(self, split: str | None = None) -> list[str]:
        """Recipes whose DEM run succeeded, of one split (train, val, test) or all."""
        ok = self.recipes["status"] == "ok"
        if split is not None:
            ok &= self.recipes["split"] == split
        return self.recipes.loc[ok, "recipe"].astype(str).tolist()

    def conditions(self, recipe: str) -> dict[str, float]:
        row = self.recipes.loc[self.recipes["recipe"] == recipe]
        if row.empty:
            raise InputError(f"{self.root}: no recipe {recipe!r}")
        return {k: float(row.iloc[0][k]) for k in SERIES_CONDITIONS}

    def series(self, recipe: str, stages: Sequence[str] | None = None) -> RecipeSeries:
        """The frames of `recipe` (all, or those of `stages`)."""
        out = self.read_series(self.root / "series" / f"{recipe}.parquet", recipe)
        return out if stages is None else out.frames(stages)

    def structure(self, recipe: str, which: str) -> ElectrodeStructure:
        """The `dried` or `calendered` structure of `recipe`."""
        if which not in ("dried", "calendered"):
            raise InputError(f"structure must be 'dried' or 'calendered', got {which!r}")
        return ElectrodeStructure.load(self.root / "structures" / f"{recipe}_{which}.npz")

    @staticmethod
    def read_series(path: Path, recipe: str) -> RecipeSeries:
        """One series file (sims.protocols.timeseries format) as a RecipeSeries."""
        try:
            table = pq.read_table(path).to_pandas()
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: cannot read the time series ({exc})") from None
        table = table.sort_values(["frame", "particle"], kind="stable")
        n = int(table["particle"].max()) + 1
        n_frames = len(table) // n
        if n_frames * n != len(table) or n_frames == 0:
            raise InputError(f"{path}: frames do not all hold the same {n} particles")
        first = table.iloc[::n]
        xyz = table[["x_um", "y_um", "z_um"]].to_numpy(np.float32).reshape(n_frames, n, 3)
        vel = table[["vx_m_s", "vy_m_s", "vz_m_s"]].to_numpy(np.float32).reshape(n_frames, n, 3)
        head = table.iloc[:n]
        return RecipeSeries(
            recipe=recipe,
            stage=first["stage"].astype(str).to_numpy(),
            step=first["step"].to_numpy(np.int64),
            time_s=first["time_s"].to_numpy(np.float64),
            wall_top_um=first["wall_top_um"].to_numpy(np.float64),
            wall_pressure_pa=first["wall_pressure_pa"].to_numpy(np.float64),
            type_id=head["type_id"].to_numpy(np.int8),
            radius_um=head["radius_um"].to_numpy(np.float32),
            position_um=xyz,
            velocity_m_s=vel,
            lateral_um=np.array([first["box_x_um"].iloc[0], first["box_y_um"].iloc[0]], dtype=np.float64),
        )
