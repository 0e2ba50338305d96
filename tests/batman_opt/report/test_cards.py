"""Report cards: what each figure shows is what the run's data says, and the GP learns a known law."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from batman_opt.cli import app
from batman_opt.optimize.targets import target_distance
from batman_opt.report.cards import Card, RunData
from batman_opt.report.convergence import convergence, hypervolume_trace
from batman_opt.report.front import pareto_front_card
from batman_opt.report.model import fit_outcomes, partial_dependence, sobol_indices
from batman_opt.report.timeline import utilisation
from batman_opt.spec import load_campaign
from batman_opt.store import COMPLETED, FAILED, RUNNING, RunStore, TrialRecord
from tests.batman_opt.report.conftest import REPO

QUICKSTART = load_campaign(REPO / "campaigns" / "quickstart.yaml")


def test_convergence_follows_the_best_target_distance_and_marks_the_switch(process_run: Path):
    data = RunData.of(RunStore(process_run))
    figure = convergence(data).figure
    best = next(t for t in figure.data if t.name == "best so far")
    done = sorted(data.completed, key=lambda t: t.trial)
    distances = [target_distance(t.outcomes, QUICKSTART.targets) for t in done]
    assert list(best.x) == [t.trial for t in done]
    assert np.allclose(best.y, np.minimum.accumulate(distances))
    switch = [s for s in figure.layout.shapes if s.type == "line" and s.x0 == s.x1]
    assert [s.x0 for s in switch] == [QUICKSTART.budget.initial_trials - 0.5]


def test_several_objectives_follow_the_hypervolume_of_the_feasible_front():
    campaign = load_campaign(
        REPO / "campaigns" / "multiobjective.yaml"
    )  # max loading, min tau, porosity >= 0.25

    def trial(i: int, loading: float, tau: float, porosity: float = 0.3) -> TrialRecord:
        outcomes = {"mass_loading_mg_cm2": loading, "tortuosity_factor": tau, "porosity": porosity}
        return TrialRecord(i, COMPLETED, {}, outcomes)

    trials = [
        trial(0, 10, 2.0),
        trial(1, 20, 3.0),
        trial(2, 15, 2.5),
        trial(3, 12, 2.8),
        trial(4, 40, 1.0, 0.2),
    ]
    ids, volumes = hypervolume_trace(RunData(campaign, trials))
    # reference (9, -3.1): boxes 1 x 1.1, then + 10 x 0.1, then + 5 x 0.5; trial 3 is dominated,
    # trial 4 infeasible (porosity)
    assert ids == [0, 1, 2, 3]
    assert volumes == pytest.approx([1.1, 2.1, 4.6, 4.6])
    assert convergence(RunData(campaign, trials)).title == "Convergence (hypervolume)"


def test_generator_falls_back_to_the_initial_trial_budget_for_older_logs():
    trials = [TrialRecord(i, RUNNING, {}) for i in range(12)]  # generator "" as in older runs
    data = RunData(QUICKSTART, trials)
    assert [data.generator(t) for t in trials] == ["sobol"] * 8 + ["botorch"] * 4
    assert data.first_model_trial() == 8


def test_pareto_card_highlights_the_recipe_meeting_every_target():
    def trial(i: int, density: float, loading: float, tau: float) -> TrialRecord:
        outcomes = {"density_g_cm3": density, "mass_loading_mg_cm2": loading, "tortuosity_factor": tau}
        return TrialRecord(i, COMPLETED, {"comma_gap_um": 100.0 + i}, outcomes)

    trials = [trial(0, 3.02, 20.5, 2.5), trial(1, 3.3, 25.0, 1.8), trial(2, 3.3, 26.0, 2.6)]
    figure = pareto_front_card(RunData(QUICKSTART, trials)).figure
    by_name = {t.name: t for t in figure.data}
    assert "trial 0" in by_name["Pareto-optimal, meets every target"].hovertext[0]
    assert "trial 1" in by_name["Pareto-optimal"].hovertext[0]
    assert "trial 2" in by_name["trials"].hovertext[0]  # dominated by trial 1


def _known_law_run(n: int = 40) -> RunData:
    """Trials of the quickstart space whose density depends on the comma gap only (linearly),
    loading on the solid content only, and tortuosity on the compression only."""
    rng = np.random.default_rng(3)
    trials = []
    for i in range(n):
        p = {
            q.name: float(q.bounds[0] + rng.random() * (q.bounds[1] - q.bounds[0]))
            for q in QUICKSTART.tuned_parameters
        }
        outcomes = {
            "density_g_cm3": 2.0 + p["comma_gap_um"] / 400.0,
            "mass_loading_mg_cm2": 10.0 + 40.0 * (p["solid_content"] - 0.55) ** 2,
            "tortuosity_factor": 2.0 + 3.0 * p["compression_ratio"],
        }
        trials.append(TrialRecord(i, COMPLETED, p, outcomes))
    return RunData(QUICKSTART, trials)


def test_gp_cards_recover_a_known_law():
    data = _known_law_run()
    fitted = {f.name: f for f in fit_outcomes(data)}
    rng = np.random.default_rng(0)
    names = data.parameter_names
    gap = names.index("comma_gap_um")
    first, total = sobol_indices(data, fitted["density_g_cm3"], rng)
    assert total[gap] > 0.95 and first[gap] > 0.9
    assert np.all(np.delete(total, gap) < 0.03)
    grid, mean, low, high = partial_dependence(data, fitted["density_g_cm3"], gap, rng)
    gap_um = data.decode("comma_gap_um", grid)
    assert np.allclose(mean, 2.0 + gap_um / 400.0, atol=0.02)
    assert np.all(low <= mean + 1e-9) and np.all(mean <= high + 1e-9)
    _, flat, _, _ = partial_dependence(data, fitted["density_g_cm3"], names.index("coating_speed_m_min"), rng)
    assert np.ptp(flat) < 0.02
    mu, sd = fitted["tortuosity_factor"].loo()
    y = fitted["tortuosity_factor"].y[:, 0].numpy()
    assert np.abs(mu - y).max() < 0.05 and np.all(sd > 0)


def test_utilisation_counts_busy_agent_time():
    def span(i: int, agent: str, start: float, end: float) -> TrialRecord:
        return TrialRecord(i, FAILED, {}, reason="killed", agent=agent, start_time=start, end_time=end)

    # agent a busy 0-2 s, agent b busy 0-1 s then idle: 3 busy agent-seconds out of 2 x 2
    data = RunData(QUICKSTART, [span(0, "a", 0, 1), span(1, "a", 1, 2), span(2, "b", 0, 1)])
    assert utilisation(data) == pytest.approx(0.75)


def test_html_report_is_self_contained_and_lists_failures(process_report: tuple[Path, list[Card]]):
    path, cards = process_report
    page = path.read_text()
    assert external_resources(page) == []
    assert external_resources('<script src="https://cdn.plot.ly/p.js"></script>') == [
        "script https://cdn.plot.ly/p.js"
    ]
    assert page.count("Plotly.newPlot") == sum(c.figure is not None for c in cards)
    assert {c.name for c in cards} >= {
        "convergence",
        "pareto",
        "trials",
        "partial_dependence",
        "sensitivity",
        "parity",
        "timeline",
    }
    assert "timeout after 30 s" in page  # the failed trial's reason


def external_resources(page: str) -> list[str]:
    """Every src or href of the page's tags (script contents are not tags to HTMLParser)."""
    found: list[str] = []

    class Tags(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.extend(f"{tag} {value}" for name, value in attrs if name in ("src", "href"))

    Tags().feed(page)
    return found


def test_report_command_writes_html_and_keeps_json(process_run: Path, tmp_path: Path):
    runner = CliRunner()
    out = tmp_path / "report.html"
    result = runner.invoke(app, ["report", str(process_run), "--html", str(out)])
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 1e6  # plotly.js inside
    result = runner.invoke(app, ["report", str(process_run), "--json"])
    assert result.exit_code == 0 and '"recipes"' in result.output
    result = runner.invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 3 and "not a run directory" in result.output
