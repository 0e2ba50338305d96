"""Pool-based selection: the next recipes of a campaign whose evaluator can only run the recipes of
a finite pool (a measured table), chosen by maximizing the acquisition over the pool itself.

Beside Ax rather than through it (Ax optimizes over a continuous or grid search space; snapping
its optimum to the nearest row loses the acquisition's ranking): the same goals as the Ax
campaign (batman_opt.optimize.ax_client), modelled with BoTorch directly:
- one `SingleTaskGP` per optimization metric (inputs scaled to the unit cube by the campaign's
  bounds, outcomes standardized), fitted by marginal likelihood;
- one objective: qLogNEI; several: qLogNEHVI with a reference point just below the worst observed
  value of each objective; target tolerance bands and outcome constraints as BoTorch constraints;
- `optimize_acqf_discrete` over the untried pool rows, recipes still running as pending points.
Before `initial_trials` recipes have been tried, a space-filling start replaces Sobol: the pool
row nearest the centre of the bounds, then each time the row farthest from every tried one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from botorch.acquisition.logei import qLogNoisyExpectedImprovement
from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement
from botorch.acquisition.multi_objective.objective import WeightedMCMultiOutputObjective
from botorch.acquisition.objective import LinearMCObjective
from botorch.fit import fit_gpytorch_mll
from botorch.models import ModelListGP, SingleTaskGP
from botorch.models.transforms.outcome import Standardize
from botorch.optim import optimize_acqf_discrete
from gpytorch.mlls import SumMarginalLogLikelihood

from batman_opt.constraints import linear_form, satisfies
from batman_opt.spec import Campaign, ChoiceParameter, RangeParameter

MAXIMIN, BOTORCH = "pool-maximin", "pool-botorch"
DEFAULT_INITIAL_TRIALS = 5


class PoolSelector:
    """Chooses recipes among `candidates` (one column per campaign parameter) for `campaign`."""

    def __init__(
        self,
        campaign: Campaign,
        candidates: pd.DataFrame,
        objectives: Sequence[tuple[str, float]],
        constraints: Sequence[str],
    ) -> None:
        """objectives: (metric, +1 to maximize / -1 to minimize); constraints: linear strings on metrics."""
        self.campaign = campaign
        self.tuned = campaign.tuned_parameters
        self.objectives = list(objectives)
        self.constraints = [linear_form(c) for c in constraints]
        self.metrics = list(
            dict.fromkeys([m for m, _ in objectives] + [n for f in self.constraints for n in f[0]])
        )
        self.pool = _in_campaign(campaign, candidates)
        low = np.array([_span(p)[0] for p in self.tuned])
        high = np.array([_span(p)[1] for p in self.tuned])
        self._low, self._scale = low, np.where(high > low, high - low, 1.0)
        self._x = self._unit(self.pool[[p.name for p in self.tuned]].to_numpy(float))
        self._rng = np.random.default_rng(campaign.seed)

    def __len__(self) -> int:
        return len(self.pool)

    def _unit(self, x: np.ndarray) -> np.ndarray:
        return (x - self._low) / self._scale

    def _rows(self, parameters: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Pool row index of each recipe (-1 when it is not a pool row)."""
        x = self._unit(
            np.array([[float(p[t.name]) for t in self.tuned] for p in parameters]).reshape(
                -1, len(self.tuned)
            )
        )
        rows = []
        for point in x:
            close = np.flatnonzero(np.all(np.isclose(self._x, point, rtol=1e-9, atol=1e-12), axis=1))
            rows.append(int(close[0]) if close.size else -1)
        return np.array(rows, dtype=int)

    def select(
        self,
        n: int,
        tried: Sequence[Mapping[str, Any]],
        completed: Sequence[tuple[Mapping[str, Any], Mapping[str, float]]],
        pending: Sequence[Mapping[str, Any]],
    ) -> list[tuple[dict[str, Any], str]]:
        """Up to `n` untried pool recipes with the name of what chose them.

        tried: every recipe of the trial log (any status); completed: (recipe, metrics) of the
        finished ones; pending: recipes still running. Fewer than `n` when the pool runs out.
        """
        free = np.ones(len(self.pool), dtype=bool)
        tried_rows = self._rows(tried) if tried else np.zeros(0, dtype=int)
        free[tried_rows[tried_rows >= 0]] = False
        n = min(n, int(free.sum()))
        if n <= 0:
            return []
        initial = self.campaign.budget.initial_trials or DEFAULT_INITIAL_TRIALS
        if len(tried) >= initial and len(completed) >= 2:
            picks, how = self._acquire(n, free, completed, pending), BOTORCH
        else:
            picks, how = self._maximin(n, free, tried_rows[tried_rows >= 0]), MAXIMIN
        return [(self._recipe(i), how) for i in picks]

    def _recipe(self, row: int) -> dict[str, Any]:
        values = self.pool.iloc[row].to_dict()
        for p in self.tuned:
            if p.type == "int":
                values[p.name] = int(round(values[p.name]))
        return {**values, **self.campaign.fixed_values}

    def _maximin(self, n: int, free: np.ndarray, taken: np.ndarray) -> list[int]:
        chosen: list[int] = []
        points = list(self._x[taken])
        order = self._rng.permutation(len(self._x))  # seeded tie-breaks
        for _ in range(n):
            options = order[free[order]]
            if points:
                gaps = np.min(
                    np.linalg.norm(self._x[options, None, :] - np.array(points)[None], axis=2), axis=1
                )
                best = options[int(np.argmax(gaps))]
            else:
                best = options[int(np.argmin(np.linalg.norm(self._x[options] - 0.5, axis=1)))]
            chosen.append(int(best))
            points.append(self._x[best])
            free[best] = False
        return chosen

    def _acquire(
        self,
        n: int,
        free: np.ndarray,
        completed: Sequence[tuple[Mapping[str, Any], Mapping[str, float]]],
        pending: Sequence[Mapping[str, Any]],
    ) -> list[int]:
        dtype = torch.float64
        x = torch.tensor(
            self._unit(np.array([[float(r[t.name]) for t in self.tuned] for r, _ in completed])), dtype=dtype
        )
        y = torch.tensor([[float(m[name]) for name in self.metrics] for _, m in completed], dtype=dtype)
        models = [
            SingleTaskGP(x, y[:, [j]], outcome_transform=Standardize(m=1)) for j in range(len(self.metrics))
        ]
        model = ModelListGP(*models)
        fit_gpytorch_mll(SumMarginalLogLikelihood(model.likelihood, model))
        index = {name: j for j, name in enumerate(self.metrics)}
        constraints = [_constraint(coefs, rhs, op, index) for coefs, rhs, op in self.constraints]
        x_pending = None
        if pending:
            x_pending = torch.tensor(
                self._unit(np.array([[float(r[t.name]) for t in self.tuned] for r in pending])), dtype=dtype
            )
        if len(self.objectives) == 1:
            name, sign = self.objectives[0]
            weights = torch.zeros(len(self.metrics), dtype=dtype)
            weights[index[name]] = sign
            acqf = qLogNoisyExpectedImprovement(
                model,
                x,
                objective=LinearMCObjective(weights),
                constraints=constraints or None,
                X_pending=x_pending,
            )
        else:
            outcomes = [index[m] for m, _ in self.objectives]
            signs = torch.tensor([s for _, s in self.objectives], dtype=dtype)
            signed = y[:, outcomes] * signs
            ref = signed.min(dim=0).values - 0.1 * (
                signed.max(dim=0).values - signed.min(dim=0).values + 1e-9
            )
            acqf = qLogNoisyExpectedHypervolumeImprovement(
                model,
                ref_point=ref.tolist(),
                X_baseline=x,
                objective=WeightedMCMultiOutputObjective(signs, outcomes=outcomes),
                constraints=constraints or None,
                X_pending=x_pending,
                prune_baseline=True,
            )
        rows = np.flatnonzero(free)
        choices = torch.tensor(self._x[rows], dtype=dtype)
        with torch.no_grad():
            picked, _ = optimize_acqf_discrete(acqf, q=n, choices=choices, unique=True)
        picked = picked.numpy()
        return [int(rows[np.flatnonzero(np.all(np.isclose(self._x[rows], p), axis=1))[0]]) for p in picked]


def _constraint(coefs: dict[str, float], rhs: float, op: str, index: dict[str, int]):
    """BoTorch constraint callable (feasible when <= 0) of `sum coefs * metric op rhs`."""
    sign = 1.0 if op == "<=" else -1.0

    def g(samples: torch.Tensor) -> torch.Tensor:
        total = sum(c * samples[..., index[name]] for name, c in coefs.items())
        return sign * (total - rhs)

    return g


def _span(p: RangeParameter | ChoiceParameter) -> tuple[float, float]:
    if isinstance(p, RangeParameter):
        return float(p.bounds[0]), float(p.bounds[1])
    return float(min(p.values)), float(max(p.values))


def _in_campaign(campaign: Campaign, candidates: pd.DataFrame) -> pd.DataFrame:
    """The candidate rows inside the campaign's bounds, choices, fixed values and parameter constraints."""
    keep = np.ones(len(candidates), dtype=bool)
    for p in campaign.tuned_parameters:
        column = candidates[p.name].to_numpy(float)
        if isinstance(p, RangeParameter):
            keep &= (column >= p.bounds[0]) & (column <= p.bounds[1])
            if p.type == "int":
                keep &= column == np.round(column)
        else:
            keep &= np.isin(column, np.asarray(p.values, dtype=float))
    for name, value in campaign.fixed_values.items():
        keep &= np.isclose(candidates[name].to_numpy(float), float(value), rtol=1e-9, atol=0.0)
    for constraint in campaign.parameter_constraints:
        keep &= np.array(
            [satisfies(constraint, row) for row in candidates.to_dict(orient="records")], dtype=bool
        )
    return candidates[keep].reset_index(drop=True)
