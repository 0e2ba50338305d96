"""The run directory: campaign as run, append-only Parquet trial log, optimizer state, lock.

Layout of a run directory::

    campaign.yaml        the campaign as run (its budget may be raised on resume)
    trials/NNNNNNNN.parquet  one part per event batch: trials issued (running), finished (completed
                         or failed); each part is written to a temporary name, fsynced and renamed,
                         so a kill never leaves half a record and every finished trial is durable
                         before the next recipe is asked for; the parts are merged into one
                         (RunStore.compact) on resume above COMPACT_ABOVE of them, and by the
                         manager as it goes above COMPACT_WHILE_RUNNING
    optimizer.json       Ax client snapshot (for inspection): every 30 s of finished trials and at the end
    artifacts/<trial>/   files the evaluator made for a trial (the dem kind's structure.npz...),
                         written before the trial's record
    lock                 held (flock) by the manager running the campaign

A trial's state is its last event. Columns: trial, status, reason, evaluator, agent, start_time,
end_time (UTC epoch seconds), generator (what chose the recipe: sobol, botorch, lab, ...; empty in
older runs), notes (JSON object of text notes, or empty), then `param.<name>` and `outcome.<name>`.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from batman_opt.errors import RunDirError, SpecError
from batman_opt.spec import Campaign, load_campaign

RUNNING, COMPLETED, FAILED = "running", "completed", "failed"
COMPACT_ABOVE = 32  # trial-log parts a resumed run merges into one
COMPACT_WHILE_RUNNING = 256  # parts at which the manager merges them as it goes


@dataclass
class TrialRecord:
    """One trial as the log knows it (its last event)."""

    trial: int
    status: str
    parameters: dict[str, Any]
    outcomes: dict[str, float] = field(default_factory=dict)
    reason: str = ""
    evaluator: str = ""
    agent: str = ""
    start_time: float | None = None
    end_time: float | None = None
    generator: str = ""
    notes: dict[str, str] = field(default_factory=dict)

    def to_row(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "trial": self.trial,
            "status": self.status,
            "reason": self.reason,
            "evaluator": self.evaluator,
            "agent": self.agent,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "generator": self.generator,
            "notes": json.dumps(self.notes) if self.notes else "",
        }
        row.update({f"param.{k}": v for k, v in self.parameters.items()})
        row.update({f"outcome.{k}": v for k, v in self.outcomes.items()})
        return row

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> TrialRecord:
        def strip(prefix: str) -> dict[str, Any]:
            return {k[len(prefix) :]: v for k, v in row.items() if k.startswith(prefix) and v is not None}

        return cls(
            trial=int(row["trial"]),
            status=row["status"],
            parameters=strip("param."),
            outcomes=strip("outcome."),
            reason=row.get("reason") or "",
            evaluator=row.get("evaluator") or "",
            agent=row.get("agent") or "",
            start_time=row.get("start_time"),
            end_time=row.get("end_time"),
            generator=row.get("generator") or "",
            notes=json.loads(row["notes"]) if row.get("notes") else {},
        )


class RunStore:
    """A run directory, locked for the lifetime of the object when `lock=True`."""

    def __init__(self, path: str | Path, lock: bool = False) -> None:
        self.path = Path(path)
        self.trials_dir = self.path / "trials"
        self._lock_file = None
        if lock:
            self.trials_dir.mkdir(parents=True, exist_ok=True)
            self._acquire_lock()

    # -- lock ---------------------------------------------------------------------------------
    def _acquire_lock(self) -> None:
        lock_path = self.path / "lock"
        handle = open(lock_path, "a+")  # noqa: SIM115 - held open for the lifetime of the store
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise RunDirError(
                f"{self.path}: another manager is running this campaign (pid {holder}); "
                "wait for it or stop it before running again"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._lock_file = handle

    def is_locked(self) -> bool:
        """Whether a manager holds this directory's lock right now."""
        lock_path = self.path / "lock"
        if not lock_path.exists():
            return False
        with open(lock_path) as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False

    def close(self) -> None:
        """Release the lock."""
        if self._lock_file is not None:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- campaign -----------------------------------------------------------------------------
    @property
    def campaign_path(self) -> Path:
        return self.path / "campaign.yaml"

    def save_campaign(self, campaign: Campaign) -> None:
        """Write the campaign as run (durably)."""
        text = yaml.safe_dump(campaign.model_dump(mode="json"), sort_keys=False)
        write_durably(self.campaign_path, text.encode())

    def load_campaign(self) -> Campaign:
        """The campaign this directory was run with, as it was written (its paths resolved when the
        run started). The files it names are not read: a report needs none of them, and a session
        that resumes it builds its evaluator and loads its sources itself."""
        if not self.campaign_path.exists():
            raise RunDirError(f"{self.path}: not a run directory (no campaign.yaml)")
        return load_campaign(self.campaign_path, bind=False)

    def check_same_campaign(self, campaign: Campaign) -> None:
        """Refuse to resume with a campaign whose search space, goals or evaluator changed."""
        stored = self.load_campaign()
        keep = {"budget", "ray"}
        old = stored.model_dump(exclude=keep)
        new = campaign.model_dump(exclude=keep)
        changed = sorted(k for k in old if old[k] != new[k])
        if changed:
            raise SpecError(
                f"{self.path} was run with a different campaign ({', '.join(changed)} changed); "
                "use another --run-dir or restore the campaign"
            )

    # -- trial log ----------------------------------------------------------------------------
    def append(self, records: Iterable[TrialRecord]) -> None:
        """Append events durably (one Parquet part, fsynced, then renamed into place)."""
        rows = [r.to_row() for r in records]
        if not rows:
            return
        self.trials_dir.mkdir(parents=True, exist_ok=True)
        self._write_part(rows, self._next_seq())
        if self._lock_file is not None and len(self._parts()) > COMPACT_WHILE_RUNNING:
            self.compact(keep=1)

    def _parts(self) -> list[Path]:
        return sorted(self.trials_dir.glob("*.parquet"))

    def _next_seq(self) -> int:
        parts = self._parts()
        return int(parts[-1].stem) + 1 if parts else 0

    def _write_part(self, rows: list[dict[str, Any]], seq: int) -> None:
        columns = list(dict.fromkeys(key for row in rows for key in row))
        table = pa.Table.from_pylist([{c: row.get(c) for c in columns} for row in rows])
        final = self.trials_dir / f"{seq:08d}.parquet"
        tmp = final.with_suffix(".tmp")
        pq.write_table(table, tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, final)
        _fsync_dir(self.trials_dir)

    def compact(self, keep: int = COMPACT_ABOVE) -> int:
        """Merge the parts into one when there are more than `keep` (a long campaign writes one per
        event); returns the number of parts merged. Call with the lock held.

        Crash-safe without a transaction: the merged part (every trial's last event) is written
        durably under the next sequence number before any old part is removed, so a kill leaves
        either the old parts, or them and the merged one that agrees with them (it is read last)."""
        parts = self._parts()
        if len(parts) <= keep:
            return 0
        records = self.trials()
        self._write_part([r.to_row() for r in records], int(parts[-1].stem) + 1)
        for part in parts:
            part.unlink()
        _fsync_dir(self.trials_dir)
        return len(parts)

    def has_trials(self) -> bool:
        """Whether the trial log holds any event."""
        return any(self.trials_dir.glob("*.parquet"))

    def trials(self) -> list[TrialRecord]:
        """Every trial in its latest state, ordered by trial id."""
        latest: dict[int, TrialRecord] = {}
        for part in self._parts():
            for row in pq.read_table(part).to_pylist():
                record = TrialRecord.from_row(row)
                latest[record.trial] = record
        return [latest[k] for k in sorted(latest)]

    # -- optimizer state and artifacts --------------------------------------------------------
    @property
    def optimizer_path(self) -> Path:
        return self.path / "optimizer.json"

    def artifacts_dir(self, trial: int) -> Path:
        """Folder of the files a trial's evaluator made (its final structure, time series...)."""
        return self.path / "artifacts" / str(trial)


def write_durably(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a fsynced temporary file and a rename (all or nothing)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
