"""The campaign loop: optimizer suggestions out to evaluator agents, results back, durably.

One manager per run directory (the session's lock enforces it). The loop only schedules: the
campaign's `CampaignSession` (batman_opt.session) suggests, records durably and tells the
optimizer. As soon as one result arrives it is recorded and the freed agent gets the next recipe,
the trials still running being pending points of the acquisition. A run directory that already
holds trials is resumed: finished trials are replayed and trials that were running are issued again.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path

import ray
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from agents.pool import AgentPool
from agents.reaper import start_reaper
from batman_opt.campaign_evaluator import evaluator_setup
from batman_opt.errors import ClusterError, SpecError
from batman_opt.session import CampaignSession, Finished
from batman_opt.spec import Campaign, EvaluatorSpec
from batman_opt.store import TrialRecord

logger = logging.getLogger(__name__)


@dataclass
class RunSummary:
    """How a `run_campaign` call ended."""

    completed: int
    failed: int
    issued: int
    resumed: bool
    targets_met: bool
    ray_address: str


def connect_ray(campaign: Campaign, address: str | None) -> bool:
    """Join the cluster at `address` (or the campaign's), else start a local Ray; True if started here."""
    if ray.is_initialized():
        return False
    address = address or campaign.ray.address
    if address:
        resolved = resolve_address(address)
        _check_reachable(address, resolved)
        try:
            ray.init(address=resolved, logging_level=logging.WARNING, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ClusterError(
                f"cannot join the Ray cluster at {address!r}: {str(exc).splitlines()[0]}"
            ) from None
    else:
        ray.init(
            address="local",  # a fresh local instance, never a cluster found by chance in /tmp/ray
            num_cpus=campaign.ray.num_cpus or os.cpu_count(),
            include_dashboard=False,
            logging_level=logging.WARNING,
            log_to_driver=False,
        )
        start_reaper()  # a killed manager leaves no Ray process behind (agents/reaper.py)
    return True


def resolve_address(address: str) -> str:
    """host:port of the cluster named by `address`: 'auto' is RAY_ADDRESS, else the cluster the last
    `ray start` on this machine recorded (ClusterError when there is none)."""
    if address != "auto":
        return address
    if os.environ.get("RAY_ADDRESS"):
        return os.environ["RAY_ADDRESS"]
    record = Path(os.environ.get("RAY_TMPDIR", "/tmp")) / "ray" / "ray_current_cluster"
    try:
        recorded = record.read_text().strip()
    except OSError:
        recorded = ""
    if not recorded:
        raise ClusterError(
            "cannot join the Ray cluster at 'auto': no cluster was started with `ray start` on this "
            "machine (start one, or give --address host:port)"
        )
    return recorded


def _check_reachable(address: str, resolved: str, timeout_s: float = 10.0) -> None:
    """Fail fast on a host:port nobody listens on (Ray itself retries for minutes)."""
    host, sep, port = resolved.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        raise ClusterError(f"cannot join the Ray cluster at {address!r}: give it as host:port or 'auto'")
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as exc:
        stale = f" (the address {resolved} recorded by an earlier `ray start`)" if resolved != address else ""
        raise ClusterError(
            f"cannot join the Ray cluster at {address!r}{stale}: {exc.strerror or exc}"
        ) from None


def check_resources(spec: EvaluatorSpec) -> None:
    """SpecError unless some live node of the joined cluster has what one agent needs."""
    need = {"CPU": spec.cpus_per_agent, **spec.resources}
    nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
    if any(all(node.get(k, 0.0) >= v for k, v in need.items()) for node in nodes):
        return
    asked = ", ".join(f"{k} {v:g}" for k, v in need.items())
    have = "; ".join(", ".join(f"{k} {node.get(k, 0.0):g}" for k in need) for node in nodes) or "no live node"
    raise SpecError(
        f"evaluator: an agent needs {asked}, and no node of the cluster has it (nodes: {have}); "
        "lower cpus_per_agent or resources, or start a node that has them"
    )


def run_campaign(
    campaign: Campaign,
    run_dir: str | Path,
    address: str | None = None,
    show_progress: bool = True,
) -> RunSummary:
    """Run (or resume) `campaign` in `run_dir` until its budget, its targets, or Ctrl-C."""
    with CampaignSession.open(campaign, run_dir) as session:
        if not session.evaluator.computes:
            raise SpecError(
                f"{campaign.name}: the {campaign.evaluator.kind!r} evaluator computes nothing; "
                "drive it with batman suggest and batman ingest"
            )
        reissue = session.running
        started_ray = connect_ray(campaign, address)
        ray_address = ray.get_runtime_context().gcs_address
        pool = None
        try:
            check_resources(campaign.evaluator)
            pool = AgentPool(campaign.evaluator, campaign.material, evaluator_setup(campaign, run_dir))
            _drive(session, pool, reissue, show_progress)
        finally:
            if pool is not None:
                pool.shutdown()
            if started_ray:
                ray.shutdown()
        where = f"{'Ray cluster' if address or campaign.ray.address else 'local Ray'} {ray_address}"
        issued = session.issued
        return RunSummary(
            session.completed, session.failed, issued, session.resumed, session.targets_met, where
        )


def _drive(
    session: CampaignSession, pool: AgentPool, reissue: list[TrialRecord], show_progress: bool
) -> None:
    """Keep every agent busy until the budget, the targets or the pool end the campaign."""
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
    )
    campaign = session.campaign
    with Progress(*columns, disable=not show_progress, transient=False) as progress:
        task = progress.add_task(campaign.name, total=campaign.budget.max_trials, info="")
        progress.update(task, completed=session.completed + session.failed)
        while True:
            _fill(session, pool, reissue)
            if not pool.running:
                break
            for result in pool.wait():
                if result.lost:  # not evaluated: its node or connection was lost; it runs again
                    reissue.insert(0, session.records[result.trial])
                    continue
                session.record(
                    Finished(
                        result.trial,
                        result.params,
                        result.outcomes if result.ok else None,
                        result.reason,
                        result.agent,
                        result.start_time,
                        result.end_time,
                        result.notes,
                        result.artifacts,
                    )
                )
                progress.update(task, completed=session.completed + session.failed, info=_info(session))


def _fill(session: CampaignSession, pool: AgentPool, reissue: list[TrialRecord]) -> None:
    """Give every idle agent a recipe: re-issued trials first, then new suggestions."""
    while pool.idle_slots:
        slots = pool.idle_slots
        if reissue:
            record = reissue.pop(0)
            pool.submit(slots[0], record.trial, record.parameters)
            continue
        suggestions = session.suggest(min(len(slots), session.campaign.budget.batch_size))
        if not suggestions:
            return
        for slot, record in zip(slots, suggestions, strict=False):
            pool.submit(slot, record.trial, record.parameters)


def _info(session: CampaignSession) -> str:
    text = f"{session.failed} failed" if session.failed else ""
    if session.targets_met:
        text += ("; " if text else "") + "targets met"
    return text
