"""Pool-based BO on the real NMC111 lab data (campaigns/lab_nmc_real.yaml) against random selection
from the same pool: evaluations until a goal recipe is found, median over seeds.

A goal recipe is one whose replicate mean meets the loading target within tolerance and whose mean
porosity is within `--porosity-margin` percentage points of the best such recipe of the table: what
the campaign is asked for ("the target loading at the lowest porosity"). Each evaluation draws one
measured replicate (real noise); the campaign seed and the replicate seed change with the run's seed.
Random selection draws recipes from the same pool without replacement (its expected count is
(pool + 1) / (goal recipes + 1), given beside the measured median).

    python benchmarks/dataset_campaign.py --seeds 10 --json results/dataset_campaign.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from batman_opt.local import run_local  # noqa: E402
from batman_opt.session import CampaignSession  # noqa: E402
from batman_opt.spec import Campaign, load_campaign  # noqa: E402

CAMPAIGN = ROOT / "campaigns" / "lab_nmc_real.yaml"


def goal_recipes(campaign: Campaign, session: CampaignSession, margin_pct: float) -> set[tuple[float, ...]]:
    """Pool recipes (tuples of parameter values) whose replicate means are a goal (see module doc)."""
    evaluator = session.evaluator
    target = campaign.targets[0]
    averaging = type(evaluator)(
        campaign.material, evaluator.options.model_copy(update={"replicates": "mean"}), evaluator.setup
    )
    means = {
        tuple(row.values()): averaging.evaluate(row).outcomes
        for row in evaluator.candidates.to_dict(orient="records")
    }
    feasible = {k: m for k, m in means.items() if abs(m[target.name] - target.target) <= target.tolerance}
    best = min(m["porosity_pct"] for m in feasible.values())
    return {k for k, m in feasible.items() if m["porosity_pct"] <= best + margin_pct}


def bo_run(
    campaign: Campaign, seed: int, goals: set[tuple[float, ...]], folder: Path
) -> tuple[int | None, float]:
    """Evaluations until a goal recipe (None if the budget ends first) and seconds per suggestion."""
    options = {**campaign.evaluator.options, "seed": seed}
    seeded = campaign.model_copy(
        update={"seed": seed, "evaluator": campaign.evaluator.model_copy(update={"options": options})}
    )
    names = [p.name for p in campaign.parameters]
    with CampaignSession.open(seeded, folder / f"run{seed}") as session:
        start = time.perf_counter()
        records = run_local(session, stop=lambda r: tuple(float(r.parameters[n]) for n in names) in goals)
        per_trial = (time.perf_counter() - start) / max(1, len(records))
    hit = tuple(float(records[-1].parameters[n]) for n in names) in goals
    return (len(records) if hit else None), per_trial


def random_runs(pool: int, goals: int, seeds: int) -> list[int]:
    """Evaluations until the first goal recipe when drawing the pool in random order."""
    counts = []
    for seed in range(seeds):
        order = np.random.default_rng(1000 + seed).permutation(pool)
        counts.append(int(np.flatnonzero(order < goals)[0]) + 1)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--porosity-margin", type=float, default=1.0, help="percentage points")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    campaign = load_campaign(CAMPAIGN)
    with tempfile.TemporaryDirectory() as tmp:
        with CampaignSession.open(campaign, Path(tmp) / "probe") as probe:
            pool = len(probe.evaluator.candidates)
            goals = goal_recipes(campaign, probe, args.porosity_margin)
        runs = [bo_run(campaign, seed, goals, Path(tmp)) for seed in range(args.seeds)]
    budget = campaign.budget.max_trials
    bo = [n if n is not None else budget + 1 for n, _ in runs]
    rnd = random_runs(pool, len(goals), args.seeds)
    result = {
        "campaign": campaign.name,
        "pool_recipes": pool,
        "goal_recipes": len(goals),
        "budget": budget,
        "seeds": args.seeds,
        "bo_evaluations": bo,
        "bo_median": statistics.median(bo),
        "bo_failures": sum(n is None for n, _ in runs),
        "random_evaluations": rnd,
        "random_median": statistics.median(rnd),
        "random_expected": (pool + 1) / (len(goals) + 1),
        "seconds_per_trial": statistics.median(t for _, t in runs),
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    print(
        f"dataset campaign {campaign.name}: {len(goals)} goal recipes of {pool}; "
        f"evaluations to a goal recipe, median of {args.seeds} seeds: BO {result['bo_median']:g} "
        f"(not reached {result['bo_failures']}), "
        f"random {result['random_median']:g} (expected {result['random_expected']:.1f}); "
        f"{result['seconds_per_trial']:.2f} s per BO trial"
    )


if __name__ == "__main__":
    main()
