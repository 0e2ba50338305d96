"""Per-type-pair contact parameters, mixed from material properties as LIGGGHTS does.

For types i, j (SI units):
    Y*_ij = 1 / ((1 - nu_i^2) / E_i + (1 - nu_j^2) / E_j)                     effective Young modulus
    G*_ij = 1 / (2 (2 - nu_i)(1 + nu_i) / E_i + 2 (2 - nu_j)(1 + nu_j) / E_j)  effective shear modulus
R* = r_i r_j / (r_i + r_j) and m* = m_i m_j / (m_i + m_j) are per contact (for a wall: r_i, m_i).

Properties given per type are mixed per pair: restitution, friction and rolling friction by the
arithmetic mean, the cohesion energy density by the maximum (a binder surface glues whatever it
touches), the yield pressure by the minimum (the softer partner yields). A (T, T) array instead of a
(T,) one sets the pair values directly, as LIGGGHTS' `peratomtypepair` properties do.

The Hertz damping follows LIGGGHTS' hertz model, gamma_n = 2 sqrt(5/6) beta sqrt(S_n m*) with
S_n = 2 Y* sqrt(R* delta) and beta = -ln e / sqrt(ln^2 e + pi^2); with it a Hertz collision returns
the restitution e at any impact speed (checked in tests/sims/dem/test_two_spheres.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sims.errors import PhysicalInputError
from sims.materials import SolidPhase

ArrayLike = Sequence[float] | np.ndarray | float


@dataclass(frozen=True)
class ContactParams:
    """Per-type-pair tables, each (T, T) float64 and symmetric; `density_kg_m3` is (T,).

    youngs_eff: Y* (Pa); shear_eff: G* (Pa); restitution: e (-), kept for reference;
    damping: beta (-) of gamma_n, gamma_t; friction: Coulomb mu (-); rolling_friction: mu_r (-),
    torque mu_r R* |F_n| against the relative rolling (0: off); cohesion: sjkr2 cohesion energy
    density (J/m3, 0: off); yield_pressure: Thornton's limiting contact pressure (Pa, inf: elastic).
    Per type (T,): density_kg_m3, young_modulus_pa, poisson_ratio (for the Rayleigh time step).
    """

    youngs_eff: np.ndarray
    shear_eff: np.ndarray
    restitution: np.ndarray
    damping: np.ndarray
    friction: np.ndarray
    rolling_friction: np.ndarray
    cohesion: np.ndarray
    yield_pressure: np.ndarray
    density_kg_m3: np.ndarray
    young_modulus_pa: np.ndarray
    poisson_ratio: np.ndarray

    @property
    def n_types(self) -> int:
        """Number of particle/wall types T."""
        return len(self.density_kg_m3)

    def rayleigh_time(self, radius: np.ndarray, mass: np.ndarray, type_id: np.ndarray) -> float:
        """Smallest Rayleigh time (s) of the given spheres, pi r sqrt(rho/G) / (0.1631 nu + 0.8766).

        The density is each sphere's own mass / volume, so mass scaling is accounted for.
        """
        nu = self.poisson_ratio[type_id]
        shear = self.young_modulus_pa[type_id] / (2.0 * (1.0 + nu))
        rho = mass / (4.0 / 3.0 * np.pi * radius**3)
        return float(np.min(np.pi * radius * np.sqrt(rho / shear) / (0.1631 * nu + 0.8766)))

    @classmethod
    def from_properties(
        cls,
        young_modulus_pa: ArrayLike,
        poisson_ratio: ArrayLike,
        restitution: ArrayLike,
        friction: ArrayLike,
        density_kg_m3: ArrayLike,
        cohesion_energy_density_j_m3: ArrayLike = 0.0,
        rolling_friction: ArrayLike = 0.0,
        yield_pressure_pa: ArrayLike = np.inf,
    ) -> ContactParams:
        """Tables from per-type (T,) properties (mixed per pair) or per-pair (T, T) values.

        Scalars apply to every type. Raises PhysicalInputError naming any unphysical input.
        """
        young = _per_type(young_modulus_pa, "young_modulus_pa", None)
        n_types = len(young)
        nu = _per_type(poisson_ratio, "poisson_ratio", n_types)
        rho = _per_type(density_kg_m3, "density_kg_m3", n_types)
        _check(young, "young_modulus_pa", lo=0.0, lo_open=True)
        _check(nu, "poisson_ratio", lo=-1.0, hi=0.5, lo_open=True)
        _check(rho, "density_kg_m3", lo=0.0, lo_open=True)
        e = _per_pair(restitution, "restitution", n_types, np.add, 0.5)
        mu = _per_pair(friction, "friction", n_types, np.add, 0.5)
        mu_r = _per_pair(rolling_friction, "rolling_friction", n_types, np.add, 0.5)
        coh = _per_pair(cohesion_energy_density_j_m3, "cohesion_energy_density_j_m3", n_types, np.maximum)
        p_y = _per_pair(yield_pressure_pa, "yield_pressure_pa", n_types, np.minimum)
        _check(e, "restitution", lo=0.01, hi=1.0)
        _check(mu, "friction", lo=0.0)
        _check(mu_r, "rolling_friction", lo=0.0)
        _check(coh, "cohesion_energy_density_j_m3", lo=0.0)
        _check(p_y, "yield_pressure_pa", lo=0.0, lo_open=True, allow_inf=True)
        log_e = np.log(e)
        beta = -log_e / np.sqrt(log_e**2 + np.pi**2)
        a = (1.0 - nu**2) / young
        b = 2.0 * (2.0 - nu) * (1.0 + nu) / young
        return cls(
            youngs_eff=1.0 / (a[:, None] + a[None, :]),
            shear_eff=1.0 / (b[:, None] + b[None, :]),
            restitution=e,
            damping=np.ascontiguousarray(beta, dtype=np.float64),
            friction=mu,
            rolling_friction=mu_r,
            cohesion=coh,
            yield_pressure=p_y,
            density_kg_m3=rho,
            young_modulus_pa=young,
            poisson_ratio=nu,
        )

    @classmethod
    def from_materials(
        cls,
        phases: Sequence[SolidPhase],
        *,
        restitution: ArrayLike | None = None,
        friction: ArrayLike | None = None,
        cohesion_energy_density_j_m3: ArrayLike | None = None,
        rolling_friction: ArrayLike = 0.0,
        yield_pressure_pa: ArrayLike = np.inf,
    ) -> ContactParams:
        """Tables for types 0..T-1 = `phases` (sims.materials SolidPhase objects).

        Restitution, friction and cohesion come from the phases unless given here (per type or
        per pair); a wall is one more phase (e.g. an aluminium collector) with its own type id.
        Densities are the phases' particle densities (g/cm3 -> kg/m3).
        """
        if not phases:
            raise PhysicalInputError("phases must name at least one SolidPhase")
        return cls.from_properties(
            young_modulus_pa=[p.young_modulus_pa for p in phases],
            poisson_ratio=[p.poisson_ratio for p in phases],
            restitution=[p.restitution for p in phases] if restitution is None else restitution,
            friction=[p.friction for p in phases] if friction is None else friction,
            density_kg_m3=[1000.0 * p.density_g_cm3 for p in phases],
            cohesion_energy_density_j_m3=(
                [p.cohesion_energy_density_j_m3 for p in phases]
                if cohesion_energy_density_j_m3 is None
                else cohesion_energy_density_j_m3
            ),
            rolling_friction=rolling_friction,
            yield_pressure_pa=yield_pressure_pa,
        )


def _per_type(values: ArrayLike, name: str, n_types: int | None) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(values, dtype=np.float64))
    if n_types is not None and arr.shape == (1,):
        arr = np.full(n_types, arr[0])
    if arr.ndim != 1 or (n_types is not None and len(arr) != n_types) or len(arr) == 0:
        raise PhysicalInputError(f"{name} must be a scalar or one value per type ({n_types} types)")
    return np.ascontiguousarray(arr)


def _per_pair(values: ArrayLike, name: str, n_types: int, mix: np.ufunc, scale: float = 1.0) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 2:
        if arr.shape != (n_types, n_types) or not np.array_equal(arr, arr.T):
            raise PhysicalInputError(f"{name} as a pair table must be symmetric ({n_types}, {n_types})")
        return np.ascontiguousarray(arr)
    per_type = _per_type(arr, name, n_types)
    return np.ascontiguousarray(mix.outer(per_type, per_type) * scale)


def _check(
    arr: np.ndarray,
    name: str,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    allow_inf: bool = False,
) -> None:
    if np.any(np.isnan(arr)) or (not allow_inf and np.any(np.isinf(arr))):
        raise PhysicalInputError(f"{name} must be finite, got {arr.tolist()}")
    if lo is not None and (np.any(arr <= lo) if lo_open else np.any(arr < lo)):
        raise PhysicalInputError(f"{name} must be {'>' if lo_open else '>='} {lo}, got {arr.tolist()}")
    if hi is not None and np.any(arr > hi):
        raise PhysicalInputError(f"{name} must be <= {hi}, got {arr.tolist()}")
