"""The evaluator kinds a campaign can name, and the one call that runs a recipe through one of them.

Each kind is backed by a module of `sims` exposing `INPUTS` (input names), `OUTCOMES` (outcome
names) and `evaluate(params, material, **options) -> dict[str, float]`. The modules are imported
on first use, so validating a campaign does not start numba compilation it does not need, and a
kind is a small picklable value that Ray ships to the agents.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from batman_opt.errors import InputError


@dataclass(frozen=True)
class EvaluatorKind:
    """A kind of evaluator: its name, the sims module behind it and what it costs."""

    name: str
    module_name: str
    description: str

    @property
    def module(self) -> ModuleType:
        return importlib.import_module(self.module_name)  # cached by sys.modules

    @property
    def inputs(self) -> tuple[str, ...]:
        """Names of the recipe inputs the evaluator understands."""
        return tuple(self.module.INPUTS)

    @property
    def outcomes(self) -> tuple[str, ...]:
        """Names of the outcomes it returns."""
        return tuple(self.module.OUTCOMES)

    def evaluate(
        self, params: Mapping[str, Any], material: str, options: Mapping[str, Any]
    ) -> dict[str, float]:
        """Run one recipe; every outcome is a finite float or this raises InputError."""
        outcomes = self.module.evaluate(dict(params), material, **options)
        for name, value in outcomes.items():
            if not isinstance(value, (int, float)) or math.isnan(value):
                raise InputError(f"{self.name} evaluator returned {name} = {value!r} (not a number)")
        return {name: float(value) for name, value in outcomes.items()}


EVALUATORS: dict[str, EvaluatorKind] = {
    kind.name: kind
    for kind in (
        EvaluatorKind("process", "sims.process", "closed-form coating, drying and calendering model (ms)"),
        EvaluatorKind("dem", "sims.electrode", "numba DEM: packing, drying, calendering, metrics (s to min)"),
    )
}


def get_evaluator(kind: str) -> EvaluatorKind:
    """The evaluator kind called `kind`, or an InputError listing the known kinds."""
    try:
        return EVALUATORS[kind]
    except KeyError:
        raise InputError(f"unknown evaluator kind {kind!r}; available: {', '.join(EVALUATORS)}") from None
