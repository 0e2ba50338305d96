"""Report commands: report (table, JSON, HTML, PNGs), view (3D electrode), export (PyBaMM)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from batman_opt.cli.app import app, clean_errors, console
from batman_opt.cli.commands_campaign import _print_recipes
from batman_opt.report import pareto_recipes
from batman_opt.store import RunStore


@app.command()
@clean_errors
def report(
    run_dir: Annotated[Path, typer.Argument(help="run directory")],
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    html: Annotated[Path | None, typer.Option(help="write the self-contained HTML report here")] = None,
    png: Annotated[Path | None, typer.Option(help="write each figure as a PNG into this folder")] = None,
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
        if html is not None:
            html.write_text(render_html(data, cards), encoding="utf-8")
            console.print(f"report: {html} ({html.stat().st_size / 1e6:.1f} MB, {len(cards)} cards)")
        if png is not None:
            written = write_pngs(cards, png)
            console.print(f"figures: {len(written)} PNG files in {png}")
    if as_json:
        print(json.dumps({"campaign": campaign.name, "recipes": [r.to_json() for r in recipes]}))
    elif html is None and png is None:
        _print_recipes(campaign, recipes)
