"""Campaign commands: run, status, validate, schema."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from batman_opt.cli.app import app, clean_errors, console, err_console
from batman_opt.errors import SpecError
from batman_opt.report import Recipe, pareto_recipes, run_status
from batman_opt.spec import Campaign, load_campaign
from batman_opt.store import RunStore


@app.command()
@clean_errors
def run(
    campaign_file: Annotated[Path, typer.Argument(help="campaign YAML")],
    run_dir: Annotated[Path | None, typer.Option(help="run directory (default runs/<name>)")] = None,
    address: Annotated[str | None, typer.Option(help="join this Ray cluster ('auto' or host:port)")] = None,
    max_trials: Annotated[
        int | None, typer.Option(min=1, help="override the campaign's trial budget")
    ] = None,
    quiet: Annotated[bool, typer.Option(help="no progress bar")] = False,
) -> None:
    """Run (or resume) a campaign and print its Pareto-optimal recipes."""
    from agents.manager import run_campaign  # starts Ray: imported only when a campaign runs

    campaign = load_campaign(campaign_file)
    if max_trials is not None:
        budget = campaign.budget.model_copy(update={"max_trials": max_trials})
        campaign = campaign.model_copy(update={"budget": budget})
    run_dir = run_dir or Path("runs") / campaign.name
    started = time.perf_counter()
    try:
        summary = run_campaign(campaign, run_dir, address=address, show_progress=not quiet)
    except KeyboardInterrupt:
        counts = run_status(RunStore(run_dir))
        again = f"batman run {campaign_file} --run-dir {run_dir}" + (
            f" --address {address}" if address else ""
        )
        err_console.print(
            f"interrupted: {counts['completed']} completed and {counts['failed']} failed trials are "
            f"recorded in {run_dir}; resume with: {again}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(130)
    elapsed = time.perf_counter() - started
    verb = "resumed" if summary.resumed else "ran"
    console.print(
        f"{verb} {campaign.name}: {summary.completed} completed, {summary.failed} failed "
        f"in {elapsed:.1f} s on {summary.ray_address} -> {run_dir}"
    )
    _print_recipes(campaign, pareto_recipes(campaign, RunStore(run_dir).trials()))


@app.command()
@clean_errors
def status(
    run_dir: Annotated[Path, typer.Argument(help="run directory")],
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """How far a run is: completed, failed and running trials against the budget."""
    counts = run_status(RunStore(run_dir))
    if as_json:
        print(json.dumps(counts))
        return
    console.print(
        f"{counts['campaign']}: {counts['completed']} completed, {counts['failed']} failed, "
        f"{counts['running']} running, budget {counts['max_trials']}"
        + ("" if counts["manager_active"] else " (no manager running)")
    )


def _print_recipes(campaign: Campaign, recipes: list[Recipe]) -> None:
    if not recipes:
        console.print("no completed trial satisfies the outcome constraints yet")
        return
    table = Table(title=f"{campaign.name}: Pareto-optimal recipes (best first)")
    table.add_column("trial", justify="right")
    params = [p.name for p in campaign.tuned_parameters]
    outcomes = [o.name for o in campaign.objectives]
    for name in params + outcomes:
        table.add_column(name, justify="right")
    if campaign.targets:
        table.add_column("targets (deviation/tol)", justify="center")
    for recipe in recipes:
        cells = [str(recipe.trial)]
        cells += [_fmt(recipe.parameters.get(n)) for n in params]
        cells += [_fmt(recipe.outcomes.get(n)) for n in outcomes]
        if campaign.targets:
            mark = "[green]met[/green]" if recipe.meets_targets else "[yellow]missed[/yellow]"
            cells.append(f"{mark} {recipe.target_distance:.2f}")
        table.add_row(*cells)
    console.print(table)


def _fmt(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


@app.command()
@clean_errors
def validate(
    campaign_file: Annotated[Path, typer.Argument(help="campaign YAML")],
    address: Annotated[
        str | None,
        typer.Option(help="also check that this Ray cluster ('auto' or host:port) can host an agent"),
    ] = None,
) -> None:
    """Check a campaign file; one line naming file, line and field on error (exit 2; 4: no cluster)."""
    campaign = load_campaign(campaign_file)
    if address is not None:
        import ray

        from agents.manager import check_resources, connect_ray

        connect_ray(campaign, address)
        try:
            check_resources(campaign.evaluator)
        except SpecError as exc:
            raise SpecError(f"{campaign_file}: {exc}") from None
        finally:
            ray.shutdown()
    console.print(
        f"{campaign_file}: ok ({campaign.name}, {len(campaign.tuned_parameters)} tuned parameters, "
        f"{len(campaign.objectives)} objectives, evaluator {campaign.evaluator.kind})"
    )


@app.command()
def schema() -> None:
    """Print the JSON Schema of campaign files (for editors)."""
    print(json.dumps(Campaign.model_json_schema(), indent=2))
