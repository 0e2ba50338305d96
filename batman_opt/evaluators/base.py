"""The evaluator contract: what a kind declares, how it is built, and what an evaluation returns.

A kind is a subclass of `Evaluator` with a pydantic `Options` model (unknown or mistyped options are
refused when the campaign is validated). It is built once per agent from the material, its
validated options and an `EvaluatorSetup` (what the campaign declares), so heavy state (a table, a
torch model, compiled kernels) lives in the instance. It declares `inputs` with their physical
intervals (a campaign whose bounds leave one is refused), the `required` ones, and `outcomes` with
their physical ranges. `evaluate(params)` returns an `Evaluation`: outcomes, notes and artifacts
(files as bytes, so that they travel from any node of a cluster; the manager stores them under
RUN/artifacts/<trial>/). A result that must not reach the optimizer raises `EvaluationFailed` (or
any exception): the trial is recorded as failed with the reason.

`EvaluatorKind` names a kind by the import path of its class: a small picklable value that Ray ships
to the agents, which import and build the class there.
"""

from __future__ import annotations

import importlib
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict

from batman_opt.errors import BatmanError


class EvaluationFailed(BatmanError):
    """An evaluation produced nothing the optimizer may see (the message is the trial's reason)."""


@dataclass(frozen=True)
class Interval:
    """A physical interval of values, e.g. a fraction in (0, 1) or a length in (0, inf)."""

    low: float = -math.inf
    high: float = math.inf
    low_inclusive: bool = True
    high_inclusive: bool = True

    def contains(self, value: float) -> bool:
        """Whether `value` (a finite number) lies in the interval."""
        if not math.isfinite(value):
            return False
        above = value >= self.low if self.low_inclusive else value > self.low
        below = value <= self.high if self.high_inclusive else value < self.high
        return above and below

    def __str__(self) -> str:
        opening = "[" if self.low_inclusive and math.isfinite(self.low) else "("
        closing = "]" if self.high_inclusive and math.isfinite(self.high) else ")"
        return f"{opening}{self.low:g}, {self.high:g}{closing}"


ANY = Interval()
POSITIVE = Interval(0.0, math.inf, low_inclusive=False)
FRACTION = Interval(0.0, 1.0)


@dataclass(frozen=True)
class EvaluatorSetup:
    """What the campaign tells a kind: its parameter names (tuned and fixed), the outcome names its
    objectives and constraints use, the folder of the campaign file (for relative paths) and the
    run directory (absolute; None outside a run, e.g. `batman validate` or `batman simulate`), where
    a kind may keep what its trials share (the surrogate kind's dried films)."""

    parameters: tuple[str, ...] = ()
    outcomes: tuple[str, ...] = ()
    base_dir: str | None = None
    run_dir: str | None = None


@dataclass
class Evaluation:
    """One evaluated recipe: outcomes (finite floats), notes (text per outcome or topic) and
    artifacts (file name -> content, stored under RUN/artifacts/<trial>/)."""

    outcomes: dict[str, float]
    notes: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, bytes] = field(default_factory=dict)


class NoOptions(BaseModel):
    """Options of a kind that takes none."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def with_base_dir(self, base_dir: Path) -> NoOptions:
        """The options with relative file paths made absolute against `base_dir` (none here)."""
        return self


class Evaluator(ABC):
    """One kind of evaluator, built once per agent. Subclasses set `Options` and `description`,
    fill `inputs`, `required` and `outcomes` in `__init__`, and implement `evaluate`."""

    name: ClassVar[str]
    description: ClassVar[str]
    Options: ClassVar[type[NoOptions]] = NoOptions
    #: False for a kind whose results come from outside (the lab): `batman run` refuses it.
    computes: ClassVar[bool] = True

    def __init__(self, material: str, options: NoOptions, setup: EvaluatorSetup) -> None:
        self.material = material
        self.options = options
        self.setup = setup
        self.inputs: dict[str, Interval] = {}
        self.required: tuple[str, ...] = ()
        self.outcomes: dict[str, Interval] = {}

    @property
    def candidates(self) -> np.ndarray | None:
        """For a pool-based kind, the distinct recipes it can evaluate, (n, len(setup.parameters))
        in the order of the campaign's parameters; None when any recipe in the bounds will do."""
        return None

    @abstractmethod
    def evaluate(self, params: Mapping[str, Any]) -> Evaluation:
        """Outcomes of one recipe (parameter name -> value)."""

    def checked(self, evaluation: Evaluation) -> Evaluation:
        """The evaluation with every outcome a finite float; EvaluationFailed naming any other."""
        outcomes = {}
        for name, value in evaluation.outcomes.items():
            if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
                raise EvaluationFailed(f"{self.name} evaluator returned {name} = {value!r} (not a number)")
            if math.isnan(value):
                raise EvaluationFailed(f"{self.name} evaluator returned {name} = nan (not a number)")
            outcomes[name] = float(value)
        evaluation.outcomes = outcomes
        return evaluation


@dataclass(frozen=True)
class EvaluatorKind:
    """A kind of evaluator: its name, the import path of its class ('module:Class'), its cost."""

    name: str
    target: str
    description: str

    @property
    def cls(self) -> type[Evaluator]:
        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module), attr)  # cached by sys.modules

    def options(self, options: Mapping[str, Any]) -> NoOptions:
        """The kind's validated options; raises pydantic.ValidationError (located by the caller)."""
        return self.cls.Options.model_validate(dict(options))

    def build(self, material: str, options: Mapping[str, Any], setup: EvaluatorSetup) -> Evaluator:
        """An evaluator of this kind, ready to evaluate recipes."""
        return self.cls(material, self.options(options), setup)
