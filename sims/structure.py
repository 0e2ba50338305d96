"""A simulated electrode's final particles as a small file: `ElectrodeStructure` (compressed npz).

The per-trial artifact of the dem evaluator and the input of `batman view`: sphere centres and
radii in micrometres, the phase of each sphere (sims.metrics labels AM = 1, CBD = 2), the periodic
lateral box and the film thickness (the plate's touch height after release; the current collector
is the plane z = 0), and the material's name. Written and read with `allow_pickle=False`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sims.dem.state import Box, ParticleState
from sims.errors import PhysicalInputError
from sims.metrics.voxelize import AM, CBD
from sims.protocols.contact_tables import AM_TYPE

_KEYS = ("position_um", "radius_um", "phase", "lateral_um", "thickness_um", "material")


@dataclass(frozen=True)
class ElectrodeStructure:
    """Spheres of one electrode RVE, periodic in x and y, collector at z = 0 (lengths in um).

    position_um: (N, 3); radius_um: (N,); phase: (N,) uint8 AM or CBD; lateral_um: (2,) box side
    along x and y; thickness_um: film thickness; material: name in sims.materials.
    """

    position_um: np.ndarray
    radius_um: np.ndarray
    phase: np.ndarray
    lateral_um: np.ndarray
    thickness_um: float
    material: str

    @classmethod
    def of(cls, state: ParticleState, box: Box, thickness_m: float, material: str) -> ElectrodeStructure:
        """The structure of a DEM state (SI units) in `box`, collector at box.lo[2]."""
        position = state.position * 1e6
        position = position - np.array([box.lo[0], box.lo[1], box.lo[2]]) * 1e6
        phase = np.where(state.type_id == AM_TYPE, AM, CBD).astype(np.uint8)
        return cls(position, state.radius * 1e6, phase, box.length[:2] * 1e6, thickness_m * 1e6, material)

    def save(self, path: str | Path) -> Path:
        """Write a compressed .npz file (no pickled objects); returns its path."""
        path = Path(path)
        np.savez_compressed(
            path,
            position_um=self.position_um.astype(np.float64),
            radius_um=self.radius_um.astype(np.float64),
            phase=self.phase.astype(np.uint8),
            lateral_um=np.asarray(self.lateral_um, dtype=np.float64),
            thickness_um=np.float64(self.thickness_um),
            material=np.str_(self.material),
        )
        return path

    @classmethod
    def load(cls, path: str | Path) -> ElectrodeStructure:
        """Read a structure file; PhysicalInputError naming the file when it is not one."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                missing = [k for k in _KEYS if k not in data.files]
                if missing:
                    raise PhysicalInputError(f"{path}: not an electrode structure (no {', '.join(missing)})")
                found = {k: data[k] for k in _KEYS}
        except (OSError, ValueError, EOFError) as exc:
            raise PhysicalInputError(f"{path}: cannot read the structure ({exc})") from None
        n = len(found["radius_um"])
        if found["position_um"].shape != (n, 3) or found["phase"].shape != (n,):
            raise PhysicalInputError(f"{path}: position_um, radius_um and phase disagree in length")
        return cls(
            found["position_um"],
            found["radius_um"],
            found["phase"],
            found["lateral_um"],
            float(found["thickness_um"]),
            str(found["material"]),
        )

    @property
    def solid_volume_um3(self) -> dict[int, float]:
        """Sphere volume of each phase (um3), AM and CBD (CBD with its nanopores)."""
        volume = 4.0 / 3.0 * np.pi * self.radius_um**3
        return {label: float(volume[self.phase == label].sum()) for label in (AM, CBD)}
