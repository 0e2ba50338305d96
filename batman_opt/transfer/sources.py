"""Transfer sources: tables and older runs turned into points of the campaign's own search space.

A source is a CSV/Parquet table (`path`) or a run directory (`run`, its completed trials), with an
optional renaming of its columns to the campaign's names and a unit change (`scale`).
`load_source` checks it against the campaign (every tuned parameter present and numeric, at least
one outcome the campaign models; errors name the file, row and column), drops the rows outside the
parameter bounds (counted; the campaign check reports the count), subsamples large sources to
`max_source_points` (stratified on the first objective, seeded) and returns a `SourceData` with a
SHA-256 of the file(s) it was read from, so that a resumed run can refuse a source that changed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from batman_opt.errors import InputError
from batman_opt.tables import UserTable, read_table

if TYPE_CHECKING:
    from batman_opt.spec import Campaign, SourceSpec


@dataclass
class SourceData:
    """A source in the campaign's terms: x (n, d) tuned parameters in campaign order, outcomes
    name -> (n,) values (NaN where the source has none), the file hash and what was dropped."""

    name: str
    x: np.ndarray
    outcomes: dict[str, np.ndarray]
    sha256: str
    dropped_outside: int
    subsampled_from: int


def source_name(spec: SourceSpec, index: int) -> str:
    """The name a source is reported under: its own, or its file or run folder's."""
    return spec.name or Path(spec.path or spec.run or f"source{index}").stem


def load_source(
    spec: SourceSpec, campaign: Campaign, outcomes: list[str], max_points: int, index: int
) -> SourceData:
    """The source `spec` as SourceData for `campaign` (outcomes: the names the campaign models)."""
    name = source_name(spec, index)
    if spec.run is not None:
        table, digest = _run_table(Path(spec.run))
    else:
        table = read_table(spec.path)
        digest = hashlib.sha256(Path(spec.path).read_bytes()).hexdigest()
    columns = _renamed(table, spec.columns)
    params = [p.name for p in campaign.tuned_parameters]
    missing = [p for p in params if p not in columns]
    if missing:
        raise InputError(f"{table.path}: no column for parameter {missing[0]!r} (rename one with columns:)")
    found = [o for o in outcomes if o in columns]
    if not found:
        raise InputError(f"{table.path}: no column of the campaign's outcomes ({', '.join(outcomes)})")

    def factor(name: str) -> float:
        return float(spec.scale.get(name, 1.0))

    x = np.array([[table.number(i, columns[p]) * factor(p) for p in params] for i in range(len(table.rows))])
    y = {
        o: np.array([_number_or_nan(table, i, columns[o]) for i in range(len(table.rows))]) * factor(o)
        for o in found
    }
    inside = np.ones(len(x), dtype=bool)
    for j, p in enumerate(campaign.tuned_parameters):
        low, high = p.bounds if p.type in ("float", "int") else (min(p.values), max(p.values))
        inside &= (x[:, j] >= low) & (x[:, j] <= high)
    modelled = np.zeros(len(x), dtype=bool)
    for values in y.values():
        modelled |= np.isfinite(values)
    if not modelled.any():
        raise InputError(f"{table.path}: every cell of {', '.join(found)} is empty")
    keep = inside & modelled
    dropped = int((~inside).sum())
    if not keep.any():
        raise InputError(f"{table.path}: no row with an outcome lies within the campaign's parameter bounds")
    x, y = x[keep], {o: v[keep] for o, v in y.items()}
    total = len(x)
    chosen = _stratified(y[found[0]], max_points, seed=campaign.seed + index)
    return SourceData(name, x[chosen], {o: v[chosen] for o, v in y.items()}, digest, dropped, total)


def _renamed(table: UserTable, renaming: dict[str, str]) -> dict[str, str]:
    """Campaign name -> source column after `renaming` (their name -> ours); InputError when it names
    a column the table lacks or gives two columns one name."""
    unknown = [c for c in renaming if c not in table.columns]
    if unknown:
        raise InputError(f"{table.path}: columns: renames {unknown[0]!r}, which is not a column of the table")
    columns: dict[str, str] = {}
    for column in table.columns:
        name = renaming.get(column, column)
        if name in columns:
            raise InputError(
                f"{table.path}: columns: {columns[name]!r} and {column!r} would both be named {name!r}"
            )
        columns[name] = column
    return columns


def _number_or_nan(table: UserTable, i: int, column: str) -> float:
    return np.nan if table.is_blank(i, column) else table.number(i, column)


def _stratified(values: np.ndarray, max_points: int, seed: int) -> np.ndarray:
    """Indices of at most `max_points` rows, an equal share from each quantile bin of `values`."""
    n = len(values)
    if n <= max_points:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    order = np.argsort(np.nan_to_num(values, nan=np.nanmedian(values)), kind="stable")
    bins = np.array_split(order, max_points)
    return np.sort(np.array([rng.choice(b) for b in bins]))


def _run_table(run_dir: Path) -> tuple[UserTable, str]:
    """The completed trials of a run directory as a table, and the hash of its trial log."""
    from batman_opt.store import COMPLETED, RunStore  # here: the store imports the spec, which imports this

    store = RunStore(run_dir)
    if not store.campaign_path.exists():
        raise InputError(f"{run_dir}: not a run directory (no campaign.yaml)")
    digest = hashlib.sha256()
    for part in sorted(store.trials_dir.glob("*.parquet")):
        digest.update(part.read_bytes())
    rows = [{**r.parameters, **r.outcomes} for r in store.trials() if r.status == COMPLETED]
    if not rows:
        raise InputError(f"{run_dir}: no completed trial to transfer from")
    columns = list(dict.fromkeys(k for row in rows for k in row))
    return UserTable(run_dir / "trials", columns, rows, 1), digest.hexdigest()
