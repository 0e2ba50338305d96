"""Wall time and accuracy of the DL process evaluators against the DEM, on the same recipes in one run.

For each recipe (default: HELD_OUT, conditions the shipped calendering model never saw, at 96:4
and at 94:6), every evaluator kind of KINDS evaluates it, each timed over its whole `evaluate`:
- `dem`: packing, drying, calendering and metrics by the DEM (the reference);
- `surrogate`: the same dried film (same seed and n_am), the calendering model, the same metrics;
  timed with its dried-film cache hit (`wall_s`) and after a miss (`wall_s_cache_miss`, DEM drying
  included) on a fresh cache.
Beside every non-DEM case, `errors`: the absolute and relative error of each compared outcome
against the DEM's case of the same recipe.

Stage speedups (STAGE_SPEEDUPS): `speedup_calendering` is the DEM's calendering stage
(sims.protocols.calendering.calender on the dried film) over the model's calendering (descriptors,
both ensembles, the overlap projection), on the same dried film, without the shared drying and
metrics; both times are in `calendering_stage` (the model's as the evaluator runs it: the plate at
every frame of the default schedule, the particles at the last; `model_all_frames_s` with the
particles at all 38 frames).
- `paml`: PAML drying (the drying model's macro-steps, default n_DEM) then the calendering model
  (`calendering: surrogate`): the whole chain without a DEM stage, timed on its second evaluation
  (the first compiles); `speedup_paml_drying` is DEM drying over PAML drying of the same packed
  slurry (`paml_drying_stage`; the n_DEM study is benchmarks/paml_drying.py).

    python benchmarks/surrogates.py --json results/surrogates.json
    python benchmarks/surrogates.py --json out.json --recipes 1 --kinds dem surrogate
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from batman_opt.evaluators import EvaluatorSetup, get_evaluator  # noqa: E402
from batman_opt.surrogates.calendering import DEFAULT_MODEL, CalenderingModel  # noqa: E402
from batman_opt.surrogates.dried_films import DRYING_INPUTS, DriedFilms  # noqa: E402
from batman_opt.surrogates.drying import load_drying_model  # noqa: E402
from batman_opt.surrogates.outcomes import particle_state  # noqa: E402
from batman_opt.surrogates.paml import drying_protocol, paml_dry  # noqa: E402
from sims.dem.state import Box  # noqa: E402
from sims.materials import get_material  # noqa: E402
from sims.protocols.calendering import calender  # noqa: E402

MATERIAL = "NMC111"
N_AM = 120  # the shipped model's RVE
HELD_OUT = (  # inside the training window, none of its conditions; the second at the test formulation
    {
        "recipe": "h96",
        "am_mass_fraction": 0.96,
        "solid_content": 0.63,
        "drying_rate": 1.2,
        "compression_ratio": 0.27,
        "calendering_speed_mm_s": 12.0,
        "seed": 501,
    },
    {
        "recipe": "h94",
        "am_mass_fraction": 0.94,
        "solid_content": 0.66,
        "drying_rate": 0.9,
        "compression_ratio": 0.2,
        "calendering_speed_mm_s": 20.0,
        "seed": 502,
    },
)
COMPARED = (
    "porosity",
    "density_g_cm3",
    "thickness_um",
    "spring_back_pct",
    "tortuosity_factor",
    "effective_diffusivity_z",
    "am_cbd_contact_um_inv",
)


def _params(recipe: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in recipe.items() if k not in ("recipe", "seed")}


def run_dem(recipe: dict[str, Any], cache: Path) -> dict[str, Any]:
    evaluator = get_evaluator("dem").build(MATERIAL, {"n_am": N_AM, "seed": recipe["seed"]}, EvaluatorSetup())
    start = time.perf_counter()
    outcomes = evaluator.evaluate(_params(recipe)).outcomes
    return {"wall_s": time.perf_counter() - start, "outcomes": outcomes}


def run_surrogate(recipe: dict[str, Any], cache: Path) -> dict[str, Any]:
    options = {"n_am": N_AM, "seed": recipe["seed"], "cache_dir": str(cache / recipe["recipe"])}
    evaluator = get_evaluator("surrogate").build(MATERIAL, options, EvaluatorSetup())
    start = time.perf_counter()
    evaluator.evaluate(_params(recipe))  # a miss: DEM drying first
    miss_s = time.perf_counter() - start
    start = time.perf_counter()
    evaluation = evaluator.evaluate(_params(recipe))
    return {
        "wall_s": time.perf_counter() - start,
        "wall_s_cache_miss": miss_s,
        "outcomes": evaluation.outcomes,
        "notes": evaluation.notes,
    }


def run_paml(recipe: dict[str, Any], cache: Path) -> dict[str, Any]:
    """PAML drying, then the calendering model (`calendering: surrogate`): no DEM stage at all."""
    options = {"n_am": N_AM, "seed": recipe["seed"], "calendering": "surrogate"}
    evaluator = get_evaluator("paml").build(MATERIAL, options, EvaluatorSetup())
    evaluator.evaluate(_params(recipe))  # compiles the separation kernel (numba cache) once
    start = time.perf_counter()
    evaluation = evaluator.evaluate(_params(recipe))
    return {"wall_s": time.perf_counter() - start, "outcomes": evaluation.outcomes, "notes": evaluation.notes}


def paml_drying_stage(recipe: dict[str, Any], cache: Path) -> dict[str, float]:
    """DEM drying and PAML drying (default n_DEM) of the same packed slurry, seconds (PAML's second
    run: the first compiles its kernels)."""
    p = _params(recipe)
    model = load_drying_model(None)
    dem = drying_protocol(p, MATERIAL, n_am=N_AM, seed=recipe["seed"])
    start = time.perf_counter()
    dem.protocol.run()
    dem_s = time.perf_counter() - start
    for _ in range(2):
        paml = drying_protocol(p, MATERIAL, n_am=N_AM, seed=recipe["seed"])
        start = time.perf_counter()
        paml_dry(paml.protocol, model, paml.params)
        paml_s = time.perf_counter() - start
    return {"dem_s": dem_s, "model_s": paml_s, "speedup": dem_s / paml_s}


def calendering_stage(recipe: dict[str, Any], cache: Path) -> dict[str, float]:
    """The DEM's calendering and the model's on the same dried film (module doc), seconds."""
    p = _params(recipe)
    dried, _, _ = DriedFilms(cache / recipe["recipe"]).get(
        MATERIAL, {k: p[k] for k in DRYING_INPUTS}, recipe["seed"], N_AM
    )
    material = get_material(MATERIAL)
    state, _ = particle_state(dried, dried.radius_um, material)
    lx, ly = (float(v) * 1e-6 for v in dried.lateral_um)
    box = Box((0.0, 0.0, 0.0), (lx, ly, 3.0 * dried.thickness_um * 1e-6))
    start = time.perf_counter()
    calender(state, box, material, p["compression_ratio"], speed_mm_s=p["calendering_speed_mm_s"])
    dem_s = time.perf_counter() - start
    model = CalenderingModel.load(DEFAULT_MODEL)
    model.predict(dried, p)  # warm-up (numba projection kernel from its cache)
    start = time.perf_counter()
    repeats = 5
    for _ in range(repeats):
        model.predict(dried, p)
    model_s = (time.perf_counter() - start) / repeats
    start = time.perf_counter()
    model.predict(dried, p, frames="all")
    all_frames_s = time.perf_counter() - start
    return {
        "dem_s": dem_s,
        "model_s": model_s,
        "model_all_frames_s": all_frames_s,
        "speedup": dem_s / model_s,
    }


# evaluator kind -> runner; the first is the reference the others' errors are measured against
KINDS: dict[str, Callable[[dict[str, Any], Path], dict[str, Any]]] = {
    "dem": run_dem,
    "surrogate": run_surrogate,
    "paml": run_paml,
}
# JSON key -> (stage timer, kind that needs it)
STAGE_SPEEDUPS: dict[str, tuple[Callable[[dict[str, Any], Path], dict[str, float]], str]] = {
    "speedup_calendering": (calendering_stage, "surrogate"),
    "speedup_paml_drying": (paml_drying_stage, "paml"),
}


def errors(outcomes: dict[str, float], reference: dict[str, float]) -> dict[str, dict[str, float]]:
    out = {}
    for name in COMPARED:
        if name in outcomes and name in reference:
            p, d = float(outcomes[name]), float(reference[name])
            out[name] = {"abs": abs(p - d), "rel": abs(p - d) / max(abs(d), 1e-12)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument("--recipes", type=int, default=len(HELD_OUT), help="how many of HELD_OUT")
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=list(KINDS))
    args = parser.parse_args()
    torch.set_num_threads(1)
    recipes = HELD_OUT[: args.recipes]
    cases: list[dict[str, Any]] = []
    stages: dict[str, list[dict[str, float]]] = {key: [] for key in STAGE_SPEEDUPS}
    with tempfile.TemporaryDirectory(prefix="batman-bench-surrogates-") as tmp:
        for recipe in recipes:
            reference: dict[str, float] | None = None
            for kind in args.kinds:
                found = KINDS[kind](recipe, Path(tmp))
                outcomes = found.pop("outcomes")
                case = {"recipe": recipe["recipe"], "evaluator": kind, **found}
                case.update(
                    {k: outcomes.get(k) for k in ("porosity", "tortuosity_factor", "spring_back_pct")}
                )
                case["outcomes"] = outcomes
                case["errors"] = errors(outcomes, reference) if reference is not None else {}
                reference = outcomes if reference is None else reference
                cases.append(case)
            for key, (timer, kind) in STAGE_SPEEDUPS.items():
                if kind in args.kinds:
                    stages[key].append({"recipe": recipe["recipe"], **timer(recipe, Path(tmp))})
    result: dict[str, Any] = {
        "n_am": N_AM,
        "material": MATERIAL,
        "model": str(DEFAULT_MODEL.name),
        "cases": cases,
    }
    for key, rows in stages.items():
        if rows:
            result[key] = float(np.sum([r["dem_s"] for r in rows]) / np.sum([r["model_s"] for r in rows]))
            result[key.replace("speedup_", "") + "_stage"] = rows
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2, default=float))
    walls = {k: np.mean([c["wall_s"] for c in cases if c["evaluator"] == k]) for k in args.kinds}
    worst = {
        name: max((c["errors"].get(name, {}).get("rel", 0.0) for c in cases), default=0.0)
        for name in ("tortuosity_factor", "spring_back_pct")
    }
    por = max((c["errors"].get("porosity", {}).get("abs", 0.0) for c in cases), default=0.0)
    print(
        f"surrogates: {len(recipes)} recipes; mean wall "
        + ", ".join(f"{k} {v:.2f} s" for k, v in walls.items())
        + (
            f"; calendering {result['speedup_calendering']:.0f}x faster than DEM"
            if "speedup_calendering" in result
            else ""
        )
        + (
            f"; PAML drying {result['speedup_paml_drying']:.1f}x faster than DEM"
            if "speedup_paml_drying" in result
            else ""
        )
        + f"; worst errors porosity {por:.4f}, tortuosity {100 * worst['tortuosity_factor']:.1f} %, "
        f"spring-back {100 * worst['spring_back_pct']:.0f} %"
    )


if __name__ == "__main__":
    main()
