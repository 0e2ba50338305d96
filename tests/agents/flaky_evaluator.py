"""A test evaluator with failure injection: raises, returns NaN, hangs or kills its process on demand.

Outcomes: f = (x - 0.3)^2 + (y - 0.6)^2 (minimum 0 at x=0.3, y=0.6) and g = x + y.
Options: `raise_above`, `nan_above`, `hang_above`, `die_above` (thresholds on x), `sleep_s`.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping
from typing import Any

from batman_opt.evaluators.base import ANY, FRACTION, Evaluation, Evaluator, EvaluatorSetup, NoOptions


class FlakyOptions(NoOptions):
    raise_above: float = 2.0
    nan_above: float = 2.0
    hang_above: float = 2.0
    die_above: float = 2.0
    sleep_s: float = 0.0


class FlakyEvaluator(Evaluator):
    name = "flaky"
    description = "test evaluator with failure injection"
    Options = FlakyOptions

    def __init__(self, material: str, options: FlakyOptions, setup: EvaluatorSetup) -> None:
        super().__init__(material, options, setup)
        self.inputs = {"x": FRACTION, "y": FRACTION}
        self.required = ("x", "y")
        self.outcomes = dict.fromkeys(("f", "g"), ANY)

    def evaluate(self, params: Mapping[str, Any]) -> Evaluation:
        o = self.options
        x, y = float(params["x"]), float(params["y"])
        time.sleep(o.sleep_s)
        if x > o.die_above:
            os._exit(3)
        if x > o.hang_above:
            time.sleep(3600)
        if x > o.raise_above:
            raise ValueError(f"x = {x:.3f} is out of the working window")
        f = math.nan if x > o.nan_above else (x - 0.3) ** 2 + (y - 0.6) ** 2
        return self.checked(Evaluation({"f": f, "g": x + y}))
