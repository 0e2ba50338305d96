"""The campaign's goals in BoTorch terms, and the acquisition function built from a fitted model.

Goals mirror the Ax configuration of batman_opt.optimize.ax_client: the metrics it models, the
objective(s) with their sign (+1 maximize, -1 minimize), and linear outcome constraints (the
campaign's own and every target's tolerance band). One objective: qLogNEI; several: qLogNEHVI with a
reference point just below the worst observed value of each objective; while no observed point meets
every constraint, the probability of feasibility (qLogPoF), as Ax chooses it. Constraints are BoTorch
constraint callables (feasible where <= 0).

One recipe at a time (q = 1, nothing pending) after measured points, one objective and constraints
that each bound one other metric (target bands are): the analytic equivalents, LogCEI and LogPoF,
exact for the models' independent Gaussian outputs where the MC ones estimate them from 128 samples
behind a smoothed feasibility indicator. With a 1,000-point transfer prior they reach the same
optimum 5-6x faster (no samples or cached Cholesky factor per step: 0.4-0.6 s against 2.2-4 s),
benchmarks/transfer_suggest.py. A prior's baseline (its predictions at the source points, before
the target GP) keeps the MC forms: there, the analytic ones cost nmc_transfer and lab_nmc_transfer
evaluations (benchmarks/transfer_bo.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from botorch.acquisition import AcquisitionFunction
from botorch.acquisition.analytic import (
    LogConstrainedExpectedImprovement,
    LogExpectedImprovement,
    LogProbabilityOfFeasibility,
)
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

    def bounds(self) -> dict[int, tuple[float | None, float | None]] | None:
        """The outcome constraints as bounds (lower, upper) by metric index, the tightest of each
        side; None when a constraint is not a bound on one metric or a metric's bounds leave no
        room (lower >= upper: nothing is feasible, which the MC forms score as such)."""
        bounds: dict[int, tuple[float | None, float | None]] = {}
        for coefs, rhs, op in self.constraints:
            terms = [(name, c) for name, c in coefs.items() if c != 0]
            if len(terms) != 1:
                return None
            name, c = terms[0]
            j = self.metrics.index(name)
            low, high = bounds.get(j, (None, None))
            if (op == ">=") == (c > 0):
                low = rhs / c if low is None else max(low, rhs / c)
            else:
                high = rhs / c if high is None else min(high, rhs / c)
            bounds[j] = (low, high)
        if any(low is not None and high is not None and low >= high for low, high in bounds.values()):
            return None
        return bounds


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
    q: int = 1,
    measured: bool = True,
) -> AcquisitionFunction:
    """qLogNEI (one objective) or qLogNEHVI (several) of `model` under the goals' constraints, or
    qLogPoF while no observed point is feasible; their analytic forms where they apply (`_analytic`).

    x_baseline, y_baseline: the baseline points (unit cube) and their metrics (goals.metrics order);
    q: the recipes chosen together; measured: y_baseline was measured, False for a prior's
    predictions at its source points, whose uncertainty only the MC forms weigh.
    """
    if q == 1 and measured and x_pending is None:
        if analytic := _analytic(model, goals, x_baseline, y_baseline):
            return analytic
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


def _analytic(
    model: Model, goals: Goals, x_baseline: torch.Tensor, y_baseline: torch.Tensor
) -> AcquisitionFunction | None:
    """LogPoF while no observed point is feasible, then LogCEI (LogEI without constraints) improving
    on the best posterior mean of the objective over the feasible observed points (robust to noise,
    as NEI's baseline is); None for several objectives, a constraint that is not a bound on one
    metric, or a constrained objective."""
    bounds = goals.bounds()
    if len(goals.objectives) != 1 or bounds is None:
        return None
    name, sign = goals.objectives[0]
    index = goals.metrics.index(name)
    if index in bounds:
        return None
    feasible = goals.met(y_baseline)
    if bounds and not feasible.any():
        return LogProbabilityOfFeasibility(model, bounds)
    with torch.no_grad():
        mean = model.posterior(x_baseline[feasible]).mean[..., index]
    best_f = (sign * mean).max() * sign
    if not bounds:
        return LogExpectedImprovement(model, best_f, maximize=sign > 0)
    return LogConstrainedExpectedImprovement(model, best_f, index, bounds, maximize=sign > 0)
