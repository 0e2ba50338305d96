"""Closed-form process model of an electrode: comma coating, drying and calendering (milliseconds).

The cheap evaluator every campaign can use. From five recipe inputs it returns the wet film, the
dried and calendered electrode (thickness, porosity, density, mass loading), the spring-back and a
Bruggeman estimate of the tortuosity factor. All functions work on numpy arrays (one entry per
recipe); `evaluate` is the one-recipe entry point of the evaluator contract.

Physics, step by step (volumes per unit area are lengths, in um):
1. Coating: a comma bar meters the film as a drag (Couette) flow, half the gap, plus a pressure-
   driven flow from the slurry pool whose flux does not depend on the web speed, so
   h_wet / gap = 1/2 + (r_lab - 1/2) * U_lab / U, with r_lab fitted at the lab speed U_lab.
2. Mass balance: loading = h_wet * slurry density * solid content (solids per area).
3. Drying: AM particles and CBD "effective particles" (nanoporous, see sims.materials) pack at a
   fitted fraction; the measured thickness adds one mean AM diameter for the particle-scale rough
   top surface and the loose wall layer at the foil, which is why thin films are more porous.
4. Calendering: the thickness reduction `compression_ratio` removes pore volume at constant solid
   volume until the effective particles near a dense limit, where a smooth minimum saturates it;
   the peak pressure grows as a power of the compaction (the fraction of the way to the dense
   limit) times the Reuss modulus of the phases, and they spring back as Hertzian contacts unload,
   k (P / E_Reuss)^(2/3). These five constants are fitted on DEM runs of the same recipes
   (benchmarks/process_vs_dem.py), so the two evaluators share one calendering physics.
5. Tortuosity factor: tau = eps_macro ** (1 - alpha) over the pores outside the effective particles,
   alpha = 1.5 (Bruggeman, spheres) raised by the CBD's share of the non-AM volume.

Two coefficients are fitted to the 82 NMC111 recipes of Cunha et al. (Batteries & Supercaps 2020),
`WET_TO_GAP_RATIO_LAB` and `DRIED_PACKING_FRACTION` (`benchmarks/process_vs_lab.py` refits them and
reports R2 on the lab data, which are uncalendered); the calendering constants are fitted on the
DEM; every other constant is physics or a flagged estimate.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from sims.errors import PhysicalInputError
from sims.materials import ElectrodeMaterial, get_material

# --- fitted on the lab data, 2026-11-24: `python benchmarks/process_vs_lab.py` ("fitted_coefficients"),
# least squares on the 82 recipe means of ../shared/datasets/nmc_cunha2020 (loading first, linear in
# the ratio; then porosity, 1-D in the packing), rounded to 4 digits.
WET_TO_GAP_RATIO_LAB = 0.8873  # wet film / comma gap at the lab speed, 0.3 m/min
DRIED_PACKING_FRACTION = 0.6030  # volume fraction of AM + effective CBD particles in the dried bulk

# --- physics and estimates (not fitted)
LAB_COATING_SPEED_M_MIN = 0.3  # speed of the lab line the ratio above was measured on (5 mm/s)
COUETTE_RATIO = 0.5  # a plate dragged under a fixed bar carries half the gap (linear velocity profile)
# --- calendering law (benchmarks/process_vs_dem.py, 2026-12-01: 60-AM DEM RVEs, AM 0.90/0.95/0.97 x
# compression 0.12/0.24/0.35 x 2 seeds). The peak pressure is P = K E_R compaction^n (E_R: Reuss
# modulus of the AM and CBD by volume share; the soft CBD in series sets the bed's stiffness: the
# DEM's pressure at 0.35 scales with E_R from 90 to 97 % AM within 1 %), the spring-back
# s = k (P / E_R)^(2/3) (Hertzian unloading); K, n and k are least-squares fits on the DEM means
# ("fitted"). The dense limit of the effective particles (AM + nanoporous CBD) is not reached by
# the DEM up to 0.35 (a free fit runs to its bounds), so it is held at the lab's flattening,
# 3.5-3.6 g/cm3 for 96:2:2 NMC111 (effective packing ~0.90), with a sharp corner.
CALENDERED_MAX_PACKING = 0.90
SATURATION_EXPONENT = 12.0
CALENDERING_PRESSURE_MODULUS_RATIO = 0.0143
CALENDERING_PRESSURE_EXPONENT = 2.575
SPRING_BACK_COEFFICIENT = 0.473
BRUGGEMAN_ALPHA_SPHERES = 1.5  # D_eff / D = eps ** alpha for a bed of spheres (Bruggeman)


@dataclass(frozen=True)
class InputSpec:
    """A recipe input: its unit, default (None: required) and the physically allowed interval."""

    unit: str
    default: float | None
    low: float
    high: float
    low_inclusive: bool
    high_inclusive: bool
    description: str

    def contains(self, value: NDArray[np.float64]) -> NDArray[np.bool_]:
        above = value >= self.low if self.low_inclusive else value > self.low
        below = value <= self.high if self.high_inclusive else value < self.high
        return above & below

    @property
    def interval(self) -> str:
        opening, closing = "[" if self.low_inclusive else "(", "]" if self.high_inclusive else ")"
        return f"{opening}{self.low:g}, {self.high:g}{closing}"


INPUTS: dict[str, InputSpec] = {
    "am_mass_fraction": InputSpec(
        "-", None, 0.0, 1.0, False, True, "AM mass share of the solids; default: the material's formulation"
    ),
    "solid_content": InputSpec("-", None, 0.0, 1.0, False, False, "solids mass fraction of the slurry"),
    "comma_gap_um": InputSpec("um", None, 0.0, math.inf, False, False, "gap between comma bar and foil"),
    "coating_speed_m_min": InputSpec(
        "m/min", LAB_COATING_SPEED_M_MIN, 0.0, math.inf, False, False, "web speed under the comma bar"
    ),
    "compression_ratio": InputSpec(
        "-", 0.0, 0.0, 1.0, True, False, "calendering thickness reduction, 1 - gap/dried thickness; 0: none"
    ),
}
REQUIRED_INPUTS = ("solid_content", "comma_gap_um")

OUTCOMES: tuple[str, ...] = (
    "wet_thickness_um",
    "mass_loading_mg_cm2",
    "thickness_um",
    "porosity",
    "density_g_cm3",
    "spring_back_pct",
    "max_pressure_mpa",
    "tortuosity_factor",
)

OUTCOME_NOTES: dict[str, str] = {
    "wet_thickness_um": "wet film after the comma bar (um): Couette half-gap plus a speed-independent "
    "pressure flux, ratio fitted at 0.3 m/min; the speed dependence is theory, not fitted",
    "mass_loading_mg_cm2": "solids (AM + carbon + binder) per area (mg/cm2), mass balance of the wet film",
    "thickness_um": "coating thickness without the foil after calendering and spring-back (um)",
    "porosity": "pore volume fraction, CBD nanopores included (as measured from skeleton densities)",
    "density_g_cm3": "coating density, mass loading / thickness (g/cm3)",
    "spring_back_pct": "elastic recovery after the rolls, % of the compressed thickness: Hertzian "
    "unloading, k (P / E)^(2/3) with the AM and CBD moduli in series, k fitted on DEM runs",
    "max_pressure_mpa": "peak calendering pressure (MPa), K E_Reuss compaction^n fitted on DEM runs",
    "tortuosity_factor": "Bruggeman estimate eps_macro**(1-alpha), alpha from CBD content; "
    "not a transport solve",
}


@dataclass(frozen=True)
class Formulation:
    """Volumes of the phases per gram of solids (cm3/g), from the material densities.

    `am`: active material; `cbd_skeleton`: carbon + binder without nanopores; `cbd_effective`:
    the CBD as effective particles with their nanopores. Arrays of shape (n,) or scalars.
    """

    am: NDArray[np.float64]
    cbd_skeleton: NDArray[np.float64]
    cbd_effective: NDArray[np.float64]

    @classmethod
    def of(cls, material: ElectrodeMaterial, am_mass_fraction: ArrayLike) -> Formulation:
        w = np.asarray(am_mass_fraction, dtype=float)
        return cls(
            am=w / material.active.density_g_cm3,
            cbd_skeleton=(1.0 - w) / material.cbd_solid_density_g_cm3,
            cbd_effective=(1.0 - w) / material.cbd.density_g_cm3,
        )

    @property
    def skeleton(self) -> NDArray[np.float64]:
        """Solid volume without any pore per gram of solids (cm3/g)."""
        return self.am + self.cbd_skeleton

    @property
    def effective(self) -> NDArray[np.float64]:
        """Volume of the effective particles (AM + nanoporous CBD) per gram of solids (cm3/g)."""
        return self.am + self.cbd_effective


def slurry_density_g_cm3(
    material: ElectrodeMaterial, formulation: Formulation, solid_content: ArrayLike
) -> NDArray[np.float64]:
    """Density of the slurry (g/cm3), ideal mixing of solids skeleton and solvent volumes."""
    s = np.asarray(solid_content, dtype=float)
    return 1.0 / (s * formulation.skeleton + (1.0 - s) / material.solvent.density_g_cm3)


def wet_thickness_um(
    comma_gap_um: ArrayLike, coating_speed_m_min: ArrayLike, ratio_lab: float
) -> NDArray[np.float64]:
    """Wet film thickness (um): Couette half-gap plus a pool-driven flux that thins as the web speeds up.

    The pool-driven flux per unit width, (ratio_lab - 1/2) * U_lab * gap, is calibrated at the lab
    speed. It is taken independent of the slurry: a Poiseuille flux ~ 1/viscosity, with viscosity
    from a Krieger-Dougherty law of the solids volume fraction, lowered the lab R2 of the loading
    from 0.98 to 0.955. Not captured: the lab ratio falls from ~1.1 at 75-100 um gaps to ~0.86 at 400.
    """
    gap = np.asarray(comma_gap_um, dtype=float)
    speed = np.asarray(coating_speed_m_min, dtype=float)
    return gap * (COUETTE_RATIO + (ratio_lab - COUETTE_RATIO) * LAB_COATING_SPEED_M_MIN / speed)


def calendered_void_ratio(
    void_ratio_dried: NDArray[np.float64],
    compression_ratio: ArrayLike,
    void_ratio_min: float,
    saturation_exponent: float = SATURATION_EXPONENT,
) -> NDArray[np.float64]:
    """Void ratio of the effective particles under the rolls, e = pore volume / particle volume.

    Volume conservation of the solids gives e_cmd = (1 + e0)(1 - c) - 1; the achieved reduction
    e0 - e is the smooth minimum (exponent saturation_exponent) of e0 - e_cmd and e0 - e_min, so it
    follows volume conservation at small c and never passes the dense limit.
    """
    reduction_cmd = (1.0 + void_ratio_dried) * np.asarray(compression_ratio, dtype=float)
    reduction_max = void_ratio_dried - void_ratio_min
    p = saturation_exponent
    return void_ratio_dried - reduction_cmd / (1.0 + (reduction_cmd / reduction_max) ** p) ** (1.0 / p)


def process_arrays(
    am_mass_fraction: ArrayLike,
    solid_content: ArrayLike,
    comma_gap_um: ArrayLike,
    coating_speed_m_min: ArrayLike,
    compression_ratio: ArrayLike,
    material: ElectrodeMaterial,
    *,
    wet_to_gap_ratio_lab: float = WET_TO_GAP_RATIO_LAB,
    dried_packing_fraction: float = DRIED_PACKING_FRACTION,
    calendered_max_packing: float = CALENDERED_MAX_PACKING,
    saturation_exponent: float = SATURATION_EXPONENT,
    pressure_modulus_ratio: float = CALENDERING_PRESSURE_MODULUS_RATIO,
    pressure_exponent: float = CALENDERING_PRESSURE_EXPONENT,
    spring_back_coefficient: float = SPRING_BACK_COEFFICIENT,
) -> dict[str, NDArray[np.float64]]:
    """Every outcome of OUTCOMES for arrays of recipes (inputs broadcast together, no validation).

    The keyword coefficients default to the fitted constants; the benchmarks pass others to refit
    (process_vs_lab.py the coating and drying ones, process_vs_dem.py the calendering ones).
    """
    form = Formulation.of(material, am_mass_fraction)
    s = np.asarray(solid_content, dtype=float)
    h_wet = wet_thickness_um(comma_gap_um, coating_speed_m_min, wet_to_gap_ratio_lab)
    loading = h_wet * slurry_density_g_cm3(material, form, s) * s / 10.0  # um * g/cm3 -> mg/cm2

    # Drying: thickness of the packed bulk plus the rough surface and foil wall layers; a film whose
    # solids are already jammed when wet (pastes, far above usual solid contents) cannot swell.
    solids_um = loading * 10.0  # mass per area * (cm3/g of solids) -> um of volume per area
    skeleton_um = solids_um * form.skeleton
    effective_um = solids_um * form.effective
    dried_um = np.minimum(effective_um / dried_packing_fraction + material.active.mean_diameter_um, h_wet)
    void_ratio_dried = dried_um / effective_um - 1.0

    # Calendering at constant solid volume, then elastic spring-back of the compliant CBD.
    void_ratio_min = 1.0 / calendered_max_packing - 1.0
    void_ratio = calendered_void_ratio(
        void_ratio_dried, compression_ratio, void_ratio_min, saturation_exponent
    )
    compaction = (void_ratio_dried - void_ratio) / (void_ratio_dried - void_ratio_min)  # 0..1
    cbd_share = form.cbd_effective / form.effective
    # Elastic compliance of the phases in series (Reuss), by volume share; the soft CBD dominates.
    compliance_per_pa = (
        cbd_share / material.cbd.young_modulus_pa + (1.0 - cbd_share) / material.active.young_modulus_pa
    )
    strain = pressure_modulus_ratio * np.maximum(compaction, 0.0) ** pressure_exponent  # P / E_R
    pressure_pa = strain / compliance_per_pa
    # the contacts unload along Hertz curves: the recovered strain grows as (P / E)^(2/3)
    spring_back = spring_back_coefficient * strain ** (2.0 / 3.0)
    thickness = effective_um * (1.0 + void_ratio) * (1.0 + spring_back)

    porosity = 1.0 - skeleton_um / thickness
    effective_fraction = effective_um / thickness
    macroporosity = 1.0 - effective_fraction
    cbd_fraction = effective_fraction * cbd_share
    alpha = BRUGGEMAN_ALPHA_SPHERES + cbd_fraction / (cbd_fraction + macroporosity)
    outcomes = {
        "wet_thickness_um": h_wet,
        "mass_loading_mg_cm2": loading,
        "thickness_um": thickness,
        "porosity": porosity,
        "density_g_cm3": loading / thickness * 10.0,  # mg/cm2 / um -> g/cm3
        "spring_back_pct": 100.0 * spring_back,
        "max_pressure_mpa": pressure_pa * 1e-6,
        "tortuosity_factor": macroporosity ** (1.0 - alpha),
    }
    shape = np.broadcast_shapes(*(np.shape(v) for v in outcomes.values()))
    return {name: np.broadcast_to(value, shape).copy() for name, value in outcomes.items()}


def _checked_columns(
    params: Mapping[str, ArrayLike], material: ElectrodeMaterial
) -> dict[str, NDArray[np.float64]]:
    """Inputs as float arrays with defaults filled in; PhysicalInputError names any bad one."""
    unknown = sorted(set(params) - set(INPUTS))
    if unknown:
        raise PhysicalInputError(f"unknown process input(s) {', '.join(unknown)}; known: {', '.join(INPUTS)}")
    defaults = {name: spec.default for name, spec in INPUTS.items() if spec.default is not None}
    defaults["am_mass_fraction"] = material.am_mass_fraction
    columns = {}
    for name, spec in INPUTS.items():
        if name not in params:
            if name in REQUIRED_INPUTS:
                raise PhysicalInputError(f"{name} is required ({spec.description}, {spec.unit})")
            columns[name] = np.asarray(defaults[name], dtype=float)
            continue
        try:
            value = np.asarray(params[name], dtype=float)
        except (TypeError, ValueError):
            raise PhysicalInputError(f"{name} must be a number, got {params[name]!r}") from None
        if not np.all(np.isfinite(value)) or not np.all(spec.contains(value)):
            raise PhysicalInputError(f"{name} = {params[name]!r} is outside {spec.interval} ({spec.unit})")
        columns[name] = value
    return columns


def evaluate_batch(
    params: Mapping[str, ArrayLike], material: str = "NMC111"
) -> dict[str, NDArray[np.float64]]:
    """Outcomes for many recipes at once: each input an array (or scalar) of shape (n,)."""
    mat = get_material(material)
    return process_arrays(**_checked_columns(params, mat), material=mat)


def evaluate(params: Mapping[str, float], material: str = "NMC111") -> dict[str, float]:
    """Outcomes (OUTCOMES, as floats) of one recipe given by the names of INPUTS.

    Missing inputs take their defaults (coating_speed_m_min 0.3, compression_ratio 0,
    am_mass_fraction the material's formulation); solid_content and comma_gap_um are required.
    """
    outcomes = evaluate_batch(params, material)
    return {name: float(outcomes[name]) for name in OUTCOMES}
