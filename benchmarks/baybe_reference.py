"""BayBE's transfer learning on a pool-based problem: the outside reference of benchmarks/transfer_bo.py.

Runs in its own virtual environment (BayBE pins its own botorch and pandas; see benchmarks/README.md)
and imports nothing from batman_opt:

    /tmp/baybe-venv/bin/python benchmarks/baybe_reference.py --problem problem.json --json out.json

Per seed, a BayBE campaign recommends one recipe of the candidate pool at a time; the recipe is
"measured" by drawing one of its replicates exactly as batman's dataset evaluator does
(``default_rng([seed, row]).integers(n_replicates)``, rows in the order of the problem file) until a
goal row has been evaluated or the budget is spent. With a source, the search space gets a
``TaskParameter`` (source, target) whose only active value is the target, and the source points are
added as measurements of the source task, so BayBE's multi-task GP learns the task correlation;
they need not be pool rows (they are added with ``numerical_measurements_must_be_within_tolerance``
off and never become recommendable). Without a source: the same campaign without the task
parameter (BayBE cold start: ``initial_trials`` random recipes, then Bayesian optimisation).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import sys
import time
import warnings
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from baybe import Campaign
from baybe.objectives import DesirabilityObjective, SingleTargetObjective
from baybe.parameters import NumericalDiscreteParameter, TaskParameter
from baybe.recommenders import BotorchRecommender, RandomRecommender, TwoPhaseMetaRecommender
from baybe.searchspace import SearchSpace
from baybe.settings import active_settings
from baybe.targets import NumericalTarget

TASK, SOURCE, TARGET = "task", "source", "target"
CHECKPOINTS = (5, 10, 20)


class ProblemError(ValueError):
    """A problem file that does not describe a valid pool-based problem."""


def load_problem(path: Path) -> dict[str, Any]:
    """Read and check the problem JSON written by benchmarks/transfer_bo.py."""
    try:
        problem = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ProblemError(f"{path}: cannot read the problem ({exc})") from None
    for key in ("name", "parameters", "candidates", "replicates", "objectives", "goal_rows", "budget"):
        if key not in problem:
            raise ProblemError(f"{path}: no field {key!r}")
    n_par = len(problem["parameters"])
    cands = problem["candidates"]
    if len(problem["replicates"]) != len(cands):
        n_rep = len(problem["replicates"])
        raise ProblemError(f"{path}: {len(cands)} candidates but {n_rep} replicate lists")
    for i, (row, reps) in enumerate(zip(cands, problem["replicates"], strict=True)):
        if len(row) != n_par:
            raise ProblemError(f"{path}: candidates[{i}] has {len(row)} values, expected {n_par}")
        if not reps:
            raise ProblemError(f"{path}: replicates[{i}] is empty")
        for obj in problem["objectives"]:
            if any(not isinstance(r.get(obj["name"]), int | float) for r in reps):
                raise ProblemError(f"{path}: replicates[{i}] lacks a number for outcome {obj['name']!r}")
    for obj in problem["objectives"]:
        if obj["goal"] not in ("minimize", "maximize", "target"):
            raise ProblemError(f"{path}: objective {obj['name']!r} has goal {obj['goal']!r}")
        if obj["goal"] == "target" and not (obj.get("tolerance") or 0) > 0:
            raise ProblemError(f"{path}: target objective {obj['name']!r} needs a tolerance > 0")
    source = problem.get("source")
    if source is not None:
        n_src = len(source["parameters"])
        for name, values in source["outcomes"].items():
            if len(values) != n_src:
                raise ProblemError(f"{path}: source outcome {name!r} has {len(values)} values, not {n_src}")
        missing = [o["name"] for o in problem["objectives"] if o["name"] not in source["outcomes"]]
        if missing:
            raise ProblemError(f"{path}: the source has no outcome {missing[0]!r}")
    return problem


def make_objective(problem: dict[str, Any]) -> SingleTargetObjective | DesirabilityObjective:
    """One target: MATCH within target +- tolerance, or MIN/MAX; several: their desirability."""
    objectives = problem["objectives"]

    def match(obj: dict[str, Any]) -> NumericalTarget:
        lo, hi = obj["target"] - obj["tolerance"], obj["target"] + obj["tolerance"]
        return NumericalTarget.match_triangular(obj["name"], cutoffs=(lo, hi))

    if len(objectives) == 1:
        obj = objectives[0]
        if obj["goal"] == "target":
            return SingleTargetObjective(match(obj))
        return SingleTargetObjective(NumericalTarget(obj["name"], minimize=obj["goal"] == "minimize"))
    targets = []
    for obj in objectives:
        if obj["goal"] == "target":
            targets.append(match(obj))
            continue
        values = [r[obj["name"]] for reps in problem["replicates"] for r in reps]
        lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
        hi = hi if hi > lo else lo + 1.0
        down = obj["goal"] == "minimize"
        targets.append(NumericalTarget.normalized_ramp(obj["name"], cutoffs=(lo, hi), descending=down))
    return DesirabilityObjective(targets)


def make_searchspace(problem: dict[str, Any]) -> SearchSpace:
    """The candidate pool as a discrete space; with a source, plus a task column (target only active)."""
    frame = pd.DataFrame(problem["candidates"], columns=problem["parameters"], dtype=float)
    params: list[Any] = []
    for name in problem["parameters"]:
        values = sorted(set(frame[name]))
        if len(values) < 2:
            raise ProblemError(f"parameter {name!r} takes one value in the pool; drop it from the problem")
        params.append(NumericalDiscreteParameter(name, values=values))
    if problem.get("source") is not None:
        params.append(TaskParameter(TASK, values=(SOURCE, TARGET), active_values=(TARGET,)))
        frame[TASK] = TARGET
    return SearchSpace.from_dataframe(frame, params)


def row_distances(problem: dict[str, Any]) -> np.ndarray:
    """Per candidate, max over target objectives of |replicate mean - target| / tolerance (0 if none).

    The same figure benchmarks/transfer_bo.py ranks every method by (batman's ``target_distance`` of
    the replicate means), so that the best distances compare side by side.
    """
    targets = [o for o in problem["objectives"] if o["goal"] == "target"]
    out = np.zeros(len(problem["candidates"]))
    for i, reps in enumerate(problem["replicates"]):
        gaps = [abs(np.nanmean([r[o["name"]] for r in reps]) - o["target"]) / o["tolerance"] for o in targets]
        out[i] = max(gaps, default=0.0)
    return np.where(np.isnan(out), np.inf, out)


def run_seed(problem: dict[str, Any], seed: int) -> dict[str, Any]:
    """One campaign: the rows it evaluated, the evaluations until a goal row (budget + 1 if never),
    and the wall and CPU seconds of each model-based recommendation (a cold start's first
    ``initial_trials`` random recommendations are not timed)."""
    active_settings.random_seed = seed
    names = problem["parameters"]
    source = problem.get("source")
    initial = max(int(problem.get("initial_trials", 1)), 1)
    if source is None:  # cold start: random recipes first, as BayBE's default two-phase recommender
        recommender = TwoPhaseMetaRecommender(
            initial_recommender=RandomRecommender(),
            recommender=BotorchRecommender(),
            switch_after=initial,
        )
    else:  # the source data are measurements already: Bayesian optimisation from the first recipe
        recommender = TwoPhaseMetaRecommender(recommender=BotorchRecommender(), switch_after=1)
    campaign = Campaign(
        searchspace=make_searchspace(problem),
        objective=make_objective(problem),
        recommender=recommender,
        allow_recommending_already_measured=False,
    )
    if source is not None:
        points = pd.DataFrame(source["parameters"], columns=names, dtype=float)
        points[TASK] = SOURCE
        outcomes = [o["name"] for o in problem["objectives"]]
        for name in outcomes:
            points[name] = np.asarray(source["outcomes"][name], dtype=float)
        points = points.dropna(subset=outcomes)  # a source point without every objective is left out
        campaign.add_measurements(points, numerical_measurements_must_be_within_tolerance=False)

    pool = np.asarray(problem["candidates"], dtype=float)
    goal_rows = set(problem["goal_rows"])
    budget = min(int(problem["budget"]), len(pool))
    rows: list[int] = []
    wall: list[float] = []
    cpu: list[float] = []
    for trial in range(budget):
        start, start_cpu = time.perf_counter(), time.process_time()
        rec = campaign.recommend(batch_size=1)
        if source is not None or trial >= initial:
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        key = rec[names].to_numpy(dtype=float)[0]
        row = int(np.argmin(np.abs(pool - key).sum(axis=1)))
        if not np.allclose(pool[row], key, rtol=1e-9, atol=0.0):
            raise RuntimeError(f"BayBE recommended {key.tolist()}, which is not a candidate")
        rows.append(row)
        reps = problem["replicates"][row]
        pick = int(np.random.default_rng([seed, row]).integers(len(reps)))
        values = {o["name"]: float(reps[pick][o["name"]]) for o in problem["objectives"]}
        # a replicate without a value is a failed trial: counted, not added (and not recommended again)
        if not any(np.isnan(v) for v in values.values()):
            for name, value in values.items():
                rec[name] = value
            campaign.add_measurements(rec)
        if row in goal_rows:
            return {"evaluations": len(rows), "rows": rows, "wall": wall, "cpu": cpu}
    return {"evaluations": int(problem["budget"]) + 1, "rows": rows, "wall": wall, "cpu": cpu}


def best_distances(distance: np.ndarray, rows: list[int], hit: int) -> dict[str, float]:
    """Best distance after k evaluations; 0 once a goal row has been evaluated (as transfer_bo.py)."""
    best = np.minimum.accumulate(distance[rows]) if rows else np.array([np.inf])
    return {str(k): 0.0 if hit <= k else float(best[min(k, len(best)) - 1]) for k in CHECKPOINTS}


def demo_problems(n_source: int = 200) -> tuple[dict[str, Any], dict[str, Any]]:
    """A synthetic check (with source, cold start): a 12 x 12 pool of a noisy quadratic bowl.

    The outcome ``y`` (3 replicates per recipe, noise sd 0.01) is to hit its minimum 1.0 within 0.03;
    the source is the same kind of bowl with a shifted centre, another curvature and offset, sampled
    at ``n_source`` random points that are not pool rows.
    """
    rng = np.random.default_rng(2026)
    grid = np.linspace(0.0, 1.0, 12)
    pool = np.array([[a, b] for a in grid for b in grid])

    def target_bowl(x: np.ndarray) -> np.ndarray:
        return 1.0 + 3.0 * ((x[:, 0] - 0.63) ** 2 + 1.5 * (x[:, 1] - 0.27) ** 2)

    def source_bowl(x: np.ndarray) -> np.ndarray:
        return 1.3 + 2.5 * ((x[:, 0] - 0.57) ** 2 + 1.2 * (x[:, 1] - 0.33) ** 2)

    mean = target_bowl(pool)
    replicates = [[{"y": float(m + rng.normal(0.0, 0.01))} for _ in range(3)] for m in mean]
    objective = {"name": "y", "goal": "target", "target": 1.0, "tolerance": 0.03}
    goal_rows = [i for i, reps in enumerate(replicates) if abs(np.mean([r["y"] for r in reps]) - 1.0) <= 0.03]
    xs = rng.uniform(0.0, 1.0, size=(n_source, 2))
    ys = source_bowl(xs) + rng.normal(0.0, 0.01, n_source)
    cold = {
        "name": "demo_bowl",
        "parameters": ["x1", "x2"],
        "candidates": pool.tolist(),
        "replicates": replicates,
        "objectives": [objective],
        "goal_rows": goal_rows,
        "source": None,
        "budget": 40,
        "initial_trials": 5,
    }
    return {**cold, "source": {"parameters": xs.tolist(), "outcomes": {"y": ys.tolist()}}}, cold


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problem", type=Path, help="problem JSON (see benchmarks/README.md)")
    parser.add_argument("--json", type=Path, help="where to write the results")
    parser.add_argument("--seeds", type=int, default=10, help="number of seeds (0..N-1)")
    parser.add_argument("--make-demo", type=Path, metavar="DIR", help="write the synthetic check's problems")
    parser.add_argument("--demo-source", type=int, default=200, help="source points of the synthetic check")
    args = parser.parse_args(argv)
    if args.make_demo:
        args.make_demo.mkdir(parents=True, exist_ok=True)
        for tag, demo in zip(("transfer", "cold"), demo_problems(args.demo_source), strict=True):
            (args.make_demo / f"demo_{tag}.json").write_text(json.dumps(demo))
        print(f"wrote {args.make_demo}/demo_transfer.json and demo_cold.json")
        return 0
    if args.problem is None or args.json is None:
        parser.error("--problem and --json are required")
    try:
        problem = load_problem(args.problem)
        make_searchspace(problem)
    except ProblemError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    importlib.import_module("botorch")  # BayBE imports it lazily: keep the import out of the timings
    warnings.filterwarnings("ignore", module="baybe")
    warnings.filterwarnings("ignore", module="botorch")
    warnings.filterwarnings("ignore", module="linear_operator")

    distance = row_distances(problem)
    evaluations: list[int] = []
    best: dict[str, list[float]] = {str(k): [] for k in CHECKPOINTS}
    wall: list[float] = []
    cpu: list[float] = []
    for seed in range(args.seeds):
        run = run_seed(problem, seed)
        evaluations.append(run["evaluations"])
        wall.extend(run["wall"])
        cpu.extend(run["cpu"])
        for k, value in best_distances(distance, run["rows"], run["evaluations"]).items():
            best[k].append(value)
    result = {
        "name": problem["name"],
        "baybe_version": version("baybe"),
        "transfer": problem.get("source") is not None,
        "n_source": len(problem["source"]["parameters"]) if problem.get("source") else 0,
        "seeds": args.seeds,
        "budget": int(problem["budget"]),
        "evaluations": evaluations,
        "best_distance": best,
        "seconds_per_recommendation": statistics.median(wall) if wall else None,
        "seconds_per_recommendation_max": max(wall, default=None),
        "cpu_seconds_per_recommendation": statistics.median(cpu) if cpu else None,
        "recommendations_timed": len(wall),
        "load_average_1min": os.getloadavg()[0],
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1))
    mode = f"TL from {result['n_source']} source points" if result["transfer"] else "cold start"
    print(
        f"baybe {result['baybe_version']} {problem['name']} ({mode}): median "
        f"{statistics.median(evaluations):g} evaluations to goal over {args.seeds} seeds "
        f"(budget {problem['budget']}), "
        f"median best distance after 10: {statistics.median(best['10']):.3g}, "
        f"{statistics.median(wall or [float('nan')]):.2f} s per recommendation "
        f"({statistics.median(cpu or [float('nan')]):.2f} s CPU, median)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
