"""Run directories and structures for the report tests, made here: a process campaign whose trials
are real process-model evaluations of a random design (a failed and a running trial included), a
dem campaign with one real small DEM electrode (its structure and time series), and a lattice of
spheres built by hand."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from batman_opt.report.cards import Card, RunData
from batman_opt.report.html import build_cards, render_html
from batman_opt.spec import ChoiceParameter, load_campaign
from batman_opt.store import COMPLETED, FAILED, RUNNING, RunStore, TrialRecord
from sims import process
from sims.electrode import simulate_electrode
from sims.metrics import AM, CBD
from sims.structure import ElectrodeStructure

REPO = Path(__file__).resolve().parents[3]


def write_process_run(path: Path, n: int = 24, seed: int = 0, campaign_file: str = "quickstart.yaml") -> Path:
    """A run directory of a process campaign: n random recipes on 2 agents, the 6th failed, the last
    one still running."""
    campaign = load_campaign(REPO / "campaigns" / campaign_file)
    rng = np.random.default_rng(seed)
    store = RunStore(path, lock=False)
    store.trials_dir.mkdir(parents=True, exist_ok=True)
    store.save_campaign(campaign)
    clock = 1.7e9
    records = []
    for i in range(n):
        params = {
            p.name: p.values[rng.integers(len(p.values))]
            if isinstance(p, ChoiceParameter)
            else float(p.bounds[0] + rng.random() * (p.bounds[1] - p.bounds[0]))
            for p in campaign.tuned_parameters
        }
        params.update(campaign.fixed_values)
        agent = f"process-{i % 2}"
        start, end = clock + 0.5 * i, clock + 0.5 * i + 0.8
        generator = "sobol" if i < (campaign.budget.initial_trials or 5) else "botorch"
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


def lattice_structure(n: int = 4, radius_um: float = 4.0, gap_um: float = 0.5) -> ElectrodeStructure:
    """AM spheres on a simple cubic lattice, n x n x n, with a CBD sphere in every second cell."""
    pitch = 2 * radius_um + gap_um
    grid = (np.arange(n) + 0.5) * pitch
    am = np.stack(np.meshgrid(grid, grid, grid, indexing="ij"), axis=-1).reshape(-1, 3)
    cbd = am[::2] + pitch / 2
    cbd = cbd[np.all(cbd < n * pitch, axis=1)]
    position = np.concatenate([am, cbd])
    radius = np.concatenate([np.full(len(am), radius_um), np.full(len(cbd), 1.0)])
    phase = np.concatenate([np.full(len(am), AM), np.full(len(cbd), CBD)]).astype(np.uint8)
    return ElectrodeStructure(position, radius, phase, np.array([n * pitch, n * pitch]), n * pitch, "NMC111")


@pytest.fixture(scope="session")
def dem_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dem_calendering run in progress: trial 0 a real small DEM electrode with its structure and
    time series artifacts, trial 1 still running."""
    path = tmp_path_factory.mktemp("runs") / "dem"
    campaign = load_campaign(REPO / "campaigns" / "dem_calendering.yaml")
    store = RunStore(path)
    store.trials_dir.mkdir(parents=True, exist_ok=True)
    store.save_campaign(campaign)
    params = {"am_mass_fraction": 0.95, "solid_content": 0.65, "compression_ratio": 0.2, "drying_rate": 1.0}
    artifacts = path / "artifacts" / "0"
    artifacts.mkdir(parents=True)
    start = time.time()
    result = simulate_electrode(
        params, n_am=40, timeseries_path=artifacts / "timeseries.parquet", timeseries_every=2000
    )
    c = result.calendered
    ElectrodeStructure.of(c.state, c.box, c.thickness_m, "NMC111").save(artifacts / "structure.npz")
    common = {"evaluator": "dem", "start_time": start, "generator": "sobol"}
    store.append(
        [
            TrialRecord(0, COMPLETED, params, result.outcomes, agent="dem-0", end_time=time.time(), **common),
            TrialRecord(1, RUNNING, {**params, "compression_ratio": 0.1}, agent="dem-1", **common),
        ]
    )
    return path


@pytest.fixture(scope="session")
def process_report(process_run: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Card]]:
    """The HTML report of the process run (made once: the GP cards take seconds) and its cards."""
    data = RunData.of(RunStore(process_run))
    cards = build_cards(data)
    path = tmp_path_factory.mktemp("reports") / "process.html"
    path.write_text(render_html(data, cards), encoding="utf-8")
    return path, cards
