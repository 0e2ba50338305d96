"""Campaign benchmark: quickstart wall time and trials to the targets, and the optimizer's
per-suggestion overhead as the experiment grows to 50 trials.

    python benchmarks/campaign.py --json results/campaign.json

JSON keys: quickstart_wall_s, quickstart_trials, quickstart_trials_to_targets,
quickstart_targets_met, suggest_s_by_trial (list), suggest_s_at_50 (mean of trials 46-50),
suggest_s_median, overhead_trials.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def quickstart() -> dict[str, float | int | bool | None]:
    """Run campaigns/quickstart.yaml end to end (local Ray, 2 agents) and time it."""
    from agents.manager import run_campaign
    from batman_opt.optimize.targets import target_distance
    from batman_opt.spec import load_campaign
    from batman_opt.store import COMPLETED, RunStore

    campaign = load_campaign(ROOT / "campaigns" / "quickstart.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        summary = run_campaign(campaign, Path(tmp) / "run", show_progress=False)
        wall = time.perf_counter() - started
        trials = RunStore(Path(tmp) / "run").trials()
    done = [t for t in trials if t.status == COMPLETED]
    hits = [t.trial for t in done if target_distance(t.outcomes, campaign.targets) <= 1.0]
    return {
        "quickstart_wall_s": wall,
        "quickstart_trials": summary.completed + summary.failed,
        "quickstart_trials_to_targets": hits[0] + 1 if hits else None,
        "quickstart_targets_met": bool(hits),
    }


def suggestion_overhead(n_trials: int) -> list[float]:
    """Seconds per `suggest(1)` of the quickstart optimizer, trial by trial, with the process model."""
    from batman_opt.optimize.ax_client import CampaignOptimizer
    from batman_opt.spec import load_campaign
    from sims.process import evaluate

    campaign = load_campaign(ROOT / "campaigns" / "quickstart.yaml")
    optimizer = CampaignOptimizer(campaign)
    times = []
    for _ in range(n_trials):
        started = time.perf_counter()
        suggestions = optimizer.suggest(1)
        times.append(time.perf_counter() - started)
        for trial, params in suggestions.items():
            optimizer.complete(trial, evaluate(params, campaign.material))
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, required=True, help="where to write the figures")
    parser.add_argument("--overhead-trials", type=int, default=50)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    figures: dict[str, object] = dict(quickstart())
    times = suggestion_overhead(args.overhead_trials)
    tail = times[-5:]
    figures.update(
        suggest_s_by_trial=times,
        suggest_s_at_50=statistics.mean(tail),
        suggest_s_median=statistics.median(times),
        overhead_trials=args.overhead_trials,
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(figures, indent=2))
    print(
        f"campaign: quickstart {figures['quickstart_wall_s']:.1f} s, {figures['quickstart_trials']} trials, "
        f"targets met at trial {figures['quickstart_trials_to_targets']}; "
        f"suggestion {figures['suggest_s_at_50']:.2f} s at {args.overhead_trials} trials "
        f"(median {figures['suggest_s_median']:.2f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
