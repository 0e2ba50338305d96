"""The `gdl` kind: a stochastic gas-diffusion layer (sims.gdl) per recipe, and its metrics
(porosity, specific surface, tortuosity factor and geometric tortuosity in-plane and
through-plane), s per recipe. Inputs are the parameters of `sims.gdl.GDLParams` (`porosity` as
`porosity_uncompressed`, the requested porosity before compression); the trial keeps its voxel image
(`gdl.npy`, labels 0 pore, 1 fibre, 2 binder) as an artifact."""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from pydantic import Field

from batman_opt.evaluators.base import (
    FRACTION,
    POSITIVE,
    Evaluation,
    Evaluator,
    EvaluatorSetup,
    Interval,
    NoOptions,
)
from batman_opt.evaluators.quantities import outcome_range
from sims.gdl import GDLParams, gdl_measurements, generate_gdl

OUTCOMES = (
    "porosity",
    "specific_surface_per_um",
    "tortuosity_factor_in_plane",
    "tortuosity_factor_through_plane",
    "geometric_tortuosity_in_plane",
    "geometric_tortuosity_through_plane",
)


class GdlOptions(NoOptions):
    """Domain of the structures: voxels per side (x, y, then z through-plane) and voxel size."""

    size_xy: int = Field(64, ge=16, le=512)
    size_z: int = Field(64, ge=8, le=512)
    voxel_um: float = Field(1.0, gt=0.05, le=10.0)
    seed: int = Field(0, ge=0, lt=2**31)
    keep_image: bool = True


class GdlEvaluator(Evaluator):
    """One GDL per recipe, measured; the structure seed is the option's, so recipes compare alike."""

    name = "gdl"
    description = "stochastic gas-diffusion layer -> porosity, surface, tortuosities (s)"
    Options = GdlOptions

    def __init__(self, material: str, options: GdlOptions, setup: EvaluatorSetup) -> None:
        super().__init__(material, options, setup)
        self.options: GdlOptions = options
        self.inputs = {
            "fibre_radius_um": Interval(options.voxel_um, 50.0),
            "porosity_uncompressed": Interval(0.0, 1.0, low_inclusive=False, high_inclusive=False),
            "binder_fraction": Interval(0.0, 1.0, high_inclusive=False),
            "anisotropy": POSITIVE,
            "compression_ratio": Interval(0.0, 1.0, high_inclusive=False),
            "layer_diameters": Interval(1.0, math.inf),
        }
        self.required = ("porosity_uncompressed",)
        self.outcomes = {name: outcome_range(name) for name in OUTCOMES}
        self.outcomes["porosity"] = FRACTION

    def evaluate(self, params: Mapping[str, Any]) -> Evaluation:
        o = self.options
        values = {k: float(v) for k, v in params.items()}
        gdl = generate_gdl(
            GDLParams(
                porosity=values.pop("porosity_uncompressed"),
                shape=(o.size_xy, o.size_xy, o.size_z),
                voxel_um=o.voxel_um,
                seed=o.seed,
                **values,
            )
        )
        row = gdl_measurements(gdl)
        artifacts = {}
        if o.keep_image:
            buffer = io.BytesIO()
            np.save(buffer, gdl.labels, allow_pickle=False)
            artifacts["gdl.npy"] = buffer.getvalue()
        return self.checked(Evaluation({name: row[name] for name in OUTCOMES}, artifacts=artifacts))
