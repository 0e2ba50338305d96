"""`batman dataset dem-series`: DEM time series of drying and calendering over a design of
conditions, the training data of the DL process models (batman_opt.surrogates.series)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from batman_opt.cli.app import clean_errors, console
from batman_opt.cli.commands_metrics import dataset_app
from batman_opt.errors import InputError
from batman_opt.surrogates import series
from sims.materials import MATERIALS


@dataset_app.command("dem-series")
@clean_errors
def dataset_dem_series(
    out: Annotated[Path, typer.Option("--out", help="folder to create (must be new or empty)")],
    n_train: Annotated[int, typer.Option("--n-train", help="96:4 conditions (train + validation)")] = 16,
    n_test: Annotated[int, typer.Option("--n-test", help="94:6 test conditions")] = 4,
    val_fraction: Annotated[float, typer.Option("--val-fraction", help="of the 96:4 conditions")] = 0.25,
    n_am: Annotated[int, typer.Option("--n-am", help="AM particles per RVE")] = series.SERIES_N_AM,
    every: Annotated[int, typer.Option("--every", help="steps between frames")] = 250,
    material: Annotated[str, typer.Option("--material", help="electrode material")] = "NMC111",
    seed: Annotated[int, typer.Option("--seed", help="design seed")] = 0,
    threads: Annotated[int, typer.Option("--threads", help="numba threads per DEM run")] = 1,
    quiet: Annotated[bool, typer.Option("--quiet", help="no progress bar")] = False,
) -> None:
    """Particle time series of drying and calendering (DEM) for the DL process models."""
    if material not in MATERIALS:
        raise InputError(f"--material {material!r} is unknown; known: {', '.join(MATERIALS)}")
    if n_am < 2 or every < 1:
        raise InputError(f"--n-am must be >= 2 and --every >= 1, got {n_am}, {every}")
    if not out.parent.is_dir():
        raise InputError(f"--out {out}: the folder {out.parent} does not exist")
    design = series.default_design(n_train, n_test, val_fraction, seed)
    command = (
        f"batman dataset dem-series --n-train {n_train} --n-test {n_test} --val-fraction {val_fraction:g}"
        f" --n-am {n_am} --every {every} --material {material} --seed {seed} --out {out.name}"
    )
    start = time.perf_counter()
    columns = (TextColumn("DEM series"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, disable=quiet) as progress:
        task = progress.add_task("dem-series", total=len(design))
        table = series.write_dem_series(
            out,
            design,
            material=material,
            n_am=n_am,
            every=every,
            threads=threads,
            command=command,
            on_recipe=lambda _: progress.advance(task),
        )
    ok = int((table["status"] == "ok").sum())
    console.print(f"{ok} of {len(table)} recipes simulated -> {out} ({time.perf_counter() - start:.0f} s)")
