"""Pareto front, target distances and constraints of the report."""

from __future__ import annotations

import numpy as np
import pytest

from batman_opt.constraints import constraint_names, satisfies
from batman_opt.optimize.targets import target_distance
from batman_opt.report import pareto_front, pareto_recipes
from batman_opt.spec import Campaign
from batman_opt.store import COMPLETED, FAILED, TrialRecord

CAMPAIGN = Campaign.model_validate(
    {
        "name": "r",
        "parameters": [{"name": "comma_gap_um", "type": "float", "bounds": [50, 400]}],
        "objectives": [
            {"name": "density_g_cm3", "goal": "target", "target": 3.0, "tolerance": 0.05},
            {"name": "tortuosity_factor", "goal": "minimize"},
        ],
        "outcome_constraints": ["porosity >= 0.2"],
        "evaluator": {"kind": "process"},
    }
)


def test_pareto_front_of_known_points():
    points = np.array([[1, 5], [2, 2], [5, 1], [3, 3], [2, 2.5], [6, 6]], dtype=float)
    assert pareto_front(points).tolist() == [True, True, True, False, False, False]


def test_target_distance_is_the_worst_deviation_in_tolerances():
    assert target_distance({"density_g_cm3": 3.04}, CAMPAIGN.targets) == pytest.approx(0.8)
    assert target_distance({"density_g_cm3": 2.9}, CAMPAIGN.targets) == pytest.approx(2.0)


def test_recipes_meeting_targets_come_first_and_infeasible_ones_are_dropped():
    def trial(i, density, tau, porosity, status=COMPLETED):
        outcomes = {"density_g_cm3": density, "tortuosity_factor": tau, "porosity": porosity}
        return TrialRecord(i, status, {"comma_gap_um": 100.0 + i}, outcomes)

    trials = [
        trial(0, 3.20, 1.5, 0.40),  # far from target, least tortuous: on the front
        trial(1, 3.01, 2.5, 0.30),  # meets the target
        trial(2, 3.00, 3.0, 0.10),  # meets the target but violates porosity >= 0.2
        trial(3, 3.10, 2.8, 0.35),  # dominated by trial 1
        trial(4, 3.00, 1.0, 0.40, status=FAILED),
    ]
    recipes = pareto_recipes(CAMPAIGN, trials)
    assert [r.trial for r in recipes] == [1, 0]
    assert recipes[0].meets_targets and not recipes[1].meets_targets
    assert recipes[0].deviations["density_g_cm3"] == pytest.approx(0.2)


def test_constraints_are_parsed_safely():
    assert constraint_names("0.5 * a + b - c / 2 <= 3") == ["a", "b", "c"]
    assert satisfies("a + 2 * b <= 3", {"a": 1, "b": 1}) and not satisfies("a >= 2", {"a": 1})
    with pytest.raises(ValueError):
        constraint_names("__import__('os').system('true') <= 1")
