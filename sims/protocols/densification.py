"""Densification of the carbon-binder domain (CBD) under the calendering load.

The CBD's effective particles hold ~47 % nanopores when dried (sims.materials); calendering
squeezes them between the AM particles and densifies them. Law (Heckel-type compaction of a porous
powder, R. W. Heckel, Trans. Metall. Soc. AIME 221 (1961) 671: ln(1 / eps) = K P + A, K = 1 / (3
sigma_y) for a phase of yield stress sigma_y), with a residual nanoporosity that the carbon-black
aggregates keep:

    eps(p) = eps_min + (eps_0 - eps_min) exp(-p / p_c),   p_c = 3 sigma_y,

applied to each CBD particle with its own mean stress p (Pa), and irreversible (a particle's
nanoporosity only decreases: the binder bridges flow plastically, nothing refills the nanopores
on release). The particle keeps its mass (carbon + binder skeleton) and shrinks to the volume of
its skeleton plus the remaining nanopores: r = r_0 ((1 - eps_0) / (1 - eps))^(1/3).

Parameters (flagged estimates, not fitted): sigma_y = 17 MPa, the middle of the 15-20 MPa yield
stress of porous PVDF/carbon films that sims.materials uses for the CBD's contact yield pressure
(p_y = 3 sigma_y = 50 MPa, hence p_c = CBD yield_pressure_pa); eps_min = 0.10, the nanoporosity
below which a carbon-black/PVDF domain does not go under electrode calendering pressures (< 0.3 GPa;
compacted carbon-black pellets keep 0.1-0.3 at such pressures).

Mean stress of a particle: the trace of its Love-Weber stress over its volume, p = sum_c F_n,c r /
(3 V) = sum_c F_n,c / (4 pi r^2), with F_n the elastic-plastic normal force of each particle
contact (the engine's Thornton law at its current and largest overlaps; cohesion and damping left
out). Wall contacts are left out (a CBD particle pressed on the foil densifies through its particle
contacts only).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from sims.dem.contact import elastic_plastic_normal
from sims.dem.engine import Simulation
from sims.dem.state import ParticleState
from sims.errors import PhysicalInputError
from sims.materials import ElectrodeMaterial
from sims.protocols.contact_tables import CBD_TYPE

RESIDUAL_NANOPOROSITY = 0.10  # estimate, see the module doc


@dataclass(frozen=True)
class CBDCompaction:
    """The pressure law eps(p) of the CBD nanoporosity (module doc); pressures in Pa."""

    nanoporosity_0: float
    nanoporosity_min: float = RESIDUAL_NANOPOROSITY
    pressure_scale_pa: float = 5e7

    def __post_init__(self) -> None:
        if not 0.0 <= self.nanoporosity_min <= self.nanoporosity_0 < 1.0:
            raise PhysicalInputError(
                f"CBD nanoporosities must satisfy 0 <= min ({self.nanoporosity_min}) <= "
                f"dried ({self.nanoporosity_0}) < 1"
            )
        if not (math.isfinite(self.pressure_scale_pa) and self.pressure_scale_pa > 0.0):
            raise PhysicalInputError(
                f"CBD compaction pressure scale must be > 0 Pa, got {self.pressure_scale_pa}"
            )

    @classmethod
    def of(cls, material: ElectrodeMaterial) -> CBDCompaction:
        """The law of a material's CBD (p_c = its contact yield pressure, 3 sigma_y)."""
        p_c = material.cbd.yield_pressure_pa
        return cls(material.cbd.nanoporosity, min(RESIDUAL_NANOPOROSITY, material.cbd.nanoporosity), p_c)

    def nanoporosity(self, pressure_pa: np.ndarray) -> np.ndarray:
        """eps(p) (-), for mean stresses p (Pa; tension counts as 0)."""
        p = np.maximum(np.asarray(pressure_pa, dtype=np.float64), 0.0)
        eps0, eps_min = self.nanoporosity_0, self.nanoporosity_min
        return eps_min + (eps0 - eps_min) * np.exp(-p / self.pressure_scale_pa)


@numba.njit(cache=True)
def contact_normal_force_sum(
    position, radius, type_id, partner, shift, count, pair, ystar, p_y
):  # pragma: no cover - numba
    """Sum over each particle's particle contacts of the elastic-plastic normal force (N,), N.

    partner, shift, count, pair: the engine's half list and histories (sims.dem.state.ContactHistory).
    """
    n = radius.shape[0]
    total = np.zeros(n)
    for i in range(n):
        ti = type_id[i]
        for k in range(count[i]):
            j = partner[i, k]
            dx = position[i, 0] - position[j, 0] - shift[i, k, 0]
            dy = position[i, 1] - position[j, 1] - shift[i, k, 1]
            dz = position[i, 2] - position[j, 2]
            delta = radius[i] + radius[j] - math.sqrt(dx * dx + dy * dy + dz * dz)
            if delta <= 0.0:
                continue
            reff = radius[i] * radius[j] / (radius[i] + radius[j])
            tj = type_id[j]
            f, _ = elastic_plastic_normal(delta, pair[i, k, 3], reff, ystar[ti, tj], p_y[ti, tj])
            total[i] += f
            total[j] += f
    return total


def mean_stress_pa(sim: Simulation) -> np.ndarray:
    """Mean compressive stress of each particle (N,), Pa: contact normal forces / (4 pi r^2)."""
    s, h = sim.state, sim.state.contacts
    if h is None:
        return np.zeros(s.n)
    force = contact_normal_force_sum(
        s.position, s.radius, s.type_id, h.partner, h.shift, h.count, h.pair,
        sim.params.youngs_eff, sim.params.yield_pressure,
    )  # fmt: skip
    return force / (4.0 * np.pi * s.radius**2)


def cbd_nanoporosity(state: ParticleState, skeleton_density_kg_m3: float) -> np.ndarray:
    """Nanoporosity (-) of each CBD particle of `state`: 1 - mass / (skeleton density x volume)."""
    cbd = state.type_id == CBD_TYPE
    volume = 4.0 / 3.0 * np.pi * state.radius[cbd] ** 3
    return 1.0 - state.mass[cbd] / (skeleton_density_kg_m3 * volume)


def mean_cbd_nanoporosity(state: ParticleState, skeleton_density_kg_m3: float) -> float:
    """Nanopore volume over the volume of all CBD particles of `state` (-); NaN without CBD."""
    cbd = state.type_id == CBD_TYPE
    if not np.any(cbd):
        return float("nan")
    volume = np.sum(4.0 / 3.0 * np.pi * state.radius[cbd] ** 3)
    return float(1.0 - np.sum(state.mass[cbd]) / (skeleton_density_kg_m3 * volume))


class CBDDensifier:
    """Applies a CBDCompaction law to the CBD particles of a running Simulation (module doc).

    The nanoporosity lives in the particles (mass over radius), so a state carries it from one
    protocol to the next; `skeleton_density_kg_m3`: carbon + binder without nanopores.
    """

    def __init__(self, law: CBDCompaction, skeleton_density_kg_m3: float) -> None:
        self.law = law
        self.skeleton_density_kg_m3 = float(skeleton_density_kg_m3)

    @classmethod
    def of(cls, material: ElectrodeMaterial) -> CBDDensifier:
        return cls(CBDCompaction.of(material), 1000.0 * material.cbd_solid_density_g_cm3)

    def update(self, sim: Simulation) -> bool:
        """Densify every CBD particle to eps(its mean stress) where that is lower than its own;
        shrink it (mass kept) and refresh the simulation. True when some particle densified."""
        s = sim.state
        cbd = np.flatnonzero(s.type_id == CBD_TYPE)
        if len(cbd) == 0:
            return False
        eps_now = cbd_nanoporosity(s, self.skeleton_density_kg_m3)
        eps = np.minimum(eps_now, self.law.nanoporosity(mean_stress_pa(sim)[cbd]))
        if np.all(eps >= eps_now - 1e-4):
            return False
        volume = s.mass[cbd] / (self.skeleton_density_kg_m3 * (1.0 - eps))
        s.radius[cbd] = (0.75 / np.pi * volume) ** (1.0 / 3.0)
        s.inertia[cbd] = 0.4 * s.mass[cbd] * s.radius[cbd] ** 2
        sim.refresh()
        return True
