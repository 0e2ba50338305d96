"""Calibrate the process model's calendering law (sims.process) against DEM runs (sims.electrode).

Runs the dem evaluator over the NMC111 process window (AM fractions x compression ratios x seeds,
metrics off), fits the process model's calendering constants to the DEM means by least squares
(`fit_calendering_law`: the pressure law on the peak pressure, the spring-back coefficient on the
spring-back, all three residuals together; the dense packing limit is held, SATURATION_HELD, as
the DEM does not reach it within the window), and prints the agreement table (DEM mean
+- std over seeds vs the process model with the frozen constants of sims/process.py).

    python benchmarks/process_vs_dem.py --json results/process_vs_dem.json
    python benchmarks/process_vs_dem.py --json out.json --am 0.95 --compressions 0.1 0.3 --seeds 2

Both evaluators see the same recipe through the same quantities: the porosity drop from the dried
film (the process model's dried porosity comes from its lab fit, the DEM's from its drying run),
the peak calendering pressure and the spring-back, at the same thickness reduction of the dried
film. JSON: `rows` (per recipe: DEM mean and std, process values), `fitted` (the constants the DEM
asks for) and `frozen` (those in sims/process.py), `n_am`, `lateral_um`, `seeds`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sims import process  # noqa: E402
from sims.electrode import recalender, simulate_electrode  # noqa: E402
from sims.protocols.calendering_common import CalenderingConfig  # noqa: E402

# a lab-like coating: 65 % solids, 200 um comma gap, 0.3 m/min (only its dried film matters here)
COATING = {"solid_content": 0.65, "comma_gap_um": 200.0}
DEM_NAMES = ("porosity", "dried_porosity", "max_pressure_mpa", "spring_back_pct")
# keyword of sims.process.process_arrays -> constant of sims/process.py
FROZEN = {
    "calendered_max_packing": "CALENDERED_MAX_PACKING",
    "saturation_exponent": "SATURATION_EXPONENT",
    "pressure_modulus_ratio": "CALENDERING_PRESSURE_MODULUS_RATIO",
    "pressure_exponent": "CALENDERING_PRESSURE_EXPONENT",
    "spring_back_coefficient": "SPRING_BACK_COEFFICIENT",
}
# the DEM does not reach the dense limit within compression 0.35: held at the lab's flattening
SATURATION_HELD = {"calendered_max_packing": 0.90, "saturation_exponent": 12.0}
BOUNDS = {
    "calendered_max_packing": (0.75, 0.99),
    "saturation_exponent": (1.5, 20.0),
    "pressure_modulus_ratio": (1e-3, 1.0),
    "pressure_exponent": (1.0, 6.0),
    "spring_back_coefficient": (0.01, 3.0),
}


def dem_window(
    am_fractions, compressions, seeds, n_am: int, lateral_um: float | None, load_steps: int
) -> list[dict]:
    """DEM means and sample std over seeds per (AM fraction, compression) recipe (one dried film
    per AM fraction and seed, calendered at each compression)."""
    config = CalenderingConfig(load_steps=load_steps)
    runs: dict[tuple[float, float], list[dict]] = {}
    for am in am_fractions:
        for seed in seeds:
            recipe = {"am_mass_fraction": am, "compression_ratio": 0.0}
            dried = simulate_electrode(recipe, n_am=n_am, lateral_um=lateral_um, seed=seed, metrics=False)
            for cr in compressions:
                runs.setdefault((am, cr), []).append(
                    recalender(dried, cr, calendering_config=config).outcomes
                )
    rows = []
    for (am, cr), outcomes in runs.items():
        row = {"am_mass_fraction": am, "compression_ratio": cr}
        for name in DEM_NAMES:
            values = np.array([r[name] for r in outcomes])
            row[f"dem_{name}"] = float(values.mean())
            row[f"dem_{name}_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def process_values(rows: list[dict], **law: float) -> dict[str, np.ndarray]:
    """Porosity drop, peak pressure (MPa) and spring-back (%) of the process model at the rows' recipes."""
    am = np.array([r["am_mass_fraction"] for r in rows])
    cr = np.array([r["compression_ratio"] for r in rows])
    mat = process.get_material("NMC111")
    args = (am, COATING["solid_content"], COATING["comma_gap_um"], process.LAB_COATING_SPEED_M_MIN)
    dried = process.process_arrays(*args, 0.0, mat, **law)
    calendered = process.process_arrays(*args, cr, mat, **law)
    return {
        "porosity_drop": dried["porosity"] - calendered["porosity"],
        "max_pressure_mpa": calendered["max_pressure_mpa"],
        "spring_back_pct": calendered["spring_back_pct"],
    }


def fit_calendering_law(rows: list[dict], fixed: dict[str, float] | None = None) -> dict[str, float]:
    """Least-squares calendering constants of the process model on the DEM means (those in `fixed`
    held), each residual over its tolerance: porosity drop 0.02, pressure 20 % + 5 MPa (the plate
    barely touches a rough film at light compressions), spring-back 0.5 point."""
    fixed = dict(fixed or {})
    dem_drop = np.array([r["dem_dried_porosity"] - r["dem_porosity"] for r in rows])
    dem_p = np.array([r["dem_max_pressure_mpa"] for r in rows])
    dem_sb = np.array([r["dem_spring_back_pct"] for r in rows])
    names = [name for name in FROZEN if name not in fixed]

    def residual(x: np.ndarray) -> np.ndarray:
        pred = process_values(rows, **fixed, **dict(zip(names, x, strict=True)))
        return np.concatenate(
            [
                (pred["porosity_drop"] - dem_drop) / 0.02,
                (pred["max_pressure_mpa"] - dem_p) / (0.2 * dem_p + 5.0),
                (pred["spring_back_pct"] - dem_sb) / 0.5,
            ]
        )

    low, high = np.array([BOUNDS[n] for n in names]).T
    x0 = np.clip([getattr(process, FROZEN[n]) for n in names], low, high)
    fit = least_squares(residual, x0=x0, bounds=(low, high))
    return {**fixed, **dict(zip(names, (float(v) for v in fit.x), strict=True))}


def agreement(rows: list[dict]) -> list[dict]:
    """Per recipe: DEM mean +- std beside the process model with its frozen constants."""
    pred = process_values(rows)
    table = []
    for k, r in enumerate(rows):
        table.append(
            {
                **r,
                "dem_porosity_drop": r["dem_dried_porosity"] - r["dem_porosity"],
                "process_porosity_drop": float(pred["porosity_drop"][k]),
                "process_max_pressure_mpa": float(pred["max_pressure_mpa"][k]),
                "process_spring_back_pct": float(pred["spring_back_pct"][k]),
            }
        )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument("--am", type=float, nargs="+", default=[0.90, 0.95, 0.97])
    parser.add_argument("--compressions", type=float, nargs="+", default=[0.12, 0.24, 0.35])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--n-am", type=int, default=60)
    parser.add_argument("--lateral-um", type=float, default=22.0)
    parser.add_argument("--load-steps", type=int, default=12000)
    args = parser.parse_args()
    rows = dem_window(
        args.am, args.compressions, range(args.seeds), args.n_am, args.lateral_um, args.load_steps
    )
    table = agreement(rows)
    fitted = fit_calendering_law(rows, SATURATION_HELD)
    frozen = {name: getattr(process, constant) for name, constant in FROZEN.items()}
    out = {
        "rows": table,
        "fitted": fitted,
        "frozen": frozen,
        "n_am": args.n_am,
        "lateral_um": args.lateral_um,
    }
    out["seeds"] = args.seeds
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2))
    print(
        "| AM | compression | porosity drop DEM | process | P DEM (MPa) | process "
        "| spring-back DEM (%) | process |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in table:
        print(
            f"| {r['am_mass_fraction']:.2f} | {r['compression_ratio']:.2f} "
            f"| {r['dem_porosity_drop']:.3f} +- {r['dem_porosity_std']:.3f} "
            f"| {r['process_porosity_drop']:.3f} "
            f"| {r['dem_max_pressure_mpa']:.1f} +- {r['dem_max_pressure_mpa_std']:.1f} "
            f"| {r['process_max_pressure_mpa']:.1f} "
            f"| {r['dem_spring_back_pct']:.2f} +- {r['dem_spring_back_pct_std']:.2f} "
            f"| {r['process_spring_back_pct']:.2f} |"
        )
    print(f"process_vs_dem: fitted {json.dumps(fitted)}; frozen {json.dumps(frozen)}")


if __name__ == "__main__":
    main()
