"""The multi-task GP's dense objective against gpytorch's ExactMarginalLogLikelihood, and its fit."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from botorch.models import MultiTaskGP
from gpytorch.mlls import ExactMarginalLogLikelihood

from batman_opt.transfer.multitask_fit import fit_multitask, negative_mll


def tasks_data(n_sources: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Sources of 30 points and a target of 4 (the last task) on [0, 1]^3, related, at other levels."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for task, n in enumerate([30] * n_sources + [4]):
        x = rng.uniform(0, 1, (n, 3))
        y = (1 + task) * np.sin(3 * x[:, 0]) + x[:, 1] ** 2 + 5.0 * task + 0.01 * rng.normal(size=n)
        xs.append(np.column_stack([x, np.full(n, float(task))]))
        ys.append(y)
    return torch.tensor(np.vstack(xs)), torch.tensor(np.concatenate(ys))[:, None]


@pytest.mark.parametrize("n_sources", [1, 2])
def test_the_dense_objective_is_gpytorchs_marginal_likelihood_with_priors(n_sources):
    """At hyperparameters moved away from their start, another noise in each task included, value
    and gradient agree with ExactMarginalLogLikelihood to rounding."""
    x, y = tasks_data(n_sources, seed=n_sources)
    torch.manual_seed(0)
    model = MultiTaskGP(x, y, task_feature=-1, output_tasks=[n_sources])
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "noise" not in name and "lengthscale" not in name:
                p.add_(0.4 * torch.randn_like(p))
    # the noise and lengthscales are kept above their bounds by the optimizer, not by a transform
    model.likelihood.noise_covar.noise = torch.linspace(0.01, 0.3, n_sources + 1, dtype=torch.float64)
    model.covar_module.kernels[0].lengthscale = torch.tensor([[0.3, 0.7, 1.5]], dtype=torch.float64)
    model.train()
    mll = ExactMarginalLogLikelihood(model.likelihood, model)
    parameters = [p for p in mll.parameters() if p.requires_grad]
    reference = -mll(model(*model.train_inputs), model.train_targets, *model.train_inputs)
    ours = negative_mll(model)()
    assert float(ours) == pytest.approx(float(reference), rel=1e-10, abs=1e-12)
    for a, b in zip(
        torch.autograd.grad(ours, parameters), torch.autograd.grad(reference, parameters), strict=True
    ):
        torch.testing.assert_close(a, b, rtol=1e-8, atol=1e-10)


def test_the_fit_raises_the_likelihood_and_learns_that_the_tasks_are_related():
    x, y = tasks_data(1, seed=5)
    torch.manual_seed(0)
    model = MultiTaskGP(x, y, task_feature=-1, output_tasks=[1])
    model.train()
    before = float(negative_mll(model)())
    fit_multitask(model)
    assert not model.training
    model.train()
    assert float(negative_mll(model)()) < before - 0.5
    b = model.covar_module.kernels[1].covar_matrix.detach()
    assert b[0, 1] / torch.sqrt(b[0, 0] * b[1, 1]) > 0.8  # the target is its source, scaled and shifted
