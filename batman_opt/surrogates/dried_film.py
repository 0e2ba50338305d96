"""What PAML's dried film is judged by against the DEM's: porosity, density, tortuosity factor and
effective diffusivity through the thickness (voxel metrics of sims.electrode_metrics), the radial
distribution function of the particle centres (sims.metrics, periodic in x and y) and the largest
overlap."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sims.dem.state import Box, ParticleState
from sims.electrode import film_outcomes
from sims.electrode_metrics import structure_metrics, voxel_image
from sims.materials import ElectrodeMaterial
from sims.metrics import radial_distribution
from sims.protocols.packing import ParticleCounts

RDF_BINS = 40
RDF_R_MAX_UM = 10.0  # about two AM diameters (capped at half the box)


@dataclass(frozen=True)
class DriedFilm:
    """A dried film's figures: porosity (-), density (g/cm3), tortuosity factor and D_eff/D through
    the thickness, g(r) of the centres on RDF_BINS bins, and its largest overlap / smaller radius."""

    porosity: float
    density_g_cm3: float
    tortuosity_factor: float
    effective_diffusivity: float
    rdf: np.ndarray
    max_overlap: float


def dried_film(
    state: ParticleState, box: Box, counts: ParticleCounts, material: ElectrodeMaterial, max_overlap: float
) -> DriedFilm:
    """The figures of a dried film (module doc)."""
    area = float(box.length[0] * box.length[1])
    film = film_outcomes(state, counts, material, area)
    metrics = structure_metrics(voxel_image(state, box, material), material)
    lateral_um = (1e6 * box.length[0], 1e6 * box.length[1])
    rdf = radial_distribution(
        1e6 * state.position,
        lateral_um,
        film["thickness_um"],
        min(RDF_R_MAX_UM, 0.5 * min(lateral_um)),
        RDF_BINS,
    )
    return DriedFilm(
        film["porosity"],
        film["density_g_cm3"],
        metrics["tortuosity_factor"],
        metrics["effective_diffusivity_z"],
        rdf.g,
        max_overlap,
    )


def film_errors(film: DriedFilm, reference: DriedFilm) -> dict[str, float]:
    """Errors of `film` against `reference`: porosity (absolute), density, tortuosity factor and
    effective diffusivity (relative), g(r) (root mean square and largest difference over the bins)
    and the films' largest overlaps."""
    dg = film.rdf - reference.rdf
    return {
        "porosity_abs": abs(film.porosity - reference.porosity),
        "density_rel": abs(film.density_g_cm3 / reference.density_g_cm3 - 1.0),
        "tortuosity_factor_rel": abs(film.tortuosity_factor / reference.tortuosity_factor - 1.0),
        "effective_diffusivity_rel": abs(film.effective_diffusivity / reference.effective_diffusivity - 1.0),
        "rdf_rms": float(np.sqrt(np.mean(dg**2))),
        "rdf_max": float(np.max(np.abs(dg))),
        "max_overlap": film.max_overlap,
        "reference_max_overlap": reference.max_overlap,
    }
