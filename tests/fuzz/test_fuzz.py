"""Property-based fuzzing of every user-facing input (Hypothesis): campaign YAML (mutated bytes and
random values at random places of a valid campaign), recipe and lab sheets (CSV), and labelled
images with their options. Each input runs in process through `batman` with a time limit; the
properties: no traceback, no hang, and exit 0 or one error line with exit 2.

Fast by default (BATMAN_FUZZ_EXAMPLES=20 per test); a long run, e.g.

    BATMAN_FUZZ_EXAMPLES=500 BATMAN_FUZZ_REPORT=fuzz.json pytest tests/fuzz/test_fuzz.py

writes the totals (inputs tried, tracebacks, hangs) to BATMAN_FUZZ_REPORT.
"""

from __future__ import annotations

import json
import os
import pickle
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.hostile import BASE, Outcome, batman

EXAMPLES = int(os.environ.get("BATMAN_FUZZ_EXAMPLES", "20"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize="BATMAN_FUZZ_EXAMPLES" not in os.environ,  # the default run is the same every time
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
TOTALS: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def report_totals():
    yield
    print(f"\nfuzz: {TOTALS['inputs']} inputs, {TOTALS['tracebacks']} tracebacks, {TOTALS['hangs']} hangs")
    if os.environ.get("BATMAN_FUZZ_REPORT"):
        Path(os.environ["BATMAN_FUZZ_REPORT"]).write_text(json.dumps(dict(TOTALS), indent=2))


def check(args: list[str], seconds: float = 30.0, lines: int = 1) -> Outcome:
    """Run one input; the properties every input must have (at most `lines` error lines: ingest
    names every bad cell of a sheet, one line each)."""
    outcome = batman(args, seconds)
    TOTALS["inputs"] += 1
    TOTALS["tracebacks"] += bool(outcome.traceback)
    TOTALS["hangs"] += outcome.hung
    assert not outcome.hung, f"hung: {args}"
    assert not outcome.traceback, outcome.traceback
    assert outcome.exit_code in (0, 2), outcome.output
    if outcome.exit_code == 2:
        assert 1 <= len(outcome.error_lines) <= lines, outcome.output
        assert all(line.isprintable() for line in outcome.output.splitlines()), outcome.output
    return outcome


# -- campaign YAML ---------------------------------------------------------------------------------
TOKENS = [":", "-", "[", "]", "{", "}", ",", "&a", "*a", "<<: *a", "!!", "?", "|", ">", "#", "'", '"',
          "\n", "  ", "\t", "\x00", "\x07", "\ufeff", "é", "yes", "~", ".nan", ".inf", "-.inf", "1e309",
          "0x1F", "2**70",
          "porosity", "<=", ">=", "/ 0", "*", "True", "null", "\\"]  # fmt: skip


@st.composite
def mutated_text(draw) -> bytes:
    """BASE with a few spans replaced by YAML punctuation, odd scalars or raw bytes."""
    data = BASE.encode()
    for _ in range(draw(st.integers(1, 4))):
        start = draw(st.integers(0, len(data)))
        end = min(len(data), start + draw(st.integers(0, 12)))
        insert = draw(st.one_of(st.sampled_from(TOKENS).map(str.encode), st.binary(max_size=6)))
        data = data[:start] + insert + data[end:]
    return data


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**80), 2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["float", "int", "choice", "fixed", "process", "dem", "lab", "target", "minimize",
                     "porosity >= 0.2", "solid_content <= 0.6", "a * b <= 1", "1 / 0 >= x", "auto"]),
)  # fmt: skip
VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*prefix, index))


@st.composite
def replaced_values(draw) -> bytes:
    """BASE as data with random values put at random places (or random keys added)."""
    data = yaml.safe_load(BASE)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(list(_paths(data))[1:]))
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        if draw(st.booleans()):
            parent[path[-1]] = draw(VALUES)
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=8))] = draw(VALUES)
    return yaml.safe_dump(data, allow_unicode=True).encode()


@FUZZ
@given(content=st.one_of(mutated_text(), replaced_values()))
def test_fuzzed_campaigns_validate_or_are_refused_in_one_line(tmp_path, content):
    path = tmp_path / "campaign.yaml"
    path.write_bytes(content)
    check(["validate", str(path)])


# -- recipe sheets (simulate --input) and lab sheets (ingest) -------------------------------------
CELLS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from(["", " ", "nan", "inf", "-0", "1e400", "0,5", "yes", '"', "\x00", "é", "1_000"]),
    st.text(max_size=8),
)
COLUMNS = ["solid_content", "comma_gap_um", "am_mass_fraction", "compression_ratio", "compresion_ratio",
           "trial", "density_g_cm3", "mass_loading_mg_cm2", "tortuosity_factor", "failed_reason", "label",
           ""]  # fmt: skip


@st.composite
def sheets(draw) -> bytes:
    header = draw(st.lists(st.sampled_from(COLUMNS) | st.text(max_size=6), min_size=1, max_size=8))
    rows = draw(st.lists(st.lists(CELLS, min_size=len(header), max_size=len(header)), max_size=5))
    delimiter = draw(st.sampled_from([",", ",", ";", "\t"]))
    text = "\n".join(delimiter.join(row) for row in [header, *rows])
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "utf-16", "latin-1"]))
    return text.encode(encoding, errors="replace")


@FUZZ
@given(content=sheets())
def test_fuzzed_recipe_sheets_simulate_or_are_refused(tmp_path, content):
    recipes = tmp_path / "recipes.csv"
    recipes.write_bytes(content)
    check(["simulate", "process", "--input", str(recipes), "--output", str(tmp_path / "out.csv")])


@pytest.fixture(scope="module")
def lab_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab")
    campaign = root / "lab.yaml"
    campaign.write_text(
        BASE.replace("kind: process", "kind: lab").replace("max_trials: 20", "max_trials: 1000")
    )
    run_dir = root / "run"
    outcome = batman(["suggest", str(campaign), "--run-dir", str(run_dir), "--n", "3"], 120)
    assert outcome.exit_code == 0, outcome.output
    return run_dir


@FUZZ
@given(content=sheets())
def test_fuzzed_lab_sheets_are_ingested_or_refused(lab_run, content):
    sheet = lab_run / "sheet.csv"
    sheet.write_bytes(content)
    check(["ingest", str(lab_run), str(sheet)], lines=100)


# -- images ----------------------------------------------------------------------------------------
DTYPES = ["uint8", "int16", "int64", "float32", "float64", "bool", "complex64"]


@st.composite
def images(draw) -> np.ndarray:
    shape = tuple(draw(st.lists(st.integers(0, 6), min_size=1, max_size=4)))
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    values = draw(
        st.lists(st.sampled_from([0, 1, 2, 3, -1, 255, 0.5, np.nan, np.inf]), min_size=1, max_size=4)
    )
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    with np.errstate(invalid="ignore"):
        return rng.choice(np.array(values), size=shape).astype(dtype)


LABELS = st.one_of(
    st.just("pore=0,am=1,cbd=2"),
    st.sampled_from(
        ["pore=0,am=1", "am=1,am=2", "pore=0,am=0", "pore=x", "solid=1", "", ",", "pore=0,am=1,cbd=2,"]
    ),
    st.text(max_size=12),
)
VOXELS = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([1.0, 0.5, 1e-5, 2e4]))


@FUZZ
@given(image=images(), labels=LABELS, voxel=VOXELS, suffix=st.sampled_from([".npy", ".tif"]))
def test_fuzzed_images_are_measured_or_refused(tmp_path, image, labels, voxel, suffix):
    path = tmp_path / f"image{suffix}"
    if suffix == ".npy":
        np.save(path, image)
    else:
        import tifffile

        try:
            tifffile.imwrite(path, image)
        except Exception:  # noqa: BLE001 - tifffile cannot write this dtype or shape: write raw bytes
            path.write_bytes(image.tobytes())
    check(["metrics", str(path), "--labels", labels, "--voxel-um", repr(voxel), "--json"], seconds=60)


@FUZZ
@given(content=st.binary(max_size=300), suffix=st.sampled_from([".npy", ".tif", ".tiff"]))
def test_random_bytes_as_an_image_are_refused(tmp_path, content, suffix):
    path = tmp_path / f"image{suffix}"
    path.write_bytes(content)
    outcome = check(["metrics", str(path)])
    assert outcome.exit_code == 2


# -- nothing in a user file runs code --------------------------------------------------------------
class _Touch:
    """Unpickling this creates the marker file: the proof that a pickle was loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_no_pickle_in_a_user_file_is_loaded(tmp_path):
    marker = tmp_path / "pickle-ran"
    payload = pickle.dumps(_Touch(marker))
    np.save(tmp_path / "object.npy", np.array([_Touch(marker)], dtype=object), allow_pickle=True)
    (tmp_path / "raw.npy").write_bytes(payload)
    for name in ("object.npy", "raw.npy"):
        check(["metrics", str(tmp_path / name)])
    for name in ("sheet.parquet", "sheet.csv", "campaign.yaml"):
        (tmp_path / name).write_bytes(payload)
    check(
        [
            "simulate",
            "process",
            "--input",
            str(tmp_path / "sheet.parquet"),
            "--output",
            str(tmp_path / "o.csv"),
        ]
    )
    check(
        ["simulate", "process", "--input", str(tmp_path / "sheet.csv"), "--output", str(tmp_path / "o.csv")]
    )
    check(["validate", str(tmp_path / "campaign.yaml")])
    assert not marker.exists()
    pickle.loads(payload)  # the payload is live: loading it does create the marker
    assert marker.exists()
