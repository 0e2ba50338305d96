"""Tortuosity factor: sims.metrics.transport against TauFactor on the same images, one CPU thread each.

Three structures per size (cubes of 100^3 and 200^3 voxels by default), all solved through the
thickness (z) for the pore phase:
- blobs: Gaussian-filtered noise thresholded at 40 % porosity (sigma 2 voxels);
- spheres: random non-overlapping spheres of radius 8 voxels, solid fraction 0.3;
- gdl: a stochastic gas-diffusion layer of sims.gdl (fibre radius 3.5 voxels, porosity 0.8, 10 %
  binder).
TauFactor 1.x runs its binary `Solver` on the CPU with one torch thread and its default tolerance
(layer fluxes within 1 %, tau steady within 2e-3); batman runs `tortuosity()` with its default
flux tolerance (1e-3), after a warm-up call that compiles the numba kernels. Both times include the
solver set-up; with `--repeats N` the two solvers alternate N times and the fastest run of each
counts. speedup = taufactor_s / batman_s. On a shared machine both slow down with the load
(`load_average_1min` is recorded at the end): compare the speedups of one run, not times across runs.

    python benchmarks/tortuosity.py --json results/tortuosity.json [--sizes 100 200] [--repeats 2]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import taufactor  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sims.gdl import GDLParams, generate_gdl  # noqa: E402
from sims.metrics import PORE, tortuosity  # noqa: E402
from sims.metrics.synthetic import blobs, random_sphere_packing  # noqa: E402


def structures(n: int) -> dict[str, np.ndarray]:
    """The three labelled images of side `n` voxels (0 = pore)."""
    shape = (n, n, n)
    return {
        "blobs": blobs(shape, porosity=0.4, blob_size_voxels=2.0, seed=1),
        # radius 8 voxels, smaller in cubes under 100 voxels, where 0.3 would not fit between the z faces
        "spheres": random_sphere_packing(
            shape, radius_voxels=8.0 * min(1.0, n / 100), solid_fraction=0.3, seed=2
        )[0],
        "gdl": generate_gdl(
            GDLParams(fibre_radius_um=3.5, porosity=0.8, shape=shape, voxel_um=1.0, seed=3)
        ).labels,
    }


def run_taufactor(labels: np.ndarray) -> tuple[float, float, int]:
    """(tau, seconds, iterations) of TauFactor through z (its flux axis is the first one)."""
    pore = np.ascontiguousarray(np.moveaxis(labels == PORE, 2, 0)).astype(np.uint8)
    start = time.perf_counter()
    solver = taufactor.Solver(pore, device="cpu")
    tau = float(np.asarray(solver.solve(verbose=False))[0])
    return tau, time.perf_counter() - start, int(solver.iter)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, required=True, help="where to write the figures (JSON)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 200], help="cube sides in voxels")
    parser.add_argument(
        "--repeats", type=int, default=1, help="runs of each solver per case; the fastest counts"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    tortuosity(blobs((24, 24, 24), 0.4), "z")  # compile the numba kernels before timing

    cases = []
    for n in args.sizes:
        for name, labels in structures(n).items():
            batman_samples, taufactor_samples = [], []
            for _ in range(args.repeats):  # interleaved, so that both see the same load
                start = time.perf_counter()
                ours = tortuosity(labels, "z")
                batman_samples.append(time.perf_counter() - start)
                tf_tau, tf_s, tf_iter = run_taufactor(labels)
                taufactor_samples.append(tf_s)
            batman_s, tf_s = min(batman_samples), min(taufactor_samples)
            case = {
                "structure": name,
                "size": n,
                "porosity": float(np.mean(labels == PORE)),
                "batman_s": batman_s,
                "taufactor_s": tf_s,
                "batman_tau": ours.tortuosity_factor,
                "taufactor_tau": tf_tau,
                "speedup": tf_s / batman_s,
                "tau_rel_diff": abs(ours.tortuosity_factor - tf_tau) / tf_tau,
                "batman_iterations": ours.iterations,
                "batman_flux_spread": ours.flux_spread,
                "taufactor_iterations": tf_iter,
                "batman_samples_s": batman_samples,
                "taufactor_samples_s": taufactor_samples,
            }
            cases.append(case)
            print(
                f"{name:8s} {n}^3: batman {batman_s:7.2f} s tau {ours.tortuosity_factor:.4f} "
                f"({ours.iterations} it) | TauFactor {tf_s:7.2f} s tau {tf_tau:.4f} ({tf_iter} it) | "
                f"x{case['speedup']:.1f}, tau diff {100 * case['tau_rel_diff']:.2f} %",
                file=sys.stderr,
            )
    out = {
        "threads": 1,
        "taufactor_version": importlib.metadata.version("taufactor"),
        "load_average_1min": os.getloadavg()[0],
        "cases": cases,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2) + "\n")
    largest = [c for c in cases if c["size"] == max(args.sizes)]
    print(
        f"tortuosity at {max(args.sizes)}^3: speedup over TauFactor "
        + ", ".join(f"{c['structure']} x{c['speedup']:.1f}" for c in largest)
        + f"; max tau difference {100 * max(c['tau_rel_diff'] for c in cases):.2f} %"
    )


if __name__ == "__main__":
    main()
