"""A real two-node Ray cluster on loopback: a head without the `batman_worker` resource and a worker
node with it, so that the agents (evaluator.resources: {batman_worker: 1}) run on the worker only.
The worker node is killed (SIGKILL of its raylet and every agent process) mid-campaign: the trials
it held are issued again on a node that joins later, none is burned as a failure, none is lost or
repeated, and the campaign spends exactly its budget."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml

from batman_opt.store import COMPLETED, RUNNING, RunStore
from tests.agents.test_cluster import _free_port, _wait_for_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
AGENTS = Path(__file__).resolve().parent
BUDGET = 16


def _env() -> dict[str, str]:
    # loopback-only test cluster: no token authentication; every node imports the test evaluator
    path = os.pathsep.join([str(ROOT), str(AGENTS), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "RAY_ADDRESS": "", "RAY_AUTH_MODE": "disabled", "PYTHONPATH": path}


def _node(*args: str) -> subprocess.Popen:
    """`ray start --block ...`: the node lives as long as this process and its children."""
    command = [str(BIN / "ray"), "start", "--block", "--node-ip-address=127.0.0.1", "--disable-usage-stats"]
    return subprocess.Popen(
        [*command, *args],
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _kill(node: subprocess.Popen) -> None:
    """SIGKILL a node: its `ray start` process, its raylet and every process under it (the agents
    included, which Ray starts in process groups of their own), all at once, as a power cut would."""
    try:
        processes = [psutil.Process(node.pid), *psutil.Process(node.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        processes = []
    for process in processes:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass
    node.wait(timeout=30)


def _batman(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    launcher = [sys.executable, str(AGENTS / "launch_with_flaky.py")]
    return subprocess.run([*launcher, *args], capture_output=True, text=True, timeout=timeout, env=_env())


def _campaign(tmp_path: Path, **evaluator) -> Path:
    spec = {
        "name": "two-nodes",
        "seed": 5,
        "parameters": [
            {"name": "x", "type": "float", "bounds": [0.0, 1.0]},
            {"name": "y", "type": "float", "bounds": [0.0, 1.0]},
        ],
        "objectives": [{"name": "f", "goal": "minimize"}],
        "evaluator": {
            "kind": "flaky",
            "agents": 2,
            "timeout_s": 300,
            "resources": {"batman_worker": 1},
            "options": {"sleep_s": 2.5},
            **evaluator,
        },
        "budget": {"max_trials": BUDGET, "batch_size": 1, "initial_trials": 6},
    }
    path = tmp_path / f"campaign-{len(evaluator)}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.mark.slow
def test_a_lost_worker_node_costs_no_trial(tmp_path):
    port = _free_port()
    head = _node("--head", f"--port={port}", "--num-cpus=1", "--include-dashboard=false")
    nodes = [head]
    address = f"127.0.0.1:{port}"
    worker_args = (f"--address={address}", "--num-cpus=2", '--resources={"batman_worker": 2}')
    try:
        _wait_for_port(port, 120)
        nodes.append(_node(*worker_args))
        campaign = _campaign(tmp_path)
        # validate --address checks what an agent needs against the live nodes
        too_big = _batman("validate", str(_campaign(tmp_path, cpus_per_agent=3)), "--address", address)
        assert too_big.returncode == 2 and "no node of the cluster has it" in too_big.stderr, too_big.stderr
        assert "Traceback" not in too_big.stderr

        run_dir = tmp_path / "run"
        driver = subprocess.Popen(
            [sys.executable, str(AGENTS / "launch_with_flaky.py"), "run", str(campaign), "--run-dir",
             str(run_dir), "--address", address, "--quiet"],
            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        deadline = time.time() + 240
        running_at_kill: list[int] = []
        while time.time() < deadline and driver.poll() is None:
            trials = RunStore(run_dir).trials() if (run_dir / "trials").exists() else []
            completed = [t for t in trials if t.status == COMPLETED]
            running = [t.trial for t in trials if t.status == RUNNING]
            if len(completed) >= 4 and running:
                running_at_kill = running
                break
            time.sleep(0.2)
        assert running_at_kill, "the campaign never had trials in flight on the worker node"
        killed_at = time.time()
        _kill(nodes.pop())  # the worker node dies with the trials it was evaluating
        time.sleep(5)
        nodes.append(_node(*worker_args))  # a replacement node joins; the agents start there
        out, err = driver.communicate(timeout=300)
        assert driver.returncode == 0, out + err
        assert "Traceback" not in err

        trials = RunStore(run_dir).trials()
        assert [t.trial for t in trials] == list(range(BUDGET)), "a trial was lost or issued twice"
        assert all(t.status == COMPLETED for t in trials), [(t.trial, t.reason) for t in trials if t.reason]
        # no result came from the dead node after its death; its trials ran again on agents started
        # after the loss (generation .1, .2...), on the node that joined
        assert not [t.trial for t in trials if t.start_time < killed_at < t.end_time]
        reissued = [t for t in trials if t.start_time > killed_at and "." in t.agent]
        assert reissued, [(t.trial, t.agent) for t in trials]
        best = min(t.outcomes["f"] for t in trials)
        assert best < 0.05  # f = (x - 0.3)^2 + (y - 0.6)^2: the optimizer still closes in on the minimum
        status = json.loads(_batman("status", str(run_dir), "--json").stdout)
        assert status["completed"] == BUDGET and status["failed"] == 0 and status["running"] == 0
    finally:
        for node in reversed(nodes):
            _kill(node)
