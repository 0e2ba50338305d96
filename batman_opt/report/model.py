"""What the model learned: a GP per objective outcome fitted to the completed trials (BoTorch's
SingleTaskGP on the unit cube, outcomes standardized), shown as

- partial dependence of each outcome on each parameter (the GP mean averaged over the other
  parameters of the observed trials) with a 90 % band from joint posterior samples of that average;
- a global sensitivity ranking: first-order and total Sobol indices of the GP mean (Saltelli's and
  Jansen's estimators on a uniform design over the search space);
- a leave-one-out parity plot: each trial's outcome predicted by the GP without it, against the
  evaluation (closed form at the fitted hyperparameters).

The GPs are fitted from the stored outcomes; no evaluator runs again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from botorch.models.transforms import Standardize
from gpytorch.mlls import ExactMarginalLogLikelihood
from plotly.subplots import make_subplots

from batman_opt.report.cards import COLOURS, Card, RunData, add_parity, style
from batman_opt.spec import ChoiceParameter

_GRID = 21  # points along each parameter of a partial dependence
_BACKGROUND = 32  # observed recipes the other parameters are averaged over
_SAMPLES = 128  # joint posterior samples for the partial-dependence band
_SOBOL_N = 2048  # base design size of the Sobol estimators


@dataclass
class FittedOutcome:
    """One outcome's GP and the data it was fitted to (X in the unit cube, y as evaluated)."""

    name: str
    model: SingleTaskGP
    x: torch.Tensor
    y: torch.Tensor

    def mean(self, x: np.ndarray) -> np.ndarray:
        """GP posterior mean at unit-cube points x (n, d), in the outcome's units."""
        with torch.no_grad():
            return self.model.posterior(torch.as_tensor(x, dtype=torch.float64)).mean[:, 0].numpy()

    def loo(self) -> tuple[np.ndarray, np.ndarray]:
        """Leave-one-out predictive mean and standard deviation of each training point (outcome units)."""
        model = self.model
        with torch.no_grad():
            x = model.input_transform(self.x) if hasattr(model, "input_transform") else self.x
            k = model.covar_module(x).to_dense() + model.likelihood.noise * torch.eye(len(x), dtype=x.dtype)
            y = model.train_targets - model.mean_module(x)
            k_inv = torch.linalg.inv(k)
            diag = torch.diagonal(k_inv)
            mu = model.train_targets - (k_inv @ y) / diag
            sd = diag.rsqrt()
            means, stdvs = model.outcome_transform.means[0, 0], model.outcome_transform.stdvs[0, 0]
        return (mu * stdvs + means).numpy(), (sd * stdvs).numpy()


def fit_outcomes(data: RunData, seed: int = 0) -> list[FittedOutcome]:
    """A GP per objective outcome with enough finite observations (more than the parameter count)."""
    torch.manual_seed(seed)
    fitted = []
    d = len(data.parameter_names)
    for name in data.objective_names:
        trials = [t for t in data.completed if np.isfinite(t.outcomes.get(name, np.nan))]
        if len(trials) <= d:
            continue
        x = torch.as_tensor(data.encoded_parameters(trials), dtype=torch.float64)
        y = torch.tensor([[t.outcomes[name]] for t in trials], dtype=torch.float64)
        model = SingleTaskGP(x, y, outcome_transform=Standardize(m=1))
        fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
        model.eval()
        fitted.append(FittedOutcome(name, model, x, y))
    return fitted


def _snap_choices(data: RunData, unit: np.ndarray) -> np.ndarray:
    """Unit-cube points with choice parameters moved to their nearest value's position."""
    unit = unit.copy()
    for j, p in enumerate(data.campaign.tuned_parameters):
        if isinstance(p, ChoiceParameter):
            k = len(p.values) - 1
            unit[..., j] = np.rint(unit[..., j] * k) / k
    return unit


def partial_dependence(
    data: RunData, outcome: FittedOutcome, j: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Grid (unit), mean partial dependence and its 5 %-95 % band along parameter j."""
    grid = _snap_choices(data, np.linspace(0.0, 1.0, _GRID)[:, None].repeat(len(data.parameter_names), 1))[
        :, j
    ]
    background = outcome.x.numpy()
    if len(background) > _BACKGROUND:
        background = background[rng.choice(len(background), _BACKGROUND, replace=False)]
    points = np.repeat(background[None], _GRID, axis=0)  # (grid, background, d)
    points[:, :, j] = grid[:, None]
    with torch.no_grad():
        posterior = outcome.model.posterior(torch.as_tensor(points.reshape(-1, points.shape[-1])))
        samples = posterior.rsample(torch.Size([_SAMPLES]))[..., 0].numpy().reshape(_SAMPLES, _GRID, -1)
        mean = posterior.mean[:, 0].numpy().reshape(_GRID, -1).mean(axis=1)
    averaged = samples.mean(axis=2)
    return grid, mean, np.quantile(averaged, 0.05, axis=0), np.quantile(averaged, 0.95, axis=0)


def sobol_indices(
    data: RunData, outcome: FittedOutcome, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """First-order (Saltelli 2010) and total (Jansen 1999) Sobol indices of the GP mean, one per parameter."""
    d = len(data.parameter_names)
    a = _snap_choices(data, rng.random((_SOBOL_N, d)))
    b = _snap_choices(data, rng.random((_SOBOL_N, d)))
    fa, fb = outcome.mean(a), outcome.mean(b)
    variance = np.var(np.concatenate([fa, fb]))
    first, total = np.zeros(d), np.zeros(d)
    if variance <= 0:
        return first, total
    for j in range(d):
        ab = a.copy()
        ab[:, j] = b[:, j]
        fab = outcome.mean(ab)
        first[j] = np.mean(fb * (fab - fa)) / variance
        total[j] = 0.5 * np.mean((fa - fab) ** 2) / variance
    return first, total


def model_cards(data: RunData, seed: int = 0) -> list[Card]:
    """Partial dependence, sensitivity ranking and leave-one-out parity cards (none without data)."""
    fitted = fit_outcomes(data, seed)
    if not fitted:
        return [
            Card(
                "model",
                "What the model learned",
                "Not enough completed trials yet to fit a GP "
                f"(more than {len(data.parameter_names)} per outcome).",
            )
        ]
    rng = np.random.default_rng(seed)
    return [_pd_card(data, fitted, rng), _sobol_card(data, fitted, rng), _parity_card(fitted)]


def _pd_card(data: RunData, fitted: list[FittedOutcome], rng: np.random.Generator) -> Card:
    names = data.parameter_names
    figure = make_subplots(
        rows=len(fitted), cols=len(names), shared_xaxes=False, horizontal_spacing=0.03, vertical_spacing=0.08
    )
    for row, outcome in enumerate(fitted, start=1):
        for col, name in enumerate(names, start=1):
            grid, mean, low, high = partial_dependence(data, outcome, col - 1, rng)
            x = data.decode(name, grid)
            band = {"showlegend": False, "hoverinfo": "skip", "line": {"width": 0}}
            figure.add_scatter(x=x, y=high, mode="lines", row=row, col=col, **band)
            figure.add_scatter(
                x=x,
                y=low,
                mode="lines",
                fill="tonexty",
                fillcolor="rgba(69,117,180,0.25)",
                row=row,
                col=col,
                **band,
            )
            figure.add_scatter(
                x=x,
                y=mean,
                mode="lines",
                line={"color": COLOURS["trial"]},
                showlegend=False,
                row=row,
                col=col,
                hovertemplate=f"{name} = %{{x:.4g}}<br>{outcome.name} = %{{y:.4g}}<extra></extra>",
            )
            observed = data.decode(name, outcome.x[:, col - 1].numpy())
            figure.add_scatter(
                x=observed,
                y=outcome.y[:, 0].numpy(),
                mode="markers",
                marker={"size": 4, "color": "black", "opacity": 0.35},
                showlegend=False,
                hoverinfo="skip",
                row=row,
                col=col,
            )
            if row == len(fitted):
                figure.update_xaxes(title_text=name, row=row, col=col)
            if col == 1:
                figure.update_yaxes(title_text=outcome.name, row=row, col=col)
    return Card(
        "partial_dependence",
        "What the model learned: partial dependence",
        "Each panel: a GP's mean of the outcome (row) as one parameter (column) varies, averaged over the "
        "other parameters of the observed recipes; the band holds 90 % of the posterior samples of that "
        "average; dots are the evaluations.",
        style(figure, 230 * len(fitted) + 80),
    )


def _sobol_card(data: RunData, fitted: list[FittedOutcome], rng: np.random.Generator) -> Card:
    names = data.parameter_names
    figure = make_subplots(
        rows=1, cols=len(fitted), subplot_titles=[f.name for f in fitted], shared_yaxes=True
    )
    for col, outcome in enumerate(fitted, start=1):
        first, total = sobol_indices(data, outcome, rng)
        order = np.argsort(total)
        for values, label, colour in (
            (total, "total", COLOURS["botorch"]),
            (first, "first order", COLOURS["trial"]),
        ):
            figure.add_bar(
                y=[names[i] for i in order],
                x=np.clip(values[order], 0, None),
                orientation="h",
                name=label,
                marker_color=colour,
                showlegend=col == 1,
                legendgroup=label,
                row=1,
                col=col,
            )
    figure.update_layout(barmode="group")
    figure.update_xaxes(title_text="Sobol index", range=[0, 1])
    return Card(
        "sensitivity",
        "Global sensitivity (Sobol indices of the GP mean)",
        "Share of each outcome's variance over the whole search space due to a parameter alone (first "
        "order) or with its interactions (total); parameters sorted by their total index.",
        style(figure, 120 + 40 * len(names)),
    )


def _parity_card(fitted: list[FittedOutcome]) -> Card:
    figure = make_subplots(rows=1, cols=len(fitted), subplot_titles=[f.name for f in fitted])
    lines = []
    for col, outcome in enumerate(fitted, start=1):
        mu, sd = outcome.loo()
        y = outcome.y[:, 0].numpy()
        add_parity(
            figure,
            y,
            mu,
            col,
            error_y={"array": 1.645 * sd, "thickness": 1},
            marker={"color": COLOURS["trial"]},
        )
        r2 = 1.0 - np.sum((y - mu) ** 2) / np.sum((y - y.mean()) ** 2)
        lines.append(f"{outcome.name}: R² = {r2:.2f}")
    figure.update_yaxes(title_text="predicted (leave one out)", row=1, col=1)
    return Card(
        "parity",
        "Model check: leave-one-out parity",
        "Each completed trial's outcome as the GP predicts it without that trial (bars: 90 % interval), "
        f"against its evaluation; on the dotted line the model is right. {'; '.join(lines)}.",
        style(figure, 380),
    )
