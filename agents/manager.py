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
from batman_opt.campaign_evaluator import evaluator_setup
from batman_opt.errors import ClusterError, SpecError
from batman_opt.session import CampaignSession, Finished
from batman_opt.spec import Campaign
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
        _check_reachable(address)
        try:
            ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
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
    return True


def _check_reachable(address: str, timeout_s: float = 10.0) -> None:
    """Fail fast on a host:port nobody listens on (Ray itself retries for minutes)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        return  # 'auto' and other forms are left to Ray
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise ClusterError(f"cannot join the Ray cluster at {address!r}: {exc.strerror or exc}") from None


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
            pool = AgentPool(campaign.evaluator, campaign.material, evaluator_setup(campaign))
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
