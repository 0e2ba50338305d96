"""The campaign bound to its evaluator: options validated by the kind's model, file paths made
absolute, and the parameters, goals and constraints checked against what the evaluator declares
(inputs and their physical intervals, required inputs, outcomes).

`bind_evaluator(campaign, base_dir)` does it once, when a campaign file is loaded, and raises
`LocatedError` with the place in the file (a pydantic-style location) and one line of text;
`campaign_evaluator(campaign)` builds the evaluator of a campaign that was bound already.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from batman_opt.constraints import constraint_names, first_infeasible
from batman_opt.errors import BatmanError
from batman_opt.evaluators import EVALUATORS, Evaluator, EvaluatorSetup
from batman_opt.transfer.sources import load_source
from sims.errors import SimError

if TYPE_CHECKING:
    from batman_opt.spec import Campaign

logger = logging.getLogger(__name__)


class LocatedError(ValueError):
    """A campaign problem at `loc` (keys and indices into the YAML document)."""

    def __init__(self, loc: tuple[Any, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message


def evaluator_setup(campaign: Campaign, run_dir: str | Path | None = None) -> EvaluatorSetup:
    """What the campaign tells its evaluator: parameter names, the outcome names it uses and, in a
    run, the run directory."""
    outcomes = [o.name for o in campaign.objectives]
    for constraint in campaign.outcome_constraints:
        outcomes += [n for n in constraint_names(constraint) if n not in outcomes]
    run = str(Path(run_dir).resolve()) if run_dir is not None else None
    return EvaluatorSetup(tuple(p.name for p in campaign.parameters), tuple(outcomes), run_dir=run)


def campaign_evaluator(campaign: Campaign, run_dir: str | Path | None = None) -> Evaluator:
    """The evaluator of a bound campaign (its options validated, its paths absolute), in `run_dir`."""
    kind = EVALUATORS[campaign.evaluator.kind]
    return kind.build(campaign.material, campaign.evaluator.options, evaluator_setup(campaign, run_dir))


def bind_evaluator(campaign: Campaign, base_dir: Path) -> tuple[Campaign, Evaluator]:
    """The campaign with its evaluator options validated and resolved, and its evaluator."""
    kind = EVALUATORS[campaign.evaluator.kind]
    try:
        options = kind.options(campaign.evaluator.options).with_base_dir(base_dir)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = ("evaluator", "options", *error["loc"])
        message = (
            f"unknown option of the {kind.name!r} evaluator" if error["type"] == "extra_forbidden" else None
        )
        raise LocatedError(loc, message or error["msg"].removeprefix("Value error, ")) from None
    resolved = options.model_dump(mode="json", exclude_unset=True)
    campaign = campaign.model_copy(
        update={"evaluator": campaign.evaluator.model_copy(update={"options": resolved})}
    )
    try:
        evaluator = kind.cls(campaign.material, options, evaluator_setup(campaign))
    except (BatmanError, SimError) as exc:
        raise LocatedError(("evaluator", "options"), str(exc)) from None
    _check_inputs(campaign, evaluator)
    _check_feasible(campaign)
    _check_outcomes(campaign, evaluator)
    return _bind_sources(campaign, base_dir), evaluator


def _bind_sources(campaign: Campaign, base_dir: Path) -> Campaign:
    """The campaign with its transfer sources' paths absolute, each source checked by loading it."""
    transfer = campaign.transfer
    if not transfer.sources:
        return campaign
    if transfer.method == "none":
        logger.warning(
            "transfer method none: its sources (%d) are checked but not used", len(transfer.sources)
        )
    sources = [source.with_base_dir(base_dir) for source in transfer.sources]
    modelled = list(evaluator_setup(campaign).outcomes)
    for i, source in enumerate(sources):
        try:
            data = load_source(source, campaign, modelled, transfer.max_source_points, i)
        except BatmanError as exc:
            raise LocatedError(("transfer", "sources", i), str(exc)) from None
        if data.dropped_outside:
            logger.warning(
                "transfer source %s: %d rows lie outside the parameter bounds and are dropped (%d kept)",
                data.name,
                data.dropped_outside,
                data.subsampled_from,
            )
    return campaign.model_copy(update={"transfer": transfer.model_copy(update={"sources": sources})})


def _check_feasible(campaign: Campaign) -> None:
    """Some recipe within the bounds satisfies every parameter constraint (with room to sample)."""
    if not campaign.parameter_constraints:
        return
    bounds = {p.name: p.bounds for p in campaign.parameters if p.type in ("float", "int")}
    index = first_infeasible(list(campaign.parameter_constraints), bounds)
    if index is not None:
        together = " with the constraints above it" if index else ""
        raise LocatedError(
            ("parameter_constraints", index),
            f"no recipe within the bounds satisfies {campaign.parameter_constraints[index]!r}{together} "
            "(or they leave it no room: an equality in disguise)",
        )


def _check_inputs(campaign: Campaign, evaluator: Evaluator) -> None:
    kind = campaign.evaluator.kind
    for i, p in enumerate(campaign.parameters):
        if p.name not in evaluator.inputs:
            known = ", ".join(evaluator.inputs)
            raise LocatedError(
                ("parameters", i, "name"),
                f"{p.name!r} is not an input of the {kind!r} evaluator; inputs: {known}",
            )
        interval = evaluator.inputs[p.name]
        if p.type in ("float", "int"):
            values, field = list(p.bounds), "bounds"
        elif p.type == "choice":
            values, field = list(p.values), "values"
        else:
            values, field = [p.value], "value"
        for value in values:
            if isinstance(value, str) or not interval.contains(float(value)):
                raise LocatedError(
                    ("parameters", i, field),
                    f"{p.name} = {value!r} is outside the {kind} evaluator's physical interval {interval}",
                )
    declared = {p.name for p in campaign.parameters}
    missing = [name for name in evaluator.required if name not in declared]
    if missing:
        raise LocatedError(
            ("parameters",),
            f"the {kind!r} evaluator needs {', '.join(missing)}: add a range, a choice or a fixed value",
        )


def _check_outcomes(campaign: Campaign, evaluator: Evaluator) -> None:
    kind = campaign.evaluator.kind
    known = ", ".join(evaluator.outcomes)
    for i, objective in enumerate(campaign.objectives):
        if objective.name not in evaluator.outcomes:
            raise LocatedError(
                ("objectives", i, "name"),
                f"{objective.name!r} is not an outcome of the {kind!r} evaluator with these options; "
                f"outcomes: {known}",
            )
        interval = evaluator.outcomes[objective.name]
        if (
            objective.goal == "target"
            and math.isfinite(objective.target)
            and not interval.contains(objective.target)
        ):
            raise LocatedError(
                ("objectives", i, "target"),
                f"target {objective.target:g} is outside {objective.name}'s range {interval}",
            )
    for i, constraint in enumerate(campaign.outcome_constraints):
        for name in constraint_names(constraint):
            if name not in evaluator.outcomes:
                raise LocatedError(
                    ("outcome_constraints", i),
                    f"{constraint!r} names {name!r}, which is not an outcome of the {kind!r} evaluator; "
                    f"outcomes: {known}",
                )
