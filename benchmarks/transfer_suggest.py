"""Suggestion latency of transfer-learning BO in a continuous space, with a 1,000-point source.

The campaign is campaigns/nmc_transfer.yaml (NMC111, 5 parameters, two targets, the graphite
process-model source subsampled to `max_source_points` = 1,000) with the closed-form process
evaluator instead of its DEM pool, so that every suggestion is a continuous acquisition
optimization. Per method (cold start and each transfer method), one campaign of `--trials` recipes
one at a time; every `suggest(1)` is timed: the first (the prior's own pick, or the first Sobol
point) apart, then the median and the largest of the others (GP fits with the prior, acquisition
optimization).

    python benchmarks/transfer_suggest.py --json results/transfer_suggest.json

JSON keys: `suggest_s` (method -> `first`, `median`, `max`, `per_suggestion`), `source_points`,
`trials`, `load_average`, `cpus`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from transfer_bo import timed_run  # noqa: E402  (benchmarks/, the script's own folder)

from batman_opt.spec import Campaign, EvaluatorSpec, load_campaign  # noqa: E402

METHODS = ("none", "prior_mean", "multitask", "ensemble", "auto")


def continuous(campaign: Campaign, method: str, trials: int) -> Campaign:
    """The campaign on the process evaluator with `method` (`none`: no source)."""
    transfer = campaign.transfer.model_copy(update={"method": method})
    if method == "none":
        transfer = transfer.model_copy(update={"sources": []})
    budget = campaign.budget.model_copy(update={"max_trials": trials, "batch_size": 1})
    return campaign.model_copy(
        update={
            "name": f"{campaign.name}-continuous-{method}",
            "evaluator": EvaluatorSpec(kind="process"),
            "transfer": transfer,
            "budget": budget,
        }
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, required=True, help="where to write the figures")
    parser.add_argument("--trials", type=int, default=12, help="recipes per method")
    parser.add_argument("--methods", nargs="*", default=list(METHODS), choices=METHODS)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    campaign = load_campaign(ROOT / "campaigns" / "nmc_transfer.yaml")
    figures: dict[str, object] = {
        "source_points": campaign.transfer.max_source_points,
        "trials": args.trials,
        "cpus": os.cpu_count(),
    }
    loads, results = [os.getloadavg()[0]], {}
    with tempfile.TemporaryDirectory() as tmp:
        for method in args.methods:
            _, times = timed_run(continuous(campaign, method, args.trials), Path(tmp))
            rest = times[1:] or times
            results[method] = {
                "first": times[0],
                "median": statistics.median(rest),
                "max": max(rest),
                "per_suggestion": times,
            }
            loads.append(os.getloadavg()[0])
            figures.update(suggest_s=results, load_average=round(statistics.mean(loads), 2))
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(figures, indent=2))
    summary = "; ".join(
        f"{m} first {r['first']:.2f} s, median {r['median']:.2f} s, max {r['max']:.2f} s"
        for m, r in results.items()
    )
    print(
        f"transfer_suggest: {figures['source_points']}-point source, {args.trials} recipes each; "
        f"{summary}; load {figures['load_average']} on {figures['cpus']} CPUs"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
