"""Outcomes of a predicted electrode, measured as the dem evaluator measures the DEM's.

A predicted structure (sims.structure.ElectrodeStructure) is turned back into particles with their
masses (AM at its density; each CBD particle keeps the mass it had in the dried film, so a smaller
predicted radius is a densified CBD), then measured with sims.electrode.film_outcomes (thickness,
porosity, density, mass loading, CBD nanoporosity) and sims.electrode_metrics (voxel image,
tortuosity factors, effective diffusivities, surfaces): the same functions, so the same outcome
names and meanings as sims.electrode.OUTCOMES.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from batman_opt.errors import InputError
from sims.dem.state import Box, ParticleState
from sims.electrode import film_outcomes
from sims.electrode_metrics import structure_metrics, voxel_image
from sims.materials import ElectrodeMaterial
from sims.metrics.voxelize import AM
from sims.protocols.contact_tables import AM_TYPE, CBD_TYPE
from sims.protocols.packing import ParticleCounts
from sims.structure import ElectrodeStructure

if TYPE_CHECKING:
    from batman_opt.surrogates.calendering import CalenderingPrediction


def particle_state(
    structure: ElectrodeStructure, dried_radius_um: np.ndarray, material: ElectrodeMaterial
) -> tuple[ParticleState, Box]:
    """Particles (SI units, at rest) of `structure` with the masses of the dried film whose radii
    were `dried_radius_um`, and a box over them (collector at z = 0)."""
    am = structure.phase == AM
    radius_m = structure.radius_um * 1e-6
    dried_m = np.asarray(dried_radius_um, dtype=np.float64) * 1e-6
    density = np.where(am, material.active.density_g_cm3, material.cbd.density_g_cm3) * 1000.0  # kg/m3
    mass = density * 4.0 / 3.0 * np.pi * np.where(am, radius_m, dried_m) ** 3
    n = len(radius_m)
    zeros = np.zeros((n, 3))
    state = ParticleState(
        position=structure.position_um * 1e-6,
        velocity=zeros,
        angular_velocity=zeros,
        radius=radius_m,
        mass=mass,
        inertia=0.4 * mass * radius_m**2,
        type_id=np.where(am, AM_TYPE, CBD_TYPE),
        force=zeros,
        torque=zeros,
    )
    top_m = float(max(np.max(state.position[:, 2] + radius_m), structure.thickness_um * 1e-6))
    lx, ly = (float(v) * 1e-6 for v in structure.lateral_um)
    return state, Box((0.0, 0.0, 0.0), (lx, ly, 2.0 * top_m))


def check_counts(structure: ElectrodeStructure, counts: ParticleCounts) -> None:
    """InputError unless the structure holds the AM and CBD particle numbers of `counts`."""
    n_am = int(np.sum(structure.phase == AM))
    n_cbd = len(structure.phase) - n_am
    if (n_am, n_cbd) != (counts.n_am, counts.n_cbd):
        raise InputError(
            f"structure holds {n_am} AM and {n_cbd} CBD particles, "
            f"the formulation {counts.n_am} and {counts.n_cbd}"
        )


def electrode_outcomes(
    calendered: ElectrodeStructure,
    dried: ElectrodeStructure,
    counts: ParticleCounts,
    material: ElectrodeMaterial,
    *,
    metrics: bool = True,
    cbd_transport: str = "bruggeman",
) -> dict[str, float]:
    """film_outcomes of the calendered film at its thickness (the plate's), dried_thickness_um and
    dried_porosity of the dried film, and with `metrics` the voxel METRIC_OUTCOMES."""
    check_counts(dried, counts)
    state, box = particle_state(calendered, dried.radius_um, material)
    area_m2 = float(box.length[0] * box.length[1])
    out = film_outcomes(state, counts, material, area_m2, calendered.thickness_um * 1e-6)
    dried_state, _ = particle_state(dried, dried.radius_um, material)
    dried_film = film_outcomes(dried_state, counts, material, area_m2)
    out.update(dried_thickness_um=dried_film["thickness_um"], dried_porosity=dried_film["porosity"])
    if metrics:
        out.update(structure_metrics(voxel_image(state, box, material), material, cbd_transport))
    return out


def measured_prediction(
    prediction: CalenderingPrediction,
    dried: ElectrodeStructure,
    counts: ParticleCounts,
    material: ElectrodeMaterial,
    *,
    metrics: bool = True,
    cbd_transport: str = "bruggeman",
) -> tuple[dict[str, float], ElectrodeStructure]:
    """The calendering model's electrode and its outcomes (`electrode_outcomes`, with the model's
    spring_back_pct): what the surrogate kind, and the paml kind with `calendering: surrogate`, report."""
    calendered = prediction.structure()
    outcomes = electrode_outcomes(
        calendered, dried, counts, material, metrics=metrics, cbd_transport=cbd_transport
    )
    outcomes["spring_back_pct"] = prediction.spring_back_pct
    return outcomes, calendered
