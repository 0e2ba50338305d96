"""The acquisition of the BoTorch generator: probability of feasibility until a recipe is feasible,
as Ax chooses, then noisy expected improvement under the constraints; one recipe at a time after
measured points under bounds, their analytic forms, which must agree with the model's posterior
sampled directly."""

from __future__ import annotations

import torch
from botorch.acquisition.analytic import LogConstrainedExpectedImprovement, LogProbabilityOfFeasibility
from botorch.acquisition.logei import qLogNoisyExpectedImprovement, qLogProbabilityOfFeasibility
from botorch.models import SingleTaskGP

from batman_opt.optimize.acquisition import Goals, acquisition

GOALS = Goals(
    metrics=("porosity", "density_g_cm3"),
    objectives=(("porosity", -1.0),),
    constraints=(({"density_g_cm3": 1.0}, 3.0, ">="),),
)
# the same goal written as -density <= -3, plus a looser lower bound and an upper bound
BANDED = Goals(
    metrics=("porosity", "density_g_cm3"),
    objectives=(("porosity", -1.0),),
    constraints=(
        ({"density_g_cm3": -1.0}, -3.0, "<="),
        ({"density_g_cm3": 2.0}, 5.0, ">="),
        ({"density_g_cm3": 1.0}, 3.3, "<="),
    ),
)


def _model(y: torch.Tensor) -> tuple[SingleTaskGP, torch.Tensor]:
    x = torch.linspace(0, 1, len(y), dtype=torch.float64)[:, None]
    return SingleTaskGP(x, y), x


def _sampled(model: SingleTaskGP, x: torch.Tensor, n: int = 400_000) -> torch.Tensor:
    """Posterior samples (n, points, metrics) at x (points, 1), drawn directly."""
    torch.manual_seed(0)
    with torch.no_grad():
        return model.posterior(x[:, None, :]).rsample(torch.Size([n])).squeeze(-2)


def test_no_feasible_recipe_yet_asks_for_feasibility():
    y = torch.tensor([[0.3, 2.5], [0.35, 2.7], [0.4, 2.9]], dtype=torch.float64)  # all below 3 g/cm3
    model, x = _model(y)
    ends = torch.tensor([[[0.0]], [[1.0]]], dtype=torch.float64)
    for acqf in (acquisition(model, GOALS, x, y, None, q=2), acquisition(model, GOALS, x, y, None)):
        # the feasible side is where the density rises: the end of the line scores higher
        low, high = acqf(ends)
        assert high > low
    assert isinstance(acquisition(model, GOALS, x, y, None, q=2), qLogProbabilityOfFeasibility)


def test_one_feasible_recipe_switches_to_improvement():
    y = torch.tensor([[0.3, 2.5], [0.35, 2.7], [0.4, 3.1]], dtype=torch.float64)
    model, x = _model(y)
    assert isinstance(acquisition(model, GOALS, x, y, None, q=2), qLogNoisyExpectedImprovement)
    assert isinstance(acquisition(model, GOALS, x, y, None), LogConstrainedExpectedImprovement)


def test_analytic_feasibility_is_the_sampled_probability_of_the_tightest_band():
    y = torch.tensor([[0.3, 2.5], [0.35, 2.7], [0.4, 2.9]], dtype=torch.float64)
    model, x = _model(y)
    acqf = acquisition(model, BANDED, x, y, None)
    assert isinstance(acqf, LogProbabilityOfFeasibility)
    points = torch.tensor([[0.5], [1.0], [1.3]], dtype=torch.float64)
    density = _sampled(model, points)[..., 1]
    sampled = ((density >= 3.0) & (density <= 3.3)).double().mean(dim=0)
    with torch.no_grad():
        analytic = acqf(points[:, None, :]).exp()
    assert torch.allclose(analytic, sampled, rtol=0.05, atol=2e-4), (analytic, sampled)


def test_analytic_improvement_is_the_sampled_feasible_improvement_on_the_best_feasible_mean():
    y = torch.tensor([[0.3, 2.5], [0.35, 3.1], [0.4, 3.2], [0.5, 2.8]], dtype=torch.float64)
    model, x = _model(y)
    acqf = acquisition(model, BANDED, x, y, None)
    assert isinstance(acqf, LogConstrainedExpectedImprovement)
    with torch.no_grad():
        best = model.posterior(x[1:3]).mean[:, 0].min()  # the feasible recipes' lowest porosity
    points = torch.tensor([[0.2], [0.45], [0.9]], dtype=torch.float64)
    samples = _sampled(model, points)
    feasible = (samples[..., 1] >= 3.0) & (samples[..., 1] <= 3.3)
    # porosity is minimized; the outputs are independent, so this is improvement times feasibility
    sampled = (best - samples[..., 0]).clamp_min(0).mean(dim=0) * feasible.double().mean(dim=0)
    with torch.no_grad():
        analytic = acqf(points[:, None, :]).exp()
    assert torch.allclose(analytic, sampled, rtol=0.05), (analytic, sampled)


def test_batches_pending_recipes_predicted_baselines_and_joint_constraints_keep_the_monte_carlo_forms():
    y = torch.tensor([[0.3, 2.5], [0.35, 2.7], [0.4, 3.1]], dtype=torch.float64)
    model, x = _model(y)
    joint = Goals(GOALS.metrics, GOALS.objectives, (({"density_g_cm3": 1.0, "porosity": 2.0}, 3.5, ">="),))
    assert isinstance(acquisition(model, GOALS, x, y, x[:1]), qLogNoisyExpectedImprovement)
    # a prior's predictions at its source points: NEI weighs their uncertainty
    assert isinstance(acquisition(model, GOALS, x, y, None, measured=False), qLogNoisyExpectedImprovement)
    assert isinstance(acquisition(model, joint, x, y, None), qLogNoisyExpectedImprovement)
    on_objective = Goals(GOALS.metrics, GOALS.objectives, (({"porosity": 1.0}, 0.5, "<="),))
    assert isinstance(acquisition(model, on_objective, x, y, None), qLogNoisyExpectedImprovement)
    # bounds that leave no room (>= 3 and <= 2.9): nothing is feasible, and that is no error
    empty = Goals(GOALS.metrics, GOALS.objectives, (*GOALS.constraints, ({"density_g_cm3": 1.0}, 2.9, "<=")))
    acqf = acquisition(model, empty, x, y, None)
    assert isinstance(acqf, qLogProbabilityOfFeasibility) and torch.isfinite(acqf(x[:, None, :])).all()
