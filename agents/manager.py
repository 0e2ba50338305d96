"""The campaign loop: optimizer suggestions out to evaluator agents, results back, durably.

One manager per run directory (a lock enforces it). The loop keeps every agent busy: as soon as one
result arrives it is appended to the trial log (fsynced), told to the optimizer, and the freed
agent gets the next recipe, the trials still running being pending points of the acquisition.
A run directory that already holds trials is resumed: finished trials are replayed into the
optimizer (same ids, same outcomes) and trials that were running are issued again.
"""

from __future__ import annotations

import logging
import math
import os
import socket
from dataclasses import dataclass
from pathlib import Path

import ray
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from agents.pool import AgentPool, Result
from batman_opt.errors import ClusterError
from batman_opt.optimize.ax_client import CampaignOptimizer
from batman_opt.optimize.targets import optimization_metrics, target_distance
from batman_opt.spec import Campaign
from batman_opt.store import COMPLETED, FAILED, RUNNING, RunStore, TrialRecord

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
    with RunStore(run_dir, lock=True) as store:
        resumed = store.campaign_path.exists()
        if resumed:
            store.check_same_campaign(campaign)
        store.save_campaign(campaign)
        records = store.trials()
        optimizer = CampaignOptimizer(campaign)
        optimizer.replay(records)
        reissue = [r for r in records if r.status == RUNNING]
        loop = _Loop(campaign, store, optimizer, records)
        started_ray = connect_ray(campaign, address)
        ray_address = ray.get_runtime_context().gcs_address
        pool = None
        try:
            pool = AgentPool(campaign.evaluator, campaign.material)
            loop.drive(pool, reissue, show_progress)
        finally:
            if pool is not None:
                pool.shutdown()
            if started_ray:
                ray.shutdown()
        where = f"{'Ray cluster' if address or campaign.ray.address else 'local Ray'} {ray_address}"
        return RunSummary(loop.completed, loop.failed, loop.issued, resumed, loop.targets_met, where)


class _Loop:
    """State of one manager's loop over a run directory."""

    def __init__(
        self, campaign: Campaign, store: RunStore, optimizer: CampaignOptimizer, records: list[TrialRecord]
    ) -> None:
        self.campaign = campaign
        self.store = store
        self.optimizer = optimizer
        self.completed = sum(r.status == COMPLETED for r in records)
        self.failed = sum(r.status == FAILED for r in records)
        self.issued = len(records)
        self.targets_met = any(
            r.status == COMPLETED and campaign.targets and target_distance(r.outcomes, campaign.targets) <= 1
            for r in records
        )

    @property
    def stopping(self) -> bool:
        return self.campaign.budget.stop_when_targets_met and self.targets_met

    def drive(self, pool: AgentPool, reissue: list[TrialRecord], show_progress: bool) -> None:
        budget = self.campaign.budget
        columns = (
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, disable=not show_progress, transient=False) as progress:
            task = progress.add_task(self.campaign.name, total=budget.max_trials, info="")
            progress.update(task, completed=self.completed + self.failed)
            while True:
                self._fill(pool, reissue)
                if not pool.running:
                    break
                for result in pool.wait():
                    self._record(result)
                    progress.update(task, completed=self.completed + self.failed, info=self._info())

    def _fill(self, pool: AgentPool, reissue: list[TrialRecord]) -> None:
        """Give every idle agent a recipe: re-issued trials first, then new suggestions."""
        budget = self.campaign.budget
        while pool.idle_slots and not self.stopping:
            slots = pool.idle_slots
            if reissue:
                record = reissue.pop(0)
                pool.submit(slots[0], record.trial, record.parameters)
                continue
            n = min(len(slots), budget.batch_size, budget.max_trials - self.issued)
            if n <= 0:
                return
            suggestions = self.optimizer.suggest(n)
            if not suggestions:
                return
            self.store.append(
                TrialRecord(trial, RUNNING, params, evaluator=self.campaign.evaluator.kind)
                for trial, params in suggestions.items()
            )
            self.issued += len(suggestions)
            for slot, (trial, params) in zip(slots, suggestions.items(), strict=False):
                pool.submit(slot, trial, params)

    def _record(self, result: Result) -> None:
        """Make a finished trial durable, then tell the optimizer."""
        status, reason = (COMPLETED, "") if result.ok else (FAILED, result.reason)
        if result.ok:
            try:
                metrics = optimization_metrics(result.outcomes, self.campaign)
            except KeyError as exc:
                status, reason = FAILED, f"evaluator returned no outcome {exc.args[0]!r}"
            else:
                bad = sorted(k for k, v in metrics.items() if not math.isfinite(v))
                if bad:
                    status, reason = FAILED, f"non-finite {', '.join(bad)}"
        record = TrialRecord(
            result.trial,
            status,
            result.params,
            result.outcomes,
            reason,
            self.campaign.evaluator.kind,
            result.agent,
            result.start_time,
            result.end_time,
        )
        self.store.append([record])
        if status == COMPLETED:
            self.completed += 1
            self.optimizer.complete(result.trial, result.outcomes)
            if self.campaign.targets and target_distance(result.outcomes, self.campaign.targets) <= 1:
                self.targets_met = True
        else:
            self.failed += 1
            logger.warning("trial %d failed: %s", result.trial, reason)
            self.optimizer.fail(result.trial, reason)
        self.optimizer.save(self.store.optimizer_path)

    def _info(self) -> str:
        text = f"{self.failed} failed" if self.failed else ""
        if self.targets_met:
            text += ("; " if text else "") + "targets met"
        return text
