"""TL property models: learning, freezing, transfer against scratch, save/load without pickle."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from batman_opt.errors import InputError
from batman_opt.transfer.models import MLPConfig, MLPEnsemble, load_model, save_model
from batman_opt.transfer.training import TrainConfig, fine_tune, train_from_scratch

BOUNDS = np.array([[-1.0, 1.0]] * 3)
CONFIG = MLPConfig(inputs=("a", "b", "c"), outputs=("y",), hidden=(32, 32, 16), n_members=3)


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def source_function(x: np.ndarray) -> np.ndarray:
    return (np.sin(2.5 * x[:, 0]) * (1.0 + x[:, 1]) + 0.5 * x[:, 2] ** 2)[:, None]


def target_function(x: np.ndarray) -> np.ndarray:
    """A related task: rescaled, shifted and tilted source, as a new material's property would be."""
    return 1.5 * source_function(x) + 0.3 * x[:, [0]] + 1.0


def r2(model: MLPEnsemble, x: np.ndarray, y: np.ndarray) -> float:
    predicted = model.predict(torch.as_tensor(x, dtype=torch.float32))[0].numpy()
    return float(1.0 - np.sum((predicted - y) ** 2) / np.sum((y - y.mean()) ** 2))


@pytest.fixture(scope="module")
def pretrained() -> MLPEnsemble:
    torch.set_num_threads(1)
    x = np.random.default_rng(0).uniform(-1, 1, (1000, 3))
    return train_from_scratch(CONFIG, x, source_function(x), BOUNDS, TrainConfig(epochs=800))


def test_learns_an_analytic_function(pretrained):
    x_test = np.random.default_rng(1).uniform(-1, 1, (500, 3))
    y_test = source_function(x_test)
    assert r2(pretrained, x_test, y_test) > 0.99
    mean, spread = pretrained.predict(torch.as_tensor(x_test, dtype=torch.float32))
    assert np.mean(np.abs(mean.numpy() - y_test)) < 0.05
    assert torch.all(spread > 0)  # independent initial weights: members differ


def test_fine_tuning_leaves_frozen_layers_bit_identical(pretrained):
    x = np.random.default_rng(2).uniform(-1, 1, (10, 3))
    tuned = fine_tune(pretrained, x, target_function(x), n_frozen=2, train=TrainConfig(epochs=50, lr=1e-3))
    for i, (before, after) in enumerate(zip(pretrained.layers, tuned.layers, strict=True)):
        same = torch.equal(before.weight, after.weight) and torch.equal(before.bias, after.bias)
        assert same == (i < 2), f"layer {i}"
    assert torch.equal(pretrained.x_low, tuned.x_low) and torch.equal(pretrained.x_high, tuned.x_high)


def test_reanchoring_moves_a_source_model_onto_a_shifted_target(pretrained):
    """A target offset by 4 (many source standard deviations): re-anchoring on 3 recipes, without any
    training, predicts it as well as the source model predicts the source."""
    x = np.random.default_rng(9).uniform(-1, 1, (3, 3))
    shifted = fine_tune(pretrained, x, source_function(x) + 4.0, n_frozen=2, train=TrainConfig(epochs=0))
    x_test = np.random.default_rng(10).uniform(-1, 1, (300, 3))
    y_test = source_function(x_test) + 4.0
    assert r2(shifted, x_test, y_test) > 0.99
    assert r2(pretrained, x_test, y_test) < -10  # four units off before
    untouched = fine_tune(pretrained, x, source_function(x) + 4.0, 2, TrainConfig(epochs=0), reanchor=False)
    assert torch.equal(untouched.y_mean, pretrained.y_mean)


def test_transfer_beats_scratch_on_a_related_task(pretrained):
    """10 target points: TL explains > 90 % of the variance, scratch far less (seeded, deterministic)."""
    rng = np.random.default_rng(3)
    x_test = rng.uniform(-1, 1, (500, 3))
    y_test = target_function(x_test)
    for seed in (4, 5, 6):
        x = np.random.default_rng(seed).uniform(-1, 1, (10, 3))
        tl = fine_tune(pretrained, x, target_function(x), n_frozen=2, train=TrainConfig(epochs=300, lr=1e-3))
        scratch = train_from_scratch(CONFIG, x, target_function(x), BOUNDS, TrainConfig(epochs=800))
        r2_tl, r2_scratch = r2(tl, x_test, y_test), r2(scratch, x_test, y_test)
        assert r2_tl > 0.9, seed
        assert 1.0 - r2_tl < 0.3 * (1.0 - r2_scratch), (seed, r2_tl, r2_scratch)


def test_the_pull_keeps_a_model_tuned_on_three_recipes_near_its_pretraining_and_predicts_better(pretrained):
    """L2-SP: on 3 recipes of a related task the free layers fit those recipes with whatever they
    can; pulled toward their pretrained values they move a fraction as far and keep more of the
    source's trend, which is the target's (seeded, deterministic)."""
    x_test = np.random.default_rng(3).uniform(-1, 1, (500, 3))
    y_test = target_function(x_test)

    def moved(model: MLPEnsemble) -> float:
        return sum(
            float(((p.detach() - q) ** 2).sum())
            for p, q in zip(model.parameters(), pretrained.parameters(), strict=True)
        )

    free, pulled = [], []
    for seed in (11, 12, 13, 14):
        x = np.random.default_rng(seed).uniform(-1, 1, (3, 3))
        a, b = (
            fine_tune(pretrained, x, target_function(x), 1, TrainConfig(epochs=300, lr=1e-3, pull=pull))
            for pull in (0.0, 0.1)
        )
        assert moved(b) < 0.4 * moved(a), seed
        free.append(r2(a, x_test, y_test))
        pulled.append(r2(b, x_test, y_test))
    assert np.mean(pulled) > np.mean(free) + 0.01, (pulled, free)


def test_training_is_reproducible():
    x = np.random.default_rng(7).uniform(-1, 1, (40, 3))
    a, b = (train_from_scratch(CONFIG, x, source_function(x), BOUNDS, TrainConfig(epochs=30)) for _ in "ab")
    assert all(
        torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )


def test_save_load_round_trip(pretrained, tmp_path):
    path = tmp_path / "model.safetensors"
    save_model(pretrained, path, {"source": "synthetic", "epochs": 800})
    loaded, card = load_model(path)
    x = torch.as_tensor(np.random.default_rng(8).uniform(-1, 1, (64, 3)), dtype=torch.float32)
    assert torch.equal(loaded(x), pretrained(x))
    assert card.config == pretrained.config
    assert card.provenance == {"source": "synthetic", "epochs": 800}
    assert path.read_bytes()[8:9] == b"{"  # safetensors header, not a pickle


def test_load_refuses_mismatched_weights(pretrained, tmp_path):
    path = tmp_path / "model.safetensors"
    save_model(pretrained, path)
    other = MLPEnsemble(MLPConfig(inputs=("a", "b", "c"), outputs=("y",), hidden=(8,), n_members=3))
    save_model(other, tmp_path / "other.safetensors")
    path.with_suffix(".json").write_text((tmp_path / "other.json").read_text())
    with pytest.raises(InputError, match="model.safetensors: weights do not match"):
        load_model(path)


def test_early_stopping_keeps_a_noisy_source_from_being_overfitted():
    """60 points with noise of std 0.5: trained to the end the ensemble learns the noise; with early
    stopping on 30 validation points it keeps the function (R2 on the clean function, seeded)."""
    rng = np.random.default_rng(12)
    x, x_val, x_test = rng.uniform(-1, 1, (60, 3)), rng.uniform(-1, 1, (30, 3)), rng.uniform(-1, 1, (400, 3))
    y = source_function(x) + rng.normal(0.0, 0.5, (60, 1))
    y_val = source_function(x_val) + rng.normal(0.0, 0.5, (30, 1))
    overfitted = train_from_scratch(CONFIG, x, y, BOUNDS, TrainConfig(1500))
    stopped = train_from_scratch(CONFIG, x, y, BOUNDS, TrainConfig(1500), validation=(x_val, y_val))
    assert r2(stopped, x_test, source_function(x_test)) > 0.8
    assert r2(overfitted, x_test, source_function(x_test)) < 0.4
