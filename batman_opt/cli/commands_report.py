"""Report commands: report (table, JSON, HTML, PNGs), view (3D electrode), export (PyBaMM)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from batman_opt.cli.app import app, clean_errors, console, err_console
from batman_opt.cli.commands_campaign import _print_recipes
from batman_opt.errors import InputError
from batman_opt.report import pareto_recipes
from batman_opt.store import RunStore


@app.command()
@clean_errors
def report(
    run_dir: Annotated[Path, typer.Argument(help="run directory")],
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    html: Annotated[Path | None, typer.Option(help="write the self-contained HTML report here")] = None,
    png: Annotated[
        Path | None, typer.Option(help="write each figure as a PNG into this folder (needs chromium)")
    ] = None,
) -> None:
    """The Pareto-optimal recipes of a run, best first, with their distance to the targets; with
    --html a report with plots that opens offline, with --png the same figures as PNG files."""
    store = RunStore(run_dir)
    campaign = store.load_campaign()
    trials = store.trials()
    recipes = pareto_recipes(campaign, trials)
    if html is not None or png is not None:
        from batman_opt.report.cards import RunData  # plotly and the GP fits: only when asked
        from batman_opt.report.html import build_cards, render_html, write_pngs

        data = RunData(campaign, trials)
        cards = build_cards(data)
        say = err_console if as_json else console  # stdout stays one JSON object
        if html is not None:
            html.write_text(render_html(data, cards), encoding="utf-8")
            say.print(f"report: {html} ({html.stat().st_size / 1e6:.1f} MB, {len(cards)} cards)")
        if png is not None:
            written = write_pngs(cards, png)
            say.print(f"figures: {len(written)} PNG files in {png}")
    if as_json:
        print(json.dumps({"campaign": campaign.name, "recipes": [r.to_json() for r in recipes]}))
    elif html is None and png is None:
        _print_recipes(campaign, recipes)


@app.command()
@clean_errors
def view(
    target: Annotated[Path, typer.Argument(help="run directory (with --trial) or a structure .npz file")],
    trial: Annotated[int | None, typer.Option(help="trial whose electrode to show (run directory)")] = None,
    out: Annotated[Path, typer.Option(help="HTML file to write")] = Path("electrode.html"),
    layers: Annotated[bool, typer.Option(help="pore phase, concentration and path layers")] = True,
) -> None:
    """An interactive 3D view of an electrode (one HTML file that opens offline)."""
    from batman_opt.report.electrode_view import read_time_series, write_view
    from sims.structure import ElectrodeStructure

    if target.suffix == ".npz" or target.is_file():
        structure = ElectrodeStructure.load(target)
        write_view(out, structure, title=f"{target.name}: electrode", layers=layers)
    else:
        if trial is None:
            raise InputError(f"{target}: name the trial to show with --trial N")
        store = RunStore(target)
        campaign = store.load_campaign()
        record = next((t for t in store.trials() if t.trial == trial), None)
        if record is None:
            raise InputError(f"{target}: no trial {trial} in the trial log")
        folder = target / "artifacts" / str(trial)
        if not (folder / "structure.npz").exists():
            raise InputError(
                f"{target}: trial {trial} has no electrode structure ({folder / 'structure.npz'}; "
                f"the {campaign.evaluator.kind!r} evaluator writes none, the dem evaluator does)"
            )
        series = folder / "timeseries.parquet"
        write_view(
            out,
            ElectrodeStructure.load(folder / "structure.npz"),
            title=f"{campaign.name}: trial {trial} ({record.status})",
            series=read_time_series(series) if series.exists() else None,
            parameters=record.parameters,
            outcomes=record.outcomes,
            campaign=campaign,
            layers=layers,
        )
    console.print(f"3D view: {out} ({out.stat().st_size / 1e6:.1f} MB)")


export_app = typer.Typer(no_args_is_help=True, help="Export a trial's electrode to other tools.")
app.add_typer(export_app, name="export")


@export_app.command("pybamm")
@clean_errors
def export_pybamm(
    run_dir: Annotated[Path, typer.Argument(help="run directory")],
    trial: Annotated[int, typer.Option(help="trial whose electrode to export")],
    out: Annotated[Path, typer.Option(help="PyBaMM parameter file (JSON) to write")] = Path("params.json"),
) -> None:
    """The electrode of a trial as a PyBaMM parameter set (Chen2020 with this positive electrode);
    load it with pybamm.ParameterValues.from_json and the DFN option transport efficiency =
    tortuosity factor (batman_opt.cell documents the mapping)."""
    from batman_opt.cell import BASE_SET, MODEL_OPTIONS, parameter_values, positive_electrode

    store = RunStore(run_dir)
    campaign = store.load_campaign()
    record = next((t for t in store.trials() if t.trial == trial), None)
    if record is None or record.status != "completed":
        state = "no such trial" if record is None else f"trial {trial} is {record.status}"
        raise InputError(f"{run_dir}: {state}; export needs a completed trial")
    outcomes = dict(record.outcomes)
    if "am_mass_fraction" in record.parameters:  # the recipe's formulation, else the material's
        outcomes["am_mass_fraction"] = record.parameters["am_mass_fraction"]
    electrode = positive_electrode(outcomes, campaign.material)
    parameter_values(electrode).to_json(str(out))
    console.print(
        f"{out}: {BASE_SET} with trial {trial}'s positive electrode "
        f"(thickness {electrode.thickness_m * 1e6:.1f} um, "
        f"porosity {electrode.porosity:.3f}, AM fraction {electrode.am_volume_fraction:.3f}, "
        f"tortuosity {electrode.tortuosity_factor:.3g}); model options {MODEL_OPTIONS}"
    )
