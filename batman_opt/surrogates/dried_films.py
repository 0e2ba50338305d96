"""Dried films made once and kept: the calendering model's starting structures, keyed by what
drying depends on.

Drying does not depend on the calendering knobs (compression ratio, speed), so a campaign over
calendering needs one dried film per drying recipe: `DriedFilms.get` looks it up by DRYING_KEY
(material, AM mass fraction, solid content, drying rate, packing seed, n_am), in memory first,
then in its folder (`dried_<key>.npz`, sims.structure, beside `dried_<key>.json` with the inputs),
and only on a miss runs the DEM (packing and drying, sims.electrode with no calendering and no
metrics; ~10-30 s on one core at n_am = 120). Files are written under a temporary name and renamed,
so agents sharing the folder never read half a file; two agents missing the same key at once both
run the DEM and the later rename wins (same inputs, same seed: the same film).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from sims.electrode import simulate_electrode
from sims.errors import PhysicalInputError
from sims.structure import ElectrodeStructure

log = logging.getLogger(__name__)

DRYING_INPUTS = ("am_mass_fraction", "solid_content", "drying_rate")
DRYING_KEY = ("material", *DRYING_INPUTS, "seed", "n_am")


def drying_key(material: str, drying: Mapping[str, float], seed: int, n_am: int) -> str:
    """A short hash of the inputs that decide the dried film (DRYING_KEY)."""
    values = {
        "material": material,
        **{k: float(drying[k]) for k in DRYING_INPUTS},
        "seed": seed,
        "n_am": n_am,
    }
    text = json.dumps(values, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def dem_dried_film(
    material: str, drying: Mapping[str, float], seed: int, n_am: int, threads: int = 1
) -> ElectrodeStructure:
    """A dried film made by the DEM: packing and drying (sims.electrode), no calendering, no metrics."""
    params = {k: float(drying[k]) for k in DRYING_INPUTS}
    result = simulate_electrode(
        {**params, "compression_ratio": 0.0}, material, n_am=n_am, seed=seed, threads=threads, metrics=False
    )
    return ElectrodeStructure.of(result.dried.state, result.box, result.dried.thickness_m, material)


class DriedFilms:
    """Dried films by drying key, in memory and, with `folder`, on disk (module doc); `make` dries
    a film on a miss (default the DEM, `dem_dried_film`)."""

    def __init__(
        self,
        folder: Path | None,
        make: Callable[[str, Mapping[str, float], int, int, int], ElectrodeStructure] = dem_dried_film,
    ) -> None:
        self.folder = Path(folder) if folder is not None else None
        self.make = make
        self._memory: dict[str, ElectrodeStructure] = {}

    def path(self, key: str) -> Path | None:
        return self.folder / f"dried_{key}.npz" if self.folder is not None else None

    def get(
        self, material: str, drying: Mapping[str, float], seed: int, n_am: int, threads: int = 1
    ) -> tuple[ElectrodeStructure, bool, float]:
        """(dried film, whether it was found, seconds spent) for these drying inputs; on a miss the
        DEM dries one and it is kept. PhysicalInputError for bad inputs, SimulationFailed when the
        DEM run breaks."""
        start = time.perf_counter()
        key = drying_key(material, drying, seed, n_am)
        if key in self._memory:
            return self._memory[key], True, time.perf_counter() - start
        path = self.path(key)
        if path is not None and path.is_file():
            try:
                film = ElectrodeStructure.load(path)
            except PhysicalInputError as exc:  # a damaged file: make it again
                log.warning("dried film cache: %s; drying again", exc)
            else:
                self._memory[key] = film
                return film, True, time.perf_counter() - start
        params = {k: float(drying[k]) for k in DRYING_INPUTS}
        film = self.make(material, params, seed, n_am, threads)
        if path is not None:
            self._write(path, film, {"material": material, **params, "seed": seed, "n_am": n_am})
        self._memory[key] = film
        return film, False, time.perf_counter() - start

    @staticmethod
    def _write(path: Path, film: ElectrodeStructure, inputs: dict[str, object]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.npz")
        film.save(tmp)
        os.replace(tmp, path)
        path.with_suffix(".json").write_text(json.dumps(inputs, indent=2, sort_keys=True))
