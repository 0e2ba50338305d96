"""Materials of electrode slurries: solid phases, solvents and the electrode families built from them.

One place for every material constant. Densities in g/cm3, sizes in um, elastic moduli in Pa,
cohesion energy densities in J/m3 (LIGGGHTS' sjkr2 parameter). Values with a source say so; the
others are engineering estimates of the right order, flagged as such.
"""

from __future__ import annotations

from dataclasses import dataclass

from sims.errors import PhysicalInputError


@dataclass(frozen=True)
class SolidPhase:
    """A solid phase of the electrode, as DEM particles and as a voxel phase.

    `density_g_cm3` is the density of one (effective) particle, nanopores included;
    `nanoporosity` is the pore volume fraction inside it (CBD), 0 for dense particles.
    `diameters_um` and `volume_fractions` give the particle size distribution (PSD).
    `yield_pressure_pa` is Thornton's limiting contact pressure of the elastic-plastic DEM law
    (inf: purely elastic Hertz contacts).
    """

    name: str
    density_g_cm3: float
    diameters_um: tuple[float, ...]
    volume_fractions: tuple[float, ...]
    young_modulus_pa: float
    poisson_ratio: float
    restitution: float
    friction: float
    cohesion_energy_density_j_m3: float
    nanoporosity: float = 0.0
    yield_pressure_pa: float = float("inf")

    def __post_init__(self) -> None:
        if len(self.diameters_um) != len(self.volume_fractions):
            raise PhysicalInputError(f"{self.name}: diameters_um and volume_fractions differ in length")
        if abs(sum(self.volume_fractions) - 1.0) > 1e-6:
            raise PhysicalInputError(f"{self.name}: volume_fractions must sum to 1")

    @property
    def mean_diameter_um(self) -> float:
        """Volume-weighted mean particle diameter (um)."""
        return sum(d * f for d, f in zip(self.diameters_um, self.volume_fractions, strict=True))


@dataclass(frozen=True)
class Solvent:
    """A slurry solvent: density (g/cm3), viscosity (Pa s) and surface tension (N/m) at 25 C."""

    name: str
    density_g_cm3: float
    viscosity_pa_s: float = 1e-3
    surface_tension_n_m: float = 0.05


@dataclass(frozen=True)
class WallMaterial:
    """A surface the particles touch: current collector foil, calender plate or roll (SI units)."""

    name: str
    density_g_cm3: float
    young_modulus_pa: float
    poisson_ratio: float
    restitution: float
    friction: float


@dataclass(frozen=True)
class ElectrodeMaterial:
    """An electrode family: active material (AM), carbon-binder domain (CBD) and solvent.

    `binder_fraction_of_cbd` is the binder mass share of the CBD solids (rest: carbon additive).
    `am_mass_fraction` is the usual AM mass share of the solids (the default formulation).
    """

    name: str
    active: SolidPhase
    cbd: SolidPhase
    solvent: Solvent
    binder_fraction_of_cbd: float = 0.5
    am_mass_fraction: float = 0.96  # 96:2:2 AM:carbon:binder, common to NMC and graphite electrodes

    @property
    def cbd_solid_density_g_cm3(self) -> float:
        """Density of the CBD skeleton without its nanopores (g/cm3)."""
        return self.cbd.density_g_cm3 / (1.0 - self.cbd.nanoporosity)


# N-methyl-2-pyrrolidone at 25 C: 1.67 mPa s, 40.7 mN/m (CRC Handbook); water: 0.89 mPa s, 72.0 mN/m.
NMP = Solvent("NMP", 1.028, viscosity_pa_s=1.67e-3, surface_tension_n_m=0.0407)
WATER = Solvent("water", 0.997, viscosity_pa_s=0.89e-3, surface_tension_n_m=0.0720)

# Current collector foil (aluminium, cathodes; copper foils of anodes are stiffer still) and the
# hardened steel of calender plates and rolls; textbook moduli. Wall restitution and friction with
# the particles are estimates (order of the particle-particle values).
ALUMINIUM_FOIL = WallMaterial("aluminium", 2.70, 70e9, 0.33, 0.5, 0.3)
STEEL_TOOL = WallMaterial("steel", 7.85, 210e9, 0.30, 0.5, 0.3)

# NMC111 (LiNi1/3Mn1/3Co1/3O2): crystallographic density 4.75-4.78 g/cm3; the PSD diameters are the
# ones of the LRCS DEM electrodes (Ngandjong et al., J. Power Sources 485 (2021) 229320); the volume
# split among them is an estimate centred near d50 = 5-6 um. E of order 200 GPa (issue; secondary
# particles are softer than the single crystal).
NMC111_AM = SolidPhase(
    name="NMC111",
    density_g_cm3=4.75,
    diameters_um=(2.5, 3.5, 4.5, 5.86, 8.28, 10.35),
    volume_fractions=(0.04, 0.10, 0.18, 0.28, 0.24, 0.16),
    young_modulus_pa=200e9,
    poisson_ratio=0.3,
    restitution=0.5,
    friction=0.3,
    cohesion_energy_density_j_m3=0.0,
    yield_pressure_pa=1.0e9,  # estimate: nanoindentation hardness of secondary NMC particles ~1 GPa
)

# Carbon-binder domain as effective particles: ~1.3 um when dried, ~47 % nanoporosity (Ngandjong
# 2021). Skeleton: carbon black (~1.9 g/cm3) + PVDF (1.78 g/cm3) 1:1 by mass -> ~1.84 g/cm3, so an
# effective particle weighs 1.84 * (1 - 0.47) = 0.975 g/cm3. E of order 2 GPa (issue). The sjkr2
# cohesion energy density is an estimate (binder bridges), tuned so dried films hold together.
CBD_PVDF_C = SolidPhase(
    name="CBD",
    density_g_cm3=0.975,
    diameters_um=(1.3,),
    volume_fractions=(1.0,),
    young_modulus_pa=2e9,
    poisson_ratio=0.3,
    restitution=0.3,
    friction=0.5,
    cohesion_energy_density_j_m3=2.0e5,
    nanoporosity=0.47,
    yield_pressure_pa=5.0e7,  # estimate: ~3x the ~15-20 MPa yield stress of a porous PVDF/carbon phase
)

# Graphite (natural flake, spheroidised): 2.24 g/cm3 (theoretical 2.26); d50 ~ 15 um.
# E of spheroidised particles: order 10-30 GPa (estimate).
GRAPHITE_AM = SolidPhase(
    name="graphite",
    density_g_cm3=2.24,
    diameters_um=(8.0, 12.0, 16.0, 20.0, 26.0),
    volume_fractions=(0.10, 0.25, 0.30, 0.22, 0.13),
    young_modulus_pa=20e9,
    poisson_ratio=0.3,
    restitution=0.5,
    friction=0.3,
    cohesion_energy_density_j_m3=0.0,
    yield_pressure_pa=3.0e8,  # estimate: spheroidised graphite deforms plastically at a few 100 MPa
)

# Silicon-graphite blend (10 wt% Si, 2.33 g/cm3, in graphite): 1 / (0.9/2.24 + 0.1/2.33) = 2.248 g/cm3.
# Treated as one effective AM phase with a graphite-like PSD and a stiffer mean modulus (estimate).
SIGR_AM = SolidPhase(
    name="SiGr",
    density_g_cm3=2.248,
    diameters_um=(6.0, 10.0, 14.0, 18.0, 24.0),
    volume_fractions=(0.10, 0.25, 0.30, 0.22, 0.13),
    young_modulus_pa=35e9,
    poisson_ratio=0.28,
    restitution=0.5,
    friction=0.3,
    cohesion_energy_density_j_m3=0.0,
    yield_pressure_pa=4.0e8,  # estimate: graphite matrix, stiffened by Si
)

# Anode CBD: carbon black + CMC/SBR (~1.6 g/cm3 skeleton), same effective-particle treatment.
CBD_CMC_SBR = SolidPhase(
    name="CBD",
    density_g_cm3=1.6 * (1.0 - 0.47),
    diameters_um=(1.3,),
    volume_fractions=(1.0,),
    young_modulus_pa=1e9,
    poisson_ratio=0.3,
    restitution=0.3,
    friction=0.5,
    cohesion_energy_density_j_m3=2.0e5,
    nanoporosity=0.47,
    yield_pressure_pa=5.0e7,  # estimate, as the PVDF/carbon CBD
)

MATERIALS: dict[str, ElectrodeMaterial] = {
    "NMC111": ElectrodeMaterial("NMC111", NMC111_AM, CBD_PVDF_C, NMP),
    "graphite": ElectrodeMaterial("graphite", GRAPHITE_AM, CBD_CMC_SBR, WATER),
    "SiGr": ElectrodeMaterial("SiGr", SIGR_AM, CBD_CMC_SBR, WATER),
}


def get_material(name: str) -> ElectrodeMaterial:
    """The electrode material called `name` (one of MATERIALS), or a PhysicalInputError naming it."""
    try:
        return MATERIALS[name]
    except KeyError:
        raise PhysicalInputError(f"unknown material {name!r}; known: {', '.join(MATERIALS)}") from None
