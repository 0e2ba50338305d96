"""The acquisition of the BoTorch generator: probability of feasibility until a recipe is feasible,
as Ax chooses, then noisy expected improvement under the constraints."""

from __future__ import annotations

import torch
from botorch.acquisition.logei import qLogNoisyExpectedImprovement, qLogProbabilityOfFeasibility
from botorch.models import SingleTaskGP

from batman_opt.optimize.acquisition import Goals, acquisition

GOALS = Goals(
    metrics=("porosity", "density_g_cm3"),
    objectives=(("porosity", -1.0),),
    constraints=(({"density_g_cm3": 1.0}, 3.0, ">="),),
)


def _model(y: torch.Tensor) -> tuple[SingleTaskGP, torch.Tensor]:
    x = torch.linspace(0, 1, len(y), dtype=torch.float64)[:, None]
    return SingleTaskGP(x, y), x


def test_no_feasible_recipe_yet_asks_for_feasibility():
    y = torch.tensor([[0.3, 2.5], [0.35, 2.7], [0.4, 2.9]], dtype=torch.float64)  # all below 3 g/cm3
    model, x = _model(y)
    acqf = acquisition(model, GOALS, x, y, None)
    assert isinstance(acqf, qLogProbabilityOfFeasibility)
    # the feasible side is where the density rises: the end of the line scores higher
    ends = torch.tensor([[[0.0]], [[1.0]]], dtype=torch.float64)
    low, high = acqf(ends)
    assert high > low


def test_one_feasible_recipe_switches_to_improvement():
    y = torch.tensor([[0.3, 2.5], [0.35, 2.7], [0.4, 3.1]], dtype=torch.float64)
    model, x = _model(y)
    assert isinstance(acquisition(model, GOALS, x, y, None), qLogNoisyExpectedImprovement)
