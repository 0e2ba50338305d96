"""Target matching: how far a recipe's outcomes are from the campaign's targets, in tolerances.

The distance of one outcome is |value - target| / tolerance; a recipe meets the targets when every
distance is <= 1. The campaign's `target_distance` is the largest of them, so `target_distance <= 1`
is exactly "meets every target within tolerance". The optimizer models each target outcome with its
own GP under a tolerance band (see ax_client); `target_distance` ranks recipes in reports and is the
objective of campaigns that have targets only.
"""

from __future__ import annotations

from collections.abc import Mapping

from batman_opt.constraints import constraint_names
from batman_opt.spec import Campaign, Objective

TARGET_DISTANCE = "target_distance"


def target_deviations(outcomes: Mapping[str, float], targets: list[Objective]) -> dict[str, float]:
    """Signed deviation of each target outcome, in tolerances: (value - target) / tolerance."""
    return {t.name: (outcomes[t.name] - t.target) / t.tolerance for t in targets}  # type: ignore[operator]


def target_distance(outcomes: Mapping[str, float], targets: list[Objective]) -> float:
    """Largest |deviation| over the targets (dimensionless; <= 1 means every target is met)."""
    return max(abs(d) for d in target_deviations(outcomes, targets).values())


def optimization_metrics(outcomes: Mapping[str, float], campaign: Campaign) -> dict[str, float]:
    """The metric values the optimizer sees for one recipe: every objective and constrained outcome
    and, when targets are the only goals, `target_distance` (their objective)."""
    names = {o.name for o in campaign.objectives}
    names |= {n for c in campaign.outcome_constraints for n in constraint_names(c)}
    metrics = {n: float(outcomes[n]) for n in names}
    if all(o.goal == "target" for o in campaign.objectives):
        metrics[TARGET_DISTANCE] = target_distance(outcomes, campaign.targets)
    return metrics


def objective_string(campaign: Campaign) -> str:
    """Ax objective string ('-tortuosity_factor, mass_loading_mg_cm2'; '-target_distance' if only targets)."""
    terms = [
        ("-" if o.goal == "minimize" else "") + o.name for o in campaign.objectives if o.goal != "target"
    ]
    return ", ".join(terms) or f"-{TARGET_DISTANCE}"


def outcome_constraint_strings(campaign: Campaign) -> list[str]:
    """The campaign's outcome constraints plus the tolerance band of every target."""
    bands = [
        f"{t.name} {op} {t.target + sign * t.tolerance!r}"  # type: ignore[operator]
        for t in campaign.targets
        for op, sign in ((">=", -1), ("<=", 1))
    ]
    return list(campaign.outcome_constraints) + bands
