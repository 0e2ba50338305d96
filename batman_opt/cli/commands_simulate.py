"""`batman simulate KIND`: one recipe (--set) or a CSV of recipes (--input/--output), no optimizer."""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from pydantic import ValidationError
from rich.table import Table

from batman_opt.cli.app import app, check_output, clean_errors, console, writing
from batman_opt.errors import BatmanError, InputError
from batman_opt.evaluators import Evaluator, EvaluatorSetup, get_evaluator
from batman_opt.tables import UserTable, read_table
from sims.errors import SimError


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


def build_evaluator(kind: str, material: str, options: dict[str, Any], parameters: list[str]) -> Evaluator:
    """The evaluator of `kind` with `options` (InputError naming a bad option) for these inputs."""
    evaluator_kind = get_evaluator(kind)
    try:
        return evaluator_kind.build(material, options, EvaluatorSetup(tuple(parameters)))
    except ValidationError as exc:
        error = exc.errors()[0]
        name = ".".join(str(p) for p in error["loc"])
        message = "unknown option" if error["type"] == "extra_forbidden" else error["msg"]
        raise InputError(f"--option {name}: {message} of the {kind!r} evaluator") from None


def _check_near_misses(recipes: UserTable, evaluator: Evaluator) -> None:
    """InputError for a column that is not an input but nearly spells one the table lacks (a typo
    would otherwise be carried through untouched and the input take its default)."""
    absent = [name for name in evaluator.inputs if name not in recipes.columns]
    for column in recipes.columns:
        if column in evaluator.inputs:
            continue
        close = difflib.get_close_matches(column, absent, n=1, cutoff=0.8)
        if close:
            raise InputError(
                f"{recipes.path}: column {column!r} is not an input of the {evaluator.name!r} evaluator; "
                f"did you mean {close[0]!r}? (rename it, or the input keeps its default)"
            )


@app.command()
@clean_errors
def simulate(
    kind: Annotated[str, typer.Argument(help="evaluator kind: process, dem")],
    set_: Annotated[list[str], typer.Option("--set", help="input name=value (repeatable)")] = [],  # noqa: B006
    option: Annotated[list[str], typer.Option("--option", help="evaluator option name=value")] = [],  # noqa: B006
    material: Annotated[str, typer.Option(help="electrode material")] = "NMC111",
    input_csv: Annotated[Path | None, typer.Option("--input", help="CSV of recipes, one per row")] = None,
    output_csv: Annotated[Path | None, typer.Option("--output", help="CSV to write (with --input)")] = None,
    artifacts: Annotated[
        Path | None, typer.Option(help="folder for the files the evaluator makes (one recipe)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print outcome name -> value as JSON")] = False,
) -> None:
    """Evaluate recipes with one evaluator, without an optimizer.

    With --input, each row of the CSV (or Parquet) is a recipe: the columns named like the
    evaluator's inputs are used, every column is kept in --output and the outcome columns are added.
    """
    options = _parse_assignments(option, "--option")
    fixed = _parse_assignments(set_, "--set")
    if input_csv is None:
        evaluator = build_evaluator(kind, material, options, list(fixed))
        evaluation = evaluator.evaluate(fixed)
        if artifacts is not None:
            artifacts.mkdir(parents=True, exist_ok=True)
            for name, data in evaluation.artifacts.items():
                (artifacts / name).write_bytes(data)
        if as_json:
            print(json.dumps(evaluation.outcomes))
            return
        table = Table(title=f"{kind} evaluator, {material}")
        table.add_column("outcome")
        table.add_column("value", justify="right")
        for name, value in evaluation.outcomes.items():
            table.add_row(name, f"{value:.6g}")
        console.print(table)
        return
    if output_csv is None:
        raise InputError("--input needs --output (the CSV to write)")
    if output_csv.resolve() == input_csv.resolve():
        raise InputError(f"--output {output_csv} is the input file; name another file")
    check_output(output_csv, (".csv",), "--output")
    recipes = read_table(input_csv)
    evaluator = build_evaluator(kind, material, options, list(dict.fromkeys([*fixed, *recipes.columns])))
    _check_near_misses(recipes, evaluator)
    rows = []
    for index, row in enumerate(recipes.rows):
        # columns that are not inputs of the evaluator (labels, ids) are carried through untouched
        params = {**fixed}
        for name in evaluator.inputs:
            if name in row and not recipes.is_blank(index, name):
                params[name] = recipes.number(index, name)
        try:
            rows.append({**row, **evaluator.evaluate(params).outcomes})
        except (BatmanError, SimError, ValueError) as exc:
            raise InputError(f"{recipes.where(index)}: {exc}") from None
    with writing(output_csv, "--output"):
        pd.DataFrame(rows).to_csv(output_csv, index=False)
    console.print(f"{len(rows)} recipes -> {output_csv}")
