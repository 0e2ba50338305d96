"""TL property models: an ensemble of MLPs mapping recipe inputs to properties, with its scaling.

`MLPEnsemble` holds M members of one architecture as batched weights (M, in, out), so the whole
ensemble runs in one pass; its prediction is the members' mean and their spread is the uncertainty.
Inputs are scaled onto [-1, 1] by the bounds of the recipe space (the same for source and target, so
a fine-tuned model keeps the meaning of its first layer); outputs are standardized by the mean and
standard deviation of the data the model was first trained on. Training lives in
batman_opt.transfer.training. Files: safetensors weights + a JSON of config and provenance, loaded
without pickle (`save_model`, `load_model`); several named ensembles in one file, with the
weights' SHA-256 in the JSON so that a changed file is refused (`save_ensembles`, `load_ensembles`).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from batman_opt.errors import InputError

ACTIVATIONS = {"silu": nn.SiLU, "tanh": nn.Tanh, "relu": nn.ReLU}


@dataclass(frozen=True)
class MLPConfig:
    """Architecture of an ensemble: input and output names (their order is the column order),
    hidden widths, activation, number of members and the seed of the initial weights."""

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    hidden: tuple[int, ...] = (64, 64, 32)
    activation: str = "silu"
    n_members: int = 4
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.inputs or not self.outputs:
            raise InputError("an MLP needs at least one input and one output name")
        if self.activation not in ACTIVATIONS:
            raise InputError(f"activation {self.activation!r} is unknown; known: {', '.join(ACTIVATIONS)}")
        if self.n_members < 1 or any(width < 1 for width in self.hidden):
            raise InputError(f"n_members and hidden widths must be >= 1, got {self.n_members}, {self.hidden}")

    @property
    def n_layers(self) -> int:
        """Number of linear layers (hidden layers + output layer)."""
        return len(self.hidden) + 1

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MLPConfig:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


class EnsembleLinear(nn.Module):
    """M independent affine maps applied at once: (M, N, in) -> (M, N, out)."""

    def __init__(self, n_members: int, n_in: int, n_out: int, generator: torch.Generator) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(n_in)  # the uniform initialization of torch.nn.Linear
        self.weight = nn.Parameter((torch.rand(n_members, n_in, n_out, generator=generator) * 2 - 1) * bound)
        self.bias = nn.Parameter((torch.rand(n_members, 1, n_out, generator=generator) * 2 - 1) * bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)


class MLPEnsemble(nn.Module):
    """An ensemble of MLPs with input bounds and output standardization as buffers (module doc)."""

    def __init__(self, config: MLPConfig) -> None:
        super().__init__()
        self.config = config
        generator = torch.Generator().manual_seed(config.seed)
        widths = (len(config.inputs), *config.hidden, len(config.outputs))
        self.layers = nn.ModuleList(
            EnsembleLinear(config.n_members, n_in, n_out, generator)
            for n_in, n_out in zip(widths[:-1], widths[1:], strict=True)
        )
        self.activation = ACTIVATIONS[config.activation]()
        self.register_buffer("x_low", torch.zeros(len(config.inputs)))
        self.register_buffer("x_high", torch.ones(len(config.inputs)))
        self.register_buffer("y_mean", torch.zeros(len(config.outputs)))
        self.register_buffer("y_std", torch.ones(len(config.outputs)))

    def set_scaling(self, x_low: torch.Tensor, x_high: torch.Tensor, y: torch.Tensor) -> None:
        """Input bounds (n_in,) and output standardization from training outputs y (N, n_out).

        A standard deviation that one point or a constant output leaves at zero is replaced by
        1e-3 * |mean| (or 1), so that standardized outputs stay finite.
        """
        if torch.any(x_high <= x_low):
            raise InputError("every input bound needs high > low")
        mean = y.mean(dim=0)
        std = y.std(dim=0) if y.shape[0] > 1 else torch.zeros_like(mean)
        fallback = torch.where(mean.abs() > 0, 1e-3 * mean.abs(), torch.ones_like(mean))
        self.x_low.copy_(x_low)
        self.x_high.copy_(x_high)
        self.y_mean.copy_(mean)
        self.y_std.copy_(torch.where(std > 1e-12, std, fallback))

    def scale_inputs(self, x: torch.Tensor) -> torch.Tensor:
        """Physical inputs (N, n_in) -> [-1, 1] over the bounds."""
        return 2.0 * (x - self.x_low) / (self.x_high - self.x_low) - 1.0

    def forward_scaled(self, z: torch.Tensor) -> torch.Tensor:
        """Scaled inputs (N, n_in) -> standardized outputs of every member (M, N, n_out)."""
        h = z.unsqueeze(0).expand(self.config.n_members, -1, -1)
        for layer in self.layers[:-1]:
            h = self.activation(layer(h))
        return self.layers[-1](h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Physical inputs (N, n_in) -> physical outputs of every member (M, N, n_out)."""
        return self.forward_scaled(self.scale_inputs(x)) * self.y_std + self.y_mean

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Ensemble mean and member standard deviation (N, n_out), physical units."""
        members = self(x)
        spread = members.std(dim=0) if self.config.n_members > 1 else torch.zeros_like(members[0])
        return members.mean(dim=0), spread

    def freeze_early_layers(self, n_frozen: int) -> None:
        """Stop the gradients of the first `n_frozen` linear layers (0 <= n_frozen < n_layers)."""
        if not 0 <= n_frozen < self.config.n_layers:
            raise InputError(f"n_frozen must be in [0, {self.config.n_layers - 1}], got {n_frozen}")
        for i, layer in enumerate(self.layers):
            layer.requires_grad_(i >= n_frozen)


@dataclass(frozen=True)
class ModelCard:
    """What a saved model is: its config and free-form provenance (source data, training, metrics)."""

    config: MLPConfig
    provenance: dict[str, Any] = field(default_factory=dict)


def save_model(model: MLPEnsemble, path: Path, provenance: dict[str, Any] | None = None) -> None:
    """Write `path` (.safetensors: weights and scaling) and `path`.json (config and provenance)."""
    path = Path(path)
    tensors = {name: t.detach().contiguous() for name, t in model.state_dict().items()}
    save_file(tensors, str(path))
    card = {"config": asdict(model.config), "provenance": provenance or {}}
    path.with_suffix(".json").write_text(json.dumps(card, indent=2, sort_keys=True))


def load_model(path: Path) -> tuple[MLPEnsemble, ModelCard]:
    """The model saved by `save_model` (no pickle); InputError naming the file on a bad one."""
    path = Path(path)
    meta_path = path.with_suffix(".json")
    try:
        card = json.loads(meta_path.read_text())
        config = MLPConfig.from_dict(card["config"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{meta_path}: not a model card ({exc})") from None
    model = MLPEnsemble(config)
    try:
        model.load_state_dict(load_file(str(path)), strict=True)
    except (OSError, SafetensorError, RuntimeError) as exc:
        reason = " ".join(str(exc).split())[:200]
        raise InputError(f"{path}: weights do not match {meta_path.name} ({reason})") from None
    model.eval()
    return model, ModelCard(config, card.get("provenance", {}))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save_ensembles(
    models: dict[str, MLPEnsemble], path: Path, provenance: dict[str, Any] | None = None
) -> None:
    """Write several named ensembles to `path` (.safetensors, tensors named `<name>.<tensor>`) and
    `path`.json (each config, the provenance and the weights' SHA-256)."""
    path = Path(path)
    tensors = {
        f"{name}.{key}": t.detach().contiguous()
        for name, model in models.items()
        for key, t in model.state_dict().items()
    }
    save_file(tensors, str(path))
    card = {
        "models": {name: asdict(model.config) for name, model in models.items()},
        "sha256": _sha256(path),
        "provenance": provenance or {},
    }
    path.with_suffix(".json").write_text(json.dumps(card, indent=2, sort_keys=True))


def load_ensembles(path: Path) -> tuple[dict[str, MLPEnsemble], dict[str, Any]]:
    """The ensembles saved by `save_ensembles` and their provenance (no pickle); InputError naming
    the file when it is missing, malformed, or not the one its card was written for."""
    path = Path(path)
    meta_path = path.with_suffix(".json")
    try:
        card = json.loads(meta_path.read_text())
        configs = {name: MLPConfig.from_dict(c) for name, c in card["models"].items()}
        expected = str(card["sha256"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"{meta_path}: not a model card ({exc})") from None
    try:
        found = _sha256(path)
    except OSError as exc:
        raise InputError(f"{path}: cannot read the model weights ({exc.strerror})") from None
    if found != expected:
        raise InputError(f"{path}: the weights changed since {meta_path.name} was written (SHA-256 mismatch)")
    try:
        tensors = load_file(str(path))
    except (OSError, SafetensorError) as exc:
        raise InputError(f"{path}: not a safetensors file ({' '.join(str(exc).split())[:200]})") from None
    models = {}
    for name, config in configs.items():
        model = MLPEnsemble(config)
        own = {k.removeprefix(f"{name}."): t for k, t in tensors.items() if k.startswith(f"{name}.")}
        try:
            model.load_state_dict(own, strict=True)
        except RuntimeError as exc:
            reason = " ".join(str(exc).split())[:200]
            raise InputError(
                f"{path}: weights of {name!r} do not match {meta_path.name} ({reason})"
            ) from None
        model.eval()
        models[name] = model
    return models, card.get("provenance", {})
