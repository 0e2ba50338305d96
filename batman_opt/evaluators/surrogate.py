"""The `surrogate` kind: DEM drying (cached) -> the DL calendering model -> the dem kind's metrics.

Per recipe: the dried film comes from a cache keyed by the drying inputs (batman_opt.surrogates.
dried_films: made once by the DEM, kept in `cache_dir`, by default RUN/dried_films of the campaign's
run directory); the calendering model (batman_opt.surrogates.calendering, default the shipped one)
predicts the calendered film frame by frame, and the final structure is measured as the dem kind
measures its own (batman_opt.surrogates.outcomes): same outcome names, without the DEM-only ones
(creep_pct, max_pressure_mpa, inertial_number).

Cost of a recipe at n_am = 120 on one core (benchmarks/surrogates.py): with a cache hit, the model
(~0.1 s) and the voxel metrics (~0.5 s; `metrics: false` leaves them out): ~0.7 s against ~35-40 s
for the dem kind; on a miss, the DEM drying first (5-9 s). The notes of every trial say which it
was and how long each part took.

On a Ray cluster the agents of other nodes keep their films under the same path on their own
disks (one DEM drying per node and drying recipe) unless the run directory is shared.

Extrapolation: inputs outside the model's training window get a note; past its margin
(calendering.MARGIN) the recipe fails (EvaluationFailed naming the input), and a campaign whose
bounds leave window + margin is refused by `batman validate` (the inputs' intervals are cut to it).
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from pydantic import Field

from batman_opt.errors import InputError
from batman_opt.evaluators.base import (
    Evaluation,
    EvaluationFailed,
    Evaluator,
    EvaluatorSetup,
    Interval,
    NoOptions,
)
from batman_opt.evaluators.dem import ELECTRODE_INPUTS, CbdTransport
from batman_opt.evaluators.quantities import outcome_range
from batman_opt.surrogates.calendering import DEFAULT_MODEL, MARGIN, CalenderingModel, film_features
from batman_opt.surrogates.dried_films import DRYING_INPUTS, DriedFilms
from batman_opt.surrogates.outcomes import measured_prediction
from sims import electrode
from sims.electrode_metrics import METRIC_OUTCOMES
from sims.materials import get_material
from sims.protocols.packing import particle_counts

OUTCOMES = (
    "thickness_um",
    "porosity",
    "macro_porosity",
    "cbd_nano_porosity",
    "cbd_nanoporosity",
    "density_g_cm3",
    "mass_loading_mg_cm2",
    "spring_back_pct",
    "dried_thickness_um",
    "dried_porosity",
    *METRIC_OUTCOMES,
)
CACHE_FOLDER = "dried_films"  # under the run directory


class SurrogateOptions(NoOptions):
    """Options of the surrogate kind."""

    model: str | None = Field(None, description="calendering model (.safetensors), default the shipped one")
    n_am: int = Field(120, ge=2, le=100_000, description="AM particles of the dried RVE (the model's: 120)")
    seed: int = Field(0, ge=0, lt=2**32, description="packing seed of the dried film")
    metrics: bool = Field(True, description="voxel metrics (tortuosity, surfaces); off: film outcomes only")
    cbd_transport: CbdTransport = "bruggeman"
    cache_dir: str | None = Field(None, description="dried-film cache, default RUN/dried_films")
    threads: int = Field(1, ge=1, le=256, description="numba threads of the DEM drying")

    def with_base_dir(self, base_dir: Path) -> SurrogateOptions:
        update = {}
        for name in ("model", "cache_dir"):
            value = getattr(self, name)
            if value is not None:
                update[name] = str((base_dir / Path(os.path.expandvars(value))).resolve())
        return self.model_copy(update=update)


def _within(physical: Interval, window: tuple[float, float], margin: float) -> Interval:
    """The physical interval cut to the model's window widened by its margin."""
    low, high = window[0] - margin, window[1] + margin
    if low > physical.low or (low == physical.low and not physical.low_inclusive):
        physical = Interval(low, physical.high, True, physical.high_inclusive)
    if high < physical.high or (high == physical.high and not physical.high_inclusive):
        physical = Interval(physical.low, high, physical.low_inclusive, True)
    return physical


class SurrogateEvaluator(Evaluator):
    """Cached DEM drying, then the calendering model, then the dem kind's metrics (module doc)."""

    name = "surrogate"
    description = "cached DEM drying + DL calendering model + voxel metrics (s; 0.1 s of model)"
    Options = SurrogateOptions

    def __init__(self, material: str, options: SurrogateOptions, setup: EvaluatorSetup) -> None:
        super().__init__(material, options, setup)
        self.options: SurrogateOptions = options
        torch.set_num_threads(1)
        self.model = CalenderingModel.load(options.model or DEFAULT_MODEL)
        trained_on = self.model.card.get("material")
        if trained_on != material:
            raise InputError(f"the calendering model was trained on {trained_on}, the campaign is {material}")
        self.mat = get_material(material)
        window = self.model.window
        self.inputs = {
            k: _within(v, window[k], MARGIN.get(k, 0.0)) if k in window else v
            for k, v in ELECTRODE_INPUTS.items()
        }
        names = [n for n in OUTCOMES if options.metrics or n not in METRIC_OUTCOMES]
        self.outcomes = {name: outcome_range(name) for name in names}
        folder = options.cache_dir or (str(Path(setup.run_dir) / CACHE_FOLDER) if setup.run_dir else None)
        self.films = DriedFilms(Path(folder) if folder else None)

    def evaluate(self, params: Mapping[str, Any]) -> Evaluation:
        opts = self.options
        p = electrode.resolve_params(dict(params), self.mat)
        try:
            notes = self.model.window_check(p)
        except InputError as exc:
            raise EvaluationFailed(str(exc)) from None
        drying = {k: p[k] for k in DRYING_INPUTS}
        dried, hit, drying_s = self.films.get(self.material, drying, opts.seed, opts.n_am, opts.threads)
        try:
            notes.update(self.model.window_check(film_features(dried)))
        except InputError as exc:
            raise EvaluationFailed(str(exc)) from None
        start = time.perf_counter()
        prediction = self.model.predict(dried, p)
        model_s = time.perf_counter() - start
        counts = particle_counts(self.mat, p["am_mass_fraction"], opts.n_am)
        outcomes, calendered = measured_prediction(
            prediction, dried, counts, self.mat, metrics=opts.metrics, cbd_transport=opts.cbd_transport
        )
        metrics_s = time.perf_counter() - start - model_s
        if opts.n_am != self.model.card.get("n_am"):
            notes["n_am"] = (
                f"{opts.n_am} AM particles; the model was trained on {self.model.card.get('n_am')}"
            )
        notes["cost"] = (
            f"dried film {'cache hit' if hit else 'DEM drying (cache miss)'} {drying_s:.2f} s, "
            f"calendering model {model_s:.3f} s, metrics {metrics_s:.2f} s"
        )
        outcomes = {k: v for k, v in outcomes.items() if k in self.outcomes}
        notes.update({k: "no percolating pore path" for k, v in outcomes.items() if v == math.inf})
        with tempfile.TemporaryDirectory(prefix="batman-surrogate-") as tmp:
            artifact = calendered.save(Path(tmp) / "structure.npz").read_bytes()
        return self.checked(Evaluation(outcomes, notes, {"structure.npz": artifact}))
