"""The `dem` kind: numba DEM packing -> drying -> calendering -> voxel metrics (sims.electrode).

Every trial leaves its final structure (`structure.npz`, sims.structure) and, with
`timeseries: true`, the particle time series (`timeseries.parquet`) among its artifacts.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from batman_opt.evaluators.base import (
    POSITIVE,
    Evaluation,
    Evaluator,
    EvaluatorSetup,
    Interval,
    NoOptions,
)
from batman_opt.evaluators.quantities import outcome_range
from sims import electrode
from sims.electrode_metrics import cbd_relative_diffusivity
from sims.protocols.roll import DEFAULT_ROLL_RADIUS_M
from sims.structure import ElectrodeStructure

# physical intervals of the electrode recipe inputs (sims.electrode.INPUTS): dem, paml, surrogate
ELECTRODE_INPUTS = {
    "am_mass_fraction": Interval(0.0, 1.0, low_inclusive=False),
    "solid_content": Interval(0.0, 1.0, low_inclusive=False, high_inclusive=False),
    "drying_rate": POSITIVE,
    "compression_ratio": Interval(0.0, 1.0, high_inclusive=False),
    "calendering_speed_mm_s": POSITIVE,
}


def _known_transport(value: str) -> str:
    cbd_relative_diffusivity(value, 0.5)  # PhysicalInputError (a ValueError) names the choices
    return value


# the CBD's diffusivity in the tortuosity factor (sims.electrode_metrics), checked when parsed
CbdTransport = Annotated[
    str,
    AfterValidator(_known_transport),
    Field(description="bruggeman | blocking | D_rel=<value in [0, 1]>"),
]


class DemOptions(NoOptions):
    """Options of the dem kind (see sims.electrode.simulate_electrode)."""

    n_am: int = Field(electrode.DEFAULT_N_AM, ge=2, le=100_000, description="AM particles in the RVE")
    lateral_um: float | None = Field(None, gt=0, lt=1e4, description="RVE side (um); default from the film")
    seed: int = Field(0, ge=0, lt=2**32, description="packing seed")
    calender: Literal["plate", "roll"] = "plate"
    roll_radius_um: float = Field(DEFAULT_ROLL_RADIUS_M * 1e6, gt=0, lt=1e7)
    timeseries: bool = Field(False, description="keep the particle time series as an artifact")
    timeseries_every: int = Field(1000, ge=1, description="steps between time-series frames")
    threads: int = Field(1, ge=1, le=256, description="numba threads per agent")
    metrics: bool = Field(True, description="voxel metrics (tortuosity, surfaces); off: film outcomes only")
    seeds: int = Field(
        1, ge=1, le=32, description="RVE replicates: outcomes are their means, <name>_std beside"
    )
    cbd_transport: CbdTransport = "bruggeman"


class DemEvaluator(Evaluator):
    """One DEM electrode per recipe; outcomes sims.electrode.OUTCOMES (without the voxel metrics
    when `metrics: false`)."""

    name = "dem"
    description = "numba DEM: packing, drying, calendering, metrics (s to min)"
    Options = DemOptions

    def __init__(self, material: str, options: DemOptions, setup: EvaluatorSetup) -> None:
        super().__init__(material, options, setup)
        self.options: DemOptions = options
        self.inputs = dict(ELECTRODE_INPUTS)
        assert set(self.inputs) == set(electrode.INPUTS), "dem inputs out of step with sims.electrode"
        names = [n for n in electrode.OUTCOMES if options.metrics or n not in electrode.METRIC_OUTCOMES]
        self.outcomes = {name: outcome_range(name) for name in names}
        if options.seeds > 1:
            self.outcomes.update({f"{name}_std": Interval(0.0, math.inf) for name in names})

    def evaluate(self, params: Mapping[str, Any]) -> Evaluation:
        opts = self.options
        with tempfile.TemporaryDirectory(prefix="batman-dem-") as tmp:
            series = Path(tmp) / "timeseries.parquet" if opts.timeseries else None
            result = electrode.simulate_electrode(
                dict(params),
                self.material,
                n_am=opts.n_am,
                lateral_um=opts.lateral_um,
                seed=opts.seed,
                calender_tool=opts.calender,
                roll_radius_um=opts.roll_radius_um,
                timeseries_path=series,
                timeseries_every=opts.timeseries_every,
                threads=opts.threads,
                metrics=opts.metrics,
                seeds=opts.seeds,
                cbd_transport=opts.cbd_transport,
            )
            structure = ElectrodeStructure.of(
                result.state, result.calendered.box, result.calendered.thickness_m, self.material
            )
            artifacts = {"structure.npz": _npz_bytes(structure, Path(tmp))}
            if series is not None and series.exists():
                artifacts[series.name] = series.read_bytes()
        outcomes = {k: v for k, v in result.outcomes.items() if k in self.outcomes}
        notes = {k: "no percolating pore path" for k, v in outcomes.items() if v == math.inf}
        return self.checked(Evaluation(outcomes, notes, artifacts))


def _npz_bytes(structure: ElectrodeStructure, folder: Path) -> bytes:
    return structure.save(folder / "structure.npz").read_bytes()
