"""Film-level quantities of a particle bed: top height, solid volume, inertial number.

Shared by the drying and calendering protocols and the electrode evaluator (SI units).
"""

from __future__ import annotations

import numpy as np

from sims.dem.state import ParticleState


def top_m(state: ParticleState) -> float:
    """Height of the highest particle top, max(z + r) (m): what a flat plate or micrometer touches."""
    return float(np.max(state.position[:, 2] + state.radius))


def sphere_volume_m3(state: ParticleState) -> float:
    """Sum of the particle volumes (m3), overlaps counted twice (solids conserve their volume)."""
    return float(np.sum(4.0 / 3.0 * np.pi * state.radius**3))


def mean_diameter_and_density(state: ParticleState) -> tuple[float, float]:
    """Volume-weighted mean diameter (m) and mean particle density (kg/m3), as simulated."""
    vol = 4.0 / 3.0 * np.pi * state.radius**3
    return float(np.sum(2.0 * state.radius * vol) / np.sum(vol)), float(np.sum(state.mass) / np.sum(vol))


def inertial_number(strain_rate_s: float, pressure_pa: float, state: ParticleState) -> float:
    """Inertial number I = |strain rate| d sqrt(rho / P) of the bed (GDR MiDi 2004).

    d: volume-weighted mean diameter (m); rho: mass over volume of the particles as simulated (so a
    mass scaling shows up in I); P: the confining pressure (Pa). I < ~1e-3 is quasi-static, ~1e-2 the
    usual upper bound for quasi-static DEM protocols; inf when P <= 0.
    """
    if pressure_pa <= 0.0:
        return float("inf")
    d, rho = mean_diameter_and_density(state)
    return abs(strain_rate_s) * d * float(np.sqrt(rho / pressure_pa))
