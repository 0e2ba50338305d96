"""Long campaigns: the trial log is replayed in bulk into the same Ax experiment as trial by trial,
compacted atomically on resume, a resumed run chooses what an uninterrupted one would, and the
model of large campaigns sees a window of the trials and starts each fit from the last."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from batman_opt.local import run_local
from batman_opt.optimize import window
from batman_opt.optimize.ax_client import CampaignOptimizer
from batman_opt.optimize.window import WarmStartGP, window_rows
from batman_opt.session import CampaignSession
from batman_opt.spec import load_campaign
from batman_opt.store import COMPLETED, FAILED, RUNNING, RunStore, TrialRecord
from sims.process import evaluate_batch

ROOT = Path(__file__).resolve().parents[2]
CAMPAIGN = load_campaign(ROOT / "campaigns" / "quickstart.yaml")
LONG = CAMPAIGN.model_copy(update={"budget": CAMPAIGN.budget.model_copy(update={"max_trials": 1000})})
OUTCOMES = ("density_g_cm3", "mass_loading_mg_cm2", "tortuosity_factor", "porosity")


def records(n: int, seed: int = 0, increasing: str | None = None) -> list[TrialRecord]:
    """n finished trials of the quickstart on random recipes (every 7th failed, the last running)."""
    rng = np.random.default_rng(seed)
    columns = {p.name: rng.uniform(*p.bounds, n) for p in CAMPAIGN.tuned_parameters}
    if increasing:
        columns[increasing] = np.sort(columns[increasing])
    outcomes = evaluate_batch(columns, CAMPAIGN.material)
    result = []
    for i in range(n):
        params = {k: float(v[i]) for k, v in columns.items()}
        if i == n - 1:
            result.append(TrialRecord(i, RUNNING, params))
        elif i % 7 == 3:
            result.append(TrialRecord(i, FAILED, params, reason="coating cracked"))
        else:
            result.append(TrialRecord(i, COMPLETED, params, {k: float(outcomes[k][i]) for k in OUTCOMES}))
    return result


def test_bulk_replay_builds_the_experiment_trial_by_trial_replay_builds():
    log = records(30)
    bulk = CampaignOptimizer(CAMPAIGN)
    bulk.replay(log)
    one_by_one = CampaignOptimizer(CAMPAIGN)
    for record in log:
        assert one_by_one.attach(record.parameters) == record.trial
        if record.status == COMPLETED:
            one_by_one.complete(record.trial, record.outcomes)
        elif record.status == FAILED:
            one_by_one.fail(record.trial, record.reason)
    a, b = bulk.client._experiment, one_by_one.client._experiment
    assert [t.status for t in a.trials.values()] == [t.status for t in b.trials.values()]
    assert [t.arm.parameters for t in a.trials.values()] == [t.arm.parameters for t in b.trials.values()]
    columns = ["trial_index", "arm_name", "metric_name", "mean"]
    frame_a = a.lookup_data().df[columns].sort_values(columns[:3]).reset_index(drop=True)
    frame_b = b.lookup_data().df[columns].sort_values(columns[:3]).reset_index(drop=True)
    assert frame_a.equals(frame_b) and len(frame_a) == 3 * sum(r.status == COMPLETED for r in log)


def test_window_keeps_the_recent_trials_and_a_stable_spread_of_the_older():
    assert torch.equal(window_rows(100, 512), torch.arange(100))
    rows = window_rows(3000, 512)
    assert len(rows) <= 512 and len(set(rows.tolist())) == len(rows)
    assert torch.equal(rows[-384:], torch.arange(2616, 3000))  # the 3/4 most recent
    older = rows[:-384]
    assert 64 <= len(older) <= 128 and older[0] == 0 and older[-1] > 2500  # the whole history
    assert len(set(torch.diff(older).tolist())) == 1  # evenly
    # one more trial slides the recent rows by one and keeps the older ones: the next GP fit starts
    # from nearly the same data (warm start)
    after = window_rows(3001, 512)
    assert torch.equal(after[: len(older)], older) and len(set(rows.tolist()) - set(after.tolist())) == 1


def test_the_gp_and_the_acquisition_see_the_window_of_the_trials_in_trial_order(monkeypatch):
    """Beyond WINDOW trials with data, the GP is trained on (and the acquisition's baseline drawn
    from) the window's trials, chosen by trial index."""
    seen = []
    original = WarmStartGP.construct_inputs.__func__

    def recording(cls, training_data, **kwargs):
        seen.append(training_data.X.clone())
        return original(cls, training_data, **kwargs)

    monkeypatch.setattr(WarmStartGP, "construct_inputs", classmethod(recording))
    monkeypatch.setattr(window, "WINDOW", 16)
    log = [r for r in records(40, increasing="comma_gap_um") if r.status != RUNNING]
    optimizer = CampaignOptimizer(
        CAMPAIGN.model_copy(update={"budget": CAMPAIGN.budget.model_copy(update={"initial_trials": 4})})
    )
    optimizer.replay(log)
    assert optimizer.suggest(1)[0].generator == "botorch"
    completed = [r for r in log if r.status == COMPLETED]
    kept = [completed[i] for i in window_rows(len(completed), 16).tolist()]
    expected = torch.tensor([r.parameters["comma_gap_um"] for r in kept], dtype=torch.float64)
    column = [p.name for p in CAMPAIGN.tuned_parameters].index("comma_gap_um")
    assert seen and all(torch.allclose(X[:, column], expected) for X in seen)
    (spec,) = optimizer._strategy.nodes_by_name["MBM"].generator_specs
    assert len(kept) < len(completed)
    assert {len(X) for X in spec.fitted_adapter.generator.surrogate.Xs} == {len(kept)}  # the baseline


def test_a_resumed_run_compacts_its_log_into_one_part_atomically(tmp_path):
    run_dir = tmp_path / "run"
    log = records(40)
    with CampaignSession.open(LONG, run_dir) as session:
        for record in log:  # one part per event, as a long campaign writes them
            session.store.append([record])
    store = RunStore(run_dir)
    assert len(list(store.trials_dir.glob("*.parquet"))) == 40
    before = store.trials()
    with CampaignSession.open(LONG, run_dir) as session:
        assert session.resumed and session.completed == sum(r.status == COMPLETED for r in log)
        parts = sorted(store.trials_dir.glob("*.parquet"))
        assert [p.name for p in parts] == ["00000040.parquet"]
        assert store.trials() == before
        new = session.suggest(1)[0]
    assert (
        new.trial == 40
        and sorted(p.name for p in store.trials_dir.glob("*.parquet"))[-1] == "00000041.parquet"
    )
    # a kill after the merged part was renamed in and before the old parts went: the same trials
    for record in log[:5]:
        store.append([record])
    assert [r.trial for r in store.trials()] == list(range(41))
    store.compact(keep=1)
    assert store.trials()[:40] == before and len(list(store.trials_dir.glob("*.parquet"))) == 1


def test_a_resumed_run_chooses_the_recipes_of_an_uninterrupted_one(tmp_path):
    """Ax path (continuous space, no prior): the resumed Sobol sequence takes up where it stopped
    (the centre was the first trial, not a Sobol point), and BoTorch then sees the same data."""

    def comma_gaps(run_dir: Path, chunks: list[int], global_seeds: list[int]) -> list[float]:
        made = []
        for n, global_seed in zip(chunks, global_seeds, strict=True):
            torch.manual_seed(global_seed)
            with CampaignSession.open(CAMPAIGN, run_dir) as session:
                made += run_local(session, max_trials=n)
        return [r.parameters["comma_gap_um"] for r in made]

    whole = comma_gaps(tmp_path / "whole", [9], [0])  # 8 Sobol points (the centre first), 1 BoTorch
    assert comma_gaps(tmp_path / "resumed", [5, 4], [1, 2]) == whole


@pytest.mark.parametrize("n", [1, 511, 512, 513])
def test_window_sizes_at_the_edges(n):
    rows = window_rows(n, 512)
    assert (len(rows) == n if n <= 512 else 256 < len(rows) <= 512) and rows[-1] == n - 1


def test_the_manager_merges_the_parts_as_it_goes(tmp_path, monkeypatch):
    monkeypatch.setattr("batman_opt.store.COMPACT_WHILE_RUNNING", 8)
    log = records(30)
    with RunStore(tmp_path / "run", lock=True) as store:
        for record in log:
            store.append([record])
            assert len(list(store.trials_dir.glob("*.parquet"))) <= 8
        assert store.trials() == log
    unlocked = RunStore(tmp_path / "run")  # a reader (status, report) never rewrites the log
    parts = sorted(unlocked.trials_dir.glob("*.parquet"))
    unlocked.append([log[0]])
    assert sorted(unlocked.trials_dir.glob("*.parquet"))[: len(parts)] == parts


def _fit_counting(model: WarmStartGP) -> tuple[float, int]:
    """Fit the model's hyperparameters; the marginal log likelihood reached and its evaluations."""
    from botorch.fit import fit_gpytorch_mll
    from gpytorch.mlls import ExactMarginalLogLikelihood

    mll = ExactMarginalLogLikelihood(model.likelihood, model)
    calls, forward = [], mll.forward
    mll.forward = lambda *args, **kwargs: calls.append(1) or forward(*args, **kwargs)
    fit_gpytorch_mll(mll)
    model.train()
    with torch.no_grad():
        value = float(mll(model(*model.train_inputs), model.train_targets).sum())
    return value, len(calls)


def test_a_warm_started_fit_reaches_the_cold_optimum_in_fewer_steps():
    torch.manual_seed(0)
    x = torch.rand(81, 3, dtype=torch.float64)
    y = torch.sin(6 * x[:, :1]) + x[:, 1:2] ** 2 + 0.05 * torch.randn(81, 1, dtype=torch.float64)
    first = WarmStartGP(x[:80], y[:80])
    _fit_counting(first)
    warm = WarmStartGP(x, y, warm_start=first.state_dict())
    lengthscale = warm.covar_module.lengthscale.detach().clone()
    assert torch.allclose(lengthscale, first.covar_module.lengthscale)  # starts where the last fit ended
    cold_value, cold_steps = _fit_counting(WarmStartGP(x, y))
    warm_value, warm_steps = _fit_counting(warm)
    assert warm_value >= cold_value - 1e-3 * abs(cold_value)
    assert warm_steps < cold_steps / 2, (warm_steps, cold_steps)


def test_ax_starts_each_fit_from_the_last_one_in_a_long_campaign(monkeypatch):
    warm = []
    original = window.previous_fit
    monkeypatch.setattr(window, "previous_fit", lambda s, o: warm.append(original(s, o)) or warm[-1])
    optimizer = CampaignOptimizer(CAMPAIGN)
    optimizer.replay([r for r in records(window.WARM_START_POINTS + 12) if r.status != RUNNING])
    for _ in range(2):
        suggestion = optimizer.suggest(1)[0]
        outcomes = evaluate_batch({k: [v] for k, v in suggestion.parameters.items()}, CAMPAIGN.material)
        optimizer.complete(suggestion.trial, {k: float(outcomes[k][0]) for k in OUTCOMES})
    assert warm[0] is None and isinstance(warm[-1], WarmStartGP)
