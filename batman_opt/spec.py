"""The campaign specification: pydantic models of the YAML file, validated once, at load time.

`load_campaign(path)` reads a campaign YAML with the safe, line-keeping loader of
batman_opt.campaign_yaml and returns a `Campaign`; any problem raises `SpecError` with one line
naming the file, the line and the field. Everything downstream
receives these validated objects, never raw dicts.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    FiniteFloat,
    ValidationError,
    field_validator,
    model_validator,
)

from batman_opt.campaign_evaluator import LocatedError, bind_evaluator
from batman_opt.campaign_yaml import Lines, located, read_campaign_yaml
from batman_opt.constraints import constraint_names, divides_names
from batman_opt.errors import SpecError
from batman_opt.evaluators import EVALUATORS
from sims.materials import MATERIALS


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


MIN_RELATIVE_WIDTH = 1e-9  # of a range's magnitude: narrower, its recipes differ in rounding only
MAX_NAME_LENGTH = 100  # characters of a campaign name (it names the run directory)
RESERVED_RESOURCES = ("CPU", "GPU", "memory", "object_store_memory")


class RangeParameter(_Strict):
    """A continuous (`float`) or integer (`int`) knob in [low, high]; units belong in the name."""

    name: str
    type: Literal["float", "int"]
    bounds: tuple[FiniteFloat, FiniteFloat]
    log_scale: bool = False

    @model_validator(mode="after")
    def _check_bounds(self) -> RangeParameter:
        low, high = self.bounds
        if not low < high:
            raise ValueError(
                f"bounds of {self.name!r} must be [low, high] with low < high, got {list(self.bounds)}"
            )
        if not math.isfinite(high - low) or high - low < MIN_RELATIVE_WIDTH * max(abs(low), abs(high)):
            raise ValueError(
                f"bounds of {self.name!r} ({low!r}, {high!r}) are too narrow to tell recipes apart "
                f"(width under {MIN_RELATIVE_WIDTH:g} of their size) or too wide to be a number; "
                "use a fixed value or wider bounds"
            )
        if self.log_scale and low <= 0:
            raise ValueError(f"log_scale needs positive bounds for {self.name!r}")
        if self.type == "int" and (low != int(low) or high != int(high)):
            raise ValueError(f"int parameter {self.name!r} needs integer bounds")
        return self


class ChoiceParameter(_Strict):
    """A knob that takes one of a few values (ordered when numeric)."""

    name: str
    type: Literal["choice"]
    values: list[FiniteFloat] | list[str]

    @field_validator("values")
    @classmethod
    def _two_or_more(cls, values: list[Any]) -> list[Any]:
        if len(values) < 2 or len(set(values)) != len(values):
            raise ValueError("a choice needs at least two distinct values")
        return values


class FixedParameter(_Strict):
    """A knob held at one value for the whole campaign (passed to the evaluator, not optimized)."""

    name: str
    type: Literal["fixed"]
    value: FiniteFloat | str


Parameter = Annotated[RangeParameter | ChoiceParameter | FixedParameter, Field(discriminator="type")]


class Objective(_Strict):
    """An outcome to minimize, maximize, or bring within `tolerance` of `target` (goal: target)."""

    name: str
    goal: Literal["minimize", "maximize", "target"]
    target: FiniteFloat | None = None
    tolerance: FiniteFloat | None = None

    @model_validator(mode="after")
    def _target_fields(self) -> Objective:
        if self.goal == "target":
            if self.target is None or self.tolerance is None:
                raise ValueError(f"objective {self.name!r} with goal 'target' needs 'target' and 'tolerance'")
            if self.tolerance <= 0:
                raise ValueError(f"tolerance of {self.name!r} must be > 0")
        elif self.target is not None or self.tolerance is not None:
            raise ValueError(f"'target' and 'tolerance' only go with goal 'target' (objective {self.name!r})")
        return self


class EvaluatorSpec(_Strict):
    """Which evaluator agents run, how many, and their options."""

    kind: str
    agents: int = Field(1, ge=1, le=1024)
    cpus_per_agent: FiniteFloat = Field(1.0, gt=0, le=1024)
    timeout_s: FiniteFloat = Field(600.0, ge=1.0, description="s per trial, agent start included")
    resources: dict[str, FiniteFloat] = Field(
        default_factory=dict,
        description="custom Ray resources each agent needs, e.g. {batman_worker: 1} to run the agents "
        "on the nodes started with --resources '{\"batman_worker\": N}'",
    )
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("resources")
    @classmethod
    def _custom_resources(cls, resources: dict[str, float]) -> dict[str, float]:
        for name, amount in resources.items():
            if name in RESERVED_RESOURCES:
                raise ValueError(f"{name!r} is not a custom resource (use cpus_per_agent for CPUs)")
            if not 0 < amount <= 1e6:
                raise ValueError(f"resource {name!r} must be a positive amount, got {amount!r}")
        return resources

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        if kind not in EVALUATORS:
            raise ValueError(f"unknown evaluator kind {kind!r}; available: {', '.join(EVALUATORS)}")
        return kind


class Budget(_Strict):
    """When the campaign stops: trial budget, or as soon as a trial meets every target."""

    max_trials: int = Field(30, ge=1)
    batch_size: int = Field(1, ge=1)
    initial_trials: int | None = Field(
        None, ge=1, description="Sobol trials before BoTorch (default: Ax's choice)"
    )
    stop_when_targets_met: bool = False


class RaySpec(_Strict):
    """Where the agents run: a local Ray (address null) or an existing cluster ('auto' or host:port)."""

    address: str | None = None
    num_cpus: int | None = Field(None, ge=1, le=1024, description="CPUs of the local Ray")


class SourceSpec(_Strict):
    """A transfer source: a table (`path`, CSV or Parquet) or an older run (`run`), relative to the
    campaign file, with an optional renaming `columns: {their_name: our_name}` and unit change
    `scale: {our_name: factor}` (values multiplied by the factor after renaming)."""

    path: str | None = None
    run: str | None = None
    name: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    columns: dict[str, str] = Field(default_factory=dict)
    scale: dict[str, FiniteFloat] = Field(
        default_factory=dict, description="our_name: factor, a unit change (0.96 AM fraction -> 96 wt%: 100)"
    )

    @model_validator(mode="after")
    def _one_place(self) -> SourceSpec:
        if (self.path is None) == (self.run is None):
            raise ValueError("a source needs exactly one of 'path' (a table) or 'run' (a run directory)")
        return self

    @field_validator("scale")
    @classmethod
    def _nonzero(cls, scale: dict[str, float]) -> dict[str, float]:
        zero = [name for name, factor in scale.items() if factor == 0]
        if zero:
            raise ValueError(f"the factor of {zero[0]!r} is 0; a unit change multiplies by a non-zero factor")
        return scale

    def with_base_dir(self, base_dir: Path) -> SourceSpec:
        """The source with its path made absolute against `base_dir` ($VARIABLES expanded)."""
        field, value = ("path", self.path) if self.path is not None else ("run", self.run)
        return self.model_copy(update={field: str((base_dir / os.path.expandvars(value)).resolve())})


class TransferSpec(_Strict):
    """Warm start from sources: how (method) and from what; see batman_opt.transfer."""

    method: Literal["prior_mean", "multitask", "ensemble", "auto", "none"] = "auto"
    sources: list[SourceSpec] = Field(default_factory=list)
    max_source_points: int = Field(1000, ge=10, le=100_000)

    @model_validator(mode="after")
    def _sources_given(self) -> TransferSpec:
        if self.method != "none" and not self.sources:
            raise ValueError(f"transfer method {self.method!r} needs at least one source")
        return self


class Campaign(_Strict):
    """A whole campaign, as written in its YAML file."""

    name: str
    seed: int = Field(0, ge=0, lt=2**32)
    material: str = "NMC111"
    parameters: list[Parameter]
    objectives: list[Objective]
    outcome_constraints: list[str] = Field(default_factory=list)
    parameter_constraints: list[str] = Field(default_factory=list)
    evaluator: EvaluatorSpec
    budget: Budget = Field(default_factory=Budget)
    ray: RaySpec = Field(default_factory=RaySpec)
    transfer: TransferSpec = Field(default_factory=lambda: TransferSpec(method="none"))

    @field_validator("name")
    @classmethod
    def _safe_name(cls, name: str) -> str:
        if len(name) > MAX_NAME_LENGTH:
            raise ValueError(
                f"name is {len(name)} characters long; at most {MAX_NAME_LENGTH} (it names the run directory)"
            )
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
            raise ValueError("name may hold letters, digits, '_', '.', '-' only (it names the run directory)")
        return name

    @field_validator("material")
    @classmethod
    def _known_material(cls, material: str) -> str:
        if material not in MATERIALS:
            raise ValueError(f"unknown material {material!r}; known: {', '.join(MATERIALS)}")
        return material

    @model_validator(mode="after")
    def _cross_checks(self) -> Campaign:
        """Checks within the file; those against the evaluator are in batman_opt.campaign_evaluator."""
        _check_unique([p.name for p in self.parameters], "parameter")
        if not self.tuned_parameters:
            raise ValueError("at least one parameter must be a range or a choice")
        if not self.objectives:
            raise ValueError("at least one objective is needed")
        _check_unique([o.name for o in self.objectives], "objective")
        for i, constraint in enumerate(self.outcome_constraints):
            _check_names(constraint, None, ("outcome_constraints", i), "outcome")
        range_names = [p.name for p in self.parameters if isinstance(p, RangeParameter)]
        for i, constraint in enumerate(self.parameter_constraints):
            _check_names(constraint, range_names, ("parameter_constraints", i), "range parameter")
            if divides_names(constraint):
                raise LocatedError(
                    ("parameter_constraints", i),
                    f"{constraint!r} divides a parameter: write 'a / 2' as '0.5 * a'",
                )
        cpus = self.ray.num_cpus
        if cpus is not None and self.evaluator.cpus_per_agent > cpus:
            raise LocatedError(
                ("evaluator", "cpus_per_agent"),
                f"an agent needs {self.evaluator.cpus_per_agent:g} CPUs, the local Ray has "
                f"ray.num_cpus = {cpus}: no agent could start",
            )
        return self

    @property
    def tuned_parameters(self) -> list[RangeParameter | ChoiceParameter]:
        """The parameters the optimizer chooses (ranges and choices)."""
        return [p for p in self.parameters if not isinstance(p, FixedParameter)]

    @property
    def fixed_values(self) -> dict[str, float | str]:
        """The fixed parameters, name -> value."""
        return {p.name: p.value for p in self.parameters if isinstance(p, FixedParameter)}

    @property
    def targets(self) -> list[Objective]:
        """The objectives with goal 'target'."""
        return [o for o in self.objectives if o.goal == "target"]


def _check_unique(names: list[str], what: str) -> None:
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f"{what} names must be unique ({', '.join(duplicated)} given twice)")


def _check_names(expression: str, allowed: list[str] | None, loc: tuple[Any, ...], kind: str) -> None:
    """The names of a constraint at `loc` parse, and are among `allowed` (when given)."""
    try:
        names = constraint_names(expression)
    except ValueError as exc:
        raise LocatedError(loc, str(exc)) from None
    for name in names:
        if allowed is not None and name not in allowed:
            raise LocatedError(loc, f"{expression!r} names {name!r}, which is not a {kind}")


def load_campaign(path: str | Path, bind: bool = True) -> Campaign:
    """Read and validate a campaign YAML file; raise SpecError naming file, line and field. bind:
    also check what it refers to (the evaluator's options and files, the transfer sources) and
    resolve its paths; False for a campaign written by a run (resolved when the run started)."""
    path = Path(path)
    data, lines = read_campaign_yaml(path)
    if not isinstance(data, dict):
        raise SpecError(f"{path}: a campaign file must be a mapping of sections (name, parameters, ...)")
    try:
        campaign = Campaign.model_validate(data)
    except ValidationError as exc:
        raise SpecError(_describe(path, data, lines, exc)) from None
    if not bind:
        return campaign
    try:
        campaign, _ = bind_evaluator(campaign, path.resolve().parent)
    except LocatedError as exc:
        raise SpecError(located(path, data, lines, exc.loc, exc.message)) from None
    return campaign


def _describe(path: Path, data: Any, lines: Lines, exc: ValidationError) -> str:
    """One line for the first validation error: file:line: field: message."""
    error = exc.errors()[0]
    # Tagged unions put the tag ('float', 'choice'...) in the location: it is not a field of the file.
    loc = tuple(
        p for p in error["loc"] if not (isinstance(p, str) and p in ("float", "int", "choice", "fixed"))
    )
    message = error["msg"].removeprefix("Value error, ")
    raised = error.get("ctx", {}).get("error")
    if isinstance(raised, LocatedError):  # raised by a model validator that knows the place
        loc, message = loc + raised.loc, raised.message
    if error["type"] == "extra_forbidden":
        message = f"unknown key {loc[-1]!r}"
    elif error["type"] == "union_tag_invalid":
        message = "type must be one of float, int, choice, fixed"
    return located(path, data, lines, loc, message)
