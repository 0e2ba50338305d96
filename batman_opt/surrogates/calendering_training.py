"""Training and validation of the calendering model (batman_opt.surrogates.calendering) on a
dem-series dataset (batman_opt.surrogates.series): `train_calendering` behind `batman train
calendering`.

Rows: every calendering frame of every train recipe, with PARTICLES_PER_FRAME particles drawn per
frame (seeded; over the ~90 frames every particle is seen many times) for the particle ensemble,
and every frame after the load for the plate ensemble. Targets from the DEM frames: displacements
from the dried film (x, y to the nearest periodic image; z from the affine squeeze by the DEM's
own plate height), log(r / r0), and the plate height above the gap in %. Early stopping on the
validation recipes. Validation (`validate_recipe`), on the val and test recipes, with the model's
own plate trajectory (not the DEM's) and overlaps removed at every frame: per frame, the mean
squared error of the particle positions (um2; the film's rigid lateral drift in the DEM is taken
out, calendering.py) and their R2 (1 - SSE / total sum of squares about the frame's mean
position), and the R2 of the displacements from the dried film (the harder score: the positions'
R2 is high for any model that keeps particles near their dried places); on the final structure,
the outcomes measured as the dem evaluator measures them (batman_opt.surrogates.outcomes) against the DEM's.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import torch

from batman_opt.errors import InputError
from batman_opt.surrogates.calendering import (
    CONDITIONS,
    FILM_FEATURES,
    MODEL_VERSION,
    PARTICLE_INPUTS,
    PARTICLE_OUTPUTS,
    PLATE_INPUTS,
    PLATE_OUTPUTS,
    STAGES,
    CalenderingModel,
    FrameSchedule,
    film_features,
    particle_inputs,
    plate_inputs,
)
from batman_opt.surrogates.descriptors import close_pairs, particle_descriptors
from batman_opt.surrogates.outcomes import electrode_outcomes
from batman_opt.surrogates.series import CALENDERING_STAGES, SERIES_CONDITIONS, DemSeries, RecipeSeries
from batman_opt.transfer.models import MLPConfig, MLPEnsemble, save_ensembles
from batman_opt.transfer.training import TrainConfig, fit
from sims.materials import get_material
from sims.metrics.voxelize import CBD
from sims.protocols.packing import particle_counts
from sims.structure import ElectrodeStructure

PARTICLES_PER_FRAME = 256
COMPARED = (  # outcomes of the final structure compared with the DEM's
    "porosity",
    "density_g_cm3",
    "thickness_um",
    "spring_back_pct",
    "tortuosity_factor",
    "effective_diffusivity_z",
    "am_cbd_contact_um_inv",
    "specific_surface_um_inv",
)


@dataclass(frozen=True)
class TrainSettings:
    """Architecture and optimisation of both ensembles (the defaults train in a few minutes on 2 cores)."""

    particle_hidden: tuple[int, ...] = (64, 64, 64)
    particle_train: TrainConfig = TrainConfig(
        epochs=15, lr=2e-3, weight_decay=1e-4, batch_size=1024, validate_every=1
    )
    plate_hidden: tuple[int, ...] = (32, 32)
    plate_train: TrainConfig = TrainConfig(epochs=3000, lr=3e-3, weight_decay=1e-3, validate_every=25)
    n_members: int = 4
    seed: int = 0


@dataclass(frozen=True)
class RecipeFrames:
    """One recipe's calendering as the model sees it: the dried film, its conditions and film
    features, the frame schedule, the DEM's plate height / h0 per frame (F,), positions (F, N, 3)
    and radii (F, N) in um."""

    recipe: str
    dried: ElectrodeStructure
    values: dict[str, float]
    schedule: FrameSchedule
    plate_ratio: np.ndarray
    position_um: np.ndarray
    radius_um: np.ndarray


def frame_schedule(series: RecipeSeries, h0_um: float, compression_ratio: float) -> FrameSchedule:
    """The schedule of a DEM run's calendering frames: the load's progress is its strain over the
    compression ratio, the other stages' the frame index over the stage's frame count."""
    stage = np.array([CALENDERING_STAGES.index(s) for s in series.stage], dtype=np.int64)
    progress = np.zeros(len(stage))
    load = stage == 0
    strain = 1.0 - series.wall_top_um[load] / h0_um
    progress[load] = np.clip(strain / max(compression_ratio, 1e-9), 0.0, 1.0)
    for k in range(1, len(STAGES)):
        idx = np.flatnonzero(stage == k)
        progress[idx] = np.arange(len(idx)) / max(len(idx) - 1, 1) if len(idx) > 1 else 1.0
    return FrameSchedule(stage, progress)


def frame_radii(data: DemSeries, recipe: str, n_frames: int, n: int, stages: tuple[str, ...]) -> np.ndarray:
    """Radii (F, N) um of the calendering frames (the CBD shrinks as it densifies)."""
    path = data.root / "series" / f"{recipe}.parquet"
    table = pq.read_table(path, columns=["stage", "frame", "particle", "radius_um"]).to_pandas()
    table = table[table["stage"].isin(stages)].sort_values(["frame", "particle"], kind="stable")
    radius = table["radius_um"].to_numpy(np.float64)
    if radius.size != n_frames * n:
        raise InputError(f"{path}: radii of {radius.size} particle frames, expected {n_frames} x {n}")
    return radius.reshape(n_frames, n)


def recipe_frames(data: DemSeries, recipe: str) -> RecipeFrames:
    """The calendering frames of `recipe` (RecipeFrames)."""
    dried = data.structure(recipe, "dried")
    conditions = data.conditions(recipe)
    series = data.series(recipe, CALENDERING_STAGES)
    if series.n_frames == 0 or series.stage[-1] != CALENDERING_STAGES[-1]:
        raise InputError(f"{data.root}: recipe {recipe} has no complete calendering series")
    h0 = float(dried.thickness_um)
    values = {**{k: conditions[k] for k in CONDITIONS}, **film_features(dried)}
    radius = frame_radii(data, recipe, series.n_frames, len(dried.radius_um), CALENDERING_STAGES)
    return RecipeFrames(
        recipe,
        dried,
        values,
        frame_schedule(series, h0, conditions["compression_ratio"]),
        series.wall_top_um / h0,
        series.position_um.astype(np.float64),
        radius,
    )


def lateral_displacement(frames: RecipeFrames) -> tuple[np.ndarray, np.ndarray]:
    """The DEM's displacements in x and y from the dried film (F, N, 2), nearest image, less the
    film's rigid drift, and that drift (F, 2): the mean displacement of the frame (um)."""
    lateral = frames.dried.lateral_um[:2]
    dxy = frames.position_um[:, :, :2] - frames.dried.position_um[None, :, :2]
    dxy -= lateral * np.round(dxy / lateral)
    drift = dxy.mean(axis=1)
    return dxy - drift[:, None, :], drift


def particle_targets(frames: RecipeFrames) -> np.ndarray:
    """PARTICLE_OUTPUTS (F, N, 4) of the DEM frames (module doc; x, y without the film's drift)."""
    dried = frames.dried
    dxy = lateral_displacement(frames)[0]
    dz = frames.position_um[:, :, 2] - dried.position_um[None, :, 2] * frames.plate_ratio[:, None]
    log_ratio = np.log(frames.radius_um / dried.radius_um[None])
    return np.concatenate([dxy, dz[..., None], log_ratio[..., None]], axis=2)


def particle_rows(
    frames: RecipeFrames, per_frame: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, targets) of `per_frame` particles drawn in every frame (all with per_frame <= 0)."""
    dried = frames.dried
    descriptors = particle_descriptors(
        dried.position_um,
        dried.radius_um,
        dried.phase == CBD,
        dried.lateral_um,
        dried.thickness_um,
        frames.values["compression_ratio"],
    )
    s = frames.schedule
    x = particle_inputs(descriptors, frames.values, s.stage, s.progress, frames.plate_ratio)
    y = particle_targets(frames).reshape(-1, len(PARTICLE_OUTPUTS)).astype(np.float32)
    n, f = len(dried.radius_um), len(s)
    if 0 < per_frame < n:
        pick = np.concatenate([k * n + rng.choice(n, per_frame, replace=False) for k in range(f)])
        return x[pick], y[pick]
    return x, y


def contact_state(
    position_um: np.ndarray,
    radius_um: np.ndarray,
    is_cbd: np.ndarray,
    lateral_um: np.ndarray,
    plate_um: float,
) -> np.ndarray:
    """PLATE_OUTPUTS[1:] of one frame: mean overlap over the smaller radius of the touching pairs
    of each kind (0 without any), the reach above the plate and below the collector (um, >= 0)."""
    i, j, _, dist = close_pairs(position_um, radius_um, lateral_um, 1.0)
    overlap = (radius_um[i] + radius_um[j] - dist) / np.minimum(radius_um[i], radius_um[j])
    kind = is_cbd[i].astype(int) + is_cbd[j].astype(int)
    means = [float(overlap[kind == k].mean()) if np.any(kind == k) else 0.0 for k in range(3)]
    above = max(float(np.max(position_um[:, 2] + radius_um)) - plate_um, 0.0)
    below = max(-float(np.min(position_um[:, 2] - radius_um)), 0.0)
    return np.array([*means, above, below])


def plate_rows(frames: RecipeFrames) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, targets) of the plate ensemble, every frame: the plate height above the gap (%)
    and the contact state (`contact_state`)."""
    gap_ratio = 1.0 - frames.values["compression_ratio"]
    plate_um = frames.plate_ratio * frames.dried.thickness_um
    cbd = frames.dried.phase == CBD
    contact = np.stack(
        [
            contact_state(
                frames.position_um[k], frames.radius_um[k], cbd, frames.dried.lateral_um, plate_um[k]
            )
            for k in range(len(plate_um))
        ]
    )
    # during the load the plate is the protocol's (the output is not used there): trained to 0, so
    # that the load's tens of % do not swamp the standardization of the ~1 % spring-back
    above_gap = np.where(frames.schedule.stage == 0, 0.0, 100.0 * (frames.plate_ratio / gap_ratio - 1.0))
    y = np.column_stack([above_gap, contact])
    return plate_inputs(frames.values, frames.schedule), y.astype(np.float32)


def dataset_hash(roots: Sequence[Path]) -> str:
    """SHA-256 over the recipes tables, the series and the structures of dem-series folders."""
    digest = hashlib.sha256()
    for root in roots:
        files = [root / "recipes.parquet", *sorted((root / "series").glob("*.parquet"))]
        files += sorted((root / "structures").glob("*.npz"))
        for path in files:
            digest.update(f"{root.name}/{path.relative_to(root).as_posix()}".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _bounds(x: np.ndarray) -> np.ndarray:
    """Input bounds (n_in, 2) of the training rows, widened where a column is constant."""
    low, high = x.min(axis=0).astype(np.float64), x.max(axis=0).astype(np.float64)
    pad = np.where(high - low > 1e-9, 0.0, np.maximum(0.05 * np.abs(low), 1e-3))
    return np.stack([low - pad, high + pad], axis=1)


def _train(
    inputs: tuple[str, ...],
    outputs: tuple[str, ...],
    hidden: tuple[int, ...],
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    config: TrainConfig,
    settings: TrainSettings,
    on_epoch: Callable[[int, float], None] | None,
) -> MLPEnsemble:
    model = MLPEnsemble(MLPConfig(inputs, outputs, hidden, "silu", settings.n_members, settings.seed))
    bounds = torch.as_tensor(_bounds(train[0]), dtype=torch.float32)
    model.set_scaling(bounds[:, 0], bounds[:, 1], torch.as_tensor(train[1]))
    fit(model, train[0], train[1], config, validation=val, on_epoch=on_epoch)
    return model


def validate_recipe(
    model: CalenderingModel, frames: RecipeFrames, dem: dict[str, float], n_am: int
) -> dict[str, Any]:
    """Scores of the model on one held-out recipe (module doc): per-frame position MSE (um2) and R2,
    displacement R2, and the final-structure outcomes beside the DEM's with their errors."""
    dried = frames.dried
    prediction = model.predict(dried, frames.values, frames.schedule, frames="all")
    lateral = dried.lateral_um[:2]
    error = prediction.position_um - frames.position_um
    error[..., :2] += lateral_displacement(frames)[1][:, None, :]  # the DEM's rigid drift is no error
    error[..., :2] -= lateral * np.round(error[..., :2] / lateral)
    sse = (error**2).sum(axis=(1, 2))
    spread = ((frames.position_um - frames.position_um.mean(axis=1, keepdims=True)) ** 2).sum(axis=(1, 2))
    disp = particle_targets(frames)[..., :3]
    disp[..., 2] += dried.position_um[None, :, 2] * (frames.plate_ratio[:, None] - 1.0)  # from the dried z
    disp_spread = ((disp - disp.mean(axis=1, keepdims=True)) ** 2).sum(axis=(1, 2))
    moving = disp_spread > 1e-9
    material = get_material(dried.material)
    am = float(dem["am_mass_fraction"])
    predicted = electrode_outcomes(
        prediction.structure(), dried, particle_counts(material, am, n_am), material
    )
    predicted["spring_back_pct"] = prediction.spring_back_pct
    outcomes = {}
    for name in COMPARED:
        p, d = float(predicted[name]), float(dem[name])
        outcomes[name] = {
            "predicted": p,
            "dem": d,
            "abs_error": abs(p - d),
            "rel_error": abs(p - d) / max(abs(d), 1e-12),
        }
    n = len(dried.radius_um)
    return {
        "recipe": frames.recipe,
        "mse_um2": (sse / n).tolist(),
        "r2_position": (1.0 - sse / spread).tolist(),
        "r2_displacement": np.where(moving, 1.0 - sse / np.where(moving, disp_spread, 1.0), np.nan).tolist(),
        "mse_final_um2": float(sse[-1] / n),
        "r2_position_final": float(1.0 - sse[-1] / spread[-1]),
        "r2_displacement_final": float(1.0 - sse[-1] / disp_spread[-1]),
        "outcomes": outcomes,
    }


def train_calendering(
    data_dirs: Path | Sequence[Path],
    out: Path,
    settings: TrainSettings = TrainSettings(),
    *,
    command: str = "",
    on_progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Train the calendering model on one or more dem-series folders, validate it on their val and
    test recipes and save it to `out` (.safetensors + .json card); returns the card's metadata.
    With several folders a recipe is named `<folder>/<recipe>`. `on_progress(task, done, total)`
    follows the steps (a progress bar)."""
    start = time.perf_counter()
    torch.manual_seed(settings.seed)
    dirs = [Path(data_dirs)] if isinstance(data_dirs, (str, Path)) else [Path(d) for d in data_dirs]
    splits: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    sources: dict[str, tuple[DemSeries, str]] = {}
    tables = []
    for folder in dirs:
        data = DemSeries(folder)
        name = (lambda r: r) if len(dirs) == 1 else (lambda r, f=folder.name: f"{f}/{r}")  # noqa: E731
        for split, ids in splits.items():
            for recipe in data.ids(split):
                ids.append(name(recipe))
                sources[name(recipe)] = (data, recipe)
        tables.append(data.recipes.assign(recipe=data.recipes["recipe"].astype(str).map(name)))
    if not splits["train"] or not splits["val"]:
        found = ", ".join(f"{k} {len(v)}" for k, v in splits.items())
        raise InputError(f"{', '.join(map(str, dirs))}: needs train and val recipes, found {found}")
    report = on_progress or (lambda *_: None)
    frames: dict[str, RecipeFrames] = {}
    for i, (key, (data, recipe)) in enumerate(sources.items()):
        frames[key] = recipe_frames(data, recipe)
        report("reading the DEM series", i + 1, len(sources))
    rng = np.random.default_rng(settings.seed)

    def rows(
        split: str, make: Callable[[RecipeFrames], tuple[np.ndarray, np.ndarray]]
    ) -> tuple[np.ndarray, np.ndarray]:
        parts = [make(frames[r]) for r in splits[split]]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    plate_cfg, particle_cfg = settings.plate_train, settings.particle_train
    plate = _train(
        PLATE_INPUTS, PLATE_OUTPUTS, settings.plate_hidden, rows("train", plate_rows),
        rows("val", plate_rows), plate_cfg, settings,
        lambda e, _: report("plate trajectory", e + 1, plate_cfg.epochs),
    )  # fmt: skip
    per_frame = lambda f: particle_rows(f, PARTICLES_PER_FRAME, rng)  # noqa: E731
    particles = _train(
        PARTICLE_INPUTS, PARTICLE_OUTPUTS, settings.particle_hidden, rows("train", per_frame),
        rows("val", per_frame), particle_cfg, settings,
        lambda e, _: report("particle displacements", e + 1, particle_cfg.epochs),
    )  # fmt: skip
    train_s = time.perf_counter() - start
    table = pd.concat(tables, ignore_index=True).set_index("recipe")
    used = table.loc[splits["train"] + splits["val"]]
    window = {k: [float(used[k].min()), float(used[k].max())] for k in SERIES_CONDITIONS}
    for name in FILM_FEATURES:
        column = [frames[r].values[name] for r in splits["train"] + splits["val"]]
        window[name] = [float(min(column)), float(max(column))]
    n_am = int(used["n_am"].iloc[0])
    card: dict[str, Any] = {
        "kind": "calendering",
        "version": MODEL_VERSION,
        "data": {"folders": [d.name for d in dirs], "sha256": dataset_hash(dirs), "splits": splits},
        "window": window,
        "n_am": n_am,
        "material": str(used["material"].iloc[0]),
        "command": command,
        "train_s": train_s,
        "settings": {
            "particles_per_frame": PARTICLES_PER_FRAME,
            "particle_hidden": list(settings.particle_hidden),
            "plate_hidden": list(settings.plate_hidden),
            "n_members": settings.n_members,
            "seed": settings.seed,
            "particle_epochs": settings.particle_train.epochs,
            "plate_epochs": settings.plate_train.epochs,
        },
    }
    model = CalenderingModel(particles, plate, card)
    held_out = splits["val"] + splits["test"]
    scores: dict[str, list[dict[str, Any]]] = {"val": [], "test": []}
    for i, recipe in enumerate(held_out):
        dem = table.loc[recipe].to_dict()
        split = "val" if recipe in splits["val"] else "test"
        scores[split].append({**validate_recipe(model, frames[recipe], dem, n_am), "recipe": recipe})
        report("validating", i + 1, len(held_out))
    card["metrics"] = {split: _summary(s) for split, s in scores.items() if s}
    card["recipes"] = {s["recipe"]: _short(s) for split in scores.values() for s in split}
    card["wall_s"] = time.perf_counter() - start
    out = Path(out)
    save_ensembles({"particles": particles, "plate": plate}, out, card)
    return card


def _short(score: dict[str, Any]) -> dict[str, Any]:
    keep = ("mse_final_um2", "r2_position_final", "r2_displacement_final")
    return {
        **{k: score[k] for k in keep},
        "min_r2_position": float(np.min(score["r2_position"])),
        "outcomes": score["outcomes"],
    }


def _summary(scores: list[dict[str, Any]]) -> dict[str, float]:
    """Means over recipes: final-frame MSE and R2s, worst per-frame R2, outcome errors (relative;
    porosity and spring-back also absolute, in their units)."""
    out = {
        "mse_final_um2": float(np.mean([s["mse_final_um2"] for s in scores])),
        "r2_position_final": float(np.mean([s["r2_position_final"] for s in scores])),
        "r2_displacement_final": float(np.mean([s["r2_displacement_final"] for s in scores])),
        "min_r2_position": float(np.min([np.min(s["r2_position"]) for s in scores])),
    }
    for name in COMPARED:
        keys = ("abs_error", "rel_error") if name in ("porosity", "spring_back_pct") else ("rel_error",)
        for key in keys:  # the spring-back in points too: the DEM's is ~0 at light compressions
            out[f"{name}_{key}"] = float(np.mean([s["outcomes"][name][key] for s in scores]))
    return out
