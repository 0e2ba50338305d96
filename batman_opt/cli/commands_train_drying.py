"""`batman train drying`: the PAML drying macro-step model from a dem-series dataset
(batman_opt.surrogates.drying_training), saved as safetensors + a JSON card.

The shipped default model (batman_opt/surrogates/models/drying.safetensors) is rebuilt with
    batman dataset dem-series --out dem_series
    batman train drying --data dem_series --out batman_opt/surrogates/models/drying.safetensors
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import torch
import typer

from batman_opt.cli.app import check_output, clean_errors, console, stage_progress, writing
from batman_opt.cli.commands_train import train_app
from batman_opt.errors import InputError


@train_app.command("drying")
@clean_errors
def train_drying_command(
    data: Annotated[Path, typer.Option("--data", help="dem-series dataset folder")],
    out: Annotated[Path, typer.Option("--out", help="model file to write (.safetensors; a .json beside)")],
    epochs: Annotated[int, typer.Option("--epochs", help="passes over the training samples")] = 40,
    members: Annotated[int, typer.Option("--members", help="networks in the ensemble")] = 4,
    seed: Annotated[int, typer.Option("--seed", help="weights and sampling seed")] = 0,
    threads: Annotated[int, typer.Option("--threads", help="torch threads")] = 1,
    quiet: Annotated[bool, typer.Option("--quiet", help="no progress bar")] = False,
) -> None:
    """Train, validate and save the PAML drying macro-step model (train on 96:4, test on 94:6)."""
    from batman_opt.surrogates.drying_training import DryingTrainConfig, train_drying

    check_output(out, (".safetensors",), "--out")
    if epochs < 1 or members < 1 or threads < 1:
        raise InputError(
            f"--epochs, --members and --threads must be >= 1, got {epochs}, {members}, {threads}"
        )
    torch.set_num_threads(threads)
    config = DryingTrainConfig(epochs=epochs, n_members=members, seed=seed)
    command = (
        f"batman train drying --data {data.name} --out {out.name}"
        f" --epochs {epochs} --members {members} --seed {seed}"
    )
    start = time.perf_counter()
    with stage_progress("drying model: ", quiet) as on_progress, writing(out, "--out"):
        model = train_drying(data, out, config, command=command, on_progress=on_progress)
    metrics = model.provenance["metrics"]
    shown = ", ".join(f"{k} {v:.3g}" for k, v in metrics.items() if k.startswith(("val_dz", "test_dz")))
    console.print(f"drying model -> {out} ({time.perf_counter() - start:.0f} s): {shown}")
