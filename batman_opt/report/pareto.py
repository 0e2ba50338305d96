"""Pareto-optimal recipes of a run, best first, with how close each is to the targets.

The Pareto front is taken over the observed outcomes of completed trials that satisfy the outcome
constraints, in the campaign's objectives: `target_distance` (when there are targets) and every
minimize / maximize objective. Best first: recipes meeting every target first, then by target
distance, then by the first other objective.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from batman_opt.constraints import satisfies
from batman_opt.optimize.targets import target_deviations, target_distance
from batman_opt.spec import Campaign
from batman_opt.store import COMPLETED, RunStore, TrialRecord


@dataclass
class Recipe:
    """One Pareto-optimal recipe."""

    trial: int
    parameters: dict[str, Any]
    outcomes: dict[str, float]
    meets_targets: bool
    target_distance: float | None
    deviations: dict[str, float]

    def to_json(self) -> dict[str, Any]:
        return {
            "trial": self.trial,
            "parameters": self.parameters,
            "outcomes": {
                k: v if math.isfinite(v) else None for k, v in self.outcomes.items()
            },  # JSON has no inf
            "meets_targets": self.meets_targets,
            "target_distance": self.target_distance,
            "target_deviations": self.deviations,
        }


def minimized(campaign: Campaign, outcomes: dict[str, float]) -> list[float]:
    """Objective vector to minimize for Pareto dominance."""
    values = [target_distance(outcomes, campaign.targets)] if campaign.targets else []
    for objective in campaign.objectives:
        if objective.goal == "minimize":
            values.append(outcomes[objective.name])
        elif objective.goal == "maximize":
            values.append(-outcomes[objective.name])
    return values


def pareto_front(points: np.ndarray) -> np.ndarray:
    """Boolean mask of the non-dominated rows of `points` (n, m), all objectives minimized."""
    n = len(points)
    mask = np.ones(n, dtype=bool)
    for i in range(n):
        dominated_by = np.all(points <= points[i], axis=1) & np.any(points < points[i], axis=1)
        mask[i] = not dominated_by.any()
    return mask


def pareto_recipes(campaign: Campaign, trials: list[TrialRecord]) -> list[Recipe]:
    """The Pareto-optimal completed, feasible recipes, best first."""
    feasible = [
        t
        for t in trials
        if t.status == COMPLETED and all(satisfies(c, t.outcomes) for c in campaign.outcome_constraints)
    ]
    if not feasible:
        return []
    points = np.array([minimized(campaign, t.outcomes) for t in feasible])
    recipes = []
    for trial, keep in zip(feasible, pareto_front(points), strict=True):
        if not keep:
            continue
        distance = target_distance(trial.outcomes, campaign.targets) if campaign.targets else None
        recipes.append(
            Recipe(
                trial=trial.trial,
                parameters=trial.parameters,
                outcomes=trial.outcomes,
                meets_targets=distance is not None and distance <= 1.0,
                target_distance=distance,
                deviations=target_deviations(trial.outcomes, campaign.targets),
            )
        )
    recipes.sort(key=lambda r: (not r.meets_targets, minimized(campaign, r.outcomes)))
    return recipes


def run_status(store: RunStore) -> dict[str, Any]:
    """Counts of a run directory's trials (completed, failed, running), its budget, and whether a
    manager is at work (trials 'running' with no manager are re-issued by the next `batman run`)."""
    campaign = store.load_campaign()
    counts = Counter(t.status for t in store.trials())
    return {
        "campaign": campaign.name,
        "completed": counts.get("completed", 0),
        "failed": counts.get("failed", 0),
        "running": counts.get("running", 0),
        "max_trials": campaign.budget.max_trials,
        "manager_active": store.is_locked(),
    }
