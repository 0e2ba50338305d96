"""Clean-up of a local Ray instance whose manager died without shutting it down (SIGKILL, OOM).

Ray's head processes share the fate of the manager that started them, but the raylet's agents
(DashboardAgent and RuntimeEnvAgent, ~90 MB each) do not: once they see the raylet gone they try
to report its death to the GCS, dead too, and wait out a 60 s timeout before they exit. A reaper
process started beside a local instance waits for the manager (or the raylet) to end, then kills
every process still carrying that raylet's id in its environment (RAY_RAYLET_PID, which the raylet
gives its agents and workers), so that a killed manager leaves nothing behind within a second or
two.

    python -m agents.reaper MANAGER_PID RAYLET_PID
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

POLL_S = 0.5


def start_reaper() -> subprocess.Popen | None:
    """Start the reaper for the local Ray instance this process (the manager) started; None when
    no raylet of this process is found (e.g. joining a cluster)."""
    raylets = [p for p in psutil.Process().children(recursive=True) if p.name() == "raylet"]
    if not raylets:
        return None
    return subprocess.Popen(
        [sys.executable, "-m", "agents.reaper", str(os.getpid()), str(raylets[0].pid)],
        cwd=Path(__file__).resolve().parents[1],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a Ctrl-C of the manager's terminal is the manager's, not the reaper's
    )


def of_raylet(raylet_pid: int) -> list[psutil.Process]:
    """This user's processes whose environment names `raylet_pid` as their raylet."""
    marker = f"RAY_RAYLET_PID={raylet_pid}".encode()
    found = []
    for process in psutil.process_iter(["uids"]):
        if process.pid == os.getpid() or process.info["uids"] is None:
            continue
        if process.info["uids"].real != os.getuid():
            continue
        try:
            environ = Path(f"/proc/{process.pid}/environ").read_bytes()
        except OSError:  # gone, or not ours to read
            continue
        if marker in environ.split(b"\0"):
            found.append(process)
    return found


def reap(manager_pid: int, raylet_pid: int) -> int:
    """Wait for the manager or its raylet to end (a kill, or Ray shut down), then kill what that
    raylet left; the number of processes killed."""
    try:
        watched = [psutil.Process(manager_pid), psutil.Process(raylet_pid)]
        while all(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in watched):
            time.sleep(POLL_S)
    except psutil.NoSuchProcess:
        pass
    time.sleep(POLL_S)  # Ray shut down by its manager leaves nothing: then this finds nothing
    leftovers = of_raylet(raylet_pid)
    for process in leftovers:
        try:
            process.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    return len(leftovers)


if __name__ == "__main__":
    reap(int(sys.argv[1]), int(sys.argv[2]))
