"""A campaign run in this process, one recipe at a time, without Ray: for evaluators that cost
milliseconds (process, dataset), benchmarks and tests. `batman run` uses Ray agents instead."""

from __future__ import annotations

import time
from collections.abc import Callable

from batman_opt.errors import BatmanError
from batman_opt.session import CampaignSession, Finished
from batman_opt.store import TrialRecord
from sims.errors import SimError


def run_local(
    session: CampaignSession,
    max_trials: int | None = None,
    stop: Callable[[TrialRecord], bool] | None = None,
) -> list[TrialRecord]:
    """Suggest, evaluate and record one recipe at a time until the budget (or `max_trials` new
    trials), the pool, the targets (when the campaign stops on them) or `stop(record)` ends it.
    Returns the records made here. An evaluation that raises is a failed trial with its reason."""
    made: list[TrialRecord] = []
    evaluator = session.evaluator
    while max_trials is None or len(made) < max_trials:
        suggested = session.suggest(1)
        if not suggested:
            break
        trial = suggested[0]
        start = time.time()
        try:
            evaluation = evaluator.evaluate(trial.parameters)
            finished = Finished(
                trial.trial,
                trial.parameters,
                evaluation.outcomes,
                notes=evaluation.notes,
                artifacts=evaluation.artifacts,
            )
        except (BatmanError, SimError, ValueError) as exc:
            finished = Finished(trial.trial, trial.parameters, None, f"{type(exc).__name__}: {exc}")
        finished.agent, finished.start_time, finished.end_time = "local", start, time.time()
        record = session.record(finished)
        made.append(record)
        if stop is not None and stop(record):
            break
    return made
