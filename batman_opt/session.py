"""A campaign on its run directory, without Ray: replay, suggest, record, optimizer snapshot.

`CampaignSession.open(campaign, run_dir)` locks the run directory (one manager or command at a
time), checks that a resumed campaign did not change, saves it, and replays the trial log into
the optimizer. Then:
- `suggest(n)`: new recipes, logged as running (durably) before they are returned; recipes still
  running are the acquisition's pending points; the budget caps n;
- `record(...)` / `record_all(...)`: finished trials (completed or failed), their artifacts written
  under RUN/artifacts/<trial>/ and the trial log appended (fsynced) before the optimizer hears of
  them; `record_all` appends every record in one part, so that a kill keeps all or none of them;
  the optimizer snapshot (optimizer.json) follows at most every SNAPSHOT_INTERVAL_S and at the end;
- `running`, `completed`, `failed`, `targets_met`: where the campaign stands.
The Ray manager (agents.manager) schedules agents around a session; `batman suggest` and
`batman ingest` use one directly.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from batman_opt.campaign_evaluator import campaign_evaluator, evaluator_setup
from batman_opt.errors import RunDirError, SpecError
from batman_opt.evaluators import Evaluator
from batman_opt.optimize.acquisition import Goals
from batman_opt.optimize.ax_client import TORCH_THREADS, CampaignOptimizer
from batman_opt.optimize.targets import optimization_metrics, target_distance
from batman_opt.spec import Campaign
from batman_opt.store import COMPLETED, FAILED, RUNNING, RunStore, TrialRecord, write_durably
from batman_opt.transfer.priors import build_models
from batman_opt.transfer.source_gps import load_fitted, save_fitted
from batman_opt.transfer.sources import load_source

logger = logging.getLogger(__name__)

# The optimizer snapshot is for inspection and costs a JSON dump of the whole experiment (about a
# second at 1,000 trials): written after a finished trial at most this often, and when the session ends.
SNAPSHOT_INTERVAL_S = 30.0
PRIOR_FILE = "transfer_prior.safetensors"  # the transfer prior's fitted hyperparameters


@dataclass
class Finished:
    """A finished trial as an evaluator (or the lab) reports it; `outcomes` None when it failed."""

    trial: int
    parameters: dict[str, Any]
    outcomes: dict[str, float] | None
    reason: str = ""
    agent: str = ""
    start_time: float | None = None
    end_time: float | None = None
    notes: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, bytes] = field(default_factory=dict)
    generator: str = ""


class CampaignSession:
    """One campaign on one locked run directory (see the module doc)."""

    def __init__(self, campaign: Campaign, store: RunStore, evaluator: Evaluator) -> None:
        self.campaign = campaign
        self.store = store
        self.evaluator = evaluator
        torch.set_num_threads(TORCH_THREADS)  # before any model is fitted, the transfer prior's included
        candidates = evaluator.candidates
        models = _transfer_models(campaign, store) if campaign.transfer.method != "none" else None
        self.optimizer = CampaignOptimizer(campaign, candidates=candidates, models=models)
        records = store.trials()
        self.optimizer.replay(records)
        self.records: dict[int, TrialRecord] = {r.trial: r for r in records}
        self.resumed = False
        self._unsaved, self._saved_at = False, -math.inf

    @classmethod
    @contextmanager
    def open(cls, campaign: Campaign, run_dir: str | Path) -> Iterator[CampaignSession]:
        """A session on `run_dir` (created, or resumed when it holds this campaign), locked until exit."""
        evaluator = campaign_evaluator(campaign, run_dir)
        with RunStore(run_dir, lock=True) as store:
            # a run that recorded no trial (it failed to start: a typo, no cluster) takes the
            # corrected campaign; one with trials only resumes the campaign it ran
            existed = store.campaign_path.exists() and store.has_trials()
            if existed:
                store.check_same_campaign(campaign)
                store.compact()
            session = cls(campaign, store, evaluator)
            session.resumed = existed
            store.save_campaign(campaign)
            yield session
            session.save_snapshot()

    @classmethod
    @contextmanager
    def resume(cls, run_dir: str | Path) -> Iterator[CampaignSession]:
        """A session on an existing run directory, with the campaign it was run with."""
        campaign = RunStore(run_dir).load_campaign()
        with cls.open(campaign, run_dir) as session:
            yield session

    # -- where the campaign stands -------------------------------------------------------------
    def _count(self, status: str) -> int:
        return sum(r.status == status for r in self.records.values())

    @property
    def completed(self) -> int:
        return self._count(COMPLETED)

    @property
    def failed(self) -> int:
        return self._count(FAILED)

    @property
    def issued(self) -> int:
        return len(self.records)

    @property
    def running(self) -> list[TrialRecord]:
        """Trials issued and not finished (pending; re-issued by a resumed manager)."""
        return [r for r in self.records.values() if r.status == RUNNING]

    @property
    def targets_met(self) -> bool:
        targets = self.campaign.targets
        return bool(targets) and any(
            r.status == COMPLETED and target_distance(r.outcomes, targets) <= 1 for r in self.records.values()
        )

    @property
    def stopping(self) -> bool:
        """Whether no new recipe should be asked for (targets met and the campaign stops on them)."""
        return self.campaign.budget.stop_when_targets_met and self.targets_met

    @property
    def budget_left(self) -> int:
        return max(0, self.campaign.budget.max_trials - self.issued)

    @property
    def next_trial(self) -> int:
        return max(self.records, default=-1) + 1

    # -- suggest and record --------------------------------------------------------------------
    def suggest(self, n: int) -> list[TrialRecord]:
        """Up to `n` new recipes, logged as running before they are returned (fewer when the budget
        or a pool runs out, none once the targets are met and the campaign stops on them)."""
        n = min(n, self.budget_left)
        if n <= 0 or self.stopping:
            return []
        kind = self.campaign.evaluator.kind
        records = [
            TrialRecord(s.trial, RUNNING, s.parameters, evaluator=kind, generator=s.generator, notes=s.notes)
            for s in self.optimizer.suggest(n)
        ]
        self.store.append(records)
        self.records.update((r.trial, r) for r in records)
        return records

    def record(self, finished: Finished) -> TrialRecord:
        """Make one finished trial durable, then tell the optimizer."""
        return self.record_all([finished])[0]

    def record_all(self, finished: Sequence[Finished]) -> list[TrialRecord]:
        """Make finished trials durable in one trial-log part (all or none), then tell the optimizer.

        A trial id not in the log yet is a recipe made outside the optimizer (the lab's own): it
        must be `next_trial`, `next_trial + 1`...; it is attached to the optimizer.
        """
        records = [self._checked(f) for f in finished]
        for f in finished:
            if f.artifacts:
                self._write_artifacts(f.trial, f.artifacts)
        self.store.append(records)
        for record in records:
            if record.trial not in self.records:
                attached = self.optimizer.attach(record.parameters)
                if attached != record.trial:
                    raise RuntimeError(f"trial {record.trial} attached as {attached}")
            self.records[record.trial] = record
            if record.status == COMPLETED:
                self.optimizer.complete(record.trial, record.outcomes)
            else:
                logger.warning("trial %d failed: %s", record.trial, record.reason)
                self.optimizer.fail(record.trial, record.reason)
        self._unsaved = True
        if time.monotonic() - self._saved_at >= SNAPSHOT_INTERVAL_S:
            self.save_snapshot()
        return records

    def save_snapshot(self) -> None:
        """Write the optimizer snapshot (optimizer.json) if trials finished since the last one."""
        if self._unsaved:
            self.optimizer.save(self.store.optimizer_path)
            self._unsaved, self._saved_at = False, time.monotonic()

    def _checked(self, f: Finished) -> TrialRecord:
        """The trial record of `f`: failed with the reason when it cannot reach the optimizer."""
        status, reason, outcomes = COMPLETED, "", dict(f.outcomes or {})
        if f.outcomes is None:
            status, reason = FAILED, f.reason or "failed"
        else:
            try:
                metrics = optimization_metrics(outcomes, self.campaign)
            except KeyError as exc:
                status, reason = FAILED, f"evaluator returned no outcome {exc.args[0]!r}"
            else:
                bad = sorted(k for k, v in metrics.items() if not math.isfinite(v))
                if bad:
                    status, reason = FAILED, f"non-finite {', '.join(bad)}"
        previous = self.records.get(f.trial)
        return TrialRecord(
            f.trial,
            status,
            dict(f.parameters),
            outcomes,
            reason,
            self.campaign.evaluator.kind,
            f.agent,
            f.start_time,
            f.end_time,
            f.generator or (previous.generator if previous else ""),
            {**(previous.notes if previous else {}), **f.notes},
        )

    def _write_artifacts(self, trial: int, artifacts: Mapping[str, bytes]) -> None:
        folder = self.store.artifacts_dir(trial)
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in artifacts.items():
            if Path(name).name != name or name.startswith("."):
                raise ValueError(f"artifact name {name!r} must be a plain file name")
            write_durably(folder / name, data)


def _recorded_sources(path: Path) -> dict[str, dict[str, Any]]:
    """The sources a run started with (RUN/transfer.json: name -> sha256, points...); RunDirError
    naming the file when it is unreadable."""
    try:
        record = json.loads(path.read_bytes())
        if not isinstance(record, dict) or not all(isinstance(v, dict) for v in record.values()):
            raise ValueError("not a mapping of source names to their records")
    except (OSError, ValueError) as exc:
        raise RunDirError(
            f"{path}: unreadable ({exc}); the sources cannot be checked against the ones the run "
            "started with: restore the file, or delete it to record the sources as they are now"
        ) from None
    return record


def _transfer_models(campaign: Campaign, store: RunStore):
    """The transfer prior of the campaign, its sources checked against the ones the run started with
    (their SHA-256 in RUN/transfer.json: a source that changed is refused like a changed campaign),
    with the hyperparameters fitted when the run started (RUN/transfer_prior.safetensors)."""
    outcomes = list(evaluator_setup(campaign).outcomes)
    limit = campaign.transfer.max_source_points
    sources = [
        load_source(spec, campaign, outcomes, limit, i) for i, spec in enumerate(campaign.transfer.sources)
    ]
    record = {
        s.name: {
            "sha256": s.sha256,
            "points": len(s.x),
            "dropped_outside": s.dropped_outside,
            "subsampled_from": s.subsampled_from,
        }
        for s in sources
    }
    path = store.path / "transfer.json"
    if path.exists():
        before = _recorded_sources(path)
        changed = sorted(
            name for name in record if before.get(name, {}).get("sha256") != record[name]["sha256"]
        )
        if changed:
            raise SpecError(
                f"{store.path}: transfer source {', '.join(changed)} changed since the run started; "
                "restore it or use another --run-dir"
            )
    write_durably(path, json.dumps(record, indent=2).encode())
    # the fitted prior: the source GPs' hyperparameters, so that a resumed run rebuilds the same
    # prior from the (hash-checked) sources without fitting it again
    prior_path = store.path / PRIOR_FILE
    metrics = Goals.of(campaign).metrics
    fitted = load_fitted(prior_path, metrics)
    saved = set(fitted)
    models = build_models(campaign, sources, fitted)
    if set(fitted) != saved:
        write_durably(prior_path, save_fitted(fitted, metrics))
    logger.info(
        "transfer %s from %s: no Sobol start, the prior proposes the first recipes",
        campaign.transfer.method,
        ", ".join(f"{name} ({r['points']} points)" for name, r in record.items()),
    )
    return models
