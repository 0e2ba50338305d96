"""The `dataset` kind: a measured table as the evaluator, pool-based.

The table's distinct recipes (rows sharing every input value) are the pool the optimizer chooses
from; rows sharing a recipe are replicates: `replicates: sample` returns one of them, drawn with a
generator seeded by `seed` and the recipe (real measurement noise, reproducible), `mean` their
average. Options: `path` (CSV or Parquet, relative to the campaign file, `$VARS` expanded),
`inputs` (default: the campaign's parameter names), `outcomes` (default: every other numeric
column). Values outside an outcome's physical range (a porosity above 1...) are refused at load.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from batman_opt.errors import InputError
from batman_opt.evaluators.base import (
    ANY,
    Evaluation,
    EvaluationFailed,
    Evaluator,
    EvaluatorSetup,
    NoOptions,
)
from batman_opt.evaluators.quantities import outcome_range
from batman_opt.tables import read_table

MATCH_RTOL = 1e-9  # a recipe matches a table row when every input agrees to this relative tolerance


class DatasetOptions(NoOptions):
    """Options of the dataset kind."""

    path: str = Field(min_length=1, description="CSV or Parquet table, relative to the campaign file")
    inputs: list[str] | None = Field(None, min_length=1, description="input columns (default: parameters)")
    outcomes: list[str] | None = Field(None, min_length=1, description="outcome columns (default: the rest)")
    replicates: Literal["sample", "mean"] = "sample"
    seed: int = Field(0, ge=0, lt=2**32)

    def with_base_dir(self, base_dir: Path) -> DatasetOptions:
        path = Path(os.path.expandvars(self.path))
        return self.model_copy(update={"path": str((base_dir / path).resolve())})


class DatasetEvaluator(Evaluator):
    """Looks recipes up in a measured table; the pool is its distinct recipes."""

    name = "dataset"
    description = "a measured table: pool-based, replicates give real noise (ms)"
    Options = DatasetOptions

    def __init__(self, material: str, options: DatasetOptions, setup: EvaluatorSetup) -> None:
        super().__init__(material, options, setup)
        self.options: DatasetOptions = options
        table = read_table(options.path)
        names = list(options.inputs or setup.parameters)
        missing = [n for n in names if n not in table.columns]
        if missing:
            raise InputError(
                f"{table.path}: no column {missing[0]!r} (an input); columns: {', '.join(table.columns)}"
            )
        columns = {c: _numeric_column(table, c) for c in table.columns if c not in names}
        numeric = {c: v for c, v in columns.items() if isinstance(v, np.ndarray)}
        outcome_names = list(options.outcomes or numeric)
        for name in outcome_names:
            if name not in table.columns:
                raise InputError(
                    f"{table.path}: no outcome column {name!r}; columns: {', '.join(table.columns)}"
                )
            if name not in numeric:
                numeric[name] = np.array([table.number(i, name) for i in range(len(table.rows))])
        if not outcome_names:
            skipped = [v for v in columns.values() if isinstance(v, InputError)]
            if skipped:  # a column of measurements with one bad cell: that cell is the error
                raise InputError(f"{skipped[0]}; no other column is numeric to be an outcome")
            raise InputError(f"{table.path}: no numeric column left for outcomes")
        x = np.array([[table.number(i, n) for n in names] for i in range(len(table.rows))])
        y = np.column_stack([numeric[n] for n in outcome_names])
        for j, name in enumerate(outcome_names):
            interval = outcome_range(name)
            bad = np.flatnonzero(~np.isnan(y[:, j]) & ~np.vectorize(interval.contains)(y[:, j]))
            if bad.size:
                raise InputError(f"{table.where(int(bad[0]), name)}: {y[bad[0], j]:g} is outside {interval}")
        self.inputs = dict.fromkeys(names, ANY)
        self.required = tuple(names)
        self.outcomes = {n: outcome_range(n) for n in outcome_names}
        self._recipes, self._group = np.unique(x, axis=0, return_inverse=True)
        self._group = self._group.ravel()
        self._y = y

    @property
    def candidates(self) -> pd.DataFrame:
        """The table's distinct recipes, one row each, columns = the inputs."""
        return pd.DataFrame(self._recipes, columns=list(self.inputs))

    def replicates(self, row: int) -> np.ndarray:
        """The measured replicates of candidate `row`: (replicates, outcomes), NaN where absent."""
        return self._y[self._group == row]

    def evaluate(self, params: Mapping[str, Any]) -> Evaluation:
        try:
            key = np.array([float(params[n]) for n in self.inputs])
        except (KeyError, TypeError, ValueError):
            raise EvaluationFailed(f"a dataset recipe needs numbers for {', '.join(self.inputs)}") from None
        match = np.flatnonzero(np.all(np.isclose(self._recipes, key, rtol=MATCH_RTOL, atol=0.0), axis=1))
        if match.size == 0:
            shown = ", ".join(f"{n}={v:g}" for n, v in zip(self.inputs, key, strict=True))
            raise EvaluationFailed(f"recipe {shown} is not in {Path(self.options.path).name}")
        group = int(match[0])
        rows = self.replicates(group)
        if self.options.replicates == "mean":
            values = np.nanmean(rows, axis=0)
            note = f"mean of {len(rows)} replicates"
        else:
            rng = np.random.default_rng([self.options.seed, group])
            pick = int(rng.integers(len(rows)))
            values = rows[pick]
            note = f"replicate {pick + 1} of {len(rows)}"
        outcomes = dict(zip(self.outcomes, values.tolist(), strict=True))
        missing = sorted(n for n, v in outcomes.items() if v != v)
        if missing:
            raise EvaluationFailed(f"the table has no value of {', '.join(missing)} for this recipe")
        return self.checked(Evaluation(outcomes, notes={"replicates": note}))


def _numeric_column(table: Any, column: str) -> np.ndarray | InputError:
    """The column as floats (NaN where empty), or the error of its first cell that is not a number."""
    values = []
    for i in range(len(table.rows)):
        if table.is_blank(i, column):
            values.append(np.nan)
            continue
        try:
            values.append(table.number(i, column))
        except InputError as error:
            return error
    return np.array(values, dtype=float)
