"""Trials card: parallel coordinates of every trial from its parameters to its outcomes, coloured
by its score, and the table of failed trials with their reasons."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from batman_opt.report.cards import Card, RunData, html_table, style
from batman_opt.spec import ChoiceParameter

_STATUS_CODE = {"completed": 0, "running": 1, "failed": 2}


def parallel_coordinates(data: RunData) -> Card:
    """Parameters -> outcomes of all trials; failed and running trials have parameters only and
    sit at the bottom of the outcome axes, on the `status` axis at 'failed' / 'running'."""
    trials = data.trials
    dims: list[dict] = [
        {
            "label": "status",
            "values": [_STATUS_CODE.get(t.status, 1) for t in trials],
            "tickvals": list(_STATUS_CODE.values()),
            "ticktext": list(_STATUS_CODE),
            "range": [0, 2],
        }
    ]
    for p in data.campaign.tuned_parameters:
        values = [t.parameters.get(p.name) for t in trials]
        if isinstance(p, ChoiceParameter):
            index = [p.values.index(v) for v in values]
            dims.append(
                {
                    "label": p.name,
                    "values": index,
                    "tickvals": list(range(len(p.values))),
                    "ticktext": [str(v) for v in p.values],
                }
            )
        else:
            dims.append({"label": p.name, "values": values, "range": list(p.bounds)})
    for name in data.objective_names:
        finite = [t.outcomes[name] for t in trials if np.isfinite(t.outcomes.get(name, np.nan))]
        low = min(finite) if finite else 0.0
        high = max(finite) if finite else 1.0
        floor = low - 0.05 * (high - low or 1.0)  # trials without this outcome sit just below the data
        values = [t.outcomes[name] if np.isfinite(t.outcomes.get(name, np.nan)) else floor for t in trials]
        dims.append({"label": name, "values": values, "range": [floor, high]})
    scores = [
        data.score(t) if t.status == "completed" and np.isfinite(data.score(t)) else np.nan for t in trials
    ]
    finite_scores = [s for s in scores if np.isfinite(s)]
    worst = max(finite_scores) if finite_scores else 1.0
    colour = [s if np.isfinite(s) else worst for s in scores]
    figure = go.Figure(
        go.Parcoords(
            dimensions=dims,
            line={
                "color": colour,
                "colorscale": "Viridis_r",
                "showscale": True,
                "colorbar": {"title": "score"},
            },
        )
    )
    failed_rows = [
        [t.trial, t.agent, t.reason] + [t.parameters.get(n) for n in data.parameter_names]
        for t in data.failed
    ]
    table = (
        html_table(["failed trial", "agent", "reason"] + data.parameter_names, failed_rows)
        if failed_rows
        else "<p>No trial failed.</p>"
    )
    return Card(
        "trials",
        "All trials: parameters → outcomes",
        f"{len(trials)} trials ({len(data.completed)} completed, {len(data.failed)} failed). One line per "
        f"trial, coloured by {data.score_label} (darker is better); drag along an axis to filter. Trials "
        "without outcomes (failed, running) sit below the outcome axes.",
        style(figure, 480).update_layout(margin={"t": 80, "l": 80}),
        table,
    )
