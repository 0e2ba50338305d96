"""Hostile arguments and files for the other commands: one error line and exit 2 (4 for a cluster
that is not there), never a traceback; the run directory of a failed start takes the corrected
campaign; Ctrl-C says how to resume."""

from __future__ import annotations

import json
import re
import socket
import time

import numpy as np
import pandas as pd
import pytest

from tests.fuzz.hostile import BASE, batman

RECIPES = "solid_content,comma_gap_um,label\n0.6,100,a\n0.7,300,b\n"


def refused(args: list[str], expected: str, code: int = 2, seconds: float = 30) -> str:
    outcome = batman(args, seconds)
    assert not outcome.hung and not outcome.traceback, outcome.traceback
    assert outcome.exit_code == code, outcome.output
    assert len(outcome.error_lines) == 1, outcome.output
    assert re.search(expected, outcome.error_lines[0]), outcome.error_lines[0]
    return outcome.error_lines[0]


@pytest.fixture
def recipes(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text(RECIPES)
    return path


def simulate(recipes, out) -> list[str]:
    return ["simulate", "process", "--input", str(recipes), "--output", str(out)]


def test_simulate_output_that_cannot_be_written(tmp_path, recipes):
    refused(simulate(recipes, tmp_path / "absent" / "out.csv"), r"the folder .*absent does not exist")
    (tmp_path / "folder.csv").mkdir()
    refused(simulate(recipes, tmp_path / "folder.csv"), r"folder.csv is a folder")
    full = tmp_path / "full.csv"
    full.symlink_to("/dev/full")  # every write: ENOSPC, as on a full disk
    refused(simulate(recipes, full), r"--output .*full.csv: cannot write \(No space left on device\)")
    refused(simulate(recipes, recipes), r"is the input file")
    refused(simulate(recipes, tmp_path / "out.xlsx"), r"use a .csv file name")


def test_simulate_input_that_is_not_a_recipe_table(tmp_path):
    out = tmp_path / "out.csv"
    cases = {
        "typo.csv": (
            RECIPES.replace("label", "compresion_ratio").encode(),
            r"'compresion_ratio'.*did you mean 'compression_ratio'",
        ),
        "twice.csv": (
            b"solid_content,comma_gap_um,solid_content\n0.6,100,0.7\n",
            r"column 'solid_content' appears twice",
        ),
        "book.xlsx": (b"PK\x03\x04 workbook", r"unsupported table type '.xlsx'"),
        "recipes.json": (b'[{"solid_content": 0.6}]', r"unsupported table type '.json'"),
        "utf16.csv": (RECIPES.encode("utf-16"), r"holds UTF-16 text"),
        "latin1.csv": (RECIPES.replace("a\n", "\xe9\n").encode("latin-1"), r"not UTF-8 text"),
        "gzip.csv": (__import__("gzip").compress(RECIPES.encode()), r"holds gzip-compressed data"),
    }
    for name, (content, expected) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        refused(simulate(path, out), expected)
    assert not out.exists()


def test_simulate_unknown_option_of_a_kind_that_takes_none():
    refused(
        ["simulate", "process", "--set", "solid_content=0.6", "--option", "foo=1"],
        r"--option foo: unknown option",
    )


@pytest.mark.parametrize("voxel", ["1e308", "1e-308", "inf", "nan", "0", "-1"])
def test_metrics_voxel_side_outside_physical_lengths(tmp_path, voxel):
    image = tmp_path / "image.npy"
    np.save(image, np.ones((4, 4, 4), dtype=np.uint8))
    refused(["metrics", str(image), "--voxel-um", voxel], r"--voxel-um must be a voxel side in um within")


def test_dataset_gdl_writes_csv_or_refuses_other_names(tmp_path):
    out = tmp_path / "gdl.csv"
    ok = batman(["dataset", "gdl", "--n", "2", "--size", "24", "--quiet", "--out", str(out)], 120)
    assert ok.exit_code == 0 and not ok.traceback, ok.output
    table = pd.read_csv(out)  # a real CSV, not Parquet bytes under a .csv name
    assert len(table) == 2 and {"porosity", "fibre_diameter_um"} & set(table.columns)
    assert table["porosity"].between(0, 1).all()
    refused(
        ["dataset", "gdl", "--n", "2", "--out", str(tmp_path / "gdl.txt")],
        r"use a .parquet or .csv file name",
    )


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nobody listens once the socket is closed


def test_address_auto_with_a_stale_cluster_record_fails_fast_and_the_fixed_campaign_runs_after(
    tmp_path, monkeypatch
):
    """A stale /tmp/ray/ray_current_cluster (left by an earlier `ray start`) made `auto` hang forever."""
    record = tmp_path / "raytmp" / "ray"
    record.mkdir(parents=True)
    (record / "ray_current_cluster").write_text(f"127.0.0.1:{_closed_port()}\n")
    monkeypatch.setenv("RAY_TMPDIR", str(tmp_path / "raytmp"))
    monkeypatch.setenv("RAY_ADDRESS", "")
    # in process, beside the suite's own local Ray (tests/conftest.py): the command must look for the
    # cluster itself, as it does in a fresh process
    monkeypatch.setattr("ray.is_initialized", lambda: False)
    campaign = tmp_path / "campaign.yaml"
    campaign.write_text(BASE)
    run_dir = tmp_path / "run"
    started = time.perf_counter()
    line = refused(
        ["run", str(campaign), "--run-dir", str(run_dir), "--address", "auto", "--quiet"], r"'auto'", code=4
    )
    assert time.perf_counter() - started < 20 and "recorded by an earlier `ray start`" in line
    (record / "ray_current_cluster").unlink()
    refused(
        ["run", str(campaign), "--run-dir", str(run_dir), "--address", "auto"], r"no cluster was started", 4
    )
    # the failed start left campaign.yaml but no trial: a corrected campaign is taken, not "seed changed"
    campaign.write_text(BASE.replace("seed: 3", "seed: 4"))
    assert (run_dir / "campaign.yaml").exists()
    refused(["run", str(campaign), "--run-dir", str(run_dir), "--address", "auto"], r"no cluster", 4)
    status = batman(["status", str(run_dir), "--json"])
    assert json.loads(status.output)["completed"] == 0
    assert "seed: 4" in (run_dir / "campaign.yaml").read_text()
