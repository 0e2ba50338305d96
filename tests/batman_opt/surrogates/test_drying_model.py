"""The PAML drying macro-step model: its files (no pickle, altered files refused), its training
window, and what it learned of the drying physics (the shipped model)."""

import json
import shutil

import numpy as np
import pytest
import torch

from batman_opt.errors import InputError
from batman_opt.surrogates.drying import (
    DEFAULT_MODEL,
    FEATURES,
    MacroStep,
    OutsideTrainingWindow,
    load_drying_model,
    particle_features,
)

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def model():
    return load_drying_model()


def test_the_shipped_model_is_small_and_carries_its_provenance(model):
    assert DEFAULT_MODEL.stat().st_size < 5e6
    card = json.loads(DEFAULT_MODEL.with_suffix(".json").read_text())
    prov = card["provenance"]
    assert len(prov["data_sha256"]) == 64 and prov["version"] >= 1
    assert prov["window"]["am_mass_fraction"] == [0.96, 0.96]  # trained on 96:4 only
    assert set(prov["recipes"]["test"]) and "batman train drying" in prov["command"]
    assert prov["metrics"]["test_dz_r2_wet"] > 0.8  # 94:6, wet macro-steps
    assert DEFAULT_MODEL.read_bytes()[:1] != b"\x80"  # not a pickle (protocol 2+ starts with 0x80)


def test_an_altered_or_truncated_weights_file_is_refused_in_one_line(tmp_path):
    copy = tmp_path / "drying.safetensors"
    shutil.copy(DEFAULT_MODEL, copy)
    shutil.copy(DEFAULT_MODEL.with_suffix(".json"), copy.with_suffix(".json"))
    load_drying_model(copy)
    data = bytearray(copy.read_bytes())
    data[-3] ^= 0x01  # one bit of one weight
    copy.write_bytes(bytes(data))
    with pytest.raises(InputError, match="altered"):
        load_drying_model(copy)
    copy.write_bytes(bytes(data[: len(data) // 2]))
    with pytest.raises(InputError, match=str(copy.name)):
        load_drying_model(copy)
    with pytest.raises(InputError, match="no drying model"):
        load_drying_model(tmp_path / "missing.safetensors")


def test_conditions_outside_the_training_window_get_a_note_then_a_refusal(model):
    inside = {"am_mass_fraction": 0.96, "solid_content": 0.62, "drying_rate": 1.0}
    assert model.check_conditions(inside) == []
    notes = model.check_conditions({**inside, "am_mass_fraction": 0.94})  # the 94:6 test formulation
    assert len(notes) == 1 and "am_mass_fraction" in notes[0]
    with pytest.raises(OutsideTrainingWindow, match="am_mass_fraction"):
        model.check_conditions({**inside, "am_mass_fraction": 0.90})
    low, high = model.window["drying_rate"]
    with pytest.raises(OutsideTrainingWindow, match="drying_rate"):
        model.check_conditions({**inside, "drying_rate": high + (high - low)})


def features_of_two_lonely_particles(step):
    """An AM and a CBD particle far apart, mid-height in the suspension."""
    position = np.array([[5.0, 5.0, 20.0], [20.0, 20.0, 20.0]])
    return particle_features(position, np.array([4.0, 0.65]), np.array([0, 1]), np.array([31.0, 31.0]), step)


def test_the_model_learned_settling_and_the_sweeping_surface(model):
    """In the fast sweep, a free AM particle settles further than a free CBD particle (Stokes:
    radius squared) and both go down; a particle the surface will pass is carried below it."""
    settle = np.array([1e-3, 2e-5])  # um per step: AM >> CBD, as in the scaled solvent
    step = MacroStep(28.0, 22.0, 4000, settle, 14.0, 0.62, 1.0)
    x = features_of_two_lonely_particles(step)
    assert x.shape == (2, len(FEATURES))
    dz = model.displacement(x)[:, 2]
    assert dz[0] < dz[1] < 0.0
    high = MacroStep(28.0, 18.0, 8000, settle, 14.0, 0.62, 1.0)  # the surface ends 2 um below both
    dz_high = model.displacement(features_of_two_lonely_particles(high))[:, 2]
    assert np.all(20.0 + dz_high < 18.0 + 0.5)
