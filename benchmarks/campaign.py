"""Campaign benchmark at scale: suggestion latency with 200, 1,000 and 3,000 finished trials beside
Ax's default Client on the same data, resume time of a run directory of 1,000 trials, and the
trials each needs to meet the quickstart's targets (sample efficiency, median over seeds).

    python benchmarks/campaign.py --json results/campaign.json
    python benchmarks/campaign.py --json r.json --sizes 200 1000 --ax-sizes 200 --seeds 3   # shorter

The campaign is the quickstart (process evaluator; 5 parameters, 2 targets and 1 objective). The
finished trials are random recipes evaluated by the process model; both optimizers get the same
trials (loaded in bulk, not timed), make one suggestion and get its result, and the time of the
next `suggest(1)` is measured (its GP fit and acquisition optimization). "Ax default" is the same
Ax experiment with the generation strategy Ax's Client picks by itself, given the campaign's initial
design (`initial_trials` Sobol points from its seed, as ours), so that `trials_to_target` compares
the model-based part.

JSON keys: suggest_s and ax_default_suggest_s (objects keyed by trial count), resume_s (keyed by
trial count: lock, log compaction, read and replay, until the run can suggest),
resume_parts (log parts before the resume), trials_to_target ({"ours", "ax_default"}: median trials
to meet both targets, "per_seed", "budget", "seeds"), window (trials in our GP beyond which it is
windowed), load_average and cpus (the machine while it ran).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from batman_opt.optimize import window  # noqa: E402
from batman_opt.optimize.ax_client import CampaignOptimizer  # noqa: E402
from batman_opt.optimize.targets import target_distance  # noqa: E402
from batman_opt.session import CampaignSession  # noqa: E402
from batman_opt.spec import Campaign, load_campaign  # noqa: E402
from batman_opt.store import COMPLETED, RUNNING, RunStore, TrialRecord  # noqa: E402
from sims.process import OUTCOMES, evaluate, evaluate_batch  # noqa: E402


def finished_trials(campaign: Campaign, n: int, seed: int = 0) -> list[TrialRecord]:
    """n completed trials on uniformly random recipes within the campaign's bounds."""
    rng = np.random.default_rng(seed)
    columns = {p.name: rng.uniform(*p.bounds, n) for p in campaign.tuned_parameters}
    outcomes = evaluate_batch(columns, campaign.material)
    return [
        TrialRecord(
            i,
            COMPLETED,
            {k: float(v[i]) for k, v in columns.items()},
            {k: float(outcomes[k][i]) for k in OUTCOMES},
        )
        for i in range(n)
    ]


def optimizer(campaign: Campaign, ax_default: bool) -> CampaignOptimizer:
    """Our optimizer, or the same experiment with Ax's own default generation strategy, given the
    campaign's initial design (its size and seed; Ax's own default would be 5 trials)."""
    opt = CampaignOptimizer(campaign)
    if ax_default:
        opt.client.configure_generation_strategy(**ax_initialization(campaign))
    return opt


def ax_initialization(campaign: Campaign) -> dict[str, int]:
    return {
        "initialization_budget": campaign.budget.initial_trials,
        "initialization_random_seed": campaign.seed,
    }


def suggest_latency(campaign: Campaign, n: int, ax_default: bool) -> float:
    """Seconds of one suggestion with n finished trials in the experiment, as a running campaign
    makes it: after another suggestion whose result came back (the first after a replay is the
    resume's, a cold fit: resume_s counts that one)."""
    opt = optimizer(campaign, ax_default)
    opt.replay(finished_trials(campaign, n))
    if ax_default:  # replay installed ours: Ax's default again, its center point long made
        opt.client.configure_generation_strategy(**ax_initialization(campaign), initialize_with_center=False)
    first = opt.suggest(1)[0]  # a running campaign's state: one suggestion made and its result told
    opt.complete(first.trial, evaluate(first.parameters, campaign.material))
    started = time.perf_counter()
    opt.client.get_next_trials(max_trials=1)
    elapsed = time.perf_counter() - started
    node = opt.client._generation_strategy.current_node_name
    assert node == "MBM", f"the suggestion came from {node}, not the GP"
    return elapsed


def resume_time(campaign: Campaign, n: int) -> tuple[float, int]:
    """Seconds to reopen a run directory of n trials logged as a manager logs them (one part per
    event: issued, then finished), until it can suggest; and the number of parts."""
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        with CampaignSession.open(campaign, run_dir) as session:
            for record in finished_trials(campaign, n):
                session.store.append([TrialRecord(record.trial, RUNNING, record.parameters)])
                session.store.append([record])
        parts = len(list(RunStore(run_dir).trials_dir.glob("*.parquet")))
        started = time.perf_counter()
        with CampaignSession.open(campaign, run_dir) as session:
            elapsed = time.perf_counter() - started
            assert session.completed == n
    return elapsed, parts


def trials_to_target(campaign: Campaign, seed: int, budget: int, ax_default: bool) -> int | None:
    """Trials until one meets both targets (None: not within `budget`), one suggestion at a time."""
    seeded = campaign.model_copy(update={"seed": seed})
    opt = optimizer(seeded, ax_default)
    for count in range(1, budget + 1):
        suggestion = opt.suggest(1)[0]
        outcomes = evaluate(suggestion.parameters, campaign.material)
        opt.complete(suggestion.trial, outcomes)
        if target_distance(outcomes, campaign.targets) <= 1.0:
            return count
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, required=True, help="where to write the figures")
    parser.add_argument("--sizes", type=int, nargs="*", default=[200, 1000, 3000])
    parser.add_argument("--ax-sizes", type=int, nargs="*", default=None, help="default: --sizes")
    parser.add_argument("--resume-sizes", type=int, nargs="*", default=[1000])
    parser.add_argument("--seeds", type=int, default=10, help="seeds of the sample-efficiency runs")
    parser.add_argument("--budget", type=int, default=200, help="trials per sample-efficiency run")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    campaign = load_campaign(ROOT / "campaigns" / "quickstart.yaml")
    campaign = campaign.model_copy(
        update={"budget": campaign.budget.model_copy(update={"max_trials": 10**6})}
    )
    figures: dict[str, object] = {"window": window.WINDOW, "cpus": os.cpu_count()}
    loads = [os.getloadavg()[0]]

    def save() -> None:
        figures["load_average"] = round(statistics.mean(loads), 2)
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2))

    ours, theirs, resume, parts = {}, {}, {}, {}
    for n in args.sizes:
        ours[str(n)] = suggest_latency(campaign, n, ax_default=False)
        figures["suggest_s"] = ours
        loads.append(os.getloadavg()[0])
        save()
    for n in args.sizes if args.ax_sizes is None else args.ax_sizes:
        theirs[str(n)] = suggest_latency(campaign, n, ax_default=True)
        figures["ax_default_suggest_s"] = theirs
        loads.append(os.getloadavg()[0])
        save()
    for n in args.resume_sizes:
        resume[str(n)], parts[str(n)] = resume_time(campaign, n)
        figures.update(resume_s=resume, resume_parts=parts)
        save()
    per_seed: dict[str, list[int | None]] = {"ours": [], "ax_default": []}
    for seed in range(args.seeds):
        for name in per_seed:
            per_seed[name].append(trials_to_target(campaign, seed, args.budget, name == "ax_default"))
            loads.append(os.getloadavg()[0])

        def median(values: list[int | None]) -> float:
            return statistics.median([v if v is not None else args.budget + 1 for v in values])

        figures["trials_to_target"] = {
            "ours": median(per_seed["ours"]),
            "ax_default": median(per_seed["ax_default"]),
            "per_seed": per_seed,
            "budget": args.budget,
            "seeds": seed + 1,
        }
        save()
    save()

    def table(values: dict[str, float]) -> str:
        return ", ".join(f"{n}: {s:.2f} s" for n, s in values.items()) or "-"

    ttt = figures.get("trials_to_target", {})
    print(
        f"campaign: suggest ours {table(ours)}; Ax default {table(theirs)}; resume {table(resume)}; "
        f"trials to target (median of {ttt.get('seeds', 0)}) ours {ttt.get('ours')} "
        f"/ Ax {ttt.get('ax_default')}; "
        f"load {figures['load_average']} on {figures['cpus']} CPUs"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
