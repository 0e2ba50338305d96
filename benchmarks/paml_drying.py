"""PAML drying against DEM drying: the n_DEM study (issue 11, part 3).

On the 94:6 test recipes of a dem-series dataset (conditions, seed and RVE size from its recipes
table), each recipe is dried in one run by the DEM (`Drying.run`) and by PAML with n_DEM in
{0, 10, 100, 1000} DEM steps after each macro-step, from the same packed slurry; both wall times
cover the protocol only (the packing is shared; numba is compiled beforehand), the fastest of
`--repeats` identical runs each (the machine may be shared). The dried films are
compared with sims' metrics (batman_opt.surrogates.dried_film): porosity (absolute error), density,
tortuosity factor and effective diffusivity through the thickness (relative), g(r) of the centres
(rms and largest difference) and the largest overlap, beside the DEM's own seed-to-seed spread (the
same recipe dried by the DEM from the slurry of another seed): what an RVE of this size can resolve.

    python benchmarks/paml_drying.py --json results/paml_drying.json

Keys: `n_dem_study[]` (n_dem, wall_s, dem_wall_s, speedup, errors: means over the recipes, and
`cases[]` per recipe), `dem_seed_spread` (errors of DEM vs DEM, other seed), `speedup_paml_drying`
at the default n_DEM, `goals`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from batman_opt.surrogates.dried_film import dried_film, film_errors  # noqa: E402
from batman_opt.surrogates.drying import load_drying_model  # noqa: E402
from batman_opt.surrogates.paml import (  # noqa: E402
    DEFAULT_MACRO_STEPS,
    DEFAULT_N_DEM,
    drying_protocol,
    max_overlap_fraction,
    paml_dry,
)
from batman_opt.surrogates.series import DemSeries  # noqa: E402

N_DEMS = (0, 10, 100, 1000)
GOALS = {
    "speedup": 20.0,
    "porosity_abs": 0.01,
    "tortuosity_factor_rel": 0.10,
    "effective_diffusivity_rel": 0.10,
}
SEED_OFFSET = 1000  # the DEM's second slurry of a recipe, for its seed-to-seed spread


def dem_film(conditions, material, n_am, seed, repeats=1):
    """Fastest wall time (s) of `repeats` DEM dryings of the recipe (the same run each time) and
    the dried film's figures."""
    walls = []
    for _ in range(repeats):
        recipe = drying_protocol(conditions, material, n_am=n_am, seed=seed)
        start = time.perf_counter()
        recipe.protocol.run()
        walls.append(time.perf_counter() - start)
    dried = recipe.protocol.result()
    overlap = max_overlap_fraction(recipe.protocol.sim)
    return min(walls), dried_film(dried.state, dried.box, recipe.counts, recipe.material, overlap)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/work/data/dem_series"), help="dem-series dataset")
    parser.add_argument("--model", type=Path, default=None, help="drying model (default: the shipped one)")
    parser.add_argument("--split", default="test", help="recipes of this split (default: test, 94:6)")
    parser.add_argument("--n-dem", default=",".join(map(str, N_DEMS)), help="comma-separated n_DEM values")
    parser.add_argument("--macro-steps", type=int, default=DEFAULT_MACRO_STEPS)
    parser.add_argument("--repeats", type=int, default=2, help="timed runs of each drying (fastest counts)")
    parser.add_argument("--json", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = load_drying_model(args.model)
    data = DemSeries(args.data)
    recipes = data.ids(args.split)
    n_dems = [int(v) for v in args.n_dem.split(",")]
    rows = {n: [] for n in n_dems}
    spread = []
    for index, recipe in enumerate(recipes):
        row = data.recipes.loc[data.recipes["recipe"] == recipe].iloc[0]
        conditions = data.conditions(recipe)
        material, n_am, seed = str(row["material"]), int(row["n_am"]), int(row["seed"])
        if index == 0:  # compile the kernels before timing anything
            warm = drying_protocol(conditions, material, n_am=n_am, seed=seed)
            paml_dry(warm.protocol, model, warm.params, 10, args.macro_steps)
            drying_protocol(conditions, material, n_am=n_am, seed=seed).protocol.advance(500)
        dem_wall, reference = dem_film(conditions, material, n_am, seed, args.repeats)
        spread.append(film_errors(dem_film(conditions, material, n_am, seed + SEED_OFFSET)[1], reference))
        for n_dem in n_dems:
            runs = []
            for _ in range(args.repeats):  # the fastest of identical runs: the machine may be shared
                built = drying_protocol(conditions, material, n_am=n_am, seed=seed)
                runs.append(paml_dry(built.protocol, model, built.params, n_dem, args.macro_steps))
            run = min(runs, key=lambda r: r.wall_s)
            film = dried_film(run.result.state, run.result.box, built.counts, built.material, run.max_overlap)
            errors = film_errors(film, reference)
            rows[n_dem].append(
                {
                    "recipe": recipe,
                    "wall_s": run.wall_s,
                    "dem_wall_s": dem_wall,
                    "speedup": dem_wall / run.wall_s,
                    "macro_steps": run.macro_steps,
                    "dem_steps": run.dem_steps,
                    "porosity": film.porosity,
                    "dem_porosity": reference.porosity,
                    "tortuosity_factor": film.tortuosity_factor,
                    "dem_tortuosity_factor": reference.tortuosity_factor,
                    "errors": errors,
                    "notes": run.notes,
                }
            )
            print(f"{recipe} n_dem {n_dem}: {run.wall_s:.3f} s vs DEM {dem_wall:.2f} s, {errors}", flush=True)
    study = []
    for n_dem in n_dems:
        cases = rows[n_dem]
        wall = float(np.sum([c["wall_s"] for c in cases]))
        dem_wall = float(np.sum([c["dem_wall_s"] for c in cases]))
        names = cases[0]["errors"].keys()
        mean_errors = {k: float(np.mean([c["errors"][k] for c in cases])) for k in names}
        worst = {f"{k}_max": float(np.max([c["errors"][k] for c in cases])) for k in names}
        study.append(
            {
                "n_dem": n_dem,
                "wall_s": wall / len(cases),
                "dem_wall_s": dem_wall / len(cases),
                "speedup": dem_wall / wall,
                "errors": {**mean_errors, **worst},
                "cases": cases,
            }
        )
    default = next((s for s in study if s["n_dem"] == DEFAULT_N_DEM), study[0])
    names = spread[0].keys()
    result = {
        "recipes": recipes,
        "split": args.split,
        "macro_steps": args.macro_steps,
        "repeats": args.repeats,
        "default_n_dem": default["n_dem"],
        "model": model.provenance.get("command", ""),
        "n_dem_study": study,
        "dem_seed_spread": {k: float(np.mean([s[k] for s in spread])) for k in names},
        "speedup_paml_drying": default["speedup"],
        "goals": GOALS,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))
    e = default["errors"]
    print(
        f"paml_drying: n_dem {default['n_dem']}: {default['speedup']:.1f}x faster than DEM drying"
        f" ({default['wall_s']:.2f} s vs {default['dem_wall_s']:.2f} s),"
        f" porosity err {e['porosity_abs']:.4f}, tortuosity {100 * e['tortuosity_factor_rel']:.1f} %,"
        f" D_eff {100 * e['effective_diffusivity_rel']:.1f} %, g(r) rms {e['rdf_rms']:.3f},"
        f" max overlap {e['max_overlap_max']:.3f} (DEM {e['reference_max_overlap_max']:.3f})"
        f" on {len(recipes)} {args.split} recipes -> {args.json}"
    )


if __name__ == "__main__":
    main()
