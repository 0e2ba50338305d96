"""Pareto front card: every feasible completed trial in objective space (2D, or 3D for three
objective axes), the Pareto-optimal recipes outlined, those meeting every target in green, and the
recipe table."""

from __future__ import annotations

import plotly.graph_objects as go

from batman_opt.constraints import satisfies
from batman_opt.optimize.targets import TARGET_DISTANCE, target_distance
from batman_opt.report.cards import COLOURS, Card, RunData, html_table, recipe_hover, style


def _axes(data: RunData) -> list[str]:
    """The objective axes of the front: target distance (when there are targets), then every
    minimize / maximize objective, as pareto_recipes ranks them."""
    axes = [TARGET_DISTANCE] if data.campaign.targets else []
    return axes + [o.name for o in data.campaign.objectives if o.goal != "target"]


def _value(data: RunData, outcomes: dict[str, float], axis: str) -> float:
    if axis == TARGET_DISTANCE:
        return target_distance(outcomes, data.campaign.targets)
    return outcomes[axis]


def pareto_front_card(data: RunData) -> Card:
    """Objective space with the front and the recipes meeting the targets highlighted."""
    axes = _axes(data)
    if len(axes) == 1:  # a single objective: show it against the first target outcome or trial
        axes = axes + [data.campaign.targets[0].name] if data.campaign.targets else ["trial"] + axes
    front_ids = {r.trial for r in data.recipes}
    feasible = [
        t for t in data.completed if all(satisfies(c, t.outcomes) for c in data.campaign.outcome_constraints)
    ]
    groups = {
        "trials": [t for t in feasible if t.trial not in front_ids],
        "Pareto-optimal": [t for t in feasible if t.trial in front_ids and not data.meets_targets(t)],
        "Pareto-optimal, meets every target": [
            t for t in feasible if t.trial in front_ids and data.meets_targets(t)
        ],
    }
    colours = (COLOURS["trial"], COLOURS["front"], COLOURS["meets"])
    figure = go.Figure()
    for (label, group), colour in zip(groups.items(), colours, strict=True):
        if not group:
            continue
        coords = [[t.trial if a == "trial" else _value(data, t.outcomes, a) for t in group] for a in axes[:3]]
        marker = {
            "color": colour,
            "size": 6 if label == "trials" else 9,
            "opacity": 0.55 if label == "trials" else 1,
        }
        common = {"mode": "markers", "name": label, "marker": marker, "hoverinfo": "text"}
        hover = [recipe_hover(data, t) for t in group]
        if len(axes) >= 3:
            figure.add_scatter3d(x=coords[0], y=coords[1], z=coords[2], hovertext=hover, **common)
        else:
            figure.add_scatter(x=coords[0], y=coords[1], hovertext=hover, **common)
    if len(axes) >= 3:
        figure.update_layout(scene={"xaxis_title": axes[0], "yaxis_title": axes[1], "zaxis_title": axes[2]})
    else:
        figure.update_xaxes(title=axes[0], type="log" if axes[0] == TARGET_DISTANCE else "linear")
        figure.update_yaxes(title=axes[1])
        if axes[0] == TARGET_DISTANCE:
            figure.add_vline(x=1.0, line_color=COLOURS["meets"], annotation_text="targets met left")
    names = data.parameter_names
    objectives = data.objective_names
    rows = [
        [
            r.trial,
            "yes" if r.meets_targets else "no",
            r.target_distance if r.target_distance is not None else "-",
        ]
        + [r.parameters.get(n) for n in names]
        + [r.outcomes.get(n, float("nan")) for n in objectives]
        for r in data.recipes
    ]
    table = html_table(["trial", "meets targets", TARGET_DISTANCE] + names + objectives, rows)
    n_meet = sum(r.meets_targets for r in data.recipes)
    return Card(
        "pareto",
        "Pareto front",
        f"{len(data.recipes)} Pareto-optimal recipes among {len(data.completed)} completed trials "
        + (f"({n_meet} meeting every target)" if data.campaign.targets else "")
        + ", in the campaign's objectives"
        + (" (3D: drag to turn)" if len(axes) >= 3 else "")
        + "; "
        "hover a point for its recipe. Infeasible trials (outcome constraints) are not drawn.",
        style(figure, 520),
        table,
    )
