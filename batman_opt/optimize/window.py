"""The GP of large campaigns: an exact SingleTaskGP on at most WINDOW of the finished trials.

An exact GP costs O(n^3) per fit step and Ax refits from scratch at every suggestion: at 3,000
trials Ax's default took 119 s per suggestion. Beyond WINDOW trials this model keeps the
3/4 * WINDOW most recent ones (where the acquisition has been looking, i.e. near the good
recipes) and 1/4 * WINDOW older ones evenly spread through the campaign's history (so that the
regions explored early are not forgotten). Up to WINDOW trials it is the plain SingleTaskGP, so
the sample efficiency of small campaigns is untouched; the acquisition still sees every trial
(its baseline is all observed recipes). Ax builds it through the public ModelConfig API
(`botorch_model_class`), see batman_opt.optimize.ax_client._generation_strategy.

Warm start: Ax fits every GP from scratch at every suggestion. This one starts its hyperparameter
fit (kernel lengthscales and outputscale, noise, constant mean) from the previous suggestion's
values for the same outcome, through Ax's submodel input constructor (a registered dispatch for
this class): one more trial moves the optimum little, so L-BFGS needs a fraction of its iterations.
Same likelihood and priors; only the starting point differs, and only from WARM_START_POINTS
trials on: small campaigns, whose fits are cheap and whose hyperparameters still move, are fitted
from scratch exactly as Ax does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from ax.exceptions.model import ModelError
from ax.generators.torch.botorch_modular.surrogate import Surrogate, submodel_input_constructor
from ax.storage.botorch_modular_registry import register_model
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
    3/4 * window last and 1/4 * window evenly spaced among the others."""
    if n <= window:
        return torch.arange(n)
    recent = window - window // 4
    older = torch.linspace(0, n - recent - 1, window // 4).round().long().unique()
    return torch.cat([older, torch.arange(n - recent, n)])


WARM_START_POINTS = 50  # trials from which a fit starts from the previous one's hyperparameters
HYPERPARAMETERS = ("likelihood.", "covar_module.", "mean_module.")  # state-dict prefixes (not data)


class WindowedSingleTaskGP(SingleTaskGP):
    """SingleTaskGP trained on `window_rows` of the data (Ax orders the rows by trial index),
    its hyperparameters starting from `warm_start` (a previous fit's state dict) where given."""

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

    @classmethod
    def construct_inputs(cls, training_data: SupervisedDataset, **kwargs: Any) -> dict[str, Any]:
        inputs = super().construct_inputs(training_data, **kwargs)
        rows = window_rows(inputs["train_X"].shape[-2], WINDOW)
        for key in ("train_X", "train_Y", "train_Yvar"):
            if inputs.get(key) is not None:
                inputs[key] = inputs[key][..., rows, :]
        return inputs


def previous_fit(surrogate: Surrogate, outcomes: list[str]) -> Model | None:
    """The model the surrogate fitted last for these outcomes, if any."""
    try:
        model, fitted = surrogate.model, surrogate.outcomes
    except ModelError:  # not fitted yet
        return None
    if isinstance(model, ModelListGP) and len(outcomes) == 1 and outcomes[0] in fitted:
        return model.models[fitted.index(outcomes[0])]
    return model if list(fitted) == list(outcomes) else None


@submodel_input_constructor.register(WindowedSingleTaskGP)
def _warm_inputs(
    botorch_model_class: type[Model], *, surrogate: Surrogate, dataset: SupervisedDataset, **kwargs: Any
) -> dict[str, Any]:
    """Ax's inputs for a SingleTaskGP, plus the previous fit of the same outcome as `warm_start`."""
    base = submodel_input_constructor.dispatch(SingleTaskGP)
    inputs = base(botorch_model_class, surrogate=surrogate, dataset=dataset, **kwargs)
    previous = previous_fit(surrogate, list(dataset.outcome_names))
    if isinstance(previous, WindowedSingleTaskGP) and len(dataset.X) >= WARM_START_POINTS:
        inputs["warm_start"] = previous.state_dict()
    return inputs


register_model(WindowedSingleTaskGP)  # so that the optimizer snapshot (optimizer.json) can name it
