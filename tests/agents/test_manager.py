"""The campaign loop on a real local Ray: budget, failures, timeouts, dead agents, resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml

from agents.reaper import of_raylet
from batman_opt.evaluators import EVALUATORS, EvaluatorKind, EvaluatorSetup
from batman_opt.spec import Campaign, EvaluatorSpec, load_campaign
from batman_opt.store import COMPLETED, FAILED, RunStore

HERE = Path(__file__).resolve().parent


@pytest.fixture
def flaky(monkeypatch):
    monkeypatch.setitem(
        EVALUATORS, "flaky", EvaluatorKind("flaky", "flaky_evaluator:FlakyEvaluator", "test evaluator")
    )


def flaky_campaign(tmp_path: Path, max_trials: int = 10, **options) -> Path:
    spec = {
        "name": "flaky",
        "seed": 3,
        "parameters": [
            {"name": "x", "type": "float", "bounds": [0.0, 1.0]},
            {"name": "y", "type": "float", "bounds": [0.0, 1.0]},
        ],
        "objectives": [{"name": "f", "goal": "minimize"}],
        "evaluator": {"kind": "flaky", "agents": 2, "timeout_s": 20, "options": options},
        "budget": {"max_trials": max_trials, "batch_size": 2, "initial_trials": 5},
        "ray": {"num_cpus": 2},
    }
    path = tmp_path / "flaky.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_campaign_spends_its_budget_and_finds_the_minimum(tmp_path, flaky, ray_local):
    from agents.manager import run_campaign

    campaign = load_campaign(flaky_campaign(tmp_path, max_trials=14))
    summary = run_campaign(campaign, tmp_path / "run", show_progress=False)
    trials = RunStore(tmp_path / "run").trials()
    assert summary.completed == 14 and summary.failed == 0
    assert [t.trial for t in trials] == list(range(14))
    assert all(t.status == COMPLETED and t.agent.startswith("flaky-") for t in trials)
    # BoTorch after 5 Sobol points: the quadratic bowl's minimum (0 at x=0.3, y=0.6) is approached.
    assert min(t.outcomes["f"] for t in trials) < 0.01
    assert (tmp_path / "run" / "optimizer.json").exists()


def test_failing_evaluations_are_recorded_and_the_campaign_goes_on(tmp_path, flaky, ray_local):
    from agents.manager import run_campaign

    campaign = load_campaign(flaky_campaign(tmp_path, max_trials=10, raise_above=0.6, nan_above=0.45))
    summary = run_campaign(campaign, tmp_path / "run", show_progress=False)
    trials = RunStore(tmp_path / "run").trials()
    assert summary.completed + summary.failed == 10 == len(trials)
    failed = [t for t in trials if t.status == FAILED]
    assert failed, "Sobol points above x = 0.45 should fail"
    for t in failed:
        assert t.parameters["x"] > 0.45
        expected = "out of the working window" if t.parameters["x"] > 0.6 else "not a number"
        assert expected in t.reason
    assert all(t.parameters["x"] <= 0.45 for t in trials if t.status == COMPLETED)


def test_pool_fails_timeouts_and_replaces_dead_agents(flaky, ray_local):
    from agents.pool import AgentPool

    # 10 s: an agent starting on a busy 2-core machine must die before its trial times out
    spec = EvaluatorSpec(kind="flaky", agents=2, timeout_s=10, options={"hang_above": 0.8, "die_above": 0.9})
    pool = AgentPool(spec, "NMC111", EvaluatorSetup(("x", "y"), ("f",)))
    pool.submit(0, 0, {"x": 0.95, "y": 0.5})  # the agent process exits
    pool.submit(1, 1, {"x": 0.85, "y": 0.5})  # hangs past the timeout
    results = {}
    deadline = time.time() + 60
    while len(results) < 2 and time.time() < deadline:
        results.update({r.trial: r for r in pool.wait()})
    assert not results[0].ok and "died" in results[0].reason
    assert not results[1].ok and "timed out after 10 s" in results[1].reason
    # both slots hold fresh agents that work
    assert sorted(pool.idle_slots) == [0, 1]
    pool.submit(0, 2, {"x": 0.3, "y": 0.6})
    pool.submit(1, 3, {"x": 0.1, "y": 0.1})
    done = {}
    while len(done) < 2 and time.time() < deadline + 30:
        done.update({r.trial: r for r in pool.wait()})
    assert done[2].ok and done[2].outcomes["f"] == pytest.approx(0.0)
    assert done[3].ok and done[3].agent.endswith(".1")
    pool.shutdown()


@pytest.mark.slow
def test_sigkill_halfway_then_resume_keeps_every_finished_trial_once(tmp_path):
    campaign_file = flaky_campaign(tmp_path, max_trials=12, sleep_s=0.7)
    run_dir = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    command = [
        sys.executable,
        str(HERE / "launch_with_flaky.py"),
        "run",
        str(campaign_file),
        "--run-dir",
        str(run_dir),
        "--quiet",
    ]
    manager = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 180
    finished_before = []
    while time.time() < deadline:
        if (run_dir / "trials").is_dir():
            finished_before = [t for t in RunStore(run_dir).trials() if t.status != "running"]
            if len(finished_before) >= 5:
                break
        time.sleep(0.2)
    raylet = next(p for p in psutil.Process(manager.pid).children(recursive=True) if p.name() == "raylet")
    assert of_raylet(raylet.pid), "no agent process found for the raylet"
    manager.send_signal(signal.SIGKILL)
    manager.wait()
    killed_at = time.time()
    # nothing of the manager's Ray is left a few seconds later (Ray's own agents lingered ~60 s)
    while of_raylet(raylet.pid) and time.time() < killed_at + 20:
        time.sleep(0.2)
    assert not of_raylet(raylet.pid) and time.time() < killed_at + 10
    assert 5 <= len(finished_before) < 12
    snapshot = {t.trial: t for t in RunStore(run_dir).trials() if t.status != "running"}

    resumed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "resumed flaky" in resumed.stdout
    trials = RunStore(run_dir).trials()
    assert [t.trial for t in trials] == list(range(12))
    assert all(t.status == COMPLETED for t in trials)
    for trial, before in snapshot.items():  # kept once, unchanged
        assert trials[trial].parameters == before.parameters
        assert trials[trial].outcomes == before.outcomes


def test_a_second_manager_on_the_same_run_dir_is_refused(tmp_path, flaky):
    from batman_opt.errors import RunDirError

    with RunStore(tmp_path / "run", lock=True):
        with pytest.raises(RunDirError, match="another manager"):
            RunStore(tmp_path / "run", lock=True)
    RunStore(tmp_path / "run", lock=True).close()  # released with its holder


def test_resume_refuses_a_changed_campaign(tmp_path, flaky):
    from batman_opt.errors import SpecError

    campaign = load_campaign(flaky_campaign(tmp_path))
    store = RunStore(tmp_path / "run", lock=True)
    store.save_campaign(campaign)
    changed = Campaign.model_validate({**campaign.model_dump(), "seed": 99})
    with pytest.raises(SpecError, match="seed"):
        store.check_same_campaign(changed)
    raised = campaign.model_copy(update={"budget": campaign.budget.model_copy(update={"max_trials": 50})})
    store.check_same_campaign(raised)
    store.close()
