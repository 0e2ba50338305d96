"""The campaign's goals in BoTorch terms, and the acquisition function built from a fitted model.

Goals mirror the Ax configuration of batman_opt.optimize.ax_client: the metrics it models, the
objective(s) with their sign (+1 maximize, -1 minimize), and linear outcome constraints (the
campaign's own and every target's tolerance band). One objective: qLogNEI; several: qLogNEHVI with a
reference point just below the worst observed value of each objective; while no observed point meets
every constraint, the probability of feasibility (qLogPoF), as Ax chooses it. Constraints are BoTorch
constraint callables (feasible where <= 0).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from botorch.acquisition import AcquisitionFunction
from botorch.acquisition.logei import qLogNoisyExpectedImprovement, qLogProbabilityOfFeasibility
from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement
from botorch.acquisition.multi_objective.objective import WeightedMCMultiOutputObjective
from botorch.acquisition.objective import LinearMCObjective
from botorch.models.model import Model

from batman_opt.constraints import linear_form
from batman_opt.optimize.targets import objective_string, outcome_constraint_strings
from batman_opt.spec import Campaign

# Multi-start settings of the acquisition optimizer: Ax's defaults. Leaner ones (6 restarts from 256
# raw samples) made a suggestion ~3x cheaper but lost the narrow feasible band of two targets: the
# quickstart met its targets in > 60 trials for seeds 1 and 2 (47 and 12 with these; Ax's default
# strategy 9 and 7), benchmarks/campaign.py `trials_to_target`.
ACQF_NUM_RESTARTS = 20
ACQF_RAW_SAMPLES = 1024


@dataclass(frozen=True)
class Goals:
    """metrics: modelled names in model-output order; objectives: (metric, sign); constraints:
    (coefficients by metric, rhs, '<=' or '>=')."""

    metrics: tuple[str, ...]
    objectives: tuple[tuple[str, float], ...]
    constraints: tuple[tuple[dict[str, float], float, str], ...]

    @classmethod
    def of(cls, campaign: Campaign) -> Goals:
        objectives = tuple(
            (term.strip().lstrip("-"), -1.0 if term.strip().startswith("-") else 1.0)
            for term in objective_string(campaign).split(",")
        )
        constraints = tuple(linear_form(c) for c in outcome_constraint_strings(campaign))
        metrics = tuple(dict.fromkeys([m for m, _ in objectives] + [n for f in constraints for n in f[0]]))
        return cls(metrics, objectives, constraints)

    def met(self, y: torch.Tensor) -> torch.Tensor:
        """Whether each row of y (n, metrics in `metrics` order) meets every outcome constraint."""
        index = {name: j for j, name in enumerate(self.metrics)}
        ok = torch.ones(y.shape[:-1], dtype=torch.bool)
        for coefs, rhs, op in self.constraints:
            ok &= _constraint(coefs, rhs, op, index)(y) <= 0
        return ok


def _constraint(coefs: dict[str, float], rhs: float, op: str, index: dict[str, int]) -> Callable:
    sign = 1.0 if op == "<=" else -1.0

    def g(samples: torch.Tensor) -> torch.Tensor:
        return sign * (sum(c * samples[..., index[name]] for name, c in coefs.items()) - rhs)

    return g


def acquisition(
    model: Model,
    goals: Goals,
    x_baseline: torch.Tensor,
    y_baseline: torch.Tensor,
    x_pending: torch.Tensor | None,
) -> AcquisitionFunction:
    """qLogNEI (one objective) or qLogNEHVI (several) of `model` under the goals' constraints, or
    qLogPoF while no observed point is feasible.

    x_baseline, y_baseline: observed points (unit cube) and their metrics (goals.metrics order).
    """
    index = {name: j for j, name in enumerate(goals.metrics)}
    constraints = [_constraint(c, rhs, op, index) for c, rhs, op in goals.constraints] or None
    if constraints and not goals.met(y_baseline).any():
        return qLogProbabilityOfFeasibility(model, constraints, X_pending=x_pending)
    if len(goals.objectives) == 1:
        name, sign = goals.objectives[0]
        weights = torch.zeros(len(goals.metrics), dtype=x_baseline.dtype)
        weights[index[name]] = sign
        return qLogNoisyExpectedImprovement(
            model,
            x_baseline,
            objective=LinearMCObjective(weights),
            constraints=constraints,
            X_pending=x_pending,
        )
    outcomes = [index[m] for m, _ in goals.objectives]
    signs = torch.tensor([s for _, s in goals.objectives], dtype=x_baseline.dtype)
    signed = y_baseline[:, outcomes] * signs
    low, high = signed.min(dim=0).values, signed.max(dim=0).values
    return qLogNoisyExpectedHypervolumeImprovement(
        model,
        ref_point=(low - 0.1 * (high - low + 1e-9)).tolist(),
        X_baseline=x_baseline,
        objective=WeightedMCMultiOutputObjective(signs, outcomes=outcomes),
        constraints=constraints,
        X_pending=x_pending,
        prune_baseline=True,
    )
