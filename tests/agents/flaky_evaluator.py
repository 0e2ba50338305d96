"""A test evaluator with failure injection: raises, returns NaN, hangs or kills its process on demand.

Outcomes: f = (x - 0.3)^2 + (y - 0.6)^2 (minimum 0 at x=0.3, y=0.6) and g = x + y.
Options: `raise_above`, `nan_above`, `hang_above`, `die_above` (thresholds on x), `sleep_s`.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping

INPUTS = ("x", "y")
OUTCOMES = ("f", "g")


def evaluate(
    params: Mapping[str, float],
    material: str = "NMC111",
    raise_above: float = 2.0,
    nan_above: float = 2.0,
    hang_above: float = 2.0,
    die_above: float = 2.0,
    sleep_s: float = 0.0,
) -> dict[str, float]:
    x, y = float(params["x"]), float(params["y"])
    time.sleep(sleep_s)
    if x > die_above:
        os._exit(3)
    if x > hang_above:
        time.sleep(3600)
    if x > raise_above:
        raise ValueError(f"x = {x:.3f} is out of the working window")
    f = math.nan if x > nan_above else (x - 0.3) ** 2 + (y - 0.6) ** 2
    return {"f": f, "g": x + y}
