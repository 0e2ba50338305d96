"""The campaign's optimizer: an Ax `Client` (Sobol, then BoTorch) configured from a `Campaign`.

Mapping of the campaign onto Ax:
- ranges -> RangeParameterConfig, choices -> ChoiceParameterConfig, fixed values stay outside Ax
  and are merged into every recipe;
- each target becomes two outcome constraints, `target - tolerance <= outcome <= target + tolerance`,
  so every target outcome keeps a GP of its own (smooth, data-efficient) and the acquisition
  weighs the probability of meeting all of them;
- the minimize / maximize objectives are the objective (one: qLogNEI; several: qLogNEHVI); a
  campaign with targets only minimizes `target_distance` (max |value - target| / tolerance);
- outcome and parameter constraints pass through as Ax strings.
Pending trials are RUNNING trials of the Ax experiment, which BoTorch conditions on.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from ax.adapter.registry import MBM_X_trans, Y_trans
from ax.api.client import Client
from ax.api.configs import ChoiceParameterConfig, RangeParameterConfig
from ax.api.utils.generation_strategy_dispatch import choose_generation_strategy
from ax.api.utils.structs import GenerationStrategyDispatchStruct
from ax.core.data import Data
from ax.core.evaluations_to_data import raw_evaluations_to_data
from ax.generation_strategy.generation_strategy import GenerationStrategy
from ax.generators.torch.botorch_modular.surrogate import SurrogateSpec
from ax.generators.torch.botorch_modular.utils import ModelConfig
from ax.utils.common.logger import set_stderr_log_level

from batman_opt.optimize.acquisition import ACQF_NUM_RESTARTS, ACQF_RAW_SAMPLES
from batman_opt.optimize.generator import BotorchGenerator, ColdModels, ModelFactory
from batman_opt.optimize.targets import objective_string, optimization_metrics, outcome_constraint_strings
from batman_opt.optimize.window import TrialWindow, WarmStartGP
from batman_opt.spec import Campaign, ChoiceParameter, RangeParameter
from batman_opt.store import COMPLETED, FAILED, RUNNING, TrialRecord

set_stderr_log_level(logging.WARNING)  # Ax logs every trial at INFO; the progress bar says enough


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


# Campaign GPs are small (tens to hundreds of points): torch's intra-op threads only spin on them,
# and steal the cores the agents run on. One thread made a suggestion 7x faster on a busy 2-core box.
TORCH_THREADS = 1


def _generation_strategy(campaign: Campaign, drawn: int | None = None) -> GenerationStrategy:
    """Sobol (the center first), then BoTorch with a GP per outcome, with lean acquisition optimization.

    With `drawn` given (resume, lab sessions: trials in the experiment already, which count towards
    the Sobol budget), there is no center point and the Sobol sequence continues at position
    `drawn` (the points its predecessors drew) instead of starting over (a new strategy object
    knows nothing of the trials its predecessors made)."""
    strategy = choose_generation_strategy(
        GenerationStrategyDispatchStruct(
            method="fast",
            initialization_budget=campaign.budget.initial_trials,
            initialization_random_seed=campaign.seed,
            initialize_with_center=drawn is None,
            use_existing_trials_for_initialization=True,
            allow_exceeding_initialization_budget=True,
        )
    )
    if drawn is not None:
        for spec in strategy.nodes_by_name["Sobol"].generator_specs:
            spec.generator_kwargs = {**spec.generator_kwargs, "init_position": drawn}
    optimizer = {"num_restarts": ACQF_NUM_RESTARTS, "raw_samples": ACQF_RAW_SAMPLES}
    # large campaigns: a window of the trials and warm-started GP fits (batman_opt.optimize.window);
    # a campaign with unordered choices keeps Ax's mixed GP and its transforms
    windowed = not any(
        isinstance(p, ChoiceParameter) and isinstance(p.values[0], str) for p in campaign.parameters
    )
    for spec in strategy.nodes_by_name["MBM"].generator_specs:
        spec.generator_gen_kwargs = {"model_gen_options": {"optimizer_kwargs": optimizer}}
        if windowed:
            model = ModelConfig(botorch_model_class=WarmStartGP, name="warm-started GP")
            spec.generator_kwargs = {
                **spec.generator_kwargs,
                "surrogate_spec": SurrogateSpec(model_configs=[model]),
                "transforms": [TrialWindow, *MBM_X_trans, *Y_trans],
            }
    return strategy


@dataclass
class Suggestion:
    """A recipe the optimizer asks for: trial id, full parameters, what generated it."""

    trial: int
    parameters: dict[str, Any]
    generator: str
    notes: dict[str, str] = field(default_factory=dict)


class CampaignOptimizer:
    """Asks Ax for recipes and tells it the outcomes, in the campaign's own terms.

    With `candidates` (the pool of a pool-based evaluator) or transfer `models` (a prior from
    batman_opt.transfer), recipes come from a BotorchGenerator and are attached to the Ax
    experiment, which stays the one record of the campaign.
    """

    def __init__(
        self, campaign: Campaign, candidates: pd.DataFrame | None = None, models: ModelFactory | None = None
    ) -> None:
        torch.set_num_threads(TORCH_THREADS)
        self.campaign = campaign
        self.client = Client(random_seed=campaign.seed)
        self.client.configure_experiment(
            parameters=[_parameter_config(p) for p in campaign.tuned_parameters],
            parameter_constraints=list(campaign.parameter_constraints) or None,
            name=campaign.name,
        )
        self.client.configure_optimization(
            objective=objective_string(campaign),
            outcome_constraints=outcome_constraint_strings(campaign) or None,
        )
        self._strategy = _generation_strategy(campaign)
        self.client.set_generation_strategy(self._strategy)
        self.generator = None
        if candidates is not None or models is not None:
            self.generator = BotorchGenerator(campaign, models or ColdModels(), candidates)
        self._records: dict[int, TrialRecord] = {}

    def suggest(self, n: int) -> list[Suggestion]:
        """Up to `n` new recipes (fixed values merged in); fewer when a pool runs out."""
        if self.generator is not None:
            return self._suggest_with_botorch(n)
        trials = self.client.get_next_trials(max_trials=n)
        generator = "botorch" if self._strategy.current_node_name == "MBM" else "sobol"
        suggestions = [
            Suggestion(index, {**params, **self.campaign.fixed_values}, generator)
            for index, params in trials.items()
        ]
        self._records.update((s.trial, TrialRecord(s.trial, RUNNING, s.parameters)) for s in suggestions)
        return suggestions

    def _suggest_with_botorch(self, n: int) -> list[Suggestion]:
        records = list(self._records.values())
        completed = [
            (r.parameters, optimization_metrics(r.outcomes, self.campaign))
            for r in records
            if r.status == COMPLETED
        ]
        pending = [r.parameters for r in records if r.status == RUNNING]
        picks = self.generator.select(n, [r.parameters for r in records], completed, pending)
        suggestions = []
        for params, generator, notes in picks:
            trial = self.attach(params)
            self._records[trial] = TrialRecord(trial, RUNNING, params)
            suggestions.append(Suggestion(trial, params, generator, notes))
        return suggestions

    def attach(self, parameters: Mapping[str, Any]) -> int:
        """Register a recipe chosen elsewhere (resume, lab, pool); returns its trial id."""
        tuned = {p.name: parameters[p.name] for p in self.campaign.tuned_parameters}
        trial = self.client.attach_trial(parameters=tuned)
        self._records[trial] = TrialRecord(trial, RUNNING, dict(parameters))
        return trial

    def complete(self, trial: int, outcomes: Mapping[str, float]) -> None:
        """Tell the optimizer the outcomes of a finished trial."""
        self.client.complete_trial(trial_index=trial, raw_data=optimization_metrics(outcomes, self.campaign))
        self._records[trial] = TrialRecord(trial, COMPLETED, self._records[trial].parameters, dict(outcomes))

    def fail(self, trial: int, reason: str) -> None:
        """Tell the optimizer a trial failed (it will not be modelled)."""
        self.client.mark_trial_failed(trial_index=trial, failed_reason=reason)
        self._records[trial] = TrialRecord(trial, FAILED, self._records[trial].parameters, reason=reason)

    def replay(self, records: list[TrialRecord]) -> None:
        """Rebuild the experiment from a trial log (resume): same trial ids, same outcomes.

        In bulk: the trials are attached one by one (cheap), their outcomes go to the experiment as
        one Data object and the statuses are set after it. Completing trial by trial through the
        Client checks each against all the data so far (quadratic: 70 s at 1,000 trials; this, a
        fraction of a second)."""
        if not records:
            return
        # a fresh strategy's first trial is the centre, not a Sobol point: without it in the count,
        # a resumed run skipped one point of the sequence and its recipes parted from an
        # uninterrupted run's from there on
        centre = records[0].generator == "sobol"
        self._strategy = _generation_strategy(self.campaign, drawn=len(records) - centre)
        self.client.set_generation_strategy(self._strategy)
        experiment = self.client._experiment  # the Client's own Experiment (no public getter in Ax 1.3)
        metrics = {
            r.trial: optimization_metrics(r.outcomes, self.campaign) for r in records if r.status == COMPLETED
        }
        extra = sorted({name for values in metrics.values() for name in values} - set(experiment.metrics))
        if extra:
            self.client.configure_tracking_metrics(metric_names=extra)
        signatures = {name: metric.signature for name, metric in experiment.metrics.items()}
        data = []
        for record in records:
            index = self.attach(record.parameters)
            if index != record.trial:
                raise RuntimeError(f"trial log out of order: trial {record.trial} replayed as {index}")
            if record.trial in metrics:
                arm = experiment.trials[index].arm.name
                data.append(
                    raw_evaluations_to_data(
                        raw_data={arm: metrics[record.trial]},
                        metric_name_to_signature=signatures,
                        trial_index=index,
                    )
                )
        if data:
            experiment.attach_data(Data.from_multiple_data(data))
        for record in records:
            if record.status == COMPLETED:
                experiment.trials[record.trial].mark_completed()
                self._records[record.trial] = TrialRecord(
                    record.trial, COMPLETED, self._records[record.trial].parameters, dict(record.outcomes)
                )
            elif record.status == FAILED:
                self.fail(record.trial, record.reason)

    def save(self, path: Path) -> None:
        """Snapshot the Ax client (experiment and generation strategy) as JSON."""
        tmp = path.with_suffix(".tmp")
        self.client.save_to_json_file(str(tmp))
        tmp.replace(path)
