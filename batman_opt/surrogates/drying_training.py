"""Training of the drying macro-step model (batman_opt.surrogates.drying) on a dem-series dataset.

Samples: for every recipe of a split, pairs of wet-stage frames k steps apart (k in K_STEPS, start
frames every START_EVERY frames; a seeded PARTICLE_FRACTION of the particles of each pair) and the
final pair (last wet frame -> last frame of the drying: all particles, FINAL_REPEAT times, so that
the one final macro-step of a run weighs as it should). The inputs are computed exactly as PAML
computes them at run time: each recipe's DEM protocol is rebuilt (same packing and seed, checked
against the series' first frame) for h_jam, the time step and the settling speeds. Train on the
train split (96:4), early stopping on the validation split, metrics on validation and test (94:6):
RMSE and R2 of dz per macro-step kind. The surface's schedule (the heights over h_jam where the
DEM's surface slowed down for good and where the wet stage ended) are least-squares lines in
(solid_content, drying_rate) over the train recipes.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from batman_opt.errors import InputError
from batman_opt.surrogates.drying import (
    CONDITIONS,
    FEATURES,
    MODEL_VERSION,
    OUTPUTS,
    DryingModel,
    MacroStep,
    local_packing,
    particle_features,
    save_drying_model,
)
from batman_opt.surrogates.paml import drying_protocol, settle_um_per_step
from batman_opt.surrogates.series import DRYING_STAGES, DemSeries
from batman_opt.transfer.models import MLPConfig, MLPEnsemble, ModelCard
from batman_opt.transfer.training import TrainConfig, fit

K_STEPS = (2000, 4000, 8000)
START_EVERY = 2
PARTICLE_FRACTION = 0.15
FINAL_REPEAT = 3


@dataclass(frozen=True)
class DryingTrainConfig:
    """hidden widths and members of the ensemble, epochs, mini-batch rows, learning rate, seed."""

    hidden: tuple[int, ...] = (64, 64)
    n_members: int = 4
    epochs: int = 40
    batch_size: int = 4096
    lr: float = 3e-3
    seed: int = 0


@dataclass
class RecipeSamples:
    """The samples of one recipe: inputs, targets (um), kind (1 final, 0 wet) and its stop ratio."""

    x: np.ndarray
    y: np.ndarray
    final: np.ndarray
    slow_ratio: float
    stop_ratio: float
    conditions: dict[str, float]


def recipe_samples(data: DemSeries, recipe: str, rng: np.random.Generator) -> RecipeSamples:
    """The training samples of one recipe (module doc)."""
    row = data.recipes.loc[data.recipes["recipe"] == recipe].iloc[0]
    conditions = data.conditions(recipe)
    built = drying_protocol(
        conditions, str(row.get("material", "NMC111")), n_am=int(row["n_am"]), seed=int(row["seed"])
    )
    protocol = built.protocol
    series = data.series(recipe, DRYING_STAGES)
    packed_um = 1e6 * protocol.sim.state.position
    if series.position_um.shape[1] != len(packed_um) or not np.allclose(
        series.position_um[0], packed_um, atol=1e-3
    ):
        raise InputError(f"{data.root}/series/{recipe}.parquet: its first frame is not this code's packing")
    settle = settle_um_per_step(protocol.sim)
    h_jam_um = 1e6 * protocol.h_jam
    lateral = series.lateral_um
    wet = np.flatnonzero(series.stage == DRYING_STAGES[0])
    steps = series.step
    sc, rate = conditions["solid_content"], conditions["drying_rate"]
    xs, ys, finals = [], [], []

    def add(f0: int, f1: int, step: MacroStep, fraction: float, repeat: int = 1) -> None:
        pos = series.position_um[f0]
        feats = particle_features(pos, series.radius_um, series.type_id, lateral, step, packing[f0])
        disp = series.position_um[f1] - pos
        disp[:, :2] -= lateral * np.round(disp[:, :2] / lateral)  # periodic images
        keep = rng.random(len(pos)) < fraction if fraction < 1.0 else np.ones(len(pos), bool)
        for _ in range(repeat):
            xs.append(feats[keep])
            ys.append(disp[keep].astype(np.float32))
            finals.append(np.full(int(keep.sum()), step.final))

    packing = {}
    for f0 in wet[::START_EVERY]:
        for k in K_STEPS:
            f1 = np.searchsorted(steps, steps[f0] + k)
            if f1 > wet[-1] or steps[f1] != steps[f0] + k:
                continue
            if f0 not in packing:
                packing[f0] = local_packing(series.position_um[f0], series.radius_um, lateral)
            step = MacroStep(
                float(series.wall_top_um[f0]), float(series.wall_top_um[f1]), k, settle, h_jam_um, sc, rate
            )
            add(f0, f1, step, PARTICLE_FRACTION)
    last_wet, last = int(wet[-1]), series.n_frames - 1
    packing[last_wet] = local_packing(series.position_um[last_wet], series.radius_um, lateral)
    z_um = float(series.wall_top_um[last_wet])
    k_final = int(steps[last] - steps[last_wet])
    add(last_wet, last, MacroStep(z_um, z_um, k_final, settle, h_jam_um, sc, rate, True), 1.0, FINAL_REPEAT)
    # the surface's schedule: fast until it meets the film (slow_ratio), slow to the end (stop_ratio)
    wall = series.wall_top_um[wet]
    rate_um_per_step = -np.diff(wall) / np.diff(steps[wet])
    fast = np.flatnonzero(rate_um_per_step > 3.0 * 1e6 * protocol.speed * protocol.sim.dt)
    z_slow = float(wall[fast[-1] + 1]) if len(fast) else float(wall[0])
    return RecipeSamples(
        np.concatenate(xs),
        np.concatenate(ys),
        np.concatenate(finals),
        z_slow / h_jam_um,
        z_um / h_jam_um,
        conditions,
    )


def dataset_sha256(data: DemSeries, recipes: list[str]) -> str:
    """SHA-256 over the recipes table and the series files of `recipes` (in order)."""
    digest = hashlib.sha256((data.root / "recipes.parquet").read_bytes())
    for recipe in recipes:
        digest.update((data.root / "series" / f"{recipe}.parquet").read_bytes())
    return digest.hexdigest()


def _metrics(model: MLPEnsemble, samples: list[RecipeSamples]) -> dict[str, float]:
    """RMSE (um) and R2 of dz, per macro-step kind, over the samples."""
    x = np.concatenate([s.x for s in samples])
    y = np.concatenate([s.y for s in samples])[:, 2]
    final = np.concatenate([s.final for s in samples])
    pred = model.predict(torch.as_tensor(x))[0].numpy()[:, 2]
    out = {}
    for kind, mask in (("wet", ~final), ("final", final)):
        err = pred[mask] - y[mask]
        out[f"dz_rmse_um_{kind}"] = float(np.sqrt(np.mean(err**2)))
        out[f"dz_r2_{kind}"] = float(1.0 - np.sum(err**2) / np.sum((y[mask] - y[mask].mean()) ** 2))
    return out


def _schedule_inputs(samples: list[RecipeSamples]) -> np.ndarray:
    return np.array([[1.0, s.conditions["solid_content"], s.conditions["drying_rate"]] for s in samples])


def fit_schedule(samples: list[RecipeSamples]) -> dict[str, list[float]]:
    """Least-squares lines of slow_ratio and stop_ratio ~ 1 + solid_content + drying_rate (ridge
    1e-6) over the recipes."""
    a = _schedule_inputs(samples)
    solve = np.linalg.solve
    return {
        name: solve(a.T @ a + 1e-6 * np.eye(3), a.T @ np.array([getattr(s, name) for s in samples])).tolist()
        for name in ("slow_ratio", "stop_ratio")
    }


def train_drying(
    root: Path,
    out: Path,
    config: DryingTrainConfig | None = None,
    command: str = "",
    on_progress: Callable[[str, int, int], None] | None = None,
) -> DryingModel:
    """Train on the dataset folder `root` (module doc) and save the model to `out` (.safetensors and
    .json); `on_progress(task, done, total)` reports the loading of recipes and the epochs."""
    cfg = config or DryingTrainConfig()
    started = time.perf_counter()
    data = DemSeries(root)
    splits = {name: data.ids(name) for name in ("train", "val", "test")}
    if not splits["train"] or not splits["val"]:
        raise InputError(f"{root}: the drying model needs train and val recipes (got {splits})")
    rng = np.random.default_rng(cfg.seed)
    todo = [r for name in ("train", "val", "test") for r in splits[name]]
    samples: dict[str, RecipeSamples] = {}
    for i, recipe in enumerate(todo):
        samples[recipe] = recipe_samples(data, recipe, rng)
        if on_progress:
            on_progress("recipes", i + 1, len(todo))
    train = [samples[r] for r in splits["train"]]
    val = [samples[r] for r in splits["val"]]
    test = [samples[r] for r in splits["test"]]
    x = np.concatenate([s.x for s in train])
    y = np.concatenate([s.y for s in train])
    net = MLPEnsemble(MLPConfig(FEATURES, OUTPUTS, cfg.hidden, "silu", cfg.n_members, cfg.seed))
    low, high = x.min(axis=0), x.max(axis=0)
    high = np.where(high > low, high, low + 1.0)
    net.set_scaling(torch.as_tensor(low), torch.as_tensor(high), torch.as_tensor(y))
    validation = (np.concatenate([s.x for s in val]), np.concatenate([s.y for s in val]))
    train_cfg = TrainConfig(epochs=cfg.epochs, lr=cfg.lr, batch_size=cfg.batch_size, validate_every=1)
    fit(
        net,
        x,
        y,
        train_cfg,
        validation,
        on_epoch=(lambda e, _: on_progress("epochs", e + 1, cfg.epochs)) if on_progress else None,
    )
    schedule = fit_schedule(train)
    metrics = {f"val_{k}": v for k, v in _metrics(net, val).items()}
    if test:
        metrics.update({f"test_{k}": v for k, v in _metrics(net, test).items()})
    for name, group in (("val", val), ("test", test)):
        for ratio in ("slow_ratio", "stop_ratio") if group else ():
            errors = _schedule_inputs(group) @ schedule[ratio] - [getattr(s, ratio) for s in group]
            metrics[f"{name}_{ratio}_max_abs_err"] = float(np.max(np.abs(errors)))
    window = {
        c: [min(s.conditions[c] for s in train), max(s.conditions[c] for s in train)] for c in CONDITIONS
    }
    provenance = {
        "kind": "paml_drying_macro_step",
        "version": MODEL_VERSION,
        "data": str(root),
        "data_sha256": dataset_sha256(data, todo),
        "recipes": splits,
        "n_samples": int(len(x)),
        "window": window,
        "schedule": {**schedule, "inputs": ["1", "solid_content", "drying_rate"]},
        "k_steps": [min(K_STEPS), max(K_STEPS)],
        "metrics": metrics,
        "training": {**cfg.__dict__, "hidden": list(cfg.hidden), "seconds": time.perf_counter() - started},
        "command": command,
    }
    save_drying_model(net, Path(out), provenance)
    return DryingModel(net, ModelCard(net.config, provenance))
