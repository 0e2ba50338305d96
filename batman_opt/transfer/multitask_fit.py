"""The hyperparameter fit of the transfer prior's multi-task GP (BoTorch `MultiTaskGP`, one data
kernel times a positive index kernel over the tasks, a constant mean and a noise per task).

`fit_multitask` is BoTorch's `fit_gpytorch_mll` (L-BFGS-B, its retries included) with a closure that
evaluates the same objective, -(log marginal likelihood + log priors) / n, on dense tensors: with
~80 points the Cholesky factor is cheap and gpytorch's lazy operators, broadcasting and likelihood
wrappers are most of an evaluation (1.3 ms a value and gradient against 3 ms); and with an L-BFGS
memory that holds every hyperparameter's curvature (`LBFGS_MEMORY`). A first fit at two to five
target points took 400-1,600 steps, 1-4 s per goal metric (benchmarks/README.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from botorch.fit import fit_gpytorch_mll
from botorch.models import MultiTaskGP
from botorch.optim.closures import ForwardBackwardClosure
from gpytorch.mlls import ExactMarginalLogLikelihood
from linear_operator.utils.cholesky import psd_safe_cholesky

LBFGS_MEMORY = 100  # more corrections than the GP has hyperparameters (~15): L-BFGS keeps their whole
# curvature, as BFGS would. With scipy's 10, a first fit creeps 400-1,600 steps along the index
# kernel's ridge; with 100 it stops after 90-200 at the same or a higher likelihood.


def negative_mll(model: MultiTaskGP) -> Callable[[], torch.Tensor]:
    """-(log marginal likelihood of the training data + log priors of the hyperparameters) / n of
    `model` in train mode, in its standardized outcome units: ExactMarginalLogLikelihood's value and
    gradient, for BoTorch's default MultiTaskGP (its data kernel on the features, the task feature
    last)."""
    x, z = model.train_inputs[0], model.train_targets
    features, task, _ = model._split_inputs(x)
    task = task.squeeze(-1)
    data_kernel, task_kernel = model.covar_module.kernels
    base_means = model.mean_module.base_means
    noise_model = model.likelihood.noise_covar
    n = len(z)

    def loss() -> torch.Tensor:
        covar = data_kernel.forward(features, features) * task_kernel.covar_matrix[task][:, task]
        covar = covar + torch.diag(noise_model.noise.reshape(-1).expand(task_kernel.num_tasks)[task])
        residual = (z - torch.stack([m.constant.reshape(()) for m in base_means])[task]).unsqueeze(-1)
        factor = psd_safe_cholesky(covar)  # jitter as gpytorch adds it; NotPSDError makes the fit retry
        log_likelihood = (
            -0.5 * (residual * torch.cholesky_solve(residual, factor)).sum()
            - torch.log(torch.diagonal(factor)).sum()
            - 0.5 * n * math.log(2 * math.pi)
        )
        for _, module, prior, closure, _ in model.named_priors():
            log_likelihood = log_likelihood + prior.log_prob(closure(module)).sum()
        return -log_likelihood / n

    return loss


def fit_multitask(model: MultiTaskGP) -> None:
    """Fit `model`'s hyperparameters by maximum a posteriori (see module doc); it ends in eval mode."""
    mll = ExactMarginalLogLikelihood(model.likelihood, model)
    parameters = {name: p for name, p in mll.named_parameters() if p.requires_grad}
    fit_gpytorch_mll(
        mll,
        closure=ForwardBackwardClosure(negative_mll(model), parameters),
        optimizer_kwargs={"options": {"maxcor": LBFGS_MEMORY}},
    )
