"""End to end through the `batman` command: the quickstart, and a campaign on a `ray start` cluster."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from batman_opt.store import RunStore
from sims.materials import get_material
from sims.metrics.voxelize import AM, CBD
from sims.structure import ElectrodeStructure

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def batman(*args: str, timeout: int = 600, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "batman"), *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env
    )


@pytest.mark.slow
def test_quickstart_meets_both_targets_and_report_json_agrees(tmp_path):
    run_dir = tmp_path / "quickstart"
    result = batman("run", "campaigns/quickstart.yaml", "--run-dir", str(run_dir), "--quiet")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Pareto-optimal recipes" in result.stdout
    report = json.loads(batman("report", str(run_dir), "--json").stdout)
    best = report["recipes"][0]
    assert best["meets_targets"]
    assert abs(best["outcomes"]["density_g_cm3"] - 3.0) <= 0.05
    assert abs(best["outcomes"]["mass_loading_mg_cm2"] - 20.0) <= 1.0
    assert f"  {best['trial']} " in result.stdout  # the table printed by run shows the same best trial


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, timeout_s: float) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


@pytest.mark.slow
def test_campaign_joins_a_ray_cluster_started_with_ray_start(tmp_path):
    port = _free_port()
    # loopback-only test cluster: no token authentication, so the test does not depend on ~/.ray
    env = {**os.environ, "RAY_ADDRESS": "", "RAY_AUTH_MODE": "disabled"}
    # --block keeps the head's processes in this process group, so the test stops exactly its own
    # cluster (`ray stop` would stop every Ray instance of the machine).
    start = [
        str(BIN / "ray"),
        "start",
        "--head",
        "--block",
        "--node-ip-address=127.0.0.1",
        f"--port={port}",
        "--num-cpus=2",
        "--include-dashboard=false",
        "--disable-usage-stats",
    ]
    head = subprocess.Popen(
        start, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        _wait_for_port(port, 120)
        address = f"127.0.0.1:{port}"
        result = batman(
            "run",
            "campaigns/quickstart.yaml",
            "--run-dir",
            str(tmp_path / "run"),
            "--address",
            address,
            "--max-trials",
            "6",
            "--quiet",
            env=env,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "on Ray cluster" in result.stdout and f":{port} ->" in result.stdout
        status = json.loads(batman("status", str(tmp_path / "run"), "--json").stdout)
        assert status["completed"] == 6 and status["running"] == 0
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)


def test_an_unreachable_cluster_is_one_clear_line(tmp_path):
    result = batman(
        "run",
        "campaigns/quickstart.yaml",
        "--run-dir",
        str(tmp_path / "run"),
        "--address",
        f"127.0.0.1:{_free_port()}",
        timeout=180,
    )
    assert result.returncode == 4, result.stdout + result.stderr
    assert "cannot join the Ray cluster" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_dem_campaign_runs_on_ray_agents(tmp_path):
    # the shipped DEM campaign on a 40-AM-particle RVE instead of its 100 (119 -> 37-46 s here)
    campaign = tmp_path / "dem_calendering.yaml"
    spec = yaml.safe_load((ROOT / "campaigns" / "dem_calendering.yaml").read_text())
    spec["evaluator"]["options"]["n_am"] = 40
    campaign.write_text(yaml.safe_dump(spec))
    run_dir = tmp_path / "dem"
    result = batman("run", str(campaign), "--run-dir", str(run_dir), "--max-trials", "2", "--quiet")
    assert result.returncode == 0, result.stdout + result.stderr
    status = json.loads(batman("status", str(run_dir), "--json").stdout)
    assert status["completed"] == 2, status
    recipes = json.loads(batman("report", str(run_dir), "--json").stdout)["recipes"]
    assert all(
        0.0 < r["outcomes"]["porosity"] < 1.0 and r["outcomes"]["tortuosity_factor"] >= 1.0 for r in recipes
    )
    # each trial left its final structure: the particles give back the porosity the trial reported
    material = get_material("NMC111")
    for trial in RunStore(run_dir).trials():
        structure = ElectrodeStructure.load(run_dir / "artifacts" / str(trial.trial) / "structure.npz")
        volume = structure.solid_volume_um3
        # calendering densifies the CBD (sims.protocols.densification): its mean nanoporosity is reported
        nanoporosity = trial.outcomes.get("cbd_nanoporosity", material.cbd.nanoporosity)
        dense = volume[AM] + volume[CBD] * (1.0 - nanoporosity)
        bulk = structure.lateral_um[0] * structure.lateral_um[1] * structure.thickness_um
        assert 1.0 - dense / bulk == pytest.approx(trial.outcomes["porosity"], abs=1e-3)
        assert structure.thickness_um == pytest.approx(trial.outcomes["thickness_um"])
        # on the collector, z = 0: the stiff AM spheres barely in it, the soft CBD within calendering's
        # own overlap bound (one radius; one CBD sphere was pressed 0.3 of its radius in on 40 AM)
        z, r = structure.position_um[:, 2], structure.radius_um
        assert np.all(z[structure.phase == AM] > 0.75 * r[structure.phase == AM])
        assert np.all(z > 0.0)


@pytest.mark.slow
def test_ctrl_c_stops_a_run_with_the_command_that_resumes_it(tmp_path):
    run_dir = tmp_path / "run"
    command = [str(BIN / "batman"), "run", "campaigns/quickstart.yaml", "--run-dir", str(run_dir), "--quiet"]
    run = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while time.time() < deadline and run.poll() is None:
        if (run_dir / "trials").exists() and len(list((run_dir / "trials").glob("*.parquet"))) >= 6:
            break
        time.sleep(0.5)
    run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=120)
    assert run.returncode == 130, out + err
    assert "Traceback" not in err
    assert f"resume with: batman run campaigns/quickstart.yaml --run-dir {run_dir}" in err
    recorded = json.loads(batman("status", str(run_dir), "--json").stdout)
    assert recorded["completed"] >= 1 and not recorded["manager_active"]
    resumed = batman(
        "run", "campaigns/quickstart.yaml", "--run-dir", str(run_dir), "--max-trials", "12", "--quiet"
    )
    assert resumed.returncode == 0 and "resumed quickstart" in resumed.stdout, resumed.stdout + resumed.stderr
    assert json.loads(batman("status", str(run_dir), "--json").stdout)["completed"] >= recorded["completed"]
