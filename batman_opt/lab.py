"""Lab in the loop: the suggestion sheet a lab fills, and the checks of the sheet it sends back.

A suggestion sheet (CSV) has the columns `trial`, every campaign parameter (units in the names),
one empty column per outcome the campaign needs and `failed_reason`; an optional `notes` column is
kept with the trial. `parse_results` checks a whole returned sheet against the run before anything
is recorded, and raises one `IngestError` listing every problem (file, row, column) otherwise:
unknown or already finished trials, a trial given twice, parameters that differ from what was
suggested, missing, non-numeric or non-finite outcomes, values outside an outcome's physical range,
unknown columns. Rows without a trial are recipes the lab made on its own: they become new trials
(their parameters must lie within the campaign's bounds).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from batman_opt.campaign_evaluator import evaluator_setup
from batman_opt.errors import InputError
from batman_opt.session import CampaignSession, Finished
from batman_opt.spec import Campaign, ChoiceParameter, RangeParameter
from batman_opt.store import RUNNING, TrialRecord, write_durably
from batman_opt.tables import UserTable

TRIAL, FAILED_REASON, NOTES = "trial", "failed_reason", "notes"
PARAMETER_RTOL = 1e-6  # a returned parameter equals the suggested one to this relative tolerance


class IngestError(InputError):
    """A returned sheet with problems; the message holds one line per problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


def outcome_columns(campaign: Campaign) -> list[str]:
    """The outcomes the lab measures: every name the objectives and constraints use."""
    return list(evaluator_setup(campaign).outcomes)


def write_suggestions(path: Path, campaign: Campaign, records: Sequence[TrialRecord]) -> Path:
    """The sheet of `records` for the lab to fill, written durably as CSV."""
    parameters = [p.name for p in campaign.parameters]
    header = [TRIAL, *parameters, *outcome_columns(campaign), FAILED_REASON]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for record in records:
        values = [record.parameters.get(name, "") for name in parameters]
        writer.writerow([record.trial, *(repr(v) if isinstance(v, float) else v for v in values)])
    path.parent.mkdir(parents=True, exist_ok=True)
    write_durably(path, buffer.getvalue().encode())
    return path


def parse_results(table: UserTable, session: CampaignSession) -> list[Finished]:
    """The finished trials of a returned sheet, or IngestError listing every problem in it."""
    campaign = session.campaign
    outcomes = outcome_columns(campaign)
    parameters = [p.name for p in campaign.parameters]
    problems = _header_problems(table, parameters, outcomes)
    if problems:
        raise IngestError(problems)
    finished: list[Finished] = []
    seen_trials: dict[int, int] = {}
    seen_recipes: dict[tuple[float, ...], int] = {}
    next_trial = session.next_trial
    for i, row in enumerate(table.rows):
        before = len(problems)
        trial: int | None = None
        if not table.is_blank(i, TRIAL):
            trial = _trial_id(table, i, session, problems)
            if trial is not None and trial in seen_trials:
                problems.append(f"{table.where(i, TRIAL)}: trial {trial} is also in row {seen_trials[trial]}")
            elif trial is not None:
                seen_trials[trial] = i + table.first_line
        params = _parameters(
            table, i, campaign, session.records.get(trial) if trial is not None else None, problems
        )
        if trial is None and len(problems) == before:
            key = tuple(float(params[n]) for n in parameters if not isinstance(params[n], str))
            if key in seen_recipes:
                problems.append(f"{table.where(i)}: the same recipe as row {seen_recipes[key]}")
            seen_recipes[key] = i + table.first_line
        reason = str(row.get(FAILED_REASON) or "").strip()
        values = None if reason else _outcomes(table, i, session, outcomes, problems)
        if len(problems) > before:
            continue
        notes = {"lab": str(row[NOTES]).strip()} if not table.is_blank(i, NOTES) else {}
        if trial is None:
            trial, next_trial = next_trial, next_trial + 1
            generator = "lab"
        else:
            generator = ""
        finished.append(
            Finished(trial, params, values, reason, agent="lab", notes=notes, generator=generator)
        )
    if problems:
        raise IngestError(problems)
    return finished


def _header_problems(table: UserTable, parameters: list[str], outcomes: list[str]) -> list[str]:
    known = {TRIAL, FAILED_REASON, NOTES, *parameters, *outcomes}
    problems = [
        f"{table.path}: column {c!r} is not a parameter or outcome of the campaign; expected: "
        f"{', '.join([TRIAL, *parameters, *outcomes, FAILED_REASON])}"
        for c in table.columns
        if c not in known
    ]
    for column in (TRIAL, *outcomes):
        if column not in table.columns:
            problems.append(f"{table.path}: no column {column!r}")
    return problems


def _trial_id(table: UserTable, i: int, session: CampaignSession, problems: list[str]) -> int | None:
    try:
        number = table.number(i, TRIAL)
    except InputError as exc:
        problems.append(str(exc))
        return None
    if number != int(number) or number < 0:
        problems.append(f"{table.where(i, TRIAL)}: {number:g} is not a trial id")
        return None
    trial = int(number)
    record = session.records.get(trial)
    if record is None:
        problems.append(
            f"{table.where(i, TRIAL)}: trial {trial} is not in this run (leave it empty for a new recipe)"
        )
        return None
    if record.status != RUNNING:
        problems.append(f"{table.where(i, TRIAL)}: trial {trial} is already {record.status}")
        return None
    return trial


def _parameters(
    table: UserTable, i: int, campaign: Campaign, suggested: TrialRecord | None, problems: list[str]
) -> dict[str, Any]:
    """The recipe of row i: the suggested one (which the row must repeat or leave empty), or a new one."""
    params: dict[str, Any] = {}
    for p in campaign.parameters:
        expected = suggested.parameters.get(p.name) if suggested is not None else None
        if p.type == "fixed":
            expected = p.value
        if p.name not in table.columns or table.is_blank(i, p.name):
            if expected is None:
                problems.append(f"{table.where(i, p.name)}: empty (a new recipe needs every parameter)")
            params[p.name] = expected
            continue
        if isinstance(expected, str) or (isinstance(p, ChoiceParameter) and isinstance(p.values[0], str)):
            value: Any = str(table.rows[i][p.name]).strip()
            same = expected is None or value == expected
        else:
            try:
                value = table.number(i, p.name)
            except InputError as exc:
                problems.append(str(exc))
                continue
            same = expected is None or math.isclose(
                value, float(expected), rel_tol=PARAMETER_RTOL, abs_tol=1e-12
            )
        if not same:
            problems.append(f"{table.where(i, p.name)}: {value!r} differs from the suggested {expected!r}")
        elif expected is None and not _allowed(p, value):
            problems.append(
                f"{table.where(i, p.name)}: {value!r} is outside the campaign's {_allowed_text(p)}"
            )
        params[p.name] = expected if expected is not None else value
    return params


def _allowed(p: RangeParameter | ChoiceParameter, value: Any) -> bool:
    if isinstance(p, RangeParameter):
        return p.bounds[0] <= value <= p.bounds[1] and (p.type != "int" or value == int(value))
    return value in p.values


def _allowed_text(p: RangeParameter | ChoiceParameter) -> str:
    return f"bounds {list(p.bounds)}" if isinstance(p, RangeParameter) else f"choices {p.values}"


def _outcomes(
    table: UserTable, i: int, session: CampaignSession, names: list[str], problems: list[str]
) -> dict[str, float]:
    values: dict[str, float] = {}
    for name in names:
        try:
            value = table.number(i, name)
        except InputError as exc:
            problems.append(f"{exc} (or fill {FAILED_REASON} for a failed trial)")
            continue
        interval = session.evaluator.outcomes.get(name)
        if interval is not None and not interval.contains(value):
            problems.append(f"{table.where(i, name)}: {value:g} is outside the physical range {interval}")
        values[name] = value
    return values
