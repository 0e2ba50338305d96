"""measure(): every metric of a voxelized electrode, consistent with each other."""

from __future__ import annotations

import numpy as np
import pytest

from sims.materials import MATERIALS
from sims.metrics import AM, CBD, measure, voxelize_spheres


def test_measure_a_voxelized_electrode():
    rng = np.random.default_rng(2)
    n = 120
    centres = rng.random((n, 3)) * [16.0, 16.0, 12.0]
    radii = rng.uniform(1.0, 2.5, n)
    phases = np.where(rng.random(n) < 0.7, AM, CBD)
    material = MATERIALS["NMC111"]
    image = voxelize_spheres(centres, radii, phases, (16.0, 16.0), 0.5, material=material)
    metrics = measure(image, axes="xz")
    por, mass = metrics.porosity, metrics.mass
    assert por.pore_fraction + por.am_fraction + por.cbd_fraction == pytest.approx(1.0)
    assert por.porosity == pytest.approx(por.pore_fraction + material.cbd.nanoporosity * por.cbd_fraction)
    assert mass.density_g_cm3 == pytest.approx(mass.mass_loading_mg_cm2 * 1e-3 / (mass.thickness_um * 1e-4))
    expected_density = (
        material.active.density_g_cm3 * por.am_fraction + material.cbd.density_g_cm3 * por.cbd_fraction
    )
    assert mass.density_g_cm3 == pytest.approx(expected_density)
    for result in metrics.tortuosity.values():
        assert result.converged and result.tortuosity_factor >= 1.0
    # Wiener bound: the flux cannot beat straight channels of the percolating pore volume
    assert metrics.tortuosity["z"].effective_diffusivity_ratio <= por.percolating_porosity_z
    assert metrics.geometric["z"].mean_tortuosity >= metrics.geometric["z"].min_tortuosity >= 1.0
    row = metrics.flat()
    assert {"tortuosity_factor_x", "tortuosity_factor_z", "mass_loading_mg_cm2", "am_pore_area_um2"} <= set(
        row
    )
    assert metrics.notes == []
