"""Training of the TL property models: from scratch, and fine-tuning a pretrained ensemble.

AdamW on the mean squared error of standardized outputs, summed over members (each member learns
alone: their losses do not mix), full batch by default or in shuffled minibatches (`batch_size`, for
the large per-particle tables of the process models). Deterministic on CPU for a given seed: fixed
initial weights (MLPConfig.seed), minibatch order from the same seed, no dropout.

Transfer: `fine_tune` copies a source ensemble, freezes its first `n_frozen` linear layers (their
weights stay bit-identical) and trains the rest on the target with the source's input scaling kept, so
the pretrained features keep their meaning; the outputs are first re-anchored on the target's level
(`reanchor_outputs`), and the free layers learn the rest, pulled toward their pretrained values by
`TrainConfig.pull` (L2-SP, Li et al. 2018: a few target recipes move the weights only as far as
they must, instead of fitting those recipes with whatever the free layers can do).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from batman_opt.errors import InputError
from batman_opt.transfer.models import MLPConfig, MLPEnsemble

VALIDATE_EVERY = 10  # epochs between validation checks of early stopping


@dataclass(frozen=True)
class TrainConfig:
    """epochs: passes over the data (one step each at full batch); lr: AdamW learning rate;
    weight_decay: AdamW decoupled decay; batch_size: rows per step, 0 for the full batch;
    validate_every: epochs between validation checks of early stopping; pull: weight of the squared
    distance of the trained weights from their values at the start, added to the loss (L2-SP)."""

    epochs: int = 1500
    lr: float = 3e-3
    weight_decay: float = 1e-4
    batch_size: int = 0
    validate_every: int = VALIDATE_EVERY
    pull: float = 0.0


def as_tensors(x: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """float32 tensors (N, n_in), (N, n_out); InputError on mismatched shapes or non-finite values."""
    x_t = torch.as_tensor(np.asarray(x, dtype=np.float32))
    y_t = torch.as_tensor(np.asarray(y, dtype=np.float32))
    if x_t.ndim != 2 or y_t.ndim != 2 or x_t.shape[0] != y_t.shape[0] or x_t.shape[0] == 0:
        raise InputError(
            f"training data must be (N, n_in) and (N, n_out), got {tuple(x_t.shape)}, {tuple(y_t.shape)}"
        )
    if not (torch.isfinite(x_t).all() and torch.isfinite(y_t).all()):
        raise InputError("training data holds non-finite values; drop those rows first")
    return x_t, y_t


def fit(
    model: MLPEnsemble,
    x: np.ndarray,
    y: np.ndarray,
    config: TrainConfig,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    on_epoch: Callable[[int, float], None] | None = None,
) -> list[float]:
    """Train the parameters of `model` that require gradients; returns the loss of every epoch (the
    data's, without the pull).

    With `validation` (x, y), the weights of the epoch with the lowest validation loss (checked every
    `config.validate_every` epochs) are kept: early stopping, so that a small or noisy source is not
    overfitted. `on_epoch(epoch, loss)` is called after every epoch (a progress bar).
    """
    x_t, y_t = as_tensors(x, y)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise InputError("every layer is frozen: nothing to train")
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    start_weights = [p.detach().clone() for p in params] if config.pull else []
    z = model.scale_inputs(x_t)
    target = (y_t - model.y_mean) / model.y_std
    if validation is not None:
        xv, yv = as_tensors(*validation)
        zv, target_v = model.scale_inputs(xv), (yv - model.y_mean) / model.y_std
        best = (math.inf, copy.deepcopy(model.state_dict()))
    history = []
    n_rows = z.shape[0]
    batch = n_rows if config.batch_size <= 0 else min(config.batch_size, n_rows)
    order = torch.Generator().manual_seed(model.config.seed)
    model.train()
    for epoch in range(config.epochs):
        rows = torch.randperm(n_rows, generator=order) if batch < n_rows else None
        total = 0.0
        for start in range(0, n_rows, batch):
            take = slice(start, start + batch) if rows is None else rows[start : start + batch]
            optimizer.zero_grad(set_to_none=True)
            loss = ((model.forward_scaled(z[take]) - target[take]) ** 2).mean(dim=(1, 2)).sum()
            moved = (
                sum(((p - p0) ** 2).sum() for p, p0 in zip(params, start_weights, strict=True))
                if config.pull
                else 0
            )
            (loss + config.pull * moved).backward()  # `loss` stays the data's, for the history
            optimizer.step()
            total += float(loss.detach()) * (min(start + batch, n_rows) - start)
        history.append(total / n_rows / model.config.n_members)
        if on_epoch is not None:
            on_epoch(epoch, history[-1])
        if validation is not None and (epoch + 1) % config.validate_every == 0:
            with torch.no_grad():
                loss_v = float(((model.forward_scaled(zv) - target_v) ** 2).mean())
            if loss_v < best[0]:
                best = (loss_v, copy.deepcopy(model.state_dict()))
    if validation is not None:
        model.load_state_dict(best[1])
    model.eval()
    return history


def train_from_scratch(
    config: MLPConfig,
    x: np.ndarray,
    y: np.ndarray,
    bounds: np.ndarray,
    train: TrainConfig,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
) -> MLPEnsemble:
    """A new ensemble scaled by the input bounds (n_in, 2) and the outputs `y`, trained on (x, y)
    (with early stopping on `validation`, see `fit`)."""
    model = MLPEnsemble(config)
    bounds_t = torch.as_tensor(np.asarray(bounds, dtype=np.float32))
    if bounds_t.shape != (len(config.inputs), 2):
        raise InputError(
            f"bounds must be ({len(config.inputs)}, 2) low/high pairs, got {tuple(bounds_t.shape)}"
        )
    model.set_scaling(bounds_t[:, 0], bounds_t[:, 1], as_tensors(x, y)[1])
    fit(model, x, y, train, validation)
    return model


def reanchor_outputs(model: MLPEnsemble, x: np.ndarray, y: np.ndarray) -> None:
    """Shift each output of `model` by mean(y) - mean(prediction) over the target recipes x.

    A new material's property sits at another level than the source's (NMC111 electrodes are about
    twice as dense as graphite ones): a shift of many source standard deviations is what a few free
    layers learn worst from a few points, while a mean is what a few points give best. The weights
    are not touched. (A ratio of means, natural for densities, blows up where the source's
    predictions average near zero; the free layers learn the change of amplitude.)
    """
    x_t, y_t = as_tensors(x, y)
    predicted = model.predict(x_t)[0].mean(dim=0)
    model.y_mean.copy_(model.y_mean + y_t.mean(dim=0) - predicted)


def fine_tune(
    source: MLPEnsemble,
    x: np.ndarray,
    y: np.ndarray,
    n_frozen: int,
    train: TrainConfig,
    reanchor: bool = True,
) -> MLPEnsemble:
    """A copy of `source` with its first `n_frozen` layers frozen, trained on the target (x, y),
    its outputs first re-anchored on the target (`reanchor_outputs`) unless `reanchor` is False."""
    model = copy.deepcopy(source)
    if reanchor:
        reanchor_outputs(model, x, y)
    model.freeze_early_layers(n_frozen)
    fit(model, x, y, train)
    return model
