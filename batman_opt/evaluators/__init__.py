"""The evaluator kinds a campaign can name (see `base` for the contract every kind follows).

| kind | module | what it runs |
| --- | --- | --- |
| process | `process` | closed-form coating, drying, calendering (ms) |
| dem | `dem` | numba DEM of drying and calendering, voxel metrics (s to min) |
| paml | `paml` | PAML drying (DL macro-steps + n_DEM DEM steps), DEM calendering, metrics |
| dataset | `dataset` | a measured table, pool-based (ms) |
| lab | `lab` | the laboratory, through `batman suggest` / `batman ingest` (days) |
| gdl | `gdl` | a stochastic gas-diffusion layer and its tortuosities (s) |
| cell | `cell` | an electrode kind chained with a PyBaMM DFN of its cell (s) |
| surrogate | `surrogate` | cached DEM drying, the DL calendering model, voxel metrics (s) |

Kinds are imported on first use, so validating a campaign compiles nothing it does not need.
"""

from __future__ import annotations

from batman_opt.errors import InputError
from batman_opt.evaluators.base import (
    Evaluation,
    EvaluationFailed,
    Evaluator,
    EvaluatorKind,
    EvaluatorSetup,
    Interval,
)

EVALUATORS: dict[str, EvaluatorKind] = {
    kind.name: kind
    for kind in (
        EvaluatorKind(
            "process", "batman_opt.evaluators.process:ProcessEvaluator", "closed-form process model (ms)"
        ),
        EvaluatorKind(
            "dem", "batman_opt.evaluators.dem:DemEvaluator", "numba DEM and voxel metrics (s to min)"
        ),
        EvaluatorKind(
            "paml", "batman_opt.evaluators.paml:PamlEvaluator", "PAML drying + DEM calendering (s)"
        ),
        EvaluatorKind("dataset", "batman_opt.evaluators.dataset:DatasetEvaluator", "a measured table (ms)"),
        EvaluatorKind("lab", "batman_opt.evaluators.lab:LabEvaluator", "the laboratory (days)"),
        EvaluatorKind("gdl", "batman_opt.evaluators.gdl:GdlEvaluator", "stochastic gas-diffusion layers (s)"),
        EvaluatorKind("cell", "batman_opt.evaluators.cell:CellEvaluator", "electrode + PyBaMM DFN cell (s)"),
        EvaluatorKind(
            "surrogate",
            "batman_opt.evaluators.surrogate:SurrogateEvaluator",
            "cached DEM drying + DL calendering model + metrics (s)",
        ),
    )
}


def get_evaluator(kind: str) -> EvaluatorKind:
    """The evaluator kind called `kind`, or an InputError listing the known kinds."""
    try:
        return EVALUATORS[kind]
    except KeyError:
        raise InputError(f"unknown evaluator kind {kind!r}; available: {', '.join(EVALUATORS)}") from None


__all__ = [
    "EVALUATORS",
    "Evaluation",
    "EvaluationFailed",
    "Evaluator",
    "EvaluatorKind",
    "EvaluatorSetup",
    "Interval",
    "get_evaluator",
]
