"""`batman metrics IMAGE`: microstructure metrics of a labelled 3-D image (.npy or TIFF stack), and
`batman dataset gdl`: Parquet datasets of stochastic gas-diffusion layers with their metrics.

The axes x, y, z of the metrics are the axes 0, 1, 2 of the array as stored (for a TIFF stack:
page, row, column); like every electrode metric of sims.metrics, the image is cut above its highest
layer along the third axis that holds solid (an electrode on its current collector).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import tifffile
import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from batman_opt.cli.app import app, check_output, clean_errors, console, writing
from batman_opt.errors import InputError
from batman_opt.transfer.datasets import Provenance, write_dataset
from sims.gdl import GDL_PARAMETER_RANGES, gdl_dataset, sample_gdl_parameters
from sims.metrics import AM, CBD, PORE, MicrostructureMetrics, measure
from sims.metrics.porosity import electrode_labels
from sims.metrics.voxelize import VoxelImage

PHASES = {"pore": PORE, "am": AM, "cbd": CBD}
PHASE_NAMES = {label: name for name, label in PHASES.items()}
DEFAULT_LABELS = "pore=0,am=1,cbd=2"
IMAGE_SUFFIXES = (".npy", ".tif", ".tiff")

dataset_app = typer.Typer(no_args_is_help=True, help="Write datasets of simulated structures (Parquet).")
app.add_typer(dataset_app, name="dataset")


VOXEL_UM_RANGE = (1e-4, 1e4)  # um: 0.1 nm (an atom) to 1 cm (a whole cell)


def check_voxel_um(voxel_um: float) -> None:
    """InputError unless the voxel side is a length an image of an electrode can have."""
    low, high = VOXEL_UM_RANGE
    if not (math.isfinite(voxel_um) and low <= voxel_um <= high):
        raise InputError(f"--voxel-um must be a voxel side in um within [{low:g}, {high:g}], got {voxel_um}")


def parse_labels(spec: str) -> dict[int, int]:
    """'pore=0,am=1,cbd=2' -> {image value: phase label}; InputError naming the bad item."""
    mapping: dict[int, int] = {}
    named: set[str] = set()
    for item in spec.split(","):
        name, sep, raw = (part.strip() for part in item.partition("="))
        if not sep or not name or not raw:
            raise InputError(f"--labels: {item.strip()!r} must look like phase=value, e.g. {DEFAULT_LABELS}")
        if name.lower() not in PHASES:
            raise InputError(f"--labels: unknown phase {name!r}; known phases: {', '.join(PHASES)}")
        if name.lower() in named:
            raise InputError(f"--labels: phase {name!r} is given twice")
        try:
            value = int(raw)
        except ValueError:
            raise InputError(f"--labels: value of {name!r} must be an integer, got {raw!r}") from None
        if value in mapping:
            raise InputError(f"--labels: value {value} is given to two phases")
        named.add(name.lower())
        mapping[value] = PHASES[name.lower()]
    return mapping


def read_image(path: Path) -> np.ndarray:
    """The array stored in a .npy file or a TIFF stack; InputError if it cannot be read."""
    suffix = path.suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise InputError(f"{path}: unsupported image type {suffix or '(none)'!r}; use .npy, .tif or .tiff")
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        data = np.load(path, allow_pickle=False) if suffix == ".npy" else tifffile.imread(path)
    except (OSError, ValueError, EOFError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise InputError(f"{path}: cannot read the image ({reason})") from None
    return np.asarray(data)


def phase_labels(raw: np.ndarray, mapping: dict[int, int], path: Path) -> np.ndarray:
    """The uint8 PORE/AM/CBD image of `raw` under `mapping`; InputError on shapes and values it cannot map."""
    if raw.ndim != 3:
        raise InputError(f"{path}: the image is {raw.ndim}-D (shape {raw.shape}); metrics need a 3-D image")
    if raw.size == 0:
        raise InputError(f"{path}: the image is empty (shape {raw.shape})")
    if min(raw.shape) < 2:
        raise InputError(f"{path}: the image has shape {raw.shape}; every axis needs at least 2 voxels")
    if raw.dtype == np.bool_:
        raw = raw.astype(np.uint8)
    elif np.issubdtype(raw.dtype, np.floating):
        if not np.all(np.isfinite(raw)) or np.any(raw != np.round(raw)):
            raise InputError(
                f"{path}: the image holds non-integer values (dtype {raw.dtype}); labels are integers"
            )
    elif not np.issubdtype(raw.dtype, np.integer):
        raise InputError(f"{path}: the image has dtype {raw.dtype}; labels are integers")
    values = np.unique(raw)
    unknown = [v for v in values.tolist() if v not in mapping]
    if unknown:
        shown = ", ".join(str(int(v)) for v in unknown[:8]) + (", ..." if len(unknown) > 8 else "")
        named = ",".join(f"{PHASE_NAMES[label]}={value}" for value, label in mapping.items())
        raise InputError(
            f"{path}: the image holds label values that --labels ({named}) does not name: {shown}"
        )
    labels = np.zeros(raw.shape, dtype=np.uint8)
    for value, label in mapping.items():
        labels[raw == value] = label
    return labels


def _finite_or_none(value: float) -> float | None:
    """JSON has no infinity: an infinite (or NaN) value becomes null, explained in `notes`."""
    return float(value) if math.isfinite(value) else None


def metrics_summary(
    metrics: MicrostructureMetrics, shape: tuple[int, ...], voxel_um: float
) -> dict[str, Any]:
    """The JSON object of `batman metrics --json` (valid JSON: null where a value is infinite).

    Per-axis quantities are objects with keys x, y, z (the array's axes in order):
    `tortuosity_factor` (null: the pores do not percolate), `effective_diffusivity` (D_eff / D_bulk,
    0 then), `geometric_tortuosity` (mean shortest pore path / length, null then),
    `percolating_porosity`. Scalars: `porosity`, `specific_surface_um_inv` (AM surface per volume,
    1/um), phase fractions; `surfaces_um2` holds the interface areas; `notes` explains the nulls.
    """
    notes = []
    for name, results in (
        ("tortuosity_factor", metrics.tortuosity),
        ("geometric_tortuosity", metrics.geometric),
    ):
        notes += [f"{name}.{ax}: {res.note}" for ax, res in results.items() if res.note]
    p = metrics.porosity
    s = metrics.surfaces
    return {
        "shape": list(shape),
        "voxel_um": voxel_um,
        "porosity": p.porosity,
        "percolating_porosity": {
            "x": p.percolating_porosity_x,
            "y": p.percolating_porosity_y,
            "z": p.percolating_porosity_z,
        },
        "am_fraction": p.am_fraction,
        "cbd_fraction": p.cbd_fraction,
        "tortuosity_factor": {
            ax: _finite_or_none(r.tortuosity_factor) for ax, r in metrics.tortuosity.items()
        },
        "effective_diffusivity": {ax: r.effective_diffusivity_ratio for ax, r in metrics.tortuosity.items()},
        "geometric_tortuosity": {
            ax: _finite_or_none(r.mean_tortuosity) for ax, r in metrics.geometric.items()
        },
        "specific_surface_um_inv": s.specific_surface_area_per_um,
        "surfaces_um2": {
            "am_cbd": s.am_cbd_area_um2,
            "am_pore": s.am_pore_area_um2,
            "cbd_pore": s.cbd_pore_area_um2,
        },
        "notes": notes,
    }


def _print_table(summary: dict[str, Any], path: Path) -> None:
    table = Table(
        title=f"{path}  {'x'.join(map(str, summary['shape']))} voxels of {summary['voxel_um']:g} um"
    )
    table.add_column("metric")
    for ax in "xyz":
        table.add_column(ax, justify="right")
    for name in (
        "tortuosity_factor",
        "effective_diffusivity",
        "geometric_tortuosity",
        "percolating_porosity",
    ):
        values = summary[name]
        table.add_row(name, *("inf" if values[ax] is None else f"{values[ax]:.4g}" for ax in "xyz"))
    console.print(table)
    console.print(
        f"porosity {summary['porosity']:.4g}   specific surface {summary['specific_surface_um_inv']:.4g} 1/um"
    )
    for note in summary["notes"]:
        console.print(f"[yellow]note:[/yellow] {note}", highlight=False, soft_wrap=True)


@app.command()
@clean_errors
def metrics(
    image: Annotated[Path, typer.Argument(help="labelled 3-D image: .npy or TIFF stack (.tif, .tiff)")],
    voxel_um: Annotated[float, typer.Option("--voxel-um", help="voxel side (um)")] = 1.0,
    labels: Annotated[
        str, typer.Option("--labels", help="phase=value for the image's values (phases: pore, am, cbd)")
    ] = DEFAULT_LABELS,
    as_json: Annotated[
        bool, typer.Option("--json", help="print one JSON object (null = infinite, see notes)")
    ] = False,
) -> None:
    """Porosity, tortuosity factor, effective diffusivity, geometric tortuosity, specific surface."""
    check_voxel_um(voxel_um)
    mapping = parse_labels(labels)
    phases = phase_labels(read_image(image), mapping, image)
    result = measure(VoxelImage(phases, voxel_um), axes="xyz", geometric_axes="xyz")
    summary = metrics_summary(result, phases.shape, voxel_um)
    kept = electrode_labels(VoxelImage(phases, voxel_um)).shape[2]
    if kept < phases.shape[2]:
        summary["notes"].append(f"measured up to z = {kept} voxels, the highest layer holding solid")
    if as_json:
        print(json.dumps(summary))
        return
    _print_table(summary, image)


def parse_size(size: str) -> tuple[int, int, int]:
    """'64' -> (64, 64, 64); '64x64x48' (or with commas) -> (64, 64, 48)."""
    parts = size.lower().replace(",", "x").split("x")
    try:
        dims = [int(part) for part in parts]
    except ValueError:
        raise InputError(f"--size {size!r} must be N or NXxNYxNZ voxels, e.g. 64 or 64x64x48") from None
    if len(dims) == 1:
        dims *= 3
    if len(dims) != 3 or min(dims) < 2:
        raise InputError(f"--size {size!r} must be N or NXxNYxNZ voxels, each at least 2")
    return dims[0], dims[1], dims[2]


_RANGES_HELP = "; ".join(
    f"{'porosity before compression' if name == 'porosity' else name} {low:g}-{high:g}"
    for name, (low, high) in GDL_PARAMETER_RANGES.items()
)


@dataset_app.command(
    "gdl",
    help="Sample stochastic gas-diffusion layers and write one Parquet row per structure: its parameters,"
    " porosity, geometric tortuosity and tortuosity factor in-plane and through-plane."
    f" Ranges: {_RANGES_HELP} (anisotropy log-uniform); deterministic per --seed, and the first N rows"
    " of a larger --n are the same.",
)
@clean_errors
def dataset_gdl(
    out: Annotated[Path, typer.Option("--out", help="file to write: .parquet or .csv")],
    n: Annotated[int, typer.Option("--n", help="number of structures")] = 200,
    size: Annotated[str, typer.Option("--size", help="voxels: N or NXxNYxNZ (z through-plane)")] = "64",
    voxel_um: Annotated[float, typer.Option("--voxel-um", help="voxel side (um)")] = 1.0,
    seed: Annotated[int, typer.Option("--seed", help="random seed")] = 0,
    workers: Annotated[int, typer.Option("--workers", help="processes working in parallel")] = 1,
    quiet: Annotated[bool, typer.Option("--quiet", help="no progress bar")] = False,
) -> None:
    if n < 1:
        raise InputError(f"--n must be at least 1, got {n}")
    if workers < 1:
        raise InputError(f"--workers must be at least 1, got {workers}")
    check_voxel_um(voxel_um)
    check_output(out, (".parquet", ".csv"), "--out")
    params = sample_gdl_parameters(n, seed, parse_size(size), voxel_um)
    start = time.perf_counter()
    columns = (
        TextColumn("GDL structures"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, disable=quiet) as progress:
        task = progress.add_task("gdl", total=n)
        table = gdl_dataset(params, workers=workers, on_row=lambda: progress.advance(task))
    command = (
        f"batman dataset gdl --n {n} --size {size} --voxel-um {voxel_um:g} --seed {seed} --out {out.name}"
    )
    with writing(out, "--out"):
        if out.suffix.lower() == ".csv":
            table.to_csv(out, index=False)
        else:
            write_dataset(table, out, Provenance.of("gdl_dataset", seed, command))
    console.print(f"{n} GDL structures -> {out} ({time.perf_counter() - start:.0f} s)")
