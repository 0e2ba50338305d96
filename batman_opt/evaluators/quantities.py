"""Physical ranges of outcomes known by name, for outcomes that come from outside (lab files,
measured tables): a porosity is in [0, 1], a density is positive, a tortuosity factor is >= 1.

`outcome_range(name)` looks the name up in `RANGES`, then by its unit suffix (`_pct` of a fraction,
`_g_cm3`, `_mg_cm2`, `_um`...: positive); unknown names have no range (any finite number).
"""

from __future__ import annotations

import math

from batman_opt.evaluators.base import ANY, FRACTION, POSITIVE, Interval

RANGES: dict[str, Interval] = {
    "porosity": FRACTION,
    "dried_porosity": FRACTION,
    "porosity_pct": Interval(0.0, 100.0),
    "tortuosity_factor": Interval(1.0, math.inf),
    "geometric_tortuosity_z": Interval(1.0, math.inf),
    "spring_back_pct": Interval(-100.0, math.inf),
    "inertial_number": Interval(0.0, math.inf),
    "capacity_retention_2c": FRACTION,
}
PREFIXES: dict[str, Interval] = {
    "tortuosity_factor": Interval(1.0, math.inf),
    "effective_diffusivity": FRACTION,
}
# unit suffixes of quantities that are positive by nature (thickness, loading, density, surface...)
POSITIVE_SUFFIXES = (
    "_um",
    "_mm",
    "_g_cm3",
    "_mg_cm3",
    "_mg_cm2",
    "_mah_cm2",
    "_um_inv",
    "_mpa",
    "_pa",
    "_wh_kg",
    "_wh_l",
    "_s",
)


def outcome_range(name: str) -> Interval:
    """The physical range of the outcome called `name` (ANY when nothing is known of it)."""
    if name in RANGES:
        return RANGES[name]
    for prefix, interval in PREFIXES.items():
        if name.startswith(prefix):
            return interval
    if name.endswith(POSITIVE_SUFFIXES):
        return POSITIVE
    return ANY
