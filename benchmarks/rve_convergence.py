"""RVE convergence of the dem evaluator: how the seed-to-seed spread of the outcomes falls with the
RVE size (issue 10).

The default recipe (NMC111 96:2:2, compression 0.2) on RVEs of `--sizes` AM particles (CBD from
the formulation, lateral side as wide as the dried film is thick), `--seeds` seeds each; per size:
mean and sample standard deviation of porosity, peak pressure, tortuosity factor (Bruggeman CBD
and blocking CBD), and the wall time of one run.

    python benchmarks/rve_convergence.py --json results/rve_convergence.json
    python benchmarks/rve_convergence.py --json out.json --sizes 60 120 --seeds 3

JSON: `cases`, one per size, with n_am, n_particles, seeds, lateral_um, and for each outcome its
`<name>_mean` and `<name>_std`, `wall_s_mean`; `default_n_am` and whether its porosity spread is
below 0.01.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sims.electrode import DEFAULT_N_AM, simulate_electrode  # noqa: E402

NAMES = (
    "porosity",
    "max_pressure_mpa",
    "tortuosity_factor",
    "tortuosity_factor_cbd_blocking",
    "spring_back_pct",
)
POROSITY_SPREAD_GOAL = 0.01


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument("--sizes", type=int, nargs="+", default=[60, 120, DEFAULT_N_AM])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--compression", type=float, default=0.2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    cases = []
    for n_am in args.sizes:
        runs, walls = [], []
        for seed in range(args.seeds):
            t0 = time.perf_counter()
            res = simulate_electrode(
                {"compression_ratio": args.compression}, n_am=n_am, seed=seed, threads=args.threads
            )
            walls.append(time.perf_counter() - t0)
            runs.append(res.outcomes)
        case = {
            "n_am": n_am,
            "n_particles": res.state.n,
            "lateral_um": float(res.box.length[0] * 1e6),
            "seeds": args.seeds,
            "wall_s_mean": float(np.mean(walls)),
        }
        for name in NAMES:
            values = np.array([r[name] for r in runs])
            case[f"{name}_mean"] = float(values.mean())
            case[f"{name}_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        cases.append(case)
        print(json.dumps(case), flush=True)
    default = next((c for c in cases if c["n_am"] == DEFAULT_N_AM), None)
    out = {
        "cases": cases,
        "compression_ratio": args.compression,
        "default_n_am": DEFAULT_N_AM,
        "default_porosity_std_below_goal": None
        if default is None
        else default["porosity_std"] < POROSITY_SPREAD_GOAL,
        "load_average_1min": os.getloadavg()[0],
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2))
    line = "; ".join(
        f"n_am {c['n_am']}: porosity {c['porosity_mean']:.3f}+-{c['porosity_std']:.3f}, "
        f"P {c['max_pressure_mpa_mean']:.1f}+-{c['max_pressure_mpa_std']:.1f} MPa, "
        f"tau {c['tortuosity_factor_mean']:.2f}+-{c['tortuosity_factor_std']:.2f}, {c['wall_s_mean']:.0f} s"
        for c in cases
    )
    print(f"rve_convergence: {line}")


if __name__ == "__main__":
    main()
