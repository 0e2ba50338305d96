"""The `paml` kind: drying by PAML (the DL model's macro-steps, each relaxed by n_DEM DEM steps,
batman_opt.surrogates.paml), then calendering by the DEM (`calendering: dem`) or by the DL
calendering model (`calendering: surrogate`, batman_opt.surrogates.calendering, as the surrogate
kind runs it), then the same outcomes as the `dem` kind (sims.electrode.OUTCOMES, measured the same
way).

The models are loaded once per agent (default: the shipped ones). A recipe outside its
training conditions gets a note (`paml_extrapolation`); beyond the model's margin it fails with the
reason. Every trial notes its macro-steps, DEM steps and the largest overlap left (`paml`), and
leaves its final structure (`structure.npz`) among its artifacts.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import Field

from batman_opt.errors import InputError
from batman_opt.evaluators.base import (
    Evaluation,
    EvaluationFailed,
    Evaluator,
    EvaluatorSetup,
    NoOptions,
)
from batman_opt.evaluators.dem import ELECTRODE_INPUTS, CbdTransport, _npz_bytes
from batman_opt.evaluators.quantities import outcome_range
from batman_opt.surrogates.calendering import DEFAULT_MODEL, CalenderingModel, film_features
from batman_opt.surrogates.drying import OutsideTrainingWindow, load_drying_model
from batman_opt.surrogates.outcomes import measured_prediction
from batman_opt.surrogates.paml import DEFAULT_MACRO_STEPS, DEFAULT_N_DEM, drying_protocol, paml_dry
from sims import electrode
from sims.protocols.calendering import calender
from sims.structure import ElectrodeStructure


class PamlOptions(NoOptions):
    """Options of the paml kind."""

    model: str | None = Field(None, description="drying model (.safetensors); default: the shipped one")
    n_dem: int = Field(DEFAULT_N_DEM, ge=0, le=100_000, description="DEM steps after each macro-step")
    macro_steps: int = Field(DEFAULT_MACRO_STEPS, ge=1, description="DEM steps one macro-step stands for")
    n_am: int = Field(electrode.DEFAULT_N_AM, ge=2, le=100_000, description="AM particles in the RVE")
    seed: int = Field(0, ge=0, lt=2**32, description="packing seed")
    calendering: Literal["dem", "surrogate"] = Field(
        "dem", description="calendering by the DEM or by the DL calendering model"
    )
    calendering_model: str | None = Field(
        None,
        description="calendering model (.safetensors) for calendering: surrogate; default the shipped one",
    )
    threads: int = Field(1, ge=1, le=256, description="numba threads per agent")
    metrics: bool = Field(True, description="voxel metrics (tortuosity, surfaces); off: film outcomes only")
    cbd_transport: CbdTransport = "bruggeman"

    def with_base_dir(self, base_dir: Path) -> PamlOptions:
        update = {
            name: str(Path(base_dir) / value)
            for name in ("model", "calendering_model")
            if (value := getattr(self, name)) is not None and not Path(value).is_absolute()
        }
        return self.model_copy(update=update)


class PamlEvaluator(Evaluator):
    """PAML drying, then calendering and the dem kind's outcomes (module doc)."""

    name = "paml"
    description = "PAML drying (DL macro-steps + n_DEM DEM steps), DEM calendering, metrics"
    Options = PamlOptions

    def __init__(self, material: str, options: PamlOptions, setup: EvaluatorSetup) -> None:
        super().__init__(material, options, setup)
        self.options: PamlOptions = options
        torch.set_num_threads(1)
        self.model = load_drying_model(Path(options.model) if options.model else None)
        self.calendering_model = (
            CalenderingModel.load(options.calendering_model or DEFAULT_MODEL)
            if options.calendering == "surrogate"
            else None
        )
        self.inputs = dict(ELECTRODE_INPUTS)
        names = [n for n in electrode.OUTCOMES if options.metrics or n not in electrode.METRIC_OUTCOMES]
        self.outcomes = {name: outcome_range(name) for name in names}

    def evaluate(self, params: Mapping[str, Any]) -> Evaluation:
        opts = self.options
        recipe = drying_protocol(
            dict(params), self.material, n_am=opts.n_am, seed=opts.seed, threads=opts.threads
        )
        try:
            run = paml_dry(recipe.protocol, self.model, recipe.params, opts.n_dem, opts.macro_steps)
        except OutsideTrainingWindow as exc:
            raise EvaluationFailed(f"paml: {exc}") from None
        notes: dict[str, str] = {}
        if self.calendering_model is None:
            calendered = calender(
                run.result.state,
                run.result.box,
                recipe.material,
                recipe.params["compression_ratio"],
                speed_mm_s=recipe.params["calendering_speed_mm_s"],
                threads=opts.threads,
            )
            result = electrode.measured(
                electrode.ElectrodeResult(
                    recipe.material, recipe.params, recipe.counts, recipe.protocol.box, run.result, calendered
                ),
                opts.metrics,
                opts.cbd_transport,
            ).outcomes
            structure = ElectrodeStructure.of(
                calendered.state, calendered.box, calendered.thickness_m, self.material
            )
        else:
            dried = ElectrodeStructure.of(
                run.result.state, run.result.box, run.result.thickness_m, self.material
            )
            try:
                notes.update(self.calendering_model.window_check(recipe.params))
                notes.update(self.calendering_model.window_check(film_features(dried)))
            except InputError as exc:
                raise EvaluationFailed(f"paml: {exc}") from None
            result, structure = measured_prediction(
                self.calendering_model.predict(dried, recipe.params),
                dried,
                recipe.counts,
                recipe.material,
                metrics=opts.metrics,
                cbd_transport=opts.cbd_transport,
            )
        with tempfile.TemporaryDirectory(prefix="batman-paml-") as tmp:
            artifacts = {"structure.npz": _npz_bytes(structure, Path(tmp))}
        outcomes = {k: v for k, v in result.items() if k in self.outcomes}
        notes.update({k: "no percolating pore path" for k, v in outcomes.items() if v == math.inf})
        notes["paml"] = (
            f"{run.macro_steps} macro-steps, {run.dem_steps} DEM steps (n_dem {opts.n_dem}), "
            f"largest overlap {run.max_overlap:.3f} of the smaller radius, drying {run.wall_s:.2f} s"
        )
        if run.notes:
            notes["paml_extrapolation"] = "; ".join(run.notes)
        return self.checked(Evaluation(outcomes, notes, artifacts))
