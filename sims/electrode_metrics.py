"""Functional metrics of a simulated electrode: its particles voxelized, then transport and interfaces.

`voxel_image` paints the DEM spheres into a labelled image (VOXEL_SIZE_UM, periodic in x and y; the
CBD phase takes the particles' mean nanoporosity, as densified by calendering); `structure_metrics`
measures METRIC_OUTCOMES on it.

CBD transport (`cbd_transport`): the electrolyte fills the CBD's nanopores, so the CBD conducts
with D_CBD / D = its nanoporosity^1.5 ("bruggeman", the default), not at all ("blocking"), or at
a given "D_rel=<value>". Default argued: at nanoporosities of 0.4-0.47 the nanopores percolate and
a Bruggeman share is the standard homogenised treatment (the LRCS DEM electrodes, TauFactor's
multi-phase solver); tomography-based tortuosities computed so agree with the geometry, while
impedance measurements on the same electrodes give higher values, which Landesfeind et al.
(J. Electrochem. Soc. 165 (2018) A469) attribute mostly to binder blocking the pores. The blocking
value is therefore reported beside it in every run as the upper bound that impedance-based data
approach; a user with a measured CBD diffusivity gives D_rel.
"""

from __future__ import annotations

import dataclasses
import logging
import math

import numpy as np

from sims.dem.state import Box, ParticleState
from sims.errors import PhysicalInputError, SimulationFailed
from sims.materials import ElectrodeMaterial
from sims.metrics import VoxelImage, measure, tortuosity, voxelize_spheres
from sims.metrics.porosity import electrode_labels
from sims.metrics.voxelize import AM, CBD, PORE
from sims.protocols.contact_tables import AM_TYPE
from sims.protocols.densification import mean_cbd_nanoporosity

log = logging.getLogger(__name__)

METRIC_OUTCOMES = (
    "tortuosity_factor",
    "tortuosity_factor_cbd_blocking",
    "tortuosity_factor_x",
    "tortuosity_factor_y",
    "effective_diffusivity_x",
    "effective_diffusivity_y",
    "effective_diffusivity_z",
    "geometric_tortuosity_z",
    "specific_surface_um_inv",
    "am_cbd_contact_um_inv",
    "am_pore_surface_um_inv",
)
VOXEL_SIZE_UM = 0.5  # below half the CBD diameter


def densified(material: ElectrodeMaterial, cbd_nanoporosity: float) -> ElectrodeMaterial:
    """`material` with its CBD at another nanoporosity (same skeleton, so a denser particle)."""
    if not math.isfinite(cbd_nanoporosity):
        return material
    density = material.cbd_solid_density_g_cm3 * (1.0 - cbd_nanoporosity)
    cbd = dataclasses.replace(material.cbd, nanoporosity=cbd_nanoporosity, density_g_cm3=density)
    return dataclasses.replace(material, cbd=cbd)


def voxel_image(state: ParticleState, box: Box, material: ElectrodeMaterial) -> VoxelImage:
    """The particles voxelized (VOXEL_SIZE_UM, periodic in x and y) as a labelled metrics image; the
    CBD phase takes the particles' mean nanoporosity."""
    phases = np.where(state.type_id == AM_TYPE, AM, CBD)
    lateral_um = (box.length[0] * 1e6, box.length[1] * 1e6)
    eps = mean_cbd_nanoporosity(state, 1000.0 * material.cbd_solid_density_g_cm3)
    return voxelize_spheres(
        state.position * 1e6,
        state.radius * 1e6,
        phases,
        lateral_um,
        VOXEL_SIZE_UM,
        material=densified(material, eps),
    )


def cbd_relative_diffusivity(cbd_transport: str, nanoporosity: float) -> float:
    """D_CBD / D of the electrolyte in the CBD for a `cbd_transport` choice (module doc):
    "bruggeman" (nanoporosity^1.5), "blocking" (0) or "D_rel=<value>" (value in [0, 1])."""
    choice = str(cbd_transport).strip().lower()
    if choice == "bruggeman":
        return nanoporosity**1.5
    if choice == "blocking":
        return 0.0
    if choice.startswith("d_rel="):
        try:
            value = float(choice.split("=", 1)[1])
        except ValueError:
            value = float("nan")
        if 0.0 <= value <= 1.0:
            return value
    raise PhysicalInputError(
        f"cbd_transport must be 'bruggeman', 'blocking' or 'D_rel=<value in [0, 1]>', got {cbd_transport!r}"
    )


def structure_metrics(
    image: VoxelImage, material: ElectrodeMaterial, cbd_transport: str = "bruggeman"
) -> dict[str, float]:
    """Functional metrics of a voxelized electrode (METRIC_OUTCOMES): transport of the electrolyte
    along x, y and z (pores conduct with D, CBD with D times cbd_relative_diffusivity at the
    image's CBD nanoporosity), the tortuosity factor through the thickness with a blocking CBD
    (tortuosity_factor_cbd_blocking), geometric tortuosity through the thickness, interface areas.
    A non-percolating axis gives an infinite tortuosity factor and zero diffusivity (logged), never
    NaN; an unconverged solve raises SimulationFailed.
    `material` is kept for the callers; the CBD properties are the image's."""
    d_cbd = cbd_relative_diffusivity(cbd_transport, image.cbd_nanoporosity)
    found = measure(image, axes="xyz", geometric_axes="z", phase_diffusivity={PORE: 1.0, CBD: d_cbd})
    for note in found.notes:
        log.warning("metrics: %s", note)
    tau = found.tortuosity
    if d_cbd == 0.0:
        blocking_result = tau["z"]
    else:
        img = dataclasses.replace(image, labels=electrode_labels(image))
        blocking_result = tortuosity(img, "z", phase_diffusivity={PORE: 1.0, CBD: 0.0})
    blocking = blocking_result.tortuosity_factor
    unconverged = [
        f"{a}: {r.note}" for a, r in (*tau.items(), ("z blocking", blocking_result)) if not r.converged
    ]
    if unconverged:  # numbers of an unfinished solve must not reach a campaign
        raise SimulationFailed(f"tortuosity solve {'; '.join(unconverged)}")
    volume_um3 = electrode_labels(image).size * image.voxel_size_um**3  # as measure(): cut above the film
    return {
        "tortuosity_factor": tau["z"].tortuosity_factor,
        "tortuosity_factor_cbd_blocking": blocking,
        "tortuosity_factor_x": tau["x"].tortuosity_factor,
        "tortuosity_factor_y": tau["y"].tortuosity_factor,
        "effective_diffusivity_x": tau["x"].effective_diffusivity_ratio,
        "effective_diffusivity_y": tau["y"].effective_diffusivity_ratio,
        "effective_diffusivity_z": tau["z"].effective_diffusivity_ratio,
        "geometric_tortuosity_z": found.geometric["z"].mean_tortuosity,
        "specific_surface_um_inv": found.surfaces.specific_surface_area_per_um,
        "am_cbd_contact_um_inv": found.surfaces.am_cbd_area_um2 / volume_um3,
        "am_pore_surface_um_inv": found.surfaces.am_pore_area_um2 / volume_um3,
    }
