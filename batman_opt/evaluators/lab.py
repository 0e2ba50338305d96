"""The `lab` kind: nothing is computed here; recipes go out with `batman suggest` as a CSV the lab
fills, and measurements come back with `batman ingest`. Its inputs are the campaign's parameters,
its outcomes whatever names the objectives and constraints use (with the physical ranges known
for them, batman_opt.evaluators.quantities)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from batman_opt.evaluators.base import ANY, Evaluation, EvaluationFailed, Evaluator, EvaluatorSetup, NoOptions
from batman_opt.evaluators.quantities import outcome_range


class LabEvaluator(Evaluator):
    """The laboratory: measured outcomes arrive through `batman ingest`."""

    name = "lab"
    description = "the laboratory: batman suggest writes recipes, batman ingest reads measurements (days)"
    computes = False

    def __init__(self, material: str, options: NoOptions, setup: EvaluatorSetup) -> None:
        super().__init__(material, options, setup)
        self.inputs = dict.fromkeys(setup.parameters, ANY)
        self.outcomes = {name: outcome_range(name) for name in setup.outcomes}

    def evaluate(self, params: Mapping[str, Any]) -> Evaluation:
        raise EvaluationFailed("lab recipes are measured in the lab: use batman suggest and batman ingest")
