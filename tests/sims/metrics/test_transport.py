"""Tortuosity factor and effective diffusivity: analytic media, TauFactor, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sims.errors import PhysicalInputError
from sims.metrics import AM, CBD, PORE, TortuositySolver, tortuosity
from sims.metrics.synthetic import blobs, random_sphere_packing


def straight_channels() -> np.ndarray:
    labels = np.full((12, 10, 16), AM, dtype=np.uint8)
    labels[2, 3, :] = PORE
    labels[7:9, 5:8, :] = PORE
    return labels


def test_straight_open_channels_have_tau_one_along_them_and_none_across():
    labels = straight_channels()
    along = tortuosity(labels, "z")
    assert along.tortuosity_factor == pytest.approx(1.0, abs=1e-9)
    assert along.effective_diffusivity_ratio == pytest.approx(np.mean(labels == PORE), abs=1e-12)
    across = tortuosity(labels, "x")
    assert across.tortuosity_factor == math.inf
    assert across.effective_diffusivity_ratio == 0.0
    assert "does not percolate" in across.note


def test_layered_medium_matches_series_and_parallel_values():
    d_cbd = 0.2  # relative diffusivity of the nanoporous CBD
    labels = np.full((10, 8, 20), PORE, dtype=np.uint8)
    labels[:, :, 5:9] = CBD
    labels[:, :, 14:20] = CBD
    f_pore, f_cbd = 10 / 20, 10 / 20
    d_mean = f_pore + f_cbd * d_cbd
    diffusivity = {PORE: 1.0, CBD: d_cbd}
    series = tortuosity(labels, "z", phase_diffusivity=diffusivity)
    d_series = 1.0 / (f_pore + f_cbd / d_cbd)
    assert series.effective_diffusivity_ratio == pytest.approx(d_series, rel=1e-3)
    assert series.tortuosity_factor == pytest.approx(d_mean / d_series, rel=1e-3)
    parallel = tortuosity(labels, "x", phase_diffusivity=diffusivity)
    assert parallel.effective_diffusivity_ratio == pytest.approx(d_mean, rel=1e-3)
    assert parallel.tortuosity_factor == pytest.approx(1.0, rel=1e-3)


def test_closed_pores_add_porosity_but_no_flux():
    labels = straight_channels()
    open_only = tortuosity(labels, "z")
    labels[4:6, 0:2, 5:9] = PORE  # a closed cavity
    with_cavity = tortuosity(labels, "z")
    assert with_cavity.effective_diffusivity_ratio == pytest.approx(open_only.effective_diffusivity_ratio)
    assert with_cavity.tortuosity_factor > open_only.tortuosity_factor
    assert with_cavity.percolating_fraction == pytest.approx(open_only.percolating_fraction)


def test_convergence_report_and_tolerance():
    labels = blobs((32, 32, 32), porosity=0.4, seed=5)
    loose = tortuosity(labels, "z", flux_rtol=1e-2)
    tight = tortuosity(labels, "z", flux_rtol=1e-5)
    assert loose.converged and tight.converged
    assert tight.flux_spread < 1e-5 and tight.flux_in_out_mismatch < 1e-5
    assert tight.relative_residual < loose.relative_residual
    assert tight.iterations > loose.iterations
    assert loose.tortuosity_factor == pytest.approx(tight.tortuosity_factor, rel=1e-2)
    assert 1.5 < tight.tortuosity_factor < 10.0


def gdl_labels(n: int) -> np.ndarray:
    from sims.gdl import GDLParams, generate_gdl

    return generate_gdl(GDLParams(fibre_radius_um=3.0, porosity=0.75, shape=(n, n, n), seed=6)).labels


@pytest.mark.parametrize("structure", ["blobs", "spheres", "gdl"])
def test_agrees_with_taufactor_within_one_percent(structure):
    taufactor = pytest.importorskip("taufactor")
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    n = 40
    labels = {
        "blobs": lambda: blobs((n, n, n), porosity=0.4, seed=7),
        "spheres": lambda: random_sphere_packing((n, n, n), 5.0, solid_fraction=0.25, seed=8)[0],
        "gdl": lambda: gdl_labels(n),
    }[structure]()
    for axis in (0, 2):
        ours = tortuosity(labels, axis)
        pore = np.ascontiguousarray(np.moveaxis(labels == PORE, axis, 0)).astype(np.uint8)
        reference = float(np.asarray(taufactor.Solver(pore, device="cpu").solve(verbose=False))[0])
        assert ours.converged
        assert ours.tortuosity_factor == pytest.approx(reference, rel=0.01)


def test_image_with_no_pores_reports_infinite_tau():
    result = tortuosity(np.full((5, 5, 5), AM, dtype=np.uint8), "y")
    assert result.tortuosity_factor == math.inf and result.effective_diffusivity_ratio == 0.0
    assert result.note


@pytest.mark.parametrize(
    ("labels", "kwargs", "message"),
    [
        (np.zeros((4, 4), dtype=np.uint8), {}, "3-D"),
        (np.zeros((4, 0, 4), dtype=np.uint8), {}, "empty"),
        (np.full((4, 4, 4), 9, dtype=np.uint8), {}, "unknown labels"),
        (np.zeros((4, 4, 4), dtype=np.uint8), {"axis": "w"}, "axis"),
        (np.zeros((4, 4, 4), dtype=np.uint8), {"phase_diffusivity": {5: 1.0}}, "unknown label"),
        (np.zeros((4, 4, 4), dtype=np.uint8), {"phase_diffusivity": {0: -1.0}}, ">= 0"),
        (np.zeros((4, 4, 4), dtype=np.uint8), {"flux_rtol": 0.0}, "flux_rtol"),
    ],
)
def test_bad_input_raises_one_clear_error(labels, kwargs, message):
    with pytest.raises(PhysicalInputError, match=message):
        tortuosity(labels, **kwargs)


def test_multigrid_preconditioner_is_symmetric_positive_definite():
    # CG is only valid with an SPD preconditioner: <u, M v> = <M u, v> and <u, M u> > 0. The inverse
    # diagonal is stored in float32, so symmetry holds to ~1e-8; a wrongly ordered post-smoother
    # breaks it at ~5e-3.
    from sims.metrics import multigrid, transport

    solver = transport.TortuositySolver(blobs((20, 18, 16), porosity=0.45, seed=9), "x")
    levels = multigrid.hierarchy(*transport._face_conductances(solver._cond, solver._active))
    rng = np.random.default_rng(0)
    u, v = (levels[0].padded_zeros() for _ in range(2))
    u[1:-1, 1:-1, 1:-1] = rng.standard_normal(solver._cond.shape) * solver._active
    v[1:-1, 1:-1, 1:-1] = rng.standard_normal(solver._cond.shape) * solver._active
    mu = multigrid.mg_cycle(levels, 0, u).copy()
    mv = multigrid.mg_cycle(levels, 0, v).copy()
    assert np.vdot(v, mu) == pytest.approx(np.vdot(u, mv), rel=1e-6)
    assert np.vdot(u, mu) > 0 and np.vdot(v, mv) > 0


@pytest.mark.parametrize("shape", [(3, 10, 7), (7, 3, 10), (10, 7, 3), (40, 80, 80)])
def test_multigrid_hierarchy_is_consistent_when_axes_coarsen_differently(shape):
    """Axes of 3 cells or fewer stop coarsening while the others go on: every level's face arrays
    must still match its cells, and each coarse face must carry the fine faces it covers (a uniform
    medium: the coarse conductances are those of the same medium on the coarse grid)."""
    from sims.metrics import multigrid, transport

    cond = np.ones(shape, dtype=np.float32)
    levels = multigrid.hierarchy(*transport._face_conductances(cond, np.ones(shape, dtype=bool)))
    for level in levels:
        n0, n1, n2 = level.diag.shape
        assert level.gx.shape == (n0 + 1, n1, n2)
        assert level.gy.shape == (n0, n1 + 1, n2)
        assert level.gz.shape == (n0, n1, n2 + 1)
    # the z faces of the first coarse level: 2 x 2 fine faces (or 1 x 2 on an axis that stopped)
    c0, c1, c2 = levels[0].factors
    interior = levels[1].gz[:, :, 1:-1]
    expected = c0 * c1 / c2  # fine faces summed, times h_fine / h_coarse
    full = interior[: shape[0] // c0, : shape[1] // c1]
    assert np.allclose(full, expected)


def test_concentration_field_drops_five_times_faster_in_a_five_times_less_diffusive_layer():
    labels = np.full((20, 6, 6), PORE, dtype=np.uint8)
    labels[10:] = CBD  # in series along x: pores then CBD with D = 0.2 D_bulk
    labels[:, 0, 0] = AM  # a solid column: no concentration there
    solver = TortuositySolver(labels, "x", phase_diffusivity={PORE: 1.0, CBD: 0.2})
    solver.solve(flux_rtol=1e-6)
    c = solver.concentration
    assert c.shape == labels.shape and np.isnan(c[:, 0, 0]).all()
    profile = c[:, 3, 3]
    assert profile[0] < 1.0 and profile[-1] > 0.0 and np.all(np.diff(profile) < 0)
    drop_pores, drop_cbd = -np.diff(profile[2:9]).mean(), -np.diff(profile[12:19]).mean()
    assert drop_cbd / drop_pores == pytest.approx(5.0, rel=1e-3)
    assert np.nanstd(c[5]) < 1e-6  # layers are iso-concentration
