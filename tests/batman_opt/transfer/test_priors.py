"""Transfer priors in the optimizer: a related source saves evaluations, a wrong one costs little,
the ensemble weighs sources by how they rank the target, and a changed source is refused on resume."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from typer.testing import CliRunner

from batman_opt.cli import app
from batman_opt.errors import RunDirError, SpecError
from batman_opt.local import run_local
from batman_opt.session import CampaignSession
from batman_opt.spec import load_campaign
from batman_opt.transfer.priors import EnsembleModels
from batman_opt.transfer.source_gps import SourceMetrics

GRID = np.linspace(0.0, 1.0, 13)


@pytest.fixture(autouse=True)
def _seeded_torch():
    """The acquisition's Monte-Carlo samples come from torch's global generator: the same draws
    whichever tests ran before."""
    torch.manual_seed(0)


def target_f(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (x - 0.3) ** 2 + (y - 0.65) ** 2 + 0.03 * np.sin(5 * x)


def source_f(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Related, on another scale and with a shifted optimum (another material, another simulator)."""
    return 2.0 * ((x - 0.33) ** 2 + (y - 0.6) ** 2) + 1.0


def write_problem(folder: Path, method: str, source: str = "source.csv", seed: int = 1) -> Path:
    rng = np.random.default_rng(0)
    xs, ys = np.meshgrid(GRID, GRID)
    rows = np.column_stack([xs.ravel(), ys.ravel(), target_f(xs.ravel(), ys.ravel())])
    np.savetxt(folder / "target.csv", rows, delimiter=",", header="x,y,f", comments="")
    sx, sy = rng.uniform(0, 1, (2, 300))
    good = np.column_stack([sx, sy, source_f(sx, sy)])
    np.savetxt(folder / "source.csv", good, delimiter=",", header="x,y,f", comments="")
    wrong = good.copy()
    wrong[:, 2] = rng.permutation(wrong[:, 2])  # the same values, no longer tied to the recipes
    np.savetxt(folder / "shuffled.csv", wrong, delimiter=",", header="x,y,f", comments="")
    spec = {
        "name": f"tl-{method}",
        "seed": seed,
        "parameters": [
            {"name": "x", "type": "float", "bounds": [0, 1]},
            {"name": "y", "type": "float", "bounds": [0, 1]},
        ],
        "objectives": [{"name": "f", "goal": "minimize"}],
        "evaluator": {"kind": "dataset", "options": {"path": "target.csv", "replicates": "mean"}},
        "budget": {"max_trials": 30, "initial_trials": 5},
        "transfer": {"method": method, "sources": [{"path": source}] if method != "none" else []},
    }
    path = folder / f"{method}-{source}-{seed}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def evaluations_to_minimum(path: Path, run_dir: Path) -> int:
    best = float(target_f(*np.meshgrid(GRID, GRID)).min())
    with CampaignSession.open(load_campaign(path), run_dir) as session:
        made = run_local(session, stop=lambda r: r.outcomes.get("f", np.inf) <= best + 1e-12)
    assert made[-1].outcomes["f"] == pytest.approx(best), "the budget ended first"
    return len(made)


def test_a_related_source_finds_the_optimum_in_fewer_evaluations(tmp_path):
    cold = evaluations_to_minimum(write_problem(tmp_path, "none"), tmp_path / "cold")
    warm = evaluations_to_minimum(write_problem(tmp_path, "prior_mean"), tmp_path / "warm")
    assert warm <= 0.7 * cold, f"prior_mean {warm} evaluations, cold start {cold}"


def test_a_source_on_another_level_is_shifted_onto_the_first_target_point(tmp_path):
    """A source that is the target 0.5 higher everywhere (another material's level) never comes
    down to f = 0.25, so it cannot say where the band lies: the first recipe is the start design's
    (the pool's centre), and the source shifted by its error there is the target (up to its GP's
    error), so the band is met before the target GP can be fitted (3 points)."""
    target, tolerance = 0.25, 0.01
    xs, ys = np.meshgrid(GRID, GRID)
    rows = np.column_stack([xs.ravel(), ys.ravel(), target_f(xs.ravel(), ys.ravel())])
    np.savetxt(tmp_path / "target.csv", rows, delimiter=",", header="x,y,f", comments="")
    sx, sy = np.random.default_rng(0).uniform(0, 1, (2, 300))
    source = np.column_stack([sx, sy, target_f(sx, sy) + 0.5])
    np.savetxt(tmp_path / "higher.csv", source, delimiter=",", header="x,y,f", comments="")
    goals = np.abs(rows[:, 2] - target) <= tolerance
    assert 0 < goals.sum() < 0.1 * len(rows)  # a narrow band: a spread design rarely lands in it
    spec = {
        "name": "tl-level",
        "seed": 1,
        "parameters": [{"name": n, "type": "float", "bounds": [0, 1]} for n in ("x", "y")],
        "objectives": [{"name": "f", "goal": "target", "target": target, "tolerance": tolerance}],
        "evaluator": {"kind": "dataset", "options": {"path": "target.csv", "replicates": "mean"}},
        "budget": {"max_trials": 20, "initial_trials": 5},
        "transfer": {"method": "prior_mean", "sources": [{"path": "higher.csv"}]},
    }
    path = tmp_path / "level.yaml"
    path.write_text(yaml.safe_dump(spec))
    with CampaignSession.open(load_campaign(path), tmp_path / "run") as session:
        made = run_local(session, stop=lambda r: abs(r.outcomes["f"] - target) <= tolerance)
    misses = [abs(r.outcomes["f"] - target) / tolerance for r in made]
    # measured: 17.0 then 0.3 tolerances off; with the source's own first pick (where its tails
    # reach lowest) 21.9, 5.9-6.7, 0.0-1.5; with that pick and then spread recipes 21.9, 63, 33, 8, 0.9
    assert made[0].generator == "pool-maximin" and misses[0] > 10, (made[0].generator, misses)
    assert all(r.generator == "pool-botorch+prior_mean" for r in made[1:]) and min(misses[1:3]) <= 1, misses


def test_a_target_far_above_float32s_range_is_shifted_in_float64(tmp_path):
    """The source shifted onto the target: an offset of 1e45 (beyond float32, within the tables'
    1e100) is kept in float64 (it overflowed a float32 tensor: RuntimeError)."""
    path = write_problem(tmp_path, "prior_mean")
    rows = np.loadtxt(tmp_path / "target.csv", delimiter=",", skiprows=1)
    rows[:, 2] = 1e45 * (1.0 + rows[:, 2])
    np.savetxt(tmp_path / "target.csv", rows, delimiter=",", header="x,y,f", comments="")
    with CampaignSession.open(load_campaign(path), tmp_path / "run") as session:
        made = run_local(session, max_trials=3)
    assert [r.generator for r in made] == ["pool-botorch+prior_mean"] * 3
    assert min(r.outcomes["f"] for r in made) <= np.quantile(rows[:, 2], 0.1)  # the source's trend carried


@pytest.mark.slow
def test_a_wrong_source_costs_at_most_a_fifth_more_evaluations(tmp_path):
    cold, wrong = [], []
    for seed in (1, 2, 3):
        cold.append(evaluations_to_minimum(write_problem(tmp_path, "none", seed=seed), tmp_path / f"c{seed}"))
        wrong.append(
            evaluations_to_minimum(
                write_problem(tmp_path, "auto", "shuffled.csv", seed), tmp_path / f"w{seed}"
            )
        )
    assert statistics.median(wrong) <= 1.2 * statistics.median(cold), (wrong, cold)


def test_the_ensemble_weighs_a_related_source_above_a_wrong_one():
    rng = np.random.default_rng(1)
    x = torch.tensor(rng.uniform(0, 1, (200, 2)))
    good = source_f(x[:, 0].numpy(), x[:, 1].numpy())
    sources = [
        SourceMetrics("good", x, torch.tensor(good)[:, None]),
        SourceMetrics("wrong", x, torch.tensor(rng.permutation(good))[:, None]),
    ]
    models = EnsembleModels(sources, n_metrics=1)
    tx = torch.tensor(rng.uniform(0, 1, (10, 2)))
    ty = torch.tensor(target_f(tx[:, 0].numpy(), tx[:, 1].numpy()))[:, None]
    model = models.fit(tx, ty)
    weights = models.last_weights[0]
    assert weights["good"] > 0.05 > weights["wrong"], weights
    with torch.no_grad():  # the ensemble predicts in the target's units
        predicted = model.posterior(tx).mean.squeeze(-1)
    assert float(torch.corrcoef(torch.stack([predicted, ty.squeeze(-1)]))[0, 1]) > 0.8


def test_sources_are_checked_and_a_changed_source_is_refused_on_resume(tmp_path):
    path = write_problem(tmp_path, "prior_mean")
    with CampaignSession.open(load_campaign(path), tmp_path / "run") as session:
        run_local(session, max_trials=2)
    assert (tmp_path / "run" / "transfer.json").exists()
    with CampaignSession.open(load_campaign(path), tmp_path / "run") as session:  # unchanged: resumes
        assert session.issued == 2
    source = tmp_path / "source.csv"
    source.write_text(source.read_text() + "0.5,0.5,1.2\n")  # one more row
    with pytest.raises(SpecError, match="transfer source source changed since the run started"):
        CampaignSession.open(load_campaign(path), tmp_path / "run").__enter__()
    source.write_text("x,f\n0.1,2\n")
    with pytest.raises(
        SpecError, match=r":\d+: transfer.sources.0: .*source.csv: no column for parameter 'y'"
    ):
        load_campaign(path)
    source.write_text("x,y,f\n0.1,0.2,2\n0.5,abc,3\n")
    with pytest.raises(SpecError, match=r"source.csv: row 3, column 'y': 'abc' is not a number"):
        load_campaign(path)


BAD_SOURCES = {
    "a value beyond float64's reach": (
        "x,y,f\n0.1,0.2,1\n0.5,0.5,2e300\n",
        {},
        r"source.csv: row 3, column 'f': '2e300' is beyond ±1e\+100",
    ),
    "an outcome column left empty": (
        "x,y,f\n0.1,0.2,\n0.5,0.5,\n",
        {},
        r"source.csv: every cell of f is empty",
    ),
    "two columns renamed onto one": (
        None,
        {"columns": {"f": "x"}},
        r"columns: 'x' and 'f' would both be named 'x'",
    ),
    "a renamed column the table lacks": (
        None,
        {"columns": {"g": "f"}},
        r"columns: renames 'g', which is not",
    ),
    "a zero unit change": (None, {"scale": {"x": 0}}, r"scale: the factor of 'x' is 0"),
}


@pytest.mark.parametrize("case", list(BAD_SOURCES))
def test_a_bad_source_is_one_error_naming_file_row_and_column(tmp_path, case):
    text, options, expected = BAD_SOURCES[case]
    path = write_problem(tmp_path, "prior_mean")
    if text is not None:
        (tmp_path / "source.csv").write_text(text)
    spec = yaml.safe_load(path.read_text())
    spec["transfer"]["sources"][0].update(options)
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(SpecError, match=expected):
        load_campaign(path)


def test_source_rows_outside_the_bounds_are_dropped_with_a_count_said_once(tmp_path, caplog):
    path = write_problem(tmp_path, "prior_mean")
    source = tmp_path / "source.csv"
    source.write_text(source.read_text() + "1.5,0.5,3.0\n0.5,-0.2,3.0\n2,2,9\n")
    for _ in ("run", "resume"):  # resuming reads the run's stored campaign without checking its files again
        caplog.clear()
        with caplog.at_level("WARNING"):
            with CampaignSession.open(load_campaign(path), tmp_path / "run") as session:
                run_local(session, max_trials=1)
        said = [r.getMessage() for r in caplog.records if "outside the parameter bounds" in r.getMessage()]
        assert said == [
            "transfer source source: 3 rows lie outside the parameter bounds and are dropped (300 kept)"
        ]
    assert json.loads((tmp_path / "run" / "transfer.json").read_text())["source"]["dropped_outside"] == 3


def test_a_finished_run_reports_without_its_source_and_pool_and_resuming_names_the_missing_file(tmp_path):
    path = write_problem(tmp_path, "prior_mean")
    with CampaignSession.open(load_campaign(path), tmp_path / "run") as session:
        run_local(session, max_trials=4)
    (tmp_path / "source.csv").rename(tmp_path / "source.moved")
    (tmp_path / "target.csv").rename(tmp_path / "target.moved")
    runner = CliRunner()
    report = runner.invoke(app, ["report", str(tmp_path / "run"), "--json"])
    assert report.exit_code == 0, report.output
    assert len(json.loads(report.output)["recipes"]) >= 1
    status = runner.invoke(app, ["status", str(tmp_path / "run")])
    assert status.exit_code == 0 and "4 completed" in status.output, status.output
    resumed = runner.invoke(app, ["run", str(path), "--run-dir", str(tmp_path / "run")])
    assert resumed.exit_code == 2 and "Traceback" not in resumed.output
    assert "target.csv" in resumed.output and "no such file" in resumed.output, resumed.output


def test_sources_kept_beside_method_none_are_said_to_be_unused(tmp_path, caplog):
    path = write_problem(tmp_path, "prior_mean")
    path.write_text(path.read_text().replace("method: prior_mean", "method: none"))
    with caplog.at_level("WARNING"):
        campaign = load_campaign(path)
    assert campaign.transfer.method == "none"
    assert "transfer method none: its sources (1) are checked but not used" in caplog.text


def test_a_source_too_small_for_a_prior_is_reported_and_the_campaign_starts_space_filling(tmp_path, caplog):
    path = write_problem(tmp_path, "prior_mean")
    (tmp_path / "source.csv").write_text("x,y,f\n0.3,0.65,0.0\n0.5,0.5,2\n")
    with caplog.at_level("WARNING"), CampaignSession.open(load_campaign(path), tmp_path / "run") as session:
        made = run_local(session, max_trials=1)
    assert "the sources give 2 values of f, fewer than 3" in caplog.text
    assert made[0].generator == "pool-maximin"


@pytest.mark.parametrize("damage", ["{cut", '["a list"]', '{"source": [1, 2]}'])
def test_a_damaged_source_record_is_one_error_and_deleting_it_resumes(tmp_path, damage):
    path = write_problem(tmp_path, "prior_mean")
    with CampaignSession.open(load_campaign(path), tmp_path / "run") as session:
        run_local(session, max_trials=2)
    record = tmp_path / "run" / "transfer.json"
    record.write_text(damage)
    with pytest.raises(RunDirError, match=r"transfer.json: unreadable .*delete it to record the sources"):
        CampaignSession.open(load_campaign(path), tmp_path / "run").__enter__()
    record.unlink()
    with CampaignSession.open(load_campaign(path), tmp_path / "run") as session:
        assert session.issued == 2
    assert json.loads(record.read_text())["source"]["points"] == 300


def test_the_report_shows_predictions_and_the_prior_weight_a_wrong_source_loses(tmp_path):
    from batman_opt.report.cards import RunData
    from batman_opt.report.prior import prior_cards
    from batman_opt.store import RunStore

    scales = {}
    for source in ("source.csv", "shuffled.csv"):
        path = write_problem(tmp_path, "prior_mean", source)
        run = tmp_path / f"run-{source}"
        with CampaignSession.open(load_campaign(path), run) as session:
            run_local(session, max_trials=14)
        data = RunData.of(RunStore(run))
        cards = prior_cards(data)
        assert [c.name for c in cards] == ["prospective_parity", "prior_weight"]
        weights = [json.loads(t.notes["prior_weights"]) for t in data.trials if "prior_weights" in t.notes]
        assert weights[0] == {"prior only": 1.0}  # before target data the source model proposes
        scales[source] = weights[-1]["prior share, metric 0"]
    # measured: the related source keeps a share of 0.62, the shuffled one falls to 0.42 over 11
    # target points (a smooth random source can mimic a trend while the target data are few)
    assert scales["source.csv"] > 0.5 and scales["source.csv"] > scales["shuffled.csv"] + 0.15, scales


def test_a_campaign_stopped_and_resumed_chooses_the_recipes_of_an_uninterrupted_one(tmp_path):
    """The BoTorch generator seeds its draws (MC samples, raw samples, fits) from the campaign seed
    and the trial count, not from whatever used torch's global generator before it."""
    path = write_problem(tmp_path, "prior_mean")

    def recipes(run_dir: Path, chunks: list[int], global_seeds: list[int]) -> list[tuple[float, float]]:
        made = []
        for n, global_seed in zip(chunks, global_seeds, strict=True):
            torch.manual_seed(global_seed)
            with CampaignSession.open(load_campaign(path), run_dir) as session:
                made += run_local(session, max_trials=n)
        return [(r.parameters["x"], r.parameters["y"]) for r in made]

    whole = recipes(tmp_path / "whole", [8], [0])
    assert recipes(tmp_path / "resumed", [4, 4], [1, 2]) == whole


def test_the_fitted_prior_is_kept_with_the_run_and_used_again_on_resume(tmp_path, monkeypatch, caplog):
    from batman_opt.transfer import source_gps

    path = write_problem(tmp_path, "prior_mean")
    x = torch.rand(7, 2, dtype=torch.float64)

    def prior_mean(session: CampaignSession) -> torch.Tensor:
        with torch.no_grad():
            return session.optimizer.generator.models.source.models[0].posterior(x).mean

    with CampaignSession.open(load_campaign(path), tmp_path / "run") as session:
        run_local(session, max_trials=1)
        first = prior_mean(session)
    saved = tmp_path / "run" / "transfer_prior.safetensors"
    assert saved.exists()

    def no_fit(model):
        raise AssertionError("the prior was fitted again")

    monkeypatch.setattr(source_gps, "fit_gp", no_fit)
    with CampaignSession.open(load_campaign(path), tmp_path / "run") as session:
        assert torch.allclose(prior_mean(session), first, rtol=0, atol=1e-12)
    monkeypatch.undo()
    saved.write_bytes(b"not safetensors")  # damaged: fitted again, with a word, and saved again
    with CampaignSession.open(load_campaign(path), tmp_path / "run") as session:
        assert torch.allclose(prior_mean(session), first, rtol=0, atol=1e-9)
    assert "transfer_prior.safetensors: not used" in caplog.text
    assert source_gps.load_fitted(saved, ("f",))


def test_a_large_source_mean_keeps_to_the_exact_gp_mean():
    """Beyond MEAN_POINTS source points the mean is a subset-of-regressors fit on a maximin spread:
    within a few per cent of the output's spread of the exact GP's mean, away from the basis."""
    from batman_opt.transfer import source_gps

    rng = np.random.default_rng(2)
    x = torch.tensor(rng.uniform(0, 1, (1000, 4)))
    y = torch.sin(3 * x[:, 0]) + x[:, 1] ** 2 - 0.5 * x[:, 2] * x[:, 3]
    gps = source_gps.SourceGPs([SourceMetrics("s", x, y[:, None])], n_metrics=1)
    gps.mean(0, x[:2])
    assert len(gps._weights[0][1]) == source_gps.MEAN_POINTS  # the basis of the mean
    test = torch.tensor(rng.uniform(0, 1, (400, 4)))
    with torch.no_grad():
        exact = gps.models[0].posterior(test).mean.squeeze(-1)
    error = (gps.mean(0, test) - exact).pow(2).mean().sqrt()
    assert error < 0.03 * exact.std(), float(error / exact.std())


def test_maximin_spreads_its_points_wider_than_a_random_subset():
    from scipy.spatial.distance import pdist

    from batman_opt.transfer.source_gps import maximin

    x = np.random.default_rng(0).uniform(0, 1, (800, 3))
    picked = maximin(x, 64)
    assert len(set(picked.tolist())) == 64
    random = np.random.default_rng(1).choice(800, 64, replace=False)
    assert pdist(x[picked]).min() > 2 * pdist(x[random]).min()


def test_a_prior_in_a_continuous_space_proposes_a_recipe_near_the_targets_first(tmp_path):
    """NMC111 on the process model, with a source of the same simulator over a wider space: the
    prior's first recipe (no target data yet) is nearer the targets than any of a cold start's
    space-filling ones, and the campaign goes on with the fitted prior."""
    from batman_opt.optimize.targets import target_distance
    from batman_opt.transfer.datasets import process_dataset

    process_dataset("NMC111", 400, seed=5).to_csv(tmp_path / "nmc.csv", index=False)
    spec = yaml.safe_load((Path(__file__).parents[3] / "campaigns" / "quickstart.yaml").read_text())
    spec["budget"] = {"max_trials": 5, "initial_trials": 5, "batch_size": 1}
    cold_path = tmp_path / "cold.yaml"
    cold_path.write_text(yaml.safe_dump(spec))
    spec["transfer"] = {"method": "prior_mean", "sources": [{"path": "nmc.csv"}]}
    warm_path = tmp_path / "warm.yaml"
    warm_path.write_text(yaml.safe_dump(spec))
    campaign = load_campaign(warm_path)
    with CampaignSession.open(load_campaign(cold_path), tmp_path / "cold") as session:
        cold = run_local(session, max_trials=5)
    with CampaignSession.open(campaign, tmp_path / "warm") as session:
        warm = run_local(session, max_trials=4)  # the prior's pick, two spread ones, one with the prior
    assert warm[0].generator == "botorch+prior_mean" and all(r.generator == "sobol" for r in cold)
    first = target_distance(warm[0].outcomes, campaign.targets)
    assert first < min(target_distance(r.outcomes, campaign.targets) for r in cold), first
    assert warm[-1].generator == "botorch+prior_mean" and warm[-1].status == "completed"


def test_in_a_continuous_space_a_source_that_never_meets_the_targets_does_not_pick_the_first_recipe(tmp_path):
    """The quickstart's NMC111 targets with a graphite source (density ~1.3 g/cm3 against the
    target's 3.0): the first recipe is the first Sobol point, the next one the shifted prior's."""
    from batman_opt.transfer.datasets import process_dataset

    process_dataset("graphite", 300, seed=5).to_csv(tmp_path / "graphite.csv", index=False)
    spec = yaml.safe_load((Path(__file__).parents[3] / "campaigns" / "quickstart.yaml").read_text())
    spec["budget"] = {"max_trials": 2, "initial_trials": 5, "batch_size": 1}
    spec["transfer"] = {"method": "prior_mean", "sources": [{"path": "graphite.csv"}]}
    path = tmp_path / "graphite.yaml"
    path.write_text(yaml.safe_dump(spec))
    with CampaignSession.open(load_campaign(path), tmp_path / "run") as session:
        made = run_local(session, max_trials=2)
    assert [r.generator for r in made] == ["sobol", "botorch+prior_mean"], [r.generator for r in made]


def test_the_multitask_gp_carries_a_related_source_to_a_few_target_points():
    """Five target points and a related source (another scale, a shifted optimum): the multi-task
    GP predicts the target's held-out points better than a GP on the five alone, and so after one
    more point; each fit starts afresh, whatever the fits before it ended at."""
    from batman_opt.optimize.generator import ColdModels
    from batman_opt.transfer.priors import MultiTaskModels

    rng = np.random.default_rng(3)
    x = torch.tensor(rng.uniform(0, 1, (60, 2)))
    source = [SourceMetrics("s", x, torch.tensor(source_f(x[:, 0].numpy(), x[:, 1].numpy()))[:, None])]
    tx = torch.tensor(rng.uniform(0, 1, (6, 2)))
    ty = torch.tensor(target_f(tx[:, 0].numpy(), tx[:, 1].numpy()))[:, None]
    test = torch.tensor(rng.uniform(0, 1, (200, 2)))
    truth = torch.tensor(target_f(test[:, 0].numpy(), test[:, 1].numpy()))

    def error(model) -> float:
        with torch.no_grad():
            return float((model.posterior(test).mean.squeeze(-1) - truth).abs().mean())

    models = MultiTaskModels(source, n_metrics=1)
    first = error(models.fit(tx[:5], ty[:5]))
    cold = error(ColdModels().fit(tx[:5], ty[:5]))
    assert first < 0.6 * cold, (first, cold)
    torch.manual_seed(1)
    after_five = models.fit(tx, ty)
    torch.manual_seed(1)
    fresh = MultiTaskModels(source, n_metrics=1).fit(tx, ty)
    assert error(after_five) == error(fresh)
    assert error(after_five) < 0.6 * error(ColdModels().fit(tx, ty))


def test_auto_takes_the_prior_for_the_metric_it_carries_and_leaves_it_for_the_other():
    from batman_opt.transfer.priors import AutoModels

    rng = np.random.default_rng(4)
    x = torch.tensor(rng.uniform(0, 1, (200, 2)))
    related = source_f(x[:, 0].numpy(), x[:, 1].numpy())
    unrelated = np.sin(9 * x[:, 0].numpy()) * np.cos(7 * x[:, 1].numpy())  # smooth, another trend
    y = torch.tensor(np.column_stack([related, unrelated]))
    models = AutoModels([SourceMetrics("s", x, y)], n_metrics=2)
    tx = torch.tensor(rng.uniform(0, 1, (12, 2)))
    f = torch.tensor(target_f(tx[:, 0].numpy(), tx[:, 1].numpy()))
    ty = torch.stack([f, f], dim=1)
    mixed = models.fit(tx, ty)
    assert models.choices == ["prior_mean", "none"] and models.name == "botorch+auto:mixed"
    assert models.weights["prior share, metric 0"] > 0.5 and models.weights["prior share, metric 1"] == 0.0
    # the one model it returns predicts metric 0 as the prior-mean GP and metric 1 as the plain GP
    test = torch.tensor(rng.uniform(0, 1, (50, 2)))
    prior_gp, plain_gp = models.with_prior.fit(tx, ty), models.with_prior.affine_gp(tx, ty, [None, None])
    with torch.no_grad():
        got, prior, plain = (m.posterior(test) for m in (mixed, prior_gp, plain_gp))
    assert torch.allclose(got.mean[:, 0], prior.mean[:, 0])
    assert torch.allclose(got.mean[:, 1], plain.mean[:, 1])
    assert torch.allclose(got.variance[:, 0], prior.variance[:, 0])
    assert torch.allclose(got.variance[:, 1], plain.variance[:, 1])
    assert not torch.allclose(prior.mean[:, 1], plain.mean[:, 1])  # the two differ where it matters
