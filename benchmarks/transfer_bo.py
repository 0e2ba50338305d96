"""Transfer-learning BO against cold start, random selection and BayBE, side by side in one run.

For each pool-based campaign with a `transfer:` section (campaigns/nmc_transfer.yaml,
campaigns/lab_nmc_transfer.yaml, campaigns/gdl_tortuosity.yaml) and each seed: evaluations until a
goal recipe is evaluated, and the best distance to the targets after 5, 10 and 20 evaluations, for
- random: the pool in a random order;
- cold: the same campaign without transfer (BoTorch beside Ax, space-filling start);
- each transfer method: prior_mean, multitask, ensemble, auto;
- BayBE (PyPI `baybe`, in its own environment, see benchmarks/README.md), without and with its
  TaskParameter transfer learning on the same source points, through benchmarks/baybe_reference.py.
A goal recipe meets every target (replicate means, within tolerance) and, when the campaign also
minimizes or maximizes an outcome, lies within the campaign's margin of the best such recipe.
Also the time of one suggestion with a 1,000-point source (median over a run, per method).

    python benchmarks/transfer_bo.py --seeds 10 --json results/transfer_bo.json --plot results/transfer_bo.png
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from batman_opt.errors import SpecError  # noqa: E402
from batman_opt.evaluators import get_evaluator  # noqa: E402
from batman_opt.local import run_local  # noqa: E402
from batman_opt.optimize.targets import target_distance  # noqa: E402
from batman_opt.session import CampaignSession  # noqa: E402
from batman_opt.spec import Campaign, load_campaign  # noqa: E402
from batman_opt.store import TrialRecord  # noqa: E402
from batman_opt.transfer.sources import load_source  # noqa: E402

# campaign file -> margin of the min/max objective that still counts as the goal (its own units)
CAMPAIGNS = {
    "lab_nmc_transfer.yaml": 1.0,
    "nmc_transfer.yaml": 0.0,
    "gdl_tortuosity.yaml": 0.003,
}
METHODS = ("prior_mean", "multitask", "ensemble", "auto")
CHECKPOINTS = (5, 10, 20)
BAYBE_PYTHON = Path("/tmp/baybe-venv/bin/python")
BAYBE_TIMEOUT_S = 4 * 3600  # BayBE refits its multi-task GP by leave-one-out: ~1 min a recommendation


class Problem:
    """A campaign's pool with the replicate means of every recipe and the goal recipes."""

    def __init__(self, campaign: Campaign, margin: float, folder: Path) -> None:
        self.campaign = campaign
        with CampaignSession.open(campaign, folder / "probe") as probe:
            evaluator = probe.evaluator
            self.setup = evaluator.setup
        self.candidates = evaluator.candidates
        self.names = list(self.candidates.columns)
        averaging = get_evaluator("dataset").build(
            campaign.material, {**campaign.evaluator.options, "replicates": "mean"}, self.setup
        )
        rows = self.candidates.to_dict(orient="records")
        self.means = [averaging.evaluate(row).outcomes for row in rows]
        self.replicates = [evaluator.replicates(i) for i in range(len(rows))]
        self.outcome_names = list(evaluator.outcomes)
        distance = [target_distance(m, campaign.targets) if campaign.targets else 0.0 for m in self.means]
        feasible = [i for i, d in enumerate(distance) if d <= 1.0]
        others = [o for o in campaign.objectives if o.goal != "target"]
        if others:
            sign = 1.0 if others[0].goal == "minimize" else -1.0
            best = min(sign * self.means[i][others[0].name] for i in feasible)
            feasible = [i for i in feasible if sign * self.means[i][others[0].name] <= best + margin]
        self.goals = set(feasible)
        self.distance = distance

    def row(self, params: dict) -> int:
        key = np.array([float(params[n]) for n in self.names])
        return int(np.argmin(np.abs(self.candidates.to_numpy(float) - key).sum(axis=1)))


def with_source_points(campaign: Campaign, n: int | None) -> Campaign:
    """The campaign with at most n source points (None: as the campaign says)."""
    if n is None:
        return campaign
    return campaign.model_copy(
        update={"transfer": campaign.transfer.model_copy(update={"max_source_points": n})}
    )


def with_method(campaign: Campaign, method: str, seed: int) -> Campaign:
    options = {**campaign.evaluator.options, "seed": seed}
    transfer = campaign.transfer.model_copy(update={"method": method})
    if method == "none":
        transfer = transfer.model_copy(update={"sources": []})
    return campaign.model_copy(
        update={
            "seed": seed,
            "name": f"{campaign.name}-{method}-{seed}",
            "transfer": transfer,
            "evaluator": campaign.evaluator.model_copy(update={"options": options}),
        }
    )


def timed_run(
    campaign: Campaign, folder: Path, stop: Callable[[TrialRecord], bool] | None = None
) -> tuple[list[TrialRecord], list[float]]:
    """Run `campaign` in-process one recipe at a time (until its budget or `stop`): the records and
    the seconds of each suggestion."""
    times: list[float] = []
    with CampaignSession.open(campaign, folder / campaign.name) as session:
        original = session.suggest

        def timed(n: int):
            start = time.perf_counter()
            made = original(n)
            if made:  # the call that finds the budget spent proposes nothing
                times.append(time.perf_counter() - start)
            return made

        session.suggest = timed
        records = run_local(session, stop=stop)
    return records, times


def bo_run(problem: Problem, method: str, seed: int, folder: Path) -> dict:
    campaign = with_method(problem.campaign, method, seed)
    records, times = timed_run(campaign, folder, lambda r: problem.row(r.parameters) in problem.goals)
    rows = [problem.row(r.parameters) for r in records]
    return trace(problem, rows, campaign.budget.max_trials) | {
        "suggest_s": statistics.median(times[1:] or times)
    }


def trace(problem: Problem, rows: list[int], budget: int) -> dict:
    """Evaluations until a goal row (budget + 1 if never) and the best target distance at checkpoints."""
    hit = next((k + 1 for k, r in enumerate(rows) if r in problem.goals), budget + 1)
    best = np.minimum.accumulate([problem.distance[r] for r in rows])
    at = {str(k): float(best[min(k, len(best)) - 1]) if hit > k else 0.0 for k in CHECKPOINTS}
    return {"evaluations": hit, "best_distance": at}


def random_run(problem: Problem, seed: int) -> dict:
    order = np.random.default_rng(10_000 + seed).permutation(len(problem.candidates)).tolist()
    return trace(problem, order, len(order))


def baybe_runs(problem: Problem, seeds: int, with_source: bool, folder: Path) -> dict | None:
    """BayBE's results over `seeds` (None for 0 seeds, or when its environment or script is absent)."""
    script = ROOT / "benchmarks" / "baybe_reference.py"
    if not (seeds and BAYBE_PYTHON.exists() and script.exists()):
        return None
    campaign = problem.campaign
    source = None
    if with_source:
        n_points = campaign.transfer.max_source_points
        data = load_source(campaign.transfer.sources[0], campaign, problem.outcome_names, n_points, 0)
        source = {
            "parameters": data.x.tolist(),
            "outcomes": {k: v.tolist() for k, v in data.outcomes.items()},
        }
    spec = {
        "name": campaign.name,
        "parameters": problem.names,
        "candidates": problem.candidates.to_numpy(float).tolist(),
        "replicates": [
            [dict(zip(problem.outcome_names, r.tolist(), strict=True)) for r in reps]
            for reps in problem.replicates
        ],
        "objectives": [o.model_dump() for o in campaign.objectives],
        "goal_rows": sorted(problem.goals),
        "source": source,
        "budget": campaign.budget.max_trials,
        "initial_trials": campaign.budget.initial_trials or 5,
    }
    path = folder / f"baybe-{campaign.name}-{with_source}.json"
    path.write_text(json.dumps(spec))
    out = path.with_suffix(".out.json")
    try:
        subprocess.run(
            [
                str(BAYBE_PYTHON),
                str(script),
                "--problem",
                str(path),
                "--json",
                str(out),
                "--seeds",
                str(seeds),
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=BAYBE_TIMEOUT_S,
        )
    except (subprocess.TimeoutExpired, subprocess.CalledProcessError) as exc:
        return {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0]}"}
    return json.loads(out.read_text())


def summary(runs: list[dict]) -> dict:
    return {
        "evaluations": [r["evaluations"] for r in runs],
        "median_evaluations": statistics.median(r["evaluations"] for r in runs),
        "median_best_distance": {
            k: statistics.median(r["best_distance"][k] for r in runs) for k in map(str, CHECKPOINTS)
        },
        **(
            {"median_suggest_s": statistics.median(r["suggest_s"] for r in runs)}
            if "suggest_s" in runs[0]
            else {}
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--campaigns", nargs="*", default=list(CAMPAIGNS))
    parser.add_argument("--methods", nargs="*", default=list(METHODS))
    parser.add_argument(
        "--reference-only", action="store_true", help="random and BayBE only (no batman runs)"
    )
    parser.add_argument(
        "--source-points",
        type=int,
        default=None,
        help="source points given to every method and to BayBE (default: each campaign's max_source_points)",
    )
    parser.add_argument(
        "--baybe-seeds", type=int, default=None, help="seeds of the BayBE runs (default --seeds; 0: none)"
    )
    parser.add_argument("--json", type=Path)
    parser.add_argument("--plot", type=Path)
    args = parser.parse_args()
    results: dict = {}
    baybe_seeds = args.seeds if args.baybe_seeds is None else args.baybe_seeds
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name in args.campaigns:
            try:
                campaign = with_source_points(load_campaign(ROOT / "campaigns" / name), args.source_points)
            except SpecError as exc:  # a campaign whose data is absent (../shared) is reported, not fatal
                results[name] = {"skipped": str(exc)}
                continue
            problem = Problem(campaign, CAMPAIGNS[name], folder)
            entry: dict = {
                "pool": len(problem.candidates),
                "goal_recipes": len(problem.goals),
                "source_points": campaign.transfer.max_source_points,
                "seeds": args.seeds,
                "baybe_seeds": baybe_seeds,
            }
            entry["random"] = summary([random_run(problem, s) for s in range(args.seeds)])
            for method in () if args.reference_only else ("none", *args.methods):
                entry["cold" if method == "none" else method] = summary(
                    [bo_run(problem, method, s, folder) for s in range(args.seeds)]
                )
            for label, with_source in (("baybe_cold", False), ("baybe_transfer", True)):
                found = baybe_runs(problem, baybe_seeds, with_source, folder)
                if found is not None and "error" in found:
                    entry[label] = found
                elif found is not None:
                    entry[label] = {
                        "evaluations": found["evaluations"],
                        "median_evaluations": statistics.median(found["evaluations"]),
                        "median_best_distance": {
                            k: statistics.median(v) for k, v in found["best_distance"].items()
                        },
                        "baybe_version": found.get("baybe_version"),
                    }
            best = min(args.methods, key=lambda m: entry[m]["median_evaluations"])
            entry["best_method"] = best
            entry["ratio_best_to_cold"] = (
                entry[best]["median_evaluations"] / entry["cold"]["median_evaluations"]
            )
            results[name] = entry
            if args.json:  # after each campaign: a long run stopped early keeps what it measured
                args.json.parent.mkdir(parents=True, exist_ok=True)
                args.json.write_text(json.dumps(results, indent=2))
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(exist_ok=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    if args.plot:
        plot(results, args.plot)
    for name, entry in results.items():
        if "skipped" in entry:
            print(f"transfer BO {name}: skipped ({entry['skipped']})")
            continue
        medians = ", ".join(
            f"{k} {v['median_evaluations']:g}"
            for k, v in entry.items()
            if isinstance(v, dict) and "median_evaluations" in v
        )
        ratio = (
            f"; best TL / cold = {entry['ratio_best_to_cold']:.2f}" if "ratio_best_to_cold" in entry else ""
        )
        print(
            f"transfer BO {name} ({entry['goal_recipes']} goal recipes of {entry['pool']}), "
            f"median evaluations over {args.seeds} seeds: {medians}{ratio}"
        )


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = {k: v for k, v in results.items() if "skipped" not in v}
    fig, axes = plt.subplots(1, max(1, len(shown)), figsize=(5 * max(1, len(shown)), 4), squeeze=False)
    for ax, (name, entry) in zip(axes[0], shown.items(), strict=False):
        labels = [k for k, v in entry.items() if isinstance(v, dict) and "median_evaluations" in v]
        ax.bar(labels, [entry[k]["median_evaluations"] for k in labels], color="tab:blue")
        ax.set_title(f"{name}: {entry['goal_recipes']} goal recipes of {entry['pool']}")
        ax.set_ylabel("evaluations to a goal recipe (median)")
        ax.tick_params(axis="x", rotation=45)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    main()
