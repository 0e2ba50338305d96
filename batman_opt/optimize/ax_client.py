"""The campaign's optimizer: an Ax `Client` (Sobol, then BoTorch) configured from a `Campaign`.

Mapping of the campaign onto Ax:
- ranges -> RangeParameterConfig, choices -> ChoiceParameterConfig, fixed values stay outside Ax
  and are merged into every recipe;
- targets -> one metric `target_distance` (max |value - target| / tolerance) to minimize;
- one goal -> single-objective BO (Ax picks qLogNEI); several -> multi-objective BO (qLogNEHVI)
  with `target_distance <= 1` as its objective threshold, so the hypervolume that counts is the
  one of recipes meeting every target;
- outcome and parameter constraints pass through as Ax strings.
Pending trials are RUNNING trials of the Ax experiment, which BoTorch conditions on.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ax.api.client import Client
from ax.api.configs import ChoiceParameterConfig, RangeParameterConfig

from batman_opt.optimize.targets import TARGET_DISTANCE, optimization_metrics
from batman_opt.spec import Campaign, ChoiceParameter, RangeParameter
from batman_opt.store import COMPLETED, FAILED, TrialRecord

logger = logging.getLogger(__name__)

for _name in ("ax", "botorch", "gpytorch", "linear_operator", "pyro"):
    logging.getLogger(_name).setLevel(logging.WARNING)


def objective_string(campaign: Campaign) -> str:
    """Ax objective string: '-target_distance, -tortuosity_factor' style."""
    terms = [f"-{TARGET_DISTANCE}"] if campaign.targets else []
    for objective in campaign.objectives:
        if objective.goal == "minimize":
            terms.append(f"-{objective.name}")
        elif objective.goal == "maximize":
            terms.append(objective.name)
    return ", ".join(terms)


def _parameter_config(p: RangeParameter | ChoiceParameter) -> RangeParameterConfig | ChoiceParameterConfig:
    if isinstance(p, RangeParameter):
        bounds = (int(p.bounds[0]), int(p.bounds[1])) if p.type == "int" else p.bounds
        return RangeParameterConfig(
            name=p.name, bounds=bounds, parameter_type=p.type, scaling="log" if p.log_scale else "linear"
        )
    numeric = all(isinstance(v, (int, float)) for v in p.values)
    return ChoiceParameterConfig(
        name=p.name,
        values=list(p.values),
        parameter_type="float" if numeric else "str",
        is_ordered=numeric,
    )


class CampaignOptimizer:
    """Asks Ax for recipes and tells it the outcomes, in the campaign's own terms."""

    def __init__(self, campaign: Campaign) -> None:
        self.campaign = campaign
        self.client = Client(random_seed=campaign.seed)
        self.client.configure_experiment(
            parameters=[_parameter_config(p) for p in campaign.tuned_parameters],
            parameter_constraints=list(campaign.parameter_constraints) or None,
            name=campaign.name,
        )
        constraints = list(campaign.outcome_constraints)
        multi = len(objective_string(campaign).split(",")) > 1
        if campaign.targets and multi:
            constraints.append(f"{TARGET_DISTANCE} <= 1.0")
        self.client.configure_optimization(objective=objective_string(campaign), outcome_constraints=constraints or None)
        self.client.configure_generation_strategy(
            method="fast",
            initialization_budget=campaign.budget.initial_trials,
            initialization_random_seed=campaign.seed,
            allow_exceeding_initialization_budget=True,
        )

    def suggest(self, n: int) -> dict[int, dict[str, Any]]:
        """Up to `n` new recipes, trial id -> full parameters (fixed values merged in)."""
        trials = self.client.get_next_trials(max_trials=n)
        return {index: {**params, **self.campaign.fixed_values} for index, params in trials.items()}

    def attach(self, parameters: Mapping[str, Any]) -> int:
        """Register a recipe chosen elsewhere (resume, lab); returns its trial id."""
        tuned = {p.name: parameters[p.name] for p in self.campaign.tuned_parameters}
        return self.client.attach_trial(parameters=tuned)

    def complete(self, trial: int, outcomes: Mapping[str, float]) -> None:
        """Tell the optimizer the outcomes of a finished trial."""
        self.client.complete_trial(trial_index=trial, raw_data=optimization_metrics(outcomes, self.campaign))

    def fail(self, trial: int, reason: str) -> None:
        """Tell the optimizer a trial failed (it will not be modelled)."""
        self.client.mark_trial_failed(trial_index=trial, failed_reason=reason)

    def replay(self, records: list[TrialRecord]) -> None:
        """Rebuild the experiment from a trial log (resume): same trial ids, same outcomes."""
        for record in records:
            index = self.attach(record.parameters)
            if index != record.trial:
                raise RuntimeError(f"trial log out of order: trial {record.trial} replayed as {index}")
            if record.status == COMPLETED:
                self.complete(index, record.outcomes)
            elif record.status == FAILED:
                self.fail(index, record.reason)

    def save(self, path: Path) -> None:
        """Snapshot the Ax client (experiment and generation strategy) as JSON."""
        tmp = path.with_suffix(".tmp")
        self.client.save_to_json_file(str(tmp))
        tmp.replace(path)
