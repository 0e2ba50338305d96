"""What every report card is made of: the run's data read once (`RunData`) and the `Card` a figure
function returns (title, how to read it, a plotly figure and/or an HTML table).

As Ax analyses: each card is computed from the stored trials and campaign only; nothing here runs
an evaluator again. A run in progress is valid input (running trials have no outcomes yet).
"""

from __future__ import annotations

import html
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import plotly.graph_objects as go

from batman_opt.optimize.targets import TARGET_DISTANCE, target_distance
from batman_opt.report.pareto import Recipe, pareto_recipes
from batman_opt.spec import Campaign, ChoiceParameter, RangeParameter
from batman_opt.store import COMPLETED, FAILED, RunStore, TrialRecord

# One colour per meaning, the same on every card.
COLOURS = {
    "meets": "#1a9850",
    "front": "#d73027",
    "trial": "#4575b4",
    "failed": "#7f7f7f",
    "running": "#fdae61",
    "sobol": "#8073ac",
    "botorch": "#e08214",
}


@dataclass
class Card:
    """One report card: a title, a subtitle saying how to read it, a figure and/or a table (HTML)."""

    name: str
    title: str
    subtitle: str
    figure: go.Figure | None = None
    table_html: str = ""


@dataclass
class RunData:
    """A run directory's campaign and trials, with the derived series every card shares."""

    campaign: Campaign
    trials: list[TrialRecord]
    recipes: list[Recipe] = field(init=False)
    generated_at: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        self.recipes = pareto_recipes(self.campaign, self.trials)

    @classmethod
    def of(cls, store: RunStore) -> RunData:
        return cls(store.load_campaign(), store.trials())

    @property
    def completed(self) -> list[TrialRecord]:
        return [t for t in self.trials if t.status == COMPLETED]

    @property
    def failed(self) -> list[TrialRecord]:
        return [t for t in self.trials if t.status == FAILED]

    @property
    def parameter_names(self) -> list[str]:
        return [p.name for p in self.campaign.tuned_parameters]

    @property
    def objective_names(self) -> list[str]:
        return [o.name for o in self.campaign.objectives]

    def score(self, trial: TrialRecord) -> float:
        """The number the convergence plot follows, lower is better: the target distance when the
        campaign has targets, else the first objective (negated when maximized)."""
        if self.campaign.targets:
            return target_distance(trial.outcomes, self.campaign.targets)
        first = self.campaign.objectives[0]
        value = trial.outcomes[first.name]
        return -value if first.goal == "maximize" else value

    @property
    def score_label(self) -> str:
        if self.campaign.targets:
            return f"{TARGET_DISTANCE} (tolerances; <= 1 meets every target)"
        first = self.campaign.objectives[0]
        return ("-" if first.goal == "maximize" else "") + first.name

    def generator(self, trial: TrialRecord) -> str:
        """What chose the recipe: the log's `generator`, else Sobol for the campaign's initial trials."""
        if trial.generator:
            return trial.generator
        initial = self.campaign.budget.initial_trials
        if initial is None:
            return ""
        return "sobol" if trial.trial < initial else "botorch"

    def first_model_trial(self) -> int | None:
        """Trial id of the first recipe chosen by BoTorch (the Sobol -> BoTorch switch), if any."""
        ids = [t.trial for t in self.trials if self.generator(t) == "botorch"]
        return min(ids) if ids else None

    def meets_targets(self, trial: TrialRecord) -> bool:
        return bool(self.campaign.targets) and target_distance(trial.outcomes, self.campaign.targets) <= 1.0

    def encoded_parameters(self, trials: list[TrialRecord]) -> np.ndarray:
        """Tuned parameters of `trials` as floats in [0, 1] (log ranges in log space, choices by index)."""
        columns = [
            _unit_column(p, [t.parameters[p.name] for t in trials]) for p in self.campaign.tuned_parameters
        ]
        return np.stack(columns, axis=1) if columns else np.zeros((len(trials), 0))

    def decode(self, name: str, unit: np.ndarray) -> np.ndarray:
        """Values of parameter `name` at positions `unit` in [0, 1] (inverse of encoded_parameters)."""
        p = next(p for p in self.campaign.tuned_parameters if p.name == name)
        if isinstance(p, ChoiceParameter):
            index = np.clip(np.rint(unit * (len(p.values) - 1)), 0, len(p.values) - 1).astype(int)
            return np.array([p.values[i] for i in index])
        low, high = p.bounds
        if p.log_scale:
            return np.exp(np.log(low) + unit * (np.log(high) - np.log(low)))
        return low + unit * (high - low)


def _unit_column(p: RangeParameter | ChoiceParameter, values: list[Any]) -> np.ndarray:
    if isinstance(p, ChoiceParameter):
        return np.array([p.values.index(v) / (len(p.values) - 1) for v in values], dtype=float)
    x = np.asarray(values, dtype=float)
    low, high = p.bounds
    if p.log_scale:
        return (np.log(x) - np.log(low)) / (np.log(high) - np.log(low))
    return (x - low) / (high - low)


def recipe_hover(data: RunData, trial: TrialRecord) -> str:
    """Hover text of a trial: its id, recipe and objectives."""
    lines = [f"<b>trial {trial.trial}</b> ({trial.status}, {data.generator(trial) or 'unknown'})"]
    lines += [f"{k} = {_fmt(v)}" for k, v in trial.parameters.items()]
    lines += [f"<i>{k} = {_fmt(trial.outcomes[k])}</i>" for k in data.objective_names if k in trial.outcomes]
    return "<br>".join(lines)


def html_table(header: list[str], rows: list[list[Any]]) -> str:
    """A plain HTML table (cells escaped; floats with 4 significant digits)."""
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f'<div class="table"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return str(value)


def style(figure: go.Figure, height: int = 460) -> go.Figure:
    """The look shared by every card's figure."""
    figure.update_layout(
        template="plotly_white",
        height=height,
        margin={"l": 60, "r": 30, "t": 30, "b": 50},
        hovermode="closest",
    )
    return figure


def add_parity(
    figure: go.Figure, evaluated: np.ndarray, predicted: np.ndarray, col: int, **marker: Any
) -> None:
    """Predicted against evaluated values in column `col` of a one-row figure, with the y = x line;
    `marker` passes on to the scatter (colour, hover text, error bars)."""
    low = float(min(evaluated.min(), predicted.min()))
    high = float(max(evaluated.max(), predicted.max()))
    figure.add_scatter(x=evaluated, y=predicted, mode="markers", showlegend=False, row=1, col=col, **marker)
    figure.add_scatter(
        x=[low, high],
        y=[low, high],
        mode="lines",
        line={"color": "grey", "dash": "dot"},
        showlegend=False,
        row=1,
        col=col,
    )
    figure.update_xaxes(title_text="evaluated", row=1, col=col)
