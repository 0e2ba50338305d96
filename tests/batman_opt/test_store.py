"""The run directory's trial log: append-only, durable parts, latest event wins."""

from __future__ import annotations

import pyarrow.parquet as pq

from batman_opt.store import COMPLETED, FAILED, RUNNING, RunStore, TrialRecord


def test_latest_event_wins_and_columns_are_flat(tmp_path):
    store = RunStore(tmp_path / "run", lock=True)
    store.append([TrialRecord(0, RUNNING, {"gap_um": 100.0}), TrialRecord(1, RUNNING, {"gap_um": 200.0})])
    store.append(
        [TrialRecord(1, FAILED, {"gap_um": 200.0}, reason="boom", agent="a-1", start_time=1.0, end_time=2.0)]
    )
    store.append([TrialRecord(0, COMPLETED, {"gap_um": 100.0}, {"loading_mg_cm2": 11.5}, agent="a-0")])
    trials = store.trials()
    assert [(t.trial, t.status) for t in trials] == [(0, COMPLETED), (1, FAILED)]
    assert trials[0].outcomes == {"loading_mg_cm2": 11.5} and trials[1].reason == "boom"
    parts = sorted((tmp_path / "run" / "trials").glob("*"))
    assert [p.suffix for p in parts] == [".parquet"] * 3  # no temporary file left behind
    columns = pq.read_table(parts[2]).column_names
    assert {"trial", "status", "param.gap_um", "outcome.loading_mg_cm2", "start_time", "end_time"} <= set(
        columns
    )
    store.close()


def test_lock_state_is_visible_to_readers(tmp_path):
    store = RunStore(tmp_path / "run", lock=True)
    assert RunStore(tmp_path / "run").is_locked()
    store.close()
    assert not RunStore(tmp_path / "run").is_locked()
