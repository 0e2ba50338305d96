"""Particle and wall types of an electrode run, and their contact tables for the DEM engine.

Types: AM (0), CBD (1), current collector (2, aluminium), tool (3, steel plate or roll) and the
free surface of the drying slurry (4: frictionless and without cohesion, it only confines).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sims.dem.params import ContactParams
from sims.materials import ALUMINIUM_FOIL, STEEL_TOOL, ElectrodeMaterial

AM_TYPE, CBD_TYPE, COLLECTOR_TYPE, TOOL_TYPE, FREE_SURFACE_TYPE = 0, 1, 2, 3, 4


def electrode_contact_params(
    material: ElectrodeMaterial,
    *,
    stiffness_scale: float | Sequence[float] = 1.0,
    plastic: bool = True,
    cohesion: bool = True,
    cbd_friction: bool = True,
) -> ContactParams:
    """Contact tables for the five types above.

    stiffness_scale multiplies the Young moduli (one factor, or one per type): < 1 only for the
    low-stress drying stage, where overlaps stay << radii either way and a softer contact allows a
    longer time step.
    plastic=False gives purely elastic Hertz contacts; cohesion=False switches sjkr2 off;
    cbd_friction=False makes every CBD contact frictionless (see the calendering protocol). Cohesion
    mixes by the maximum, so CBD also sticks to AM and to the collector (binder adhesion), not to tools.
    """
    am, cbd = material.active, material.cbd
    wall, tool = ALUMINIUM_FOIL, STEEL_TOOL
    phases = (am, cbd, wall, tool, tool)
    friction = np.add.outer(*(2 * [np.array([p.friction for p in phases])])) / 2.0
    friction[FREE_SURFACE_TYPE, :] = friction[:, FREE_SURFACE_TYPE] = 0.0
    if not cbd_friction:
        friction[CBD_TYPE, :] = friction[:, CBD_TYPE] = 0.0
    k_coh = np.array([am.cohesion_energy_density_j_m3, cbd.cohesion_energy_density_j_m3, 0.0, 0.0, 0.0])
    coh = np.maximum.outer(k_coh, k_coh) if cohesion else np.zeros((5, 5))
    # calender tools are kept clean (nothing sticks to them); the free surface only confines
    for t in (TOOL_TYPE, FREE_SURFACE_TYPE):
        coh[t, :] = coh[:, t] = 0.0
    inf = float("inf")
    yield_pa = [am.yield_pressure_pa, cbd.yield_pressure_pa, inf, inf, inf] if plastic else inf
    return ContactParams.from_properties(
        young_modulus_pa=np.broadcast_to(stiffness_scale, (5,)) * [p.young_modulus_pa for p in phases],
        poisson_ratio=[p.poisson_ratio for p in phases],
        restitution=[p.restitution for p in phases],
        friction=friction,
        density_kg_m3=[1000.0 * p.density_g_cm3 for p in phases],
        cohesion_energy_density_j_m3=coh,
        yield_pressure_pa=yield_pa,
    )
