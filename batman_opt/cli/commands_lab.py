"""Lab in the loop without Ray: `batman suggest` writes the recipes a lab should make next,
`batman ingest` records what it measured; `batman dataset from-run` exports a run as a table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pyarrow as pa
import pyarrow.parquet as pq
import typer

from batman_opt.cli.app import app, check_output, clean_errors, console, writing
from batman_opt.cli.commands_metrics import dataset_app
from batman_opt.errors import InputError
from batman_opt.lab import parse_results, write_suggestions
from batman_opt.session import CampaignSession
from batman_opt.spec import load_campaign
from batman_opt.store import COMPLETED, RunStore
from batman_opt.tables import read_table


@app.command()
@clean_errors
def suggest(
    source: Annotated[Path, typer.Argument(help="campaign YAML, or the run directory of one")],
    n: Annotated[int, typer.Option("--n", min=1, max=1000, help="how many recipes")] = 4,
    out: Annotated[
        Path | None, typer.Option(help="CSV to write (default RUN/suggested-<first trial>.csv)")
    ] = None,
    run_dir: Annotated[Path | None, typer.Option(help="run directory (default runs/<name>)")] = None,
) -> None:
    """Ask the optimizer for the next recipes and write them as a CSV the lab fills."""
    if out is not None:
        check_output(out, (".csv",), "--out")
    if source.is_dir():
        campaign, run_dir = RunStore(source).load_campaign(), run_dir or source
    else:
        campaign = load_campaign(source)
        run_dir = run_dir or Path("runs") / campaign.name
    with CampaignSession.open(campaign, run_dir) as session:
        records = session.suggest(n)
        if not records:
            why = "targets met" if session.stopping else "budget or pool spent"
            console.print(
                f"{campaign.name}: no new recipe ({why}); {len(session.running)} still running",
                soft_wrap=True,
            )
            return
        path = out or run_dir / f"suggested-{records[0].trial}.csv"
        write_suggestions(path, campaign, records)
        how = ", ".join(sorted({r.generator for r in records}))
        console.print(
            f"{len(records)} recipes (trials {records[0].trial}-{records[-1].trial}, {how}) -> {path}; "
            f"fill the outcome columns (or failed_reason) and run: batman ingest {run_dir} {path}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


@app.command()
@clean_errors
def ingest(
    run_dir: Annotated[Path, typer.Argument(help="run directory")],
    results: Annotated[Path, typer.Argument(help="filled sheet: .csv or .parquet")],
) -> None:
    """Record the lab's measurements: the whole file is checked first, nothing is recorded if a row is bad."""
    with CampaignSession.resume(run_dir) as session:
        finished = parse_results(read_table(results), session)
        session.record_all(finished)
        failed = sum(f.outcomes is None for f in finished)
        new = sum(f.generator == "lab" for f in finished)
        console.print(
            f"{len(finished)} trials recorded ({failed} failed, {new} new recipes) in {run_dir}: "
            f"{session.completed} completed, {session.failed} failed, {len(session.running)} running"
            + ("; targets met" if session.targets_met else ""),
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


@dataset_app.command("from-run")
@clean_errors
def from_run(
    run_dir: Annotated[Path, typer.Argument(help="run directory")],
    out: Annotated[Path, typer.Option(help="table to write: .parquet or .csv")],
) -> None:
    """A run's completed trials as a table: trial, parameters, outcomes (a transfer-learning source)."""
    check_output(out, (".parquet", ".csv"), "--out")
    store = RunStore(run_dir)
    campaign = store.load_campaign()
    rows = [{"trial": r.trial, **r.parameters, **r.outcomes} for r in store.trials() if r.status == COMPLETED]
    if not rows:
        raise InputError(f"{run_dir}: no completed trial to export")
    table = pa.Table.from_pylist(rows)
    provenance = {
        "generator": "batman dataset from-run",
        "campaign": campaign.name,
        "evaluator": campaign.evaluator.kind,
        "material": campaign.material,
        "run_dir": str(Path(run_dir).resolve()),
    }
    with writing(out, "--out"):
        if out.suffix.lower() == ".csv":
            table.to_pandas().to_csv(out, index=False)
        else:
            meta = {
                **(table.schema.metadata or {}),
                **{f"batman.{k}".encode(): v.encode() for k, v in provenance.items()},
            }
            pq.write_table(table.replace_schema_metadata(meta), out)
    console.print(f"{len(rows)} completed trials of {campaign.name} -> {out}", markup=False, soft_wrap=True)
