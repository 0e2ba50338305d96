"""The report and the 3D view in a real headless Chromium, offline, from file://: no JavaScript
error in the console, and a screenshot that is not blank. Skipped when chromium is not installed."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from batman_opt.report.browser import HeadlessChromium, find_chromium
from batman_opt.report.cards import Card, RunData
from batman_opt.report.electrode_view import read_time_series, write_view
from batman_opt.report.html import build_cards, render_html
from batman_opt.store import RunStore
from sims.structure import ElectrodeStructure
from tests.batman_opt.report.conftest import lattice_structure, write_process_run

pytestmark = pytest.mark.skipif(
    find_chromium() is None, reason="chromium is not installed (apt-get install chromium; .ci/run does it)"
)
MIN_VARIANCE = 200.0  # grey-level variance of a screenshot; a blank page has 0, a page of text ~1000
MIN_FIGURE_VARIANCE = 100.0  # of one figure's PNG: an empty plotly figure with axis titles has ~30
COUNT_PLOTS = "[...document.querySelectorAll('.js-plotly-plot')].filter(d => d._fullLayout).length"
TOGGLE_LAYERS_AND_SLIDE = """
new Promise(resolve => {
  document.querySelectorAll('#layers input:not(:checked)').forEach(box => box.click());  // layers on
  const slider = document.getElementById('time');
  if (Number(slider.max) > 0) { slider.value = '1'; slider.dispatchEvent(new Event('input')); }
  setTimeout(() => resolve({traces: document.getElementById('scene').data.length,
                            label: document.getElementById('timelabel').textContent}), 1500);
})
"""


def variance(png: bytes) -> float:
    return float(np.var(np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=float)))


@pytest.fixture(scope="module")
def browser():
    with HeadlessChromium(1300, 1000) as chromium:
        yield chromium


def _page(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text(f"<html><body><h1>{name}</h1>{body}</body></html>")
    return path.as_uri()


def test_the_harness_catches_errors_and_blank_pages(browser: HeadlessChromium, tmp_path: Path):
    thrown = browser.open(_page(tmp_path, "thrown.html", "<script>notDefined();</script>"), settle_s=0.3)
    assert any("notDefined is not defined" in e for e in thrown.errors)
    logged = browser.open(_page(tmp_path, "logged.html", "<script>console.error('bad data')</script>"), 0.3)
    assert any("bad data" in e for e in logged.errors)
    later = browser.open(_page(tmp_path, "later.html", "<script>setTimeout(() => null.x, 100)</script>"), 0.5)
    assert any("TypeError" in e for e in later.errors)
    cdn = browser.open(
        _page(tmp_path, "cdn.html", '<script src="https://cdn.plot.ly/plotly-2.0.0.min.js"></script>'), 0.3
    )
    assert cdn.errors, "a page reaching for the network must fail offline"
    fine = browser.open(_page(tmp_path, "fine.html", "<p>all well</p>"), 0.3)
    assert fine.errors == []
    (tmp_path / "blank.html").write_text("<html><body></body></html>")
    blank = browser.open((tmp_path / "blank.html").as_uri(), settle_s=0.3)
    assert blank.errors == [] and variance(blank.screenshot_png) < 1.0 < variance(fine.screenshot_png)


def _check_report(browser: HeadlessChromium, run_dir: Path, tmp_path: Path) -> None:
    data = RunData.of(RunStore(run_dir))
    cards = build_cards(data)
    out = tmp_path / "report.html"
    out.write_text(render_html(data, cards))
    _check_page(browser, out, cards)


def _check_page(browser: HeadlessChromium, path: Path, cards: list[Card]) -> None:
    page = browser.open(path.as_uri(), settle_s=2.0, evaluate=COUNT_PLOTS)
    assert page.errors == []
    assert page.value == sum(c.figure is not None for c in cards)  # every figure drawn
    assert variance(page.screenshot_png) > MIN_VARIANCE


def test_report_of_a_process_run_renders_without_errors(browser, process_report: tuple[Path, list[Card]]):
    _check_page(browser, *process_report)


def test_report_of_a_multiobjective_run_with_choices_renders_without_errors(browser, tmp_path: Path):
    run = write_process_run(tmp_path / "run", n=16, campaign_file="multiobjective.yaml")
    _check_report(browser, run, tmp_path)


def test_view_of_a_structure_renders_layers_without_errors(browser, tmp_path: Path):
    out = write_view(tmp_path / "view.html", lattice_structure(), title="lattice")
    page = browser.open(out.as_uri(), settle_s=2.0, evaluate=TOGGLE_LAYERS_AND_SLIDE)
    assert page.errors == []
    assert page.value["traces"] == 7  # AM, CBD, collector, box, pores, concentration, path
    assert variance(page.screenshot_png) > MIN_VARIANCE


@pytest.mark.slow
def test_report_and_view_of_a_dem_run_render_without_errors(browser, dem_run: Path, tmp_path: Path):
    _check_report(browser, dem_run, tmp_path)
    artifacts = dem_run / "artifacts" / "0"
    frames, curve = read_time_series(artifacts / "timeseries.parquet")
    calendering = np.array(["calender" in label for label in curve.label])
    assert (
        np.nanmax(curve.pressure_mpa[calendering]) > 1.0 and np.isnan(curve.pressure_mpa[~calendering]).all()
    )
    out = write_view(
        tmp_path / "dem.html",
        ElectrodeStructure.load(artifacts / "structure.npz"),
        title="dem",
        series=(frames, curve),
    )
    page = browser.open(out.as_uri(), settle_s=2.0, evaluate=TOGGLE_LAYERS_AND_SLIDE)
    assert page.errors == []
    assert page.value["label"].startswith(frames[1].label)  # the slider moved the particles to frame 1
    assert variance(page.screenshot_png) > MIN_VARIANCE


@pytest.mark.slow
def test_report_of_a_real_quickstart_campaign_with_pngs(browser, tmp_path: Path):
    run_dir, html, figures = tmp_path / "quickstart", tmp_path / "report.html", tmp_path / "figures"
    root = Path(__file__).resolve().parents[3]
    command = [sys.executable, "-c", "from batman_opt.cli import main; main()"]
    env = {**os.environ, "PYTHONPATH": str(root)}
    ran = subprocess.run(
        [
            *command,
            "run",
            "campaigns/quickstart.yaml",
            "--run-dir",
            str(run_dir),
            "--max-trials",
            "12",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=root,
        env=env,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    reported = subprocess.run(
        [*command, "report", str(run_dir), "--html", str(html), "--png", str(figures)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=root,
        env=env,
    )
    assert reported.returncode == 0, reported.stdout + reported.stderr
    page = browser.open(html.as_uri(), settle_s=2.0, evaluate=COUNT_PLOTS)
    assert page.errors == [] and page.value == len(list(figures.glob("*.png"))) >= 6
    assert variance(page.screenshot_png) > MIN_VARIANCE
    assert all(variance(png.read_bytes()) > MIN_FIGURE_VARIANCE for png in figures.glob("*.png"))


def test_the_browser_leaves_no_process_and_no_profile_behind():
    """Chromium's renderer, GPU and crashpad children outlive its main process for a moment and keep
    writing to the profile: leaving the browser ends its whole process group and removes the profile
    (a left child once broke `batman report --png` in the profile's removal)."""
    with HeadlessChromium() as browser:
        group, profile = browser._proc.pid, browser._profile
        assert profile.is_dir()
        assert browser.open("about:blank", settle_s=0.2).errors == []
    assert not profile.exists()
    ps = subprocess.run(["ps", "-eo", "pgid=,stat="], capture_output=True, text=True, check=True)
    rows = [line.split() for line in ps.stdout.splitlines()]
    alive = [row for row in rows if row[0] == str(group) and not row[1].startswith("Z")]
    assert not alive, alive


def test_a_profile_still_written_to_is_removed_once_the_writer_stops(tmp_path: Path):
    """The race behind that failure, without a browser: a process keeps adding files to the profile
    while it is removed; the removal tries again until the writer has stopped, and raises nothing."""
    from batman_opt.report.browser import _remove_profile

    profile = tmp_path / "profile"
    (profile / "Default").mkdir(parents=True)
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "end, i = time.monotonic() + 0.5, 0\n"
            "while time.monotonic() < end:\n"
            "    try: open(f'{sys.argv[1]}/Default/f{i}', 'w').close()\n"
            "    except OSError: break\n"
            "    i += 1\n",
            str(profile),
        ]
    )
    time.sleep(0.1)  # the writer is running
    _remove_profile(profile)
    writer.wait(10)
    assert not profile.exists()
