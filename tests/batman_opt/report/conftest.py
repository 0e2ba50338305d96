"""Run directories for the report tests, made here: a process campaign whose trials are real
process-model evaluations of a random design (a failed and a running trial included), and a small
DEM electrode structure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from batman_opt.spec import load_campaign
from batman_opt.store import COMPLETED, FAILED, RUNNING, RunStore, TrialRecord
from sims import process

REPO = Path(__file__).resolve().parents[3]


def write_process_run(path: Path, n: int = 24, seed: int = 0) -> Path:
    """A quickstart run directory: n trials on 2 agents, the 6th failed, the last one still running."""
    campaign = load_campaign(REPO / "campaigns" / "quickstart.yaml")
    rng = np.random.default_rng(seed)
    store = RunStore(path, lock=False)
    store.trials_dir.mkdir(parents=True, exist_ok=True)
    store.save_campaign(campaign)
    clock = 1.7e9
    records = []
    for i in range(n):
        params = {
            p.name: float(p.bounds[0] + rng.random() * (p.bounds[1] - p.bounds[0]))
            for p in campaign.tuned_parameters
        }
        agent = f"process-{i % 2}"
        start, end = clock + 0.5 * i, clock + 0.5 * i + 0.8
        generator = "sobol" if i < campaign.budget.initial_trials else "botorch"
        common = {"evaluator": "process", "agent": agent, "start_time": start, "generator": generator}
        if i == 5:
            records.append(
                TrialRecord(i, FAILED, params, reason="timeout after 30 s", end_time=end, **common)
            )
        elif i == n - 1:
            records.append(TrialRecord(i, RUNNING, params, **common))
        else:
            records.append(
                TrialRecord(i, COMPLETED, params, process.evaluate(params), end_time=end, **common)
            )
    store.append(records)
    return path


@pytest.fixture(scope="session")
def process_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_process_run(tmp_path_factory.mktemp("runs") / "quickstart")
