"""The `cell` kind: an electrode evaluator chained with the cell it makes. The inner kind (process or
dem, with its own options) gives the positive electrode; a PyBaMM DFN of the Chen2020 cell with that
electrode (batman_opt.cell) adds the cell outcomes: capacity and energy at 0.1C, energy at 1C, the
2C/0.1C capacity retention and the DFN wall time. Inputs are the inner kind's; outcomes both.

    evaluator: {kind: cell, options: {electrode: process, electrode_options: {}}}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, ValidationError

from batman_opt import cell
from batman_opt.errors import InputError
from batman_opt.evaluators.base import Evaluation, Evaluator, EvaluatorSetup, NoOptions
from batman_opt.evaluators.quantities import outcome_range


class CellOptions(NoOptions):
    """The electrode evaluator the cell is built from, and its options."""

    electrode: Literal["process", "dem"] = "process"
    electrode_options: dict[str, Any] = Field(default_factory=dict)


class CellEvaluator(Evaluator):
    """Electrode outcomes, then the cell's (a few s of DFN per recipe)."""

    name = "cell"
    description = "an electrode evaluator chained with a PyBaMM DFN of its cell (s)"
    Options = CellOptions

    def __init__(self, material: str, options: CellOptions, setup: EvaluatorSetup) -> None:
        from batman_opt.evaluators import get_evaluator  # the registry imports this module

        super().__init__(material, options, setup)
        if material not in cell.POSITIVE_MATERIALS:
            raise InputError(
                f"cell outcomes need a positive electrode of {', '.join(cell.POSITIVE_MATERIALS)}"
            )
        try:
            self.electrode = get_evaluator(options.electrode).build(
                material, options.electrode_options, setup
            )
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(p) for p in error["loc"])
            raise InputError(
                f"electrode_options.{where}: {error['msg']} ({options.electrode} evaluator)"
            ) from None
        self.inputs, self.required = self.electrode.inputs, self.electrode.required
        self.outcomes = {**self.electrode.outcomes, **{n: outcome_range(n) for n in cell.OUTCOMES}}

    def evaluate(self, params: Mapping[str, Any]) -> Evaluation:
        electrode = self.electrode.evaluate(params)
        recipe = {"am_mass_fraction": params["am_mass_fraction"]} if "am_mass_fraction" in params else {}
        performance = cell.cell_performance({**electrode.outcomes, **recipe}, self.material)
        outcomes = {**electrode.outcomes, **performance}
        return self.checked(Evaluation(outcomes, electrode.notes, electrode.artifacts))
