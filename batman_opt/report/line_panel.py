"""The "line" panel: where a recipe sits on the process chain of an electrode pilot line (slurry ->
coater -> dryer -> calender -> electrode), each station with the recipe's knobs, where each value
lies in the campaign's range, and the outcomes at the end of the line. HTML, no script."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping

from batman_opt.spec import Campaign, RangeParameter

STATIONS: dict[str, tuple[str, ...]] = {
    "Slurry mixing": ("am_mass_fraction", "solid_content"),
    "Coating (comma bar)": ("comma_gap_um", "coating_speed_m_min"),
    "Drying": ("drying_rate",),
    "Calendering": ("compression_ratio", "calendering_speed_mm_s"),
}
ELECTRODE = (
    "thickness_um",
    "mass_loading_mg_cm2",
    "density_g_cm3",
    "porosity",
    "spring_back_pct",
    "max_pressure_mpa",
    "tortuosity_factor",
)

CSS = """
.line { display: flex; align-items: stretch; gap: 0; flex-wrap: wrap; font-size: 13px; }
.station { border: 2px solid #4575b4; border-radius: 8px; padding: 6px 10px; min-width: 150px;
           background: #f4f7fb; }
.station h4 { margin: 0 0 4px; font-size: 13px; color: #23395d; }
.station.product { border-color: #1a9850; background: #f1faf3; }
.arrow { align-self: center; font-size: 26px; color: #4575b4; padding: 0 6px; }
.knob { margin: 2px 0; white-space: nowrap; }
.range { display: inline-block; width: 60px; height: 6px; background: #dde; position: relative;
         margin-left: 6px; vertical-align: middle; border-radius: 3px; }
.range i { position: absolute; top: -3px; width: 4px; height: 12px; background: #d73027; }
"""


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return html.escape(str(value))


def _knob(name: str, value: object, campaign: Campaign | None) -> str:
    bar = ""
    spec = next((p for p in campaign.parameters if p.name == name), None) if campaign else None
    if isinstance(spec, RangeParameter) and isinstance(value, (int, float)):
        low, high = spec.bounds
        share = min(1.0, max(0.0, (float(value) - low) / (high - low)))
        bar = (
            f'<span class="range" title="range {low:g} to {high:g}">'
            f'<i style="left:{96 * share:.0f}%"></i></span>'
        )
    return f'<div class="knob">{html.escape(name)} = <b>{_fmt(value)}</b>{bar}</div>'


def line_panel(
    parameters: Mapping[str, object], outcomes: Mapping[str, float], campaign: Campaign | None = None
) -> str:
    """The process chain of one recipe as HTML (with its own CSS)."""
    blocks = []
    placed = set()
    for station, knobs in STATIONS.items():
        present = [k for k in knobs if k in parameters]
        placed.update(present)
        body = (
            "".join(_knob(k, parameters[k], campaign) for k in present) or '<div class="knob">defaults</div>'
        )
        blocks.append(f'<div class="station"><h4>{station}</h4>{body}</div>')
    others = [k for k in parameters if k not in placed]
    if others:
        body = "".join(_knob(k, parameters[k], campaign) for k in others)
        blocks.insert(0, f'<div class="station"><h4>Recipe</h4>{body}</div>')
    shown = [k for k in ELECTRODE if k in outcomes] or list(outcomes)[:6]
    product = "".join(f'<div class="knob">{html.escape(k)} = <b>{_fmt(outcomes[k])}</b></div>' for k in shown)
    blocks.append(f'<div class="station product"><h4>Electrode</h4>{product or "not measured"}</div>')
    return f'<style>{CSS}</style><div class="line">{"<div class=arrow>→</div>".join(blocks)}</div>'
