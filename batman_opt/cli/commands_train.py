"""`batman train MODEL`: train the DL process models on the DEM's own time series and save them
(safetensors weights + a JSON card: data hash, conditions window, metrics, version).

`batman train calendering --data DIR --out MODEL.safetensors` trains the time-dependent calendering
model (batman_opt.surrogates.calendering) on a `batman dataset dem-series` folder.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import torch
import typer

from batman_opt.cli.app import app, check_output, clean_errors, console, stage_progress, writing
from batman_opt.errors import InputError
from batman_opt.surrogates.calendering_training import TrainSettings, train_calendering
from batman_opt.transfer.training import TrainConfig

train_app = typer.Typer(no_args_is_help=True, help="Train the DL process models on DEM time series.")
app.add_typer(train_app, name="train")


@train_app.command("calendering")
@clean_errors
def train_calendering_command(
    data: Annotated[
        list[Path],
        typer.Option("--data", help="dem-series folder (batman dataset dem-series); repeat for several"),
    ],
    out: Annotated[
        Path, typer.Option("--out", help="model file to write (.safetensors; the card beside as .json)")
    ],
    epochs: Annotated[int, typer.Option("--epochs", help="passes over the particle rows")] = 15,
    seed: Annotated[int, typer.Option("--seed", help="weights and row sampling")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", help="no progress bar")] = False,
) -> None:
    """Train the time-dependent calendering model; validate on the val and test recipes."""
    for folder in data:
        if not folder.is_dir():
            raise InputError(f"--data {folder}: no such folder")
    check_output(out, (".safetensors",), "--out")
    if epochs < 1:
        raise InputError(f"--epochs must be >= 1, got {epochs}")
    torch.set_num_threads(1)
    defaults = TrainSettings()
    settings = TrainSettings(
        particle_train=TrainConfig(**{**defaults.particle_train.__dict__, "epochs": epochs}), seed=seed
    )
    folders = " ".join(f"--data {folder.name}" for folder in data)
    command = f"batman train calendering {folders} --out {out.name} --epochs {epochs} --seed {seed}"
    start = time.perf_counter()
    with stage_progress("", quiet) as advance, writing(out, "--out"):
        card = train_calendering(data, out, settings, command=command, on_progress=advance)
    size_kb = out.stat().st_size / 1024
    console.print(f"calendering model -> {out} ({size_kb:.0f} kB, {time.perf_counter() - start:.0f} s)")
    for split, scores in card["metrics"].items():
        console.print(
            f"  {split}: R2 positions (final frame) {scores['r2_position_final']:.4f}, "
            f"displacements {scores['r2_displacement_final']:.3f}; porosity error "
            f"{scores['porosity_abs_error']:.4f}; tortuosity "
            f"{100 * scores['tortuosity_factor_rel_error']:.1f} %; "
            f"spring-back {scores['spring_back_pct_abs_error']:.2f} points"
        )
