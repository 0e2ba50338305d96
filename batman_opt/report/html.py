"""The one place that assembles cards: into a self-contained HTML file (plotly.js embedded once,
no CDN, opens offline) or into PNG files (plotly.js renders each figure in headless Chromium)."""

from __future__ import annotations

import datetime as dt
import html
import tempfile
from collections.abc import Callable
from pathlib import Path

import plotly.io as pio
from plotly.offline import get_plotlyjs

from batman_opt.report.browser import HeadlessChromium, render_png
from batman_opt.report.cards import Card, RunData
from batman_opt.report.convergence import convergence
from batman_opt.report.front import pareto_front_card
from batman_opt.report.model import model_cards
from batman_opt.report.prior import prior_cards
from batman_opt.report.timeline import agents_timeline
from batman_opt.report.trials import parallel_coordinates

CARDS: tuple[Callable[[RunData], Card | list[Card]], ...] = (
    convergence,
    pareto_front_card,
    parallel_coordinates,
    model_cards,
    prior_cards,
    agents_timeline,
)

CSS = """
body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 1300px; padding: 0 24px 48px;
       color: #222; background: #fafafa; }
header { border-bottom: 2px solid #4575b4; margin-bottom: 16px; }
section.card { background: white; border: 1px solid #ddd; border-radius: 6px; margin: 18px 0;
               padding: 8px 18px 14px; }
section.card h2 { margin: 8px 0 2px; font-size: 1.2em; }
p.subtitle { color: #555; margin: 2px 0 8px; font-size: 0.92em; }
div.table { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.85em; margin-top: 8px; }
th, td { border: 1px solid #ddd; padding: 3px 7px; text-align: right; }
th { background: #f0f0f0; }
"""


def build_cards(data: RunData) -> list[Card]:
    """Every card of the report, in order."""
    cards: list[Card] = []
    for make in CARDS:
        made = make(data)
        cards.extend(made if isinstance(made, list) else [made])
    return cards


def _summary(data: RunData) -> str:
    c = data.campaign
    counts = {s: sum(t.status == s for t in data.trials) for s in ("completed", "failed", "running")}
    when = dt.datetime.fromtimestamp(data.generated_at, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    goals = ", ".join(
        f"{o.name} = {o.target} ± {o.tolerance}" if o.goal == "target" else f"{o.goal} {o.name}"
        for o in c.objectives
    )
    return (
        f"<h1>{html.escape(c.name)}</h1><p>{html.escape(c.material)}, evaluator <b>{c.evaluator.kind}</b> "
        f"({c.evaluator.agents} agents) · {counts['completed']} completed, {counts['failed']} failed, "
        f"{counts['running']} running of {c.budget.max_trials} · goals: {html.escape(goals)}"
        + (
            f" · constraints: {html.escape(', '.join(c.outcome_constraints))}"
            if c.outcome_constraints
            else ""
        )
        + f" · report made {when}</p>"
    )


def render_html(data: RunData, cards: list[Card]) -> str:
    """The report as one HTML document (plotly.js inline)."""
    sections = []
    for card in cards:
        figure = (
            pio.to_html(
                card.figure,
                full_html=False,
                include_plotlyjs=False,
                div_id=f"fig-{card.name}",
                config={"displaylogo": False, "responsive": True},
            )
            if card.figure is not None
            else ""
        )
        sections.append(
            f'<section class="card" id="{card.name}"><h2>{html.escape(card.title)}</h2>'
            f'<p class="subtitle">{html.escape(card.subtitle)}</p>{figure}{card.table_html}</section>'
        )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(data.campaign.name)}: batman-opt report</title><style>{CSS}</style>"
        f'<script type="text/javascript">{get_plotlyjs()}</script></head><body>'
        f"<header>{_summary(data)}</header>{''.join(sections)}</body></html>"
    )


def write_pngs(cards: list[Card], directory: str | Path, width: int = 1100) -> list[Path]:
    """Each card's figure as `<directory>/<card>.png` (2x scale), rendered by plotly.js in Chromium."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory(prefix="batman-plotly-") as tmp, HeadlessChromium() as browser:
        plotly_js = Path(tmp) / "plotly.min.js"
        plotly_js.write_text(get_plotlyjs(), encoding="utf-8")
        for card in cards:
            if card.figure is None:
                continue
            height = int(card.figure.layout.height or 460)
            path = directory / f"{card.name}.png"
            path.write_bytes(render_png(browser, card.figure.to_json(), plotly_js, width, height))
            written.append(path)
    return written
