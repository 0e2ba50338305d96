"""Convergence card: the score of every trial (target distance, or the first objective) against the
trial number, the best so far, one marker style per evaluator kind, and the Sobol -> BoTorch switch.
A campaign of several minimize / maximize objectives and no targets follows the hypervolume of its
feasible front instead (BoTorch's Hypervolume; reference: the worst observed value of each objective
less a tenth of its range), marking the trials that enlarged it."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import torch
from botorch.utils.multi_objective.hypervolume import Hypervolume
from botorch.utils.multi_objective.pareto import is_non_dominated

from batman_opt.constraints import satisfies
from batman_opt.report.cards import COLOURS, Card, RunData, recipe_hover, style
from batman_opt.report.pareto import minimized

_SYMBOLS = ("circle", "diamond", "square", "triangle-up", "cross", "x")


def hypervolume_trace(data: RunData) -> tuple[list[int], list[float]]:
    """Trial ids of the feasible completed trials, in order, and the hypervolume after each."""
    done = sorted(
        (
            t
            for t in data.completed
            if all(satisfies(c, t.outcomes) for c in data.campaign.outcome_constraints)
        ),
        key=lambda t: t.trial,
    )
    done = [t for t in done if np.all(np.isfinite(minimized(data.campaign, t.outcomes)))]
    if not done:
        return [], []
    y = -torch.tensor([minimized(data.campaign, t.outcomes) for t in done], dtype=torch.float64)
    ref = y.min(dim=0).values - 0.1 * (y.max(dim=0).values - y.min(dim=0).values).clamp_min(1e-12)
    hv = Hypervolume(ref_point=ref)
    volumes = [hv.compute(y[: k + 1][is_non_dominated(y[: k + 1])]) for k in range(len(done))]
    return [t.trial for t in done], volumes


def _hypervolume_card(data: RunData) -> Card:
    trials, volumes = hypervolume_trace(data)
    figure = go.Figure()
    figure.add_scatter(
        x=trials, y=volumes, mode="lines", line={"shape": "hv", "color": "black"}, name="hypervolume"
    )
    gains = [k for k in range(len(trials)) if k == 0 or volumes[k] > volumes[k - 1]]
    by_id = {t.trial: t for t in data.trials}
    figure.add_scatter(
        x=[trials[k] for k in gains],
        y=[volumes[k] for k in gains],
        mode="markers",
        marker={
            "size": 9,
            "color": [COLOURS.get(data.generator(by_id[trials[k]]), COLOURS["trial"]) for k in gains],
        },
        name="enlarged the front",
        hovertext=[recipe_hover(data, by_id[trials[k]]) for k in gains],
        hoverinfo="text",
    )
    switch = data.first_model_trial()
    if switch is not None:
        figure.add_vline(x=switch - 0.5, line_dash="dash", annotation_text="Sobol → BoTorch")
    figure.update_xaxes(title="trial")
    figure.update_yaxes(title="hypervolume of the feasible front")
    names = ", ".join(o.name for o in data.campaign.objectives)
    return Card(
        "convergence",
        "Convergence (hypervolume)",
        f"Volume of objective space ({names}) dominated by the feasible recipes found so far, after each "
        "trial (reference: each objective's worst observed value less a tenth of its range); markers are "
        "the trials that enlarged it, coloured by what chose them (purple Sobol, orange BoTorch).",
        style(figure),
    )


def convergence(data: RunData) -> Card:
    """Score against trial, best so far, Sobol/BoTorch switch (hypervolume for several objectives)."""
    if not data.campaign.targets and len(data.campaign.objectives) > 1:
        return _hypervolume_card(data)
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
