"""`batman dataset process|dem|lab-space`: the electrode datasets of the transfer-learning study,
Parquet files with their provenance (generator, version, seed, command) in the schema metadata.
The physics of each and how source and targets differ: batman_opt.transfer.datasets."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from batman_opt.cli.app import clean_errors, console
from batman_opt.cli.commands_metrics import dataset_app
from batman_opt.errors import InputError
from batman_opt.transfer import datasets
from sims.materials import MATERIALS

OutOption = Annotated[Path, typer.Option("--out", help="Parquet file to write")]
SeedOption = Annotated[int, typer.Option("--seed", help="random seed")]


def _checked(out: Path, n: int, material: str | None = None) -> None:
    if n < 1:
        raise InputError(f"--n must be at least 1, got {n}")
    if not out.parent.is_dir():
        raise InputError(f"--out {out}: the folder {out.parent} does not exist")
    if material is not None and material not in MATERIALS:
        raise InputError(f"--material {material!r} is unknown; known: {', '.join(MATERIALS)}")


@dataset_app.command("process")
@clean_errors
def dataset_process(
    out: OutOption,
    material: Annotated[str, typer.Option("--material", help="electrode material")] = "graphite",
    n: Annotated[int, typer.Option("--n", help="number of recipes")] = 4000,
    seed: SeedOption = 0,
) -> None:
    """Recipes (solid content, AM fraction, compression, comma gap, speed) -> process-model outcomes."""
    _checked(out, n, material)
    table = datasets.process_dataset(material, n, seed)
    command = f"batman dataset process --material {material} --n {n} --seed {seed} --out {out.name}"
    datasets.write_dataset(table, out, datasets.Provenance.of("process_dataset", seed, command))
    console.print(f"{len(table)} {material} process-model recipes -> {out}")


@dataset_app.command("dem")
@clean_errors
def dataset_dem(
    out: OutOption,
    material: Annotated[str, typer.Option("--material", help="electrode material")] = "NMC111",
    n: Annotated[int, typer.Option("--n", help="number of recipes")] = 48,
    n_am: Annotated[
        int, typer.Option("--n-am", help="AM particles of the RVE (0: the material's default)")
    ] = 0,
    lateral_diameters: Annotated[
        float, typer.Option("--lateral-diameters", help="RVE side in largest AM diameters")
    ] = datasets.DEM_LATERAL_DIAMETERS,
    seed: SeedOption = 0,
    threads: Annotated[int, typer.Option("--threads", help="numba threads per DEM run")] = 1,
    quiet: Annotated[bool, typer.Option("--quiet", help="no progress bar")] = False,
) -> None:
    """Recipes whose film is simulated by the DEM (drying, calendering, metrics) on a small RVE."""
    _checked(out, n, material)
    if n_am < 0:
        raise InputError(f"--n-am must be >= 0, got {n_am}")
    n_am = n_am or datasets.DEM_N_AM.get(material, 60)
    start = time.perf_counter()
    columns = (TextColumn(f"DEM {material}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, disable=quiet) as progress:
        task = progress.add_task("dem", total=n)
        table = datasets.dem_dataset(
            material,
            n,
            seed,
            n_am=n_am,
            lateral_diameters=lateral_diameters,
            threads=threads,
            on_row=lambda: progress.advance(task),
        )
    command = (
        f"batman dataset dem --material {material} --n {n} --n-am {n_am}"
        f" --lateral-diameters {lateral_diameters:g} --seed {seed} --out {out.name}"
    )
    notes = {"failed_recipes": str(n - len(table)), "n_am": str(n_am)}
    datasets.write_dataset(table, out, datasets.Provenance.of("dem_dataset", seed, command), notes)
    console.print(
        f"{len(table)} of {n} {material} DEM recipes -> {out} ({time.perf_counter() - start:.0f} s)"
    )


@dataset_app.command("lab-space")
@clean_errors
def dataset_lab_space(
    out: OutOption,
    n: Annotated[int, typer.Option("--n", help="number of recipes")] = 2000,
    seed: SeedOption = 0,
) -> None:
    """Simulated NMC111 over the lab's recipe space (textbook process model), the sim -> real source."""
    _checked(out, n)
    table = datasets.lab_space_dataset(n, seed)
    command = f"batman dataset lab-space --n {n} --seed {seed} --out {out.name}"
    datasets.write_dataset(table, out, datasets.Provenance.of("lab_space_dataset", seed, command))
    console.print(f"{len(table)} simulated NMC111 lab-space recipes -> {out}")
