"""What the optimizer believed when it chose each recipe: for trials chosen by a BoTorch model beside
Ax (pools, transfer priors), the model's prediction at suggestion time against the evaluation (a
prospective parity: the model had not seen the trial), and the weight of the transfer prior over
the campaign (the share of the learned prior mean, the RGPE weights, or auto's choice). Read from
the trials' notes; no card without such trials."""

from __future__ import annotations

import json

import numpy as np
from plotly.subplots import make_subplots

from batman_opt.optimize.targets import optimization_metrics
from batman_opt.report.cards import COLOURS, Card, RunData, add_parity, style


def prior_cards(data: RunData) -> list[Card]:
    """The prospective parity card and, with a transfer prior, its weights over the trials."""
    chosen = [t for t in data.completed if "predicted" in t.notes]
    if not chosen:
        return []
    predicted = [json.loads(t.notes["predicted"]) for t in chosen]
    evaluated = [optimization_metrics(t.outcomes, data.campaign) for t in chosen]
    metrics = list(predicted[0])
    figure = make_subplots(rows=1, cols=len(metrics), subplot_titles=metrics)
    lines = []
    for col, name in enumerate(metrics, start=1):
        x = np.array([e[name] for e in evaluated])
        y = np.array([p[name] for p in predicted])
        text = [f"trial {t.trial}: {t.generator}" for t in chosen]
        add_parity(figure, x, y, col, marker={"color": COLOURS["botorch"]}, text=text)
        lines.append(f"{name}: mean |error| {np.mean(np.abs(x - y)):.3g}")
    figure.update_yaxes(title_text="predicted when suggested", row=1, col=1)
    cards = [
        Card(
            "prospective_parity",
            "What the model predicted when it chose each recipe",
            "Each model-chosen trial's predicted value of every modelled metric, at the time it was "
            f"suggested (before the model saw it), against its evaluation. {'; '.join(lines)}.",
            style(figure, 380),
        )
    ]
    weighted = [(t.trial, json.loads(t.notes["prior_weights"])) for t in chosen if "prior_weights" in t.notes]
    if weighted:
        weights = make_subplots(rows=1, cols=1)
        for name in dict.fromkeys(k for _, w in weighted for k in w):
            points = [(trial, w[name]) for trial, w in weighted if name in w]
            weights.add_scatter(
                x=[p[0] for p in points], y=[p[1] for p in points], mode="lines+markers", name=name
            )
        weights.update_xaxes(title_text="trial")
        weights.update_yaxes(title_text="weight of the prior")
        cards.append(
            Card(
                "prior_weight",
                f"How much the campaign leaned on its transfer prior ({data.campaign.transfer.method})",
                "prior_mean: the spread of the learned prior term over the target points in units of the "
                "target's own spread (near 1: the source carries the trend; near 0: it is ignored); "
                "ensemble: each source's and the target GP's ranking weight; auto: as prior_mean, 0 for "
                "a metric where the leave-one-out likelihood preferred the plain GP; 'prior only': "
                "recipes proposed by the source model before the target had data.",
                style(weights, 340),
            )
        )
    return cards
