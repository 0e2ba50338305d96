"""User tables (CSV or Parquet) read with errors that name the file, the row and the column.

`read_table(path)` accepts comma-separated UTF-8 text (a UTF-8 byte-order mark, as Excel's "CSV
UTF-8" writes, is allowed) and Parquet files; anything else (binary data, UTF-16, another
delimiter, an empty file, duplicated or blank column names) is an InputError of one line. Cells are
kept as text (CSV) or as stored (Parquet); `UserTable.number(row, column)` converts one cell.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from batman_opt.errors import InputError
from batman_opt.userfiles import user_text

TABLE_SUFFIXES = (".csv", ".parquet")
MAX_MAGNITUDE = 1e100  # beyond it a column's sum of squares (a GP's outcome scaling) overflows float64


@dataclass
class UserTable:
    """Rows of a user's table: `rows[i]` maps column -> cell (None when empty)."""

    path: Path
    columns: list[str]
    rows: list[dict[str, Any]]
    first_line: int  # line of rows[0] in the file (2 for a CSV with its header), 1 for Parquet

    def where(self, index: int, column: str | None = None) -> str:
        """'file: row N, column C' for rows[index] (N is the CSV line, or the 1-based Parquet row)."""
        text = f"{self.path}: row {index + self.first_line}"
        return text + (f", column {column!r}" if column is not None else "")

    def number(self, index: int, column: str) -> float:
        """The cell as a finite float of magnitude <= MAX_MAGNITUDE; InputError naming row and column
        otherwise."""
        value = self.rows[index].get(column)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise InputError(f"{self.where(index, column)}: empty")
        if isinstance(value, bool):
            raise InputError(f"{self.where(index, column)}: {value!r} is not a number")
        try:
            number = float(value.strip() if isinstance(value, str) else value)
        except (TypeError, ValueError):
            raise InputError(f"{self.where(index, column)}: {value!r} is not a number") from None
        if not math.isfinite(number):
            raise InputError(f"{self.where(index, column)}: {value!r} is not a finite number")
        if abs(number) > MAX_MAGNITUDE:
            raise InputError(
                f"{self.where(index, column)}: {value!r} is beyond ±{MAX_MAGNITUDE:g}, more than the "
                "models can compute with (check its units)"
            )
        return number

    def is_blank(self, index: int, column: str) -> bool:
        value = self.rows[index].get(column)
        return value is None or (isinstance(value, str) and not value.strip()) or value != value


def read_table(path: str | Path) -> UserTable:
    """The table in `path` (.csv or .parquet); InputError naming the file on anything unreadable."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise InputError(f"{path}: unsupported table type {suffix or '(none)'!r}; use .csv or .parquet")
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not data.strip():
        raise InputError(f"{path}: the file is empty")
    table = _read_parquet(path, data) if suffix == ".parquet" else _read_csv(path, data)
    _check_columns(path, table.columns)
    if not table.rows:
        raise InputError(f"{path}: the table has a header but no rows")
    return table


def _read_parquet(path: Path, data: bytes) -> UserTable:
    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable Parquet file ({str(exc).splitlines()[0]})") from None
    return UserTable(path, list(table.column_names), table.to_pylist(), 1)


def _read_csv(path: Path, data: bytes) -> UserTable:
    text = user_text(path, data, "'CSV UTF-8 (comma delimited)'")
    try:
        lines = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise InputError(f"{path}: not a valid CSV ({exc})") from None
    header = lines[0] if lines else []
    if len(header) <= 1:
        found = [d for d in (";", "\t", "|") if d in (header[0] if header else "")]
        hint = f" (it looks {'tab' if found[0] == chr(9) else repr(found[0])}-delimited)" if found else ""
        raise InputError(f"{path}: the header has a single column{hint}; batman reads comma-delimited CSV")
    rows = []
    for number, cells in enumerate(lines[1:], start=2):
        if not any(cell.strip() for cell in cells):
            continue  # blank lines (Excel leaves some at the end)
        if len(cells) != len(header):
            raise InputError(f"{path}: row {number}: {len(cells)} cells for {len(header)} columns")
        rows.append(dict(zip(header, (c if c.strip() else None for c in cells), strict=True)))
    return UserTable(path, [h.strip() for h in header], _strip_keys(rows, header), 2)


def _strip_keys(rows: list[dict[str, Any]], header: list[str]) -> list[dict[str, Any]]:
    if all(h == h.strip() for h in header):
        return rows
    return [{k.strip(): v for k, v in row.items()} for row in rows]


def _check_columns(path: Path, columns: list[str]) -> None:
    blank = [i + 1 for i, c in enumerate(columns) if not str(c).strip()]
    if blank:
        raise InputError(f"{path}: column {blank[0]} has no name")
    seen: set[str] = set()
    for column in columns:
        if column in seen:
            raise InputError(f"{path}: column {column!r} appears twice")
        seen.add(column)
