"""Cell performance of a simulated positive electrode through PyBaMM: the electrode as a parameter set
and a Doyle-Fuller-Newman discharge at several C-rates.

Mapping (`parameter_values`), starting from a published set (Chen2020, LG M50: NMC811 | graphite-SiOx)
whose chemistry (OCPs, kinetics, diffusivities, electrolyte) is kept; the positive electrode's
microstructure is replaced:
- "Positive electrode thickness [m]" = thickness_um (after calendering and spring-back);
- "Positive electrode porosity" = porosity (electrolyte-filled: macropores and CBD nanopores);
- "Positive electrode active material volume fraction" = density x AM mass fraction / AM density,
  so AM + CBD skeleton + pores fill the volume (refused when AM + pores exceed it);
- "Positive particle radius [m]" = half the AM's volume-weighted mean diameter (sims.materials);
- transport: the model option "transport efficiency" = "tortuosity factor" with
  "Positive electrode tortuosity factor (electrolyte)" = tortuosity_factor (TauFactor's definition,
  B = eps / tau, as sims.metrics computes it); the negative electrode and separator keep the
  published Bruggeman exponent as tau = eps^(1 - b); solid phases keep the published effective
  conductivities (tau_s = 1 - eps, i.e. efficiency 1 as Bruggeman b = 0 of the set).
- the negative electrode is scaled with the positive capacity so that the N/P ratio stays the
  published one (a cell designer would; otherwise a thick cathode would plate lithium), and
  "Nominal cell capacity [A.h]" with it (C-rates are of that capacity).
Given the published electrode, the mapping returns the published set (the round-trip test).

Stack: one repeat unit of PyBaMM's 1D cell, positive foil + positive coating + separator + negative
coating + negative foil, over the set's electrode area. Masses: the positive coating from its dry
density plus electrolyte (ELECTROLYTE_DENSITY_KG_M3) in its pores; the other layers with the set's
densities. Energies from the discharge from 100 % state of charge to the lower cut-off.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass

# PyBaMM asks on first use whether to send telemetry (10 s prompt): a campaign tool must not stop there
os.environ.setdefault("PYBAMM_DISABLE_TELEMETRY", "true")
import pybamm  # noqa: E402

from batman_opt.errors import InputError
from sims.materials import get_material

BASE_SET = "Chen2020"
MODEL_OPTIONS = {"transport efficiency": "tortuosity factor"}
C_RATES = (0.1, 1.0, 2.0)
ELECTROLYTE_DENSITY_KG_M3 = 1280.0  # 1 M LiPF6 in EC:EMC 3:7 at 25 C (about 1.28 g/cm3)
POSITIVE_MATERIALS = ("NMC111",)
OUTCOMES = (
    "cell_capacity_mah_cm2",
    "specific_energy_wh_kg",
    "energy_density_wh_l",
    "specific_energy_1c_wh_kg",
    "capacity_retention_2c",
    "dfn_wall_time_s",
)


@dataclass(frozen=True)
class PositiveElectrode:
    """A positive electrode as PyBaMM sees it (SI units; fractions of the coating volume).

    dry_density_kg_m3: coating mass (AM, carbon, binder) per coating volume, for the stack mass.
    """

    thickness_m: float
    porosity: float
    am_volume_fraction: float
    particle_radius_m: float
    tortuosity_factor: float
    dry_density_kg_m3: float

    def __post_init__(self) -> None:
        checks = {
            "thickness_m": self.thickness_m > 0,
            "porosity": 0 < self.porosity < 1,
            "am_volume_fraction": 0 < self.am_volume_fraction <= 1 - self.porosity + 1e-9,
            "particle_radius_m": self.particle_radius_m > 0,
            "tortuosity_factor": 1 <= self.tortuosity_factor < math.inf,
            "dry_density_kg_m3": self.dry_density_kg_m3 > 0,
        }
        for name, ok in checks.items():
            if not ok:
                raise InputError(
                    f"positive electrode: {name} = {getattr(self, name)!r} is outside its physical range"
                    + (f" (porosity {self.porosity:.3g})" if name == "am_volume_fraction" else "")
                )


def published_positive(base: str = BASE_SET) -> PositiveElectrode:
    """The positive electrode of a published set, as this module maps electrodes (the round trip's input)."""
    pv = pybamm.ParameterValues(base)
    eps = pv["Positive electrode porosity"]
    bruggeman = pv["Positive electrode Bruggeman coefficient (electrolyte)"]
    return PositiveElectrode(
        thickness_m=pv["Positive electrode thickness [m]"],
        porosity=eps,
        am_volume_fraction=pv["Positive electrode active material volume fraction"],
        particle_radius_m=pv["Positive particle radius [m]"],
        tortuosity_factor=eps ** (1.0 - bruggeman),
        dry_density_kg_m3=pv["Positive electrode density [kg.m-3]"] - eps * ELECTROLYTE_DENSITY_KG_M3,
    )


def positive_electrode(outcomes: Mapping[str, float], material: str = "NMC111") -> PositiveElectrode:
    """The positive electrode of a recipe's outcomes: thickness_um, porosity, density_g_cm3,
    tortuosity_factor, and am_mass_fraction when the recipe set it (else the material's)."""
    if material not in POSITIVE_MATERIALS:
        raise InputError(
            f"PyBaMM export maps positive electrodes ({', '.join(POSITIVE_MATERIALS)}), not {material!r}"
        )
    missing = [
        k for k in ("thickness_um", "porosity", "density_g_cm3", "tortuosity_factor") if k not in outcomes
    ]
    if missing:
        raise InputError(
            f"cell performance needs the outcomes {', '.join(missing)} (from the process or dem evaluator)"
        )
    mat = get_material(material)
    am_mass_fraction = float(outcomes.get("am_mass_fraction", mat.am_mass_fraction))
    density_kg_m3 = 1000.0 * float(outcomes["density_g_cm3"])
    return PositiveElectrode(
        thickness_m=1e-6 * float(outcomes["thickness_um"]),
        porosity=float(outcomes["porosity"]),
        am_volume_fraction=density_kg_m3 * am_mass_fraction / (1000.0 * mat.active.density_g_cm3),
        particle_radius_m=0.5e-6 * mat.active.mean_diameter_um,
        tortuosity_factor=float(outcomes["tortuosity_factor"]),
        dry_density_kg_m3=density_kg_m3,
    )


def parameter_values(electrode: PositiveElectrode, base: str = BASE_SET) -> pybamm.ParameterValues:
    """The published set with this positive electrode (module doc); use with MODEL_OPTIONS."""
    pv = pybamm.ParameterValues(base)
    scale = (electrode.am_volume_fraction * electrode.thickness_m) / (
        pv["Positive electrode active material volume fraction"] * pv["Positive electrode thickness [m]"]
    )
    tortuosity = {}
    for domain in ("Negative electrode", "Separator"):
        eps = pv[f"{domain} porosity"]
        tortuosity[f"{domain} tortuosity factor (electrolyte)"] = eps ** (
            1.0 - pv[f"{domain} Bruggeman coefficient (electrolyte)"]
        )
    pv.update(
        {
            "Positive electrode thickness [m]": electrode.thickness_m,
            "Positive electrode porosity": electrode.porosity,
            "Positive electrode active material volume fraction": electrode.am_volume_fraction,
            "Positive particle radius [m]": electrode.particle_radius_m,
            "Positive electrode density [kg.m-3]": electrode.dry_density_kg_m3
            + electrode.porosity * ELECTROLYTE_DENSITY_KG_M3,
            "Negative electrode thickness [m]": pv["Negative electrode thickness [m]"] * scale,
            "Nominal cell capacity [A.h]": pv["Nominal cell capacity [A.h]"] * scale,
            "Positive electrode tortuosity factor (electrolyte)": electrode.tortuosity_factor,
            "Positive electrode tortuosity factor (electrode)": 1.0 - electrode.porosity,
            "Negative electrode tortuosity factor (electrode)": 1.0 - pv["Negative electrode porosity"],
            **tortuosity,
        },
        check_already_exists=False,
    )
    return pv


@dataclass(frozen=True)
class Discharge:
    """One constant-current discharge from 100 % SOC to the lower cut-off (SI units, W h, A h)."""

    c_rate: float
    capacity_ah: float
    energy_wh: float
    time_s: list[float]
    voltage_v: list[float]
    wall_time_s: float


def discharge(
    pv: pybamm.ParameterValues, c_rate: float, options: Mapping[str, str] | None = None
) -> Discharge:
    """A DFN discharge at `c_rate` (of the nominal capacity) until the lower voltage cut-off."""
    pv = pv.copy()
    pv["Current function [A]"] = c_rate * pv["Nominal cell capacity [A.h]"]
    chosen = dict(MODEL_OPTIONS if options is None else options)
    model = pybamm.lithium_ion.DFN({**chosen, "calculate discharge energy": "true"})
    started = time.perf_counter()
    simulation = pybamm.Simulation(model, parameter_values=pv)
    solution = simulation.solve([0.0, 1.3 * 3600.0 / c_rate], initial_soc=1.0)
    wall = time.perf_counter() - started
    return Discharge(
        c_rate=c_rate,
        capacity_ah=float(solution["Discharge capacity [A.h]"].entries[-1]),
        energy_wh=float(solution["Discharge energy [W.h]"].entries[-1]),
        time_s=solution["Time [s]"].entries.tolist(),
        voltage_v=solution["Voltage [V]"].entries.tolist(),
        wall_time_s=wall,
    )


def stack(pv: pybamm.ParameterValues) -> tuple[float, float, float]:
    """Area (m2), thickness (m) and mass (kg) of the cell stack's repeat unit (module doc)."""
    layers = [
        ("Positive current collector", "Positive current collector"),
        ("Positive electrode", "Positive electrode"),
        ("Separator", "Separator"),
        ("Negative electrode", "Negative electrode"),
        ("Negative current collector", "Negative current collector"),
    ]
    area = pv["Electrode width [m]"] * pv["Electrode height [m]"]
    thickness = sum(pv[f"{name} thickness [m]"] for name, _ in layers)
    mass = area * sum(
        pv[f"{name} thickness [m]"] * pv[f"{density} density [kg.m-3]"] for name, density in layers
    )
    return area, thickness, mass


def cell_performance(outcomes: Mapping[str, float], material: str = "NMC111") -> dict[str, float]:
    """New outcomes (OUTCOMES) of an electrode's outcomes: DFN discharges at 0.1C, 1C and 2C.

    cell_capacity_mah_cm2 and specific_energy_wh_kg / energy_density_wh_l at 0.1C (stack repeat unit),
    specific_energy_1c_wh_kg, capacity_retention_2c = Q(2C) / Q(0.1C), dfn_wall_time_s: the three solves.
    """
    pv = parameter_values(positive_electrode(outcomes, material))
    runs = {c: discharge(pv, c) for c in C_RATES}
    area, thickness, mass = stack(pv)
    slow, one, fast = (runs[c] for c in C_RATES)
    return {
        "cell_capacity_mah_cm2": slow.capacity_ah * 1e3 / (area * 1e4),
        "specific_energy_wh_kg": slow.energy_wh / mass,
        "energy_density_wh_l": slow.energy_wh / (area * thickness * 1e3),
        "specific_energy_1c_wh_kg": one.energy_wh / mass,
        "capacity_retention_2c": fast.capacity_ah / slow.capacity_ah,
        "dfn_wall_time_s": sum(r.wall_time_s for r in runs.values()),
    }
