"""Stochastic GDL generator: porosity and binder targets, compression model, fibre orientation, seeds."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage

from sims.errors import PhysicalInputError
from sims.gdl import (
    BINDER,
    FIBRE,
    GDL_PARAMETER_RANGES,
    PORE,
    GDLParams,
    gdl_dataset,
    generate_gdl,
    sample_gdl_parameters,
)
from sims.metrics.transport import tortuosity


def _mean_chord_voxels(mask: np.ndarray, axis: int) -> float:
    """Mean length (voxels) of the runs of True along `axis`."""
    m = np.moveaxis(mask, axis, -1).reshape(-1, mask.shape[axis]).astype(np.int8)
    edges = np.diff(np.pad(m, ((0, 0), (1, 1))), axis=1)
    return np.count_nonzero(m) / np.count_nonzero(edges == 1)


@pytest.mark.parametrize(
    ("porosity", "binder_fraction", "fibre_radius_um"),
    [(0.8, 0.0, 3.5), (0.75, 0.2, 3.0), (0.6, 0.3, 4.0), (0.9, 0.1, 2.0)],
)
def test_porosity_and_binder_share_match_the_request(porosity, binder_fraction, fibre_radius_um):
    gdl = generate_gdl(
        GDLParams(fibre_radius_um=fibre_radius_um, porosity=porosity, binder_fraction=binder_fraction, seed=3)
    )
    assert gdl.labels.dtype == np.uint8 and set(np.unique(gdl.labels)) <= {PORE, FIBRE, BINDER}
    assert gdl.porosity == pytest.approx(porosity, abs=0.01)
    assert gdl.binder_fraction == pytest.approx(binder_fraction, abs=2e-3)


def test_compression_raises_the_solid_fraction_at_constant_solid_volume():
    porosities = []
    for c in (0.0, 0.15, 0.3):
        gdl = generate_gdl(GDLParams(porosity=0.8, compression_ratio=c, seed=1))
        # the solid of the uncompressed layer, 1 - porosity of H / (1 - c), now fills a thickness H
        assert gdl.porosity == pytest.approx(1.0 - 0.2 / (1.0 - c), abs=0.01)
        porosities.append(gdl.porosity)
    assert porosities[0] > porosities[1] > porosities[2]
    # rigid fibres: the layer spacing shrinks, so the fibre cross-sections (chords along z) stay circular
    uncompressed = generate_gdl(GDLParams(porosity=0.8, binder_fraction=0.0, seed=1))
    compressed = generate_gdl(GDLParams(porosity=0.8, binder_fraction=0.0, compression_ratio=0.3, seed=1))
    assert _mean_chord_voxels(compressed.labels == FIBRE, 2) >= 0.95 * _mean_chord_voxels(
        uncompressed.labels == FIBRE, 2
    )


def test_fibre_count_sets_the_number_of_fibres():
    porosities = []
    for n in (5, 15, 30):
        gdl = generate_gdl(GDLParams(porosity=None, fibre_count=n, binder_fraction=0.0, seed=2))
        assert gdl.n_fibres == n
        porosities.append(gdl.porosity)
    assert 1.0 > porosities[0] > porosities[1] > porosities[2]
    assert np.all(generate_gdl(GDLParams(porosity=None, fibre_count=0)).labels == PORE)


def test_same_seed_same_structure_other_seed_other_structure():
    params = GDLParams(porosity=0.75, binder_fraction=0.2, anisotropy=2.0, compression_ratio=0.1, seed=7)
    a, b = generate_gdl(params), generate_gdl(params)
    np.testing.assert_array_equal(a.labels, b.labels)
    c = generate_gdl(dataclasses.replace(params, seed=8))
    assert np.count_nonzero(a.labels != c.labels) > 0.1 * a.labels.size


def test_fibres_lie_in_plane_so_through_plane_transport_is_more_tortuous():
    gdl = generate_gdl(
        GDLParams(fibre_radius_um=2.5, porosity=0.75, binder_fraction=0.0, shape=(80, 80, 40), seed=0)
    )
    fibre = gdl.labels == FIBRE
    # through-plane, a fibre is crossed along at most a diameter (5 voxels); in-plane, obliquely
    chord_z = _mean_chord_voxels(fibre, 2)
    assert chord_z < 5.5 and min(_mean_chord_voxels(fibre, 0), _mean_chord_voxels(fibre, 1)) > 1.3 * chord_z
    tau = {ax: tortuosity(gdl.labels, ax).tortuosity_factor for ax in "xyz"}
    assert 1.0 < tau["x"] < tau["z"] / 1.04 and 1.0 < tau["y"] < tau["z"] / 1.04


@pytest.mark.parametrize("porosity", [0.6, 0.75, 0.9])
def test_in_plane_tortuosity_follows_tomadakis_sotirchos_and_through_plane_is_higher(porosity):
    """Tomadakis and Sotirchos' correlation for 2-D random fibre beds (as used for carbon-paper GDLs):
    tau = ((1 - 0.11) / (porosity - 0.11))^alpha, alpha 0.521 in-plane, 0.785 through-plane.
    In-plane the stacked layers agree within a few %; through-plane they are more tortuous than
    in-plane at every porosity (the correlation's ordering), more so than the correlation."""
    gdl = generate_gdl(
        GDLParams(fibre_radius_um=4.0, porosity=porosity, binder_fraction=0.0, shape=(128, 128, 64), seed=0)
    )
    tau = {ax: tortuosity(gdl.labels, ax).tortuosity_factor for ax in "xyz"}
    in_plane = 0.5 * (tau["x"] + tau["y"])
    ts_in_plane = ((1 - 0.11) / (gdl.porosity - 0.11)) ** 0.521
    ts_through = ((1 - 0.11) / (gdl.porosity - 0.11)) ** 0.785
    assert in_plane == pytest.approx(ts_in_plane, rel=0.06)
    assert tau["z"] > 1.02 * in_plane and tau["z"] > 0.97 * ts_through


def test_anisotropy_aligns_fibres_and_eases_transport_along_them():
    """Transport is easiest along the fibres, harder across them in-plane (fibres at other heights
    leave ways over and under them) and hardest through the plane."""
    taus = {}
    for a in (4.0, 0.25):
        gdl = generate_gdl(GDLParams(fibre_radius_um=3.0, porosity=0.7, shape=(48, 48, 48), anisotropy=a))
        fibre = gdl.labels == FIBRE
        chord_x, chord_y = _mean_chord_voxels(fibre, 0), _mean_chord_voxels(fibre, 1)
        assert (chord_x > 1.6 * chord_y) if a > 1 else (chord_y > 1.6 * chord_x)
        taus[a] = [tortuosity(gdl.labels, ax).tortuosity_factor for ax in "xyz"]
    along_x, across_y, through = taus[4.0]
    assert along_x < across_y / 1.15 and across_y < through
    across_x, along_y, through = taus[0.25]
    assert along_y < across_x / 1.15 and across_x < through


def test_binder_bridges_fibres_and_never_floats():
    for seed in (0, 1):
        gdl = generate_gdl(GDLParams(porosity=None, fibre_count=25, binder_fraction=0.2, seed=seed))
        fibre, solid = gdl.labels == FIBRE, gdl.labels != PORE
        solid_clusters, n_solid = ndimage.label(solid)
        # every solid cluster holds fibre: the binder sits on fibres, and joins fibre clusters
        assert set(np.unique(solid_clusters[fibre])) == set(range(1, n_solid + 1))
        assert n_solid < ndimage.label(fibre)[1]
        # most binder touches a fibre: it fills the wedges at crossings rather than coating evenly
        touching = ndimage.binary_dilation(fibre)[gdl.labels == BINDER]
        assert touching.mean() > 0.5


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"porosity": 1.2}, "porosity"),
        ({"porosity": 0.8, "fibre_count": 10}, "fibre_count"),
        ({"porosity": 0.5, "compression_ratio": 0.6}, "compression_ratio"),
        ({"fibre_radius_um": 0.5}, "fibre_radius_um"),
        ({"binder_fraction": 1.0}, "binder_fraction"),
        ({"anisotropy": 0.0}, "anisotropy"),
        ({"shape": (64, 64, 3)}, "thick"),
    ],
)
def test_bad_parameters_name_the_parameter(kwargs, name):
    with pytest.raises(PhysicalInputError, match=name):
        GDLParams(**kwargs)


def test_dataset_parameters_are_deterministic_prefix_stable_and_in_range():
    many = sample_gdl_parameters(50, seed=4, shape=(48, 48, 32), voxel_um=1.5)
    assert sample_gdl_parameters(10, seed=4, shape=(48, 48, 32), voxel_um=1.5) == many[:10]
    assert sample_gdl_parameters(10, seed=5, shape=(48, 48, 32), voxel_um=1.5) != many[:10]
    assert len({p.seed for p in many}) == 50
    for name, (low, high) in GDL_PARAMETER_RANGES.items():
        # 50 draws cover the range: both ends come within a quarter of it
        values = (np.array([getattr(p, name) for p in many]) - low) / (high - low)
        assert 0.0 <= values.min() < 0.25 and 0.75 < values.max() <= 1.0


def test_dataset_rows_are_the_same_with_parallel_workers():
    params = sample_gdl_parameters(2, seed=9, shape=(32, 32, 24))
    serial, parallel = gdl_dataset(params), gdl_dataset(params, workers=2)
    pd.testing.assert_frame_equal(serial, parallel)
    row = serial.iloc[0]
    assert row["porosity"] == pytest.approx(generate_gdl(params[0]).porosity)
    assert row["tortuosity_factor_in_plane"] == pytest.approx(
        0.5 * (row["tortuosity_factor_x"] + row["tortuosity_factor_y"])
    )
