"""`batman simulate KIND`: one recipe (--set) or a CSV of recipes (--input/--output), no optimizer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.table import Table

from batman_opt.cli.app import app, clean_errors, console
from batman_opt.errors import InputError
from batman_opt.evaluators import get_evaluator


def _parse_assignments(items: list[str], what: str) -> dict[str, Any]:
    """'name=value' strings -> dict; numbers become floats (ints stay ints), the rest strings."""
    values: dict[str, Any] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep or not name:
            raise InputError(f"{what} {item!r} must look like name=value")
        try:
            number = float(raw)
            values[name] = int(number) if raw.strip().lstrip("-").isdigit() else number
        except ValueError:
            values[name] = raw
    return values


@app.command()
@clean_errors
def simulate(
    kind: Annotated[str, typer.Argument(help="evaluator kind: process, dem")],
    set_: Annotated[list[str], typer.Option("--set", help="input name=value (repeatable)")] = [],  # noqa: B006
    option: Annotated[list[str], typer.Option("--option", help="evaluator option name=value")] = [],  # noqa: B006
    material: Annotated[str, typer.Option(help="electrode material")] = "NMC111",
    input_csv: Annotated[Path | None, typer.Option("--input", help="CSV of recipes, one per row")] = None,
    output_csv: Annotated[Path | None, typer.Option("--output", help="CSV to write (with --input)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print outcome name -> value as JSON")] = False,
) -> None:
    """Evaluate recipes with one evaluator, without an optimizer.

    With --input, each CSV row is a recipe: the columns named like the evaluator's inputs are used,
    every column is kept in --output and the outcome columns are added.
    """
    evaluator = get_evaluator(kind)
    options = _parse_assignments(option, "--option")
    if input_csv is None:
        outcomes = evaluator.evaluate(_parse_assignments(set_, "--set"), material, options)
        if as_json:
            print(json.dumps(outcomes))
            return
        table = Table(title=f"{kind} evaluator, {material}")
        table.add_column("outcome")
        table.add_column("value", justify="right")
        for name, value in outcomes.items():
            table.add_row(name, f"{value:.6g}")
        console.print(table)
        return
    if output_csv is None:
        raise InputError("--input needs --output (the CSV to write)")
    try:
        recipes = pd.read_csv(input_csv)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"{input_csv}: cannot read recipes CSV ({exc})") from None
    fixed = _parse_assignments(set_, "--set")
    rows = []
    for index, row in enumerate(recipes.to_dict(orient="records")):
        # columns that are not inputs of the evaluator (labels, ids) are carried through untouched
        params = {**fixed, **{k: v for k, v in row.items() if k in evaluator.inputs and pd.notna(v)}}
        try:
            rows.append({**row, **evaluator.evaluate(params, material, options)})
        except (InputError, ValueError) as exc:
            raise InputError(f"{input_csv}: row {index + 2}: {exc}") from None
    pd.DataFrame(rows).to_csv(output_csv, index=False)
    console.print(f"{len(rows)} recipes -> {output_csv}")
