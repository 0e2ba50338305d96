"""Convergence card: the score of every trial (target distance, or the first objective) against the
trial number, the best so far, one marker style per evaluator kind, and the Sobol -> BoTorch switch."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from batman_opt.report.cards import COLOURS, Card, RunData, recipe_hover, style

_SYMBOLS = ("circle", "diamond", "square", "triangle-up", "cross", "x")


def convergence(data: RunData) -> Card:
    """Score against trial, best so far, Sobol/BoTorch switch."""
    done = [t for t in data.completed if np.isfinite(data.score(t))]
    figure = go.Figure()
    kinds = sorted({t.evaluator or data.campaign.evaluator.kind for t in done})
    for kind, symbol in zip(kinds, _SYMBOLS * len(kinds), strict=False):
        for generator in ("sobol", "botorch", "lab", ""):
            group = [
                t
                for t in done
                if (t.evaluator or data.campaign.evaluator.kind) == kind and data.generator(t) == generator
            ]
            if not group:
                continue
            figure.add_scatter(
                x=[t.trial for t in group],
                y=[data.score(t) for t in group],
                mode="markers",
                marker={"symbol": symbol, "size": 9, "color": COLOURS.get(generator, COLOURS["trial"])},
                name=f"{kind} · {generator or 'trial'}",
                hovertext=[recipe_hover(data, t) for t in group],
                hoverinfo="text",
            )
    if done:
        order = sorted(done, key=lambda t: t.trial)
        best = np.minimum.accumulate([data.score(t) for t in order])
        figure.add_scatter(
            x=[t.trial for t in order],
            y=best,
            mode="lines",
            line={"shape": "hv", "color": "black"},
            name="best so far",
        )
    switch = data.first_model_trial()
    if switch is not None:
        figure.add_vline(x=switch - 0.5, line_dash="dash", annotation_text="Sobol → BoTorch")
    if data.campaign.targets:
        figure.add_hline(y=1.0, line_color=COLOURS["meets"], annotation_text="targets met below")
        if done and min(data.score(t) for t in done) > 0:
            figure.update_yaxes(type="log")
    figure.update_xaxes(title="trial")
    figure.update_yaxes(title=data.score_label)
    best_text = f"best {min(data.score(t) for t in done):.3g}" if done else "no completed trial yet"
    return Card(
        "convergence",
        "Convergence",
        f"Each completed trial's {data.score_label} (lower is better) by trial number; the black "
        f"staircase is the best so far ({best_text}). Colours say what chose the recipe, marker shapes "
        "the evaluator kind.",
        style(figure),
    )
