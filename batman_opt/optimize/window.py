"""Large campaigns: the model and the acquisition see a window of at most WINDOW finished trials,
and each GP fit starts from the last one.

Window. An exact GP costs O(n^3) per fit step, and qLogNEI samples the joint posterior of its whole
baseline (every observed recipe) to prune it: at 3,000 trials Ax's default took 119 s per
suggestion. Beyond WINDOW trials, `TrialWindow` (an Ax transform on the experiment data, first in
the MBM node's transforms) keeps the 3/4 * WINDOW most recent trials (where the acquisition has
been looking, i.e. near the good recipes) and at most 1/4 * WINDOW older ones at a power-of-two
stride through the campaign's history (so that the regions explored early are not forgotten; the
stride keeps them the same from one suggestion to the next, so that the warm start below starts
near the optimum: at 3,000 trials this halved a suggestion). The GPs, the outcome
standardization, the feasibility check that picks the acquisition function and the acquisition's
baseline all work on that window, so a long campaign costs a suggestion what WINDOW trials cost.
Pending trials are not data and are all kept. Up to WINDOW trials nothing is dropped: the sample
efficiency of small campaigns is untouched.

Warm start. Ax fits every GP from scratch at every suggestion. `WarmStartGP` starts its
hyperparameter fit (kernel lengthscales and outputscale, noise, constant mean) from the previous
suggestion's values for the same outcomes, through Ax's submodel input constructor (a registered
dispatch for this class): one more trial moves the optimum little, so L-BFGS needs a fraction of
its iterations. Same likelihood and priors; only the starting point differs, and only from
WARM_START_POINTS trials on: small campaigns, whose fits are cheap and whose hyperparameters still
move, are fitted from scratch exactly as Ax does.

Both enter through Ax's public configuration (`transforms` and ModelConfig's
`botorch_model_class`), see batman_opt.optimize.ax_client._generation_strategy, and are registered
with Ax's storage so that the optimizer snapshot can name them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from ax.adapter.transforms.base import Transform
from ax.core.data_utils import ExperimentData
from ax.exceptions.model import ModelError
from ax.generators.torch.botorch_modular.surrogate import Surrogate, submodel_input_constructor
from ax.storage.botorch_modular_registry import register_model
from ax.storage.transform_registry import register_transform
from botorch.models import ModelListGP, SingleTaskGP
from botorch.models.model import Model
from botorch.models.transforms.input import InputTransform
from botorch.models.transforms.outcome import OutcomeTransform
from botorch.utils.datasets import SupervisedDataset
from botorch.utils.types import DEFAULT, _DefaultType
from gpytorch.likelihoods import Likelihood
from gpytorch.means import Mean
from gpytorch.module import Module

WINDOW = 256  # trials in the GP: a longer campaign costs a suggestion what 256 trials cost


def window_rows(n: int, window: int = WINDOW) -> torch.Tensor:
    """Indices of the rows kept out of `n` (in trial order): all when n <= window, else the
    3/4 * window last and, among the others, every s-th from the first, s the smallest power of two
    that keeps them within window / 4 (between window / 8 and window / 4 of them). The older rows
    change only when s doubles, so consecutive suggestions fit nearly the same data."""
    if n <= window:
        return torch.arange(n)
    recent = window - window // 4
    older = n - recent
    stride = 1
    while -(-older // stride) > window // 4:
        stride *= 2
    return torch.cat([torch.arange(0, older, stride), torch.arange(older, n)])


class TrialWindow(Transform):
    """Keeps the data of `window_rows` of the trials that have data, in trial order (module doc)."""

    def transform_experiment_data(self, experiment_data: ExperimentData) -> ExperimentData:
        observed = experiment_data.observation_data
        trials = observed.index.get_level_values("trial_index")
        ordered = trials.unique().sort_values()
        if len(ordered) <= WINDOW:
            return experiment_data
        dropped = ordered.delete(window_rows(len(ordered), WINDOW).numpy())
        arms = experiment_data.arm_data
        return ExperimentData(
            arm_data=arms[~arms.index.get_level_values("trial_index").isin(dropped)],
            observation_data=observed[~trials.isin(dropped)],
        )


WARM_START_POINTS = 50  # trials from which a fit starts from the previous one's hyperparameters
HYPERPARAMETERS = ("likelihood.", "covar_module.", "mean_module.")  # state-dict prefixes (not data)


class WarmStartGP(SingleTaskGP):
    """SingleTaskGP whose hyperparameters start from `warm_start` (a previous fit's state dict)."""

    def __init__(
        self,
        train_X: torch.Tensor,
        train_Y: torch.Tensor,
        train_Yvar: torch.Tensor | None = None,
        likelihood: Likelihood | None = None,
        covar_module: Module | None = None,
        mean_module: Mean | None = None,
        outcome_transform: OutcomeTransform | _DefaultType | None = DEFAULT,
        input_transform: InputTransform | None = None,
        warm_start: Mapping[str, torch.Tensor] | None = None,
    ) -> None:  # SingleTaskGP's arguments spelled out: Ax reads them from the signature
        super().__init__(
            train_X,
            train_Y,
            train_Yvar,
            likelihood,
            covar_module,
            mean_module,
            outcome_transform,
            input_transform,
        )
        if warm_start:
            own = self.state_dict()
            hyper = {
                k: v
                for k, v in warm_start.items()
                if k.startswith(HYPERPARAMETERS) and k in own and own[k].shape == v.shape
            }
            self.load_state_dict(hyper, strict=False)


def previous_fit(surrogate: Surrogate, outcomes: list[str]) -> Model | None:
    """The model the surrogate fitted last for these outcomes, if any."""
    try:
        model, fitted = surrogate.model, surrogate.outcomes
    except ModelError:  # not fitted yet
        return None
    if isinstance(model, ModelListGP) and len(outcomes) == 1 and outcomes[0] in fitted:
        return model.models[fitted.index(outcomes[0])]
    return model if list(fitted) == list(outcomes) else None


@submodel_input_constructor.register(WarmStartGP)
def _warm_inputs(
    botorch_model_class: type[Model], *, surrogate: Surrogate, dataset: SupervisedDataset, **kwargs: Any
) -> dict[str, Any]:
    """Ax's inputs for a SingleTaskGP, plus the previous fit of the same outcome as `warm_start`."""
    base = submodel_input_constructor.dispatch(SingleTaskGP)
    inputs = base(botorch_model_class, surrogate=surrogate, dataset=dataset, **kwargs)
    previous = previous_fit(surrogate, list(dataset.outcome_names))
    if isinstance(previous, WarmStartGP) and len(dataset.X) >= WARM_START_POINTS:
        inputs["warm_start"] = previous.state_dict()
    return inputs


register_model(WarmStartGP)  # so that the optimizer snapshot (optimizer.json) can name both
register_transform(TrialWindow)
