"""The calendering model's pieces: descriptors, overlap projection, file format, shipped model,
window checks and the dried-film cache (fast; the accuracy against the DEM is in
test_calendering_accuracy.py)."""

from __future__ import annotations

import json
import pickle
import shutil

import numpy as np
import pytest
import torch

from batman_opt.errors import InputError
from batman_opt.surrogates.calendering import (
    DEFAULT_MODEL,
    EXTENT_FRACTION,
    PARTICLE_INPUTS,
    PARTICLE_OUTPUTS,
    PLATE_INPUTS,
    PLATE_OUTPUTS,
    CalenderingModel,
    FrameSchedule,
    film_features,
)
from batman_opt.surrogates.contacts import remove_overlaps
from batman_opt.surrogates.descriptors import PARTICLE_DESCRIPTORS, particle_descriptors
from batman_opt.surrogates.dried_films import DriedFilms, drying_key
from batman_opt.transfer.models import MLPConfig, MLPEnsemble, load_ensembles, save_ensembles
from sims.metrics.voxelize import AM, CBD
from sims.structure import ElectrodeStructure

torch.set_num_threads(1)
COLUMN = {name: i for i, name in enumerate(PARTICLE_DESCRIPTORS)}


def cubic_film(n_side: int = 4, layers: int = 3, radius: float = 1.0) -> ElectrodeStructure:
    """Touching equal spheres on a simple cubic lattice, periodic in x and y (lengths in um)."""
    a = 2.0 * radius
    grid = np.stack(np.meshgrid(range(n_side), range(n_side), range(layers), indexing="ij"), -1).reshape(
        -1, 3
    )
    position = (grid + 0.5) * a
    n = len(position)
    return ElectrodeStructure(
        position,
        np.full(n, radius),
        np.full(n, AM, np.uint8),
        np.array([n_side * a] * 2),
        layers * a,
        "NMC111",
    )


def test_descriptors_of_a_cubic_lattice():
    film = cubic_film()
    d = particle_descriptors(film.position_um, film.radius_um, film.phase == CBD, film.lateral_um, 6.0, 0.0)
    assert d.shape == (len(film.radius_um), len(PARTICLE_DESCRIPTORS))
    middle = np.isclose(film.position_um[:, 2], 3.0)
    # 4 lateral neighbours everywhere (periodic), + 2 in the middle layer, + 1 at the bottom and top
    assert np.all(d[middle, COLUMN["contacts_am"]] == 6)
    assert np.all(d[~middle, COLUMN["contacts_am"]] == 5)
    # symmetric surroundings: no centroid offset sideways; touching spheres: no affine push at cr = 0
    assert np.allclose(d[:, COLUMN["centroid_x_d"]], 0.0, atol=1e-6)
    assert np.allclose(d[:, COLUMN["push_d"]], 0.0, atol=1e-6)
    # squeezed by 30 %, the layers overlap: the bottom layer is pushed down onto the collector,
    # which pushes back up, the top layer is pushed up
    squeezed = particle_descriptors(
        film.position_um, film.radius_um, film.phase == CBD, film.lateral_um, 6.0, 0.3
    )
    top = np.isclose(film.position_um[:, 2], 5.0)
    assert np.all(squeezed[top, COLUMN["push_z_d"]] > 0.1)


def test_descriptors_do_not_see_the_periodic_seam():
    film = cubic_film()
    # jittered, so that no neighbour distance sits exactly at a descriptor's reach
    position = film.position_um + np.random.default_rng(0).uniform(-0.1, 0.1, film.position_um.shape)
    args = (film.radius_um, film.phase == CBD, film.lateral_um, 6.0, 0.2)
    shifted = position + np.array([3.3, -1.7, 0.0])
    assert np.allclose(particle_descriptors(position, *args), particle_descriptors(shifted, *args), atol=1e-5)


def test_overlap_projection_separates_pairs_small_one_moves():
    lateral = np.array([20.0, 20.0])
    position = np.array([[5.0, 5.0, 5.0], [7.0, 5.0, 5.0], [19.5, 10.0, 5.0], [0.7, 10.0, 5.0]])
    radius = np.array([2.0, 0.65, 1.0, 1.0])  # AM and CBD overlapping; a pair across the x seam
    cbd = np.array([False, True, False, False])
    out = remove_overlaps(position, radius, lateral, 20.0, cbd, (0.02, 0.02, 0.02), sweeps=100)
    gap = np.linalg.norm(out[1] - out[0])
    assert gap >= 2.65 - 0.02 * 0.65 - 1e-6
    assert np.linalg.norm(out[0] - position[0]) < 0.1 * np.linalg.norm(out[1] - position[1])
    across = out[3] - out[2]
    across[:2] -= lateral * np.round(across[:2] / lateral)
    assert np.linalg.norm(across) >= 2.0 - 0.02 - 1e-6
    assert np.all(out[:, :2] >= 0.0) and np.all(out[:, :2] < lateral)


def test_overlap_projection_keeps_spheres_between_collector_and_plate():
    position = np.array([[2.0, 2.0, 0.3], [2.0, 2.0, 4.9]])
    args = (np.array([1.0, 1.0]), np.array([10.0, 10.0]), 5.0, np.array([False, False]), (0.0, 0.0, 0.0))
    assert np.allclose(remove_overlaps(position, *args)[:, 2], [1.0, 4.0])
    # the DEM's particles dig into the walls under load: a reach below and above may be allowed
    assert np.allclose(remove_overlaps(position, *args, 0.5, 0.2)[:, 2], [0.5, 4.2])


def test_overlap_projection_keeps_the_allowed_overlap_of_each_pair_kind():
    lateral = np.array([50.0, 50.0])
    position = np.array([[10.0, 10.0, 10.0], [13.0, 10.0, 10.0], [30.0, 10.0, 10.0], [31.0, 10.0, 10.0]])
    radius = np.array([2.0, 2.0, 0.65, 0.65])  # an AM-AM pair and a CBD-CBD pair, both overlapping
    cbd = np.array([False, False, True, True])
    out = remove_overlaps(position, radius, lateral, 40.0, cbd, (0.2, 0.0, 0.05), sweeps=50)
    assert np.isclose(np.linalg.norm(out[1] - out[0]), 4.0 - 0.2 * 2.0, atol=1e-6)
    assert np.isclose(np.linalg.norm(out[3] - out[2]), 1.3 - 0.05 * 0.65, atol=1e-6)


def tiny_model(seed: int = 0) -> dict[str, MLPEnsemble]:
    return {
        "particles": MLPEnsemble(MLPConfig(PARTICLE_INPUTS, PARTICLE_OUTPUTS, (4,), n_members=2, seed=seed)),
        "plate": MLPEnsemble(MLPConfig(PLATE_INPUTS, PLATE_OUTPUTS, (4,), n_members=2, seed=seed)),
    }


def test_model_file_round_trip_without_pickle(tmp_path, monkeypatch):
    path = tmp_path / "cal.safetensors"
    models = tiny_model()
    save_ensembles(models, path, {"kind": "calendering", "version": 1, "window": {}})

    def refuse(*args, **kwargs):
        raise AssertionError("a model file must load without pickle")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(torch, "load", refuse)
    loaded = CalenderingModel.load(path)
    x = torch.rand(5, len(PLATE_INPUTS))
    assert torch.equal(loaded.plate(x), models["plate"](x))


def test_a_changed_or_foreign_model_file_is_refused_with_one_clear_line(tmp_path):
    path = tmp_path / "cal.safetensors"
    save_ensembles(tiny_model(), path, {"kind": "calendering", "version": 1})
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF  # one weight changed
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="SHA-256 mismatch"):
        load_ensembles(path)
    pickled = tmp_path / "evil.safetensors"
    pickled.write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    shutil.copy(path.with_suffix(".json"), pickled.with_suffix(".json"))
    with pytest.raises(InputError, match="SHA-256 mismatch"):
        load_ensembles(pickled)
    card = json.loads(path.with_suffix(".json").read_text())
    card["sha256"] = __import__("hashlib").sha256(pickled.read_bytes()).hexdigest()
    pickled.with_suffix(".json").write_text(json.dumps(card))
    with pytest.raises(InputError, match="not a safetensors file"):
        load_ensembles(pickled)
    (tmp_path / "other.json").write_text("{}")
    (tmp_path / "other.safetensors").write_bytes(b"")
    with pytest.raises(InputError, match="not a model card"):
        CalenderingModel.load(tmp_path / "other.safetensors")


def test_shipped_model_is_small_documented_and_predicts_a_calendering():
    assert DEFAULT_MODEL.stat().st_size < 5e6
    model = CalenderingModel.load(DEFAULT_MODEL)
    card = model.card
    assert card["command"].startswith("batman train calendering")
    assert len(card["data"]["sha256"]) == 64 and card["metrics"]["val"]
    assert model.window["compression_ratio"][0] < 0.15 and model.window["compression_ratio"][1] > 0.35
    film = cubic_film(n_side=6, layers=4)
    film = ElectrodeStructure(
        film.position_um, film.radius_um * 0.95, film.phase, film.lateral_um, 8.0 - 0.1, "NMC111"
    )
    schedule = FrameSchedule.default()
    prediction = model.predict(film, {"compression_ratio": 0.25, "calendering_speed_mm_s": 10.0}, schedule)
    plate = prediction.plate_um
    load = schedule.stage == 0
    assert np.all(np.diff(plate[load]) < 0) and np.isclose(plate[load][-1], 0.75 * film.thickness_um)
    assert prediction.thickness_um == plate[-1] and prediction.loaded_um <= prediction.thickness_um
    final, radius = prediction.position_um[-1], prediction.radius_um[-1]
    _, contact = model.plate_state({"compression_ratio": 0.25, **film_features(film)}, schedule)
    reach = EXTENT_FRACTION * contact[-1, 3:]
    assert np.all(final[:, 2] + radius <= plate[-1] + reach[0] + 1e-6)
    assert np.all(final[:, 2] - radius >= -reach[1] - 1e-6)


def test_window_notes_inside_the_margin_and_refuses_beyond():
    model = CalenderingModel.load(DEFAULT_MODEL)
    low, high = model.window["compression_ratio"]
    assert model.window_check({"compression_ratio": 0.5 * (low + high)}) == {}
    notes = model.window_check({"compression_ratio": high + 0.02, "am_mass_fraction": 0.94})
    assert (
        set(notes) == {"compression_ratio", "am_mass_fraction"}
        and "extrapolated" in notes["am_mass_fraction"]
    )
    with pytest.raises(InputError, match="compression_ratio = 0.6 is beyond"):
        model.window_check({"compression_ratio": 0.6})


def test_dried_film_cache_miss_then_hit_across_agents(tmp_path):
    made = []

    def make(material, drying, seed, n_am, threads):
        made.append((material, dict(drying), seed, n_am))
        return cubic_film()

    drying = {"am_mass_fraction": 0.96, "solid_content": 0.65, "drying_rate": 1.0}
    first = DriedFilms(tmp_path, make)
    film, hit, _ = first.get("NMC111", drying, 0, 120)
    assert (
        not hit
        and len(made) == 1
        and (tmp_path / f"dried_{drying_key('NMC111', drying, 0, 120)}.npz").is_file()
    )
    assert first.get("NMC111", drying, 0, 120)[1] and len(made) == 1  # from memory
    other_agent = DriedFilms(tmp_path, make)
    again, hit, _ = other_agent.get("NMC111", drying, 0, 120)
    assert hit and len(made) == 1 and np.array_equal(again.position_um, film.position_um)
    # another drying rate or seed is another film; calendering inputs are not part of the key
    assert not other_agent.get("NMC111", {**drying, "drying_rate": 1.5}, 0, 120)[1]
    assert not other_agent.get("NMC111", drying, 1, 120)[1]
    assert len(made) == 3
    assert drying_key("NMC111", {**drying, "compression_ratio": 0.3}, 0, 120) == drying_key(
        "NMC111", drying, 0, 120
    )


def test_spring_back_comes_out_of_the_plate_trajectory_and_grows_with_compression():
    # the DEM's trend over the training window: ~0.8 % at compression 0.15 to ~2.3 % at 0.35
    model = CalenderingModel.load(DEFAULT_MODEL)
    schedule = FrameSchedule.default()
    spring = []
    for cr in (0.15, 0.25, 0.35):
        ratio, _ = model.plate_state({"compression_ratio": cr, "dried_solid_fraction": 0.58}, schedule)
        loaded = ratio[schedule.stage > 0].min()
        assert loaded <= (1.0 - cr) * 1.002  # the plate reaches the gap
        spring.append(100.0 * (ratio[-1] - loaded) / loaded)
    assert 0.3 < spring[0] < spring[1] < spring[2] < 3.5
