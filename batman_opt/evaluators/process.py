"""The `process` kind: the closed-form coating, drying and calendering model (sims.process), ms."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from batman_opt.evaluators.base import Evaluation, Evaluator, EvaluatorSetup, Interval, NoOptions
from batman_opt.evaluators.quantities import outcome_range
from sims import process


class ProcessEvaluator(Evaluator):
    """sims.process.evaluate on one recipe; no options."""

    name = "process"
    description = "closed-form coating, drying and calendering model (ms)"

    def __init__(self, material: str, options: NoOptions, setup: EvaluatorSetup) -> None:
        super().__init__(material, options, setup)
        self.inputs = {
            name: Interval(spec.low, spec.high, spec.low_inclusive, spec.high_inclusive)
            for name, spec in process.INPUTS.items()
        }
        self.required = process.REQUIRED_INPUTS
        self.outcomes = {name: outcome_range(name) for name in process.OUTCOMES}

    def evaluate(self, params: Mapping[str, Any]) -> Evaluation:
        outcomes = process.evaluate(dict(params), self.material)
        return self.checked(Evaluation(outcomes))
