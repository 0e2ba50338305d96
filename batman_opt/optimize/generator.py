"""Recipes chosen with BoTorch directly, beside Ax: for pools (a measured table: the acquisition is
maximized over the untried rows themselves; snapping Ax's continuous optimum to the nearest row
would lose its ranking) and for campaigns with a transfer prior (whose models Ax cannot build).

The Ax experiment stays the one record of the campaign: chosen recipes are attached to it.
- Start: without a prior, a space-filling design until `initial_trials` recipes were tried and two
  completed (pools: the row nearest the centre, then each time the row farthest from every tried
  one; continuous: scrambled Sobol points continuing past the trials made). With a prior, the
  prior's own acquisition proposes the recipes (the best untried pool row; in a continuous space the
  best of a Sobol design and the prior's source points) until the target GP can be fitted
  (`min_points`): the first from the source alone (or, when the source's mean meets the outcome
  constraints nowhere, the space-filling design's first: `_reaches_goals`), the next ones from the
  source shifted onto the target data so far and conditioned on it (`SourceGPs.prior`), which also
  spreads them.
- Then: the models of a `ModelFactory` (one output per goal metric), the acquisition of
  batman_opt.optimize.acquisition, maximized over the pool (`optimize_acqf_discrete`) or over the
  unit cube under the parameter constraints (`optimize_acqf`, `optimize_acqf_mixed` over the
  combinations of numeric choices); recipes still running are pending points.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import gpytorch
import numpy as np
import pandas as pd
import torch
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from botorch.models.model import Model
from botorch.models.transforms.outcome import Standardize
from botorch.optim import optimize_acqf, optimize_acqf_discrete, optimize_acqf_mixed
from gpytorch.means import Mean
from gpytorch.mlls import ExactMarginalLogLikelihood

from batman_opt.constraints import satisfies
from batman_opt.optimize.acquisition import ACQF_NUM_RESTARTS, ACQF_RAW_SAMPLES, Goals, acquisition
from batman_opt.optimize.space import UnitSpace
from batman_opt.spec import Campaign, RangeParameter

logger = logging.getLogger(__name__)

DEFAULT_INITIAL_TRIALS = 5
PRIOR_CANDIDATES = 1024  # the design over which a prior without target data picks its recipe
DTYPE = torch.float64


class ModelFactory(Protocol):
    """Builds the surrogate of the goal metrics; `name` tags the recipes it chose, `weights` says how
    much the last fitted model leans on its prior (name -> number; empty without a prior),
    `has_prior` whether `prior` gives a model (every goal metric has a source)."""

    name: str
    min_points: int
    weights: dict[str, float]
    has_prior: bool

    def fit(self, x: torch.Tensor, y: torch.Tensor) -> Model:
        """A model of y (n, m metrics) on x (n, d unit cube), n >= min_points."""

    def prior(self, x: torch.Tensor, y: torch.Tensor) -> tuple[Model, torch.Tensor, torch.Tensor] | None:
        """A model usable before the target GP can be fitted (x (n, d), y (n, m): the target data so
        far, n < min_points, possibly 0), with its baseline points (x, y); None when not has_prior."""


def standardized_gp(x: torch.Tensor, y: torch.Tensor, mean_module: Mean | None = None) -> SingleTaskGP:
    """A GP of y (n, m outputs) on x with standardized outcomes: for m > 1 one batched model (its
    outputs independent GPs, evaluated and fitted together: an acquisition step costs one posterior
    instead of m)."""
    return SingleTaskGP(x, y, mean_module=mean_module, outcome_transform=Standardize(m=y.shape[-1]))


def fit_gp(model: SingleTaskGP) -> SingleTaskGP:
    """`model` with its hyperparameters fitted by marginal likelihood, in eval mode."""
    fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    model.eval()
    return model


class ColdModels:
    """One GP per metric (standardized outcomes, MLL-fitted hyperparameters), batched into one
    multi-output model as Ax does: no prior."""

    name = "botorch"
    min_points = 2
    weights: dict[str, float] = {}
    has_prior = False

    def fit(self, x: torch.Tensor, y: torch.Tensor) -> Model:
        return fit_gp(standardized_gp(x, y))

    def prior(self, x: torch.Tensor, y: torch.Tensor) -> None:
        return None


def _seeded(select: Callable) -> Callable:
    """`select` with torch's RNG (model fitting, the acquisition's MC samples, the optimizer's raw
    samples) seeded by the campaign seed and the number of recipes tried, apart from the caller's:
    a resumed campaign chooses what an uninterrupted one would."""

    @functools.wraps(select)
    def seeded(
        self: BotorchGenerator, n: int, tried: Sequence, completed: Sequence, pending: Sequence
    ) -> list:
        with torch.random.fork_rng():
            torch.manual_seed(self.campaign.seed * 100_003 + len(tried))
            return select(self, n, tried, completed, pending)

    return seeded


class BotorchGenerator:
    """Chooses recipes for `campaign` with the models of `models`, from `candidates` when given."""

    def __init__(
        self, campaign: Campaign, models: ModelFactory, candidates: pd.DataFrame | None = None
    ) -> None:
        self.campaign = campaign
        self.space = UnitSpace(campaign)
        self.goals = Goals.of(campaign)
        self.models = models
        self.pool = None if candidates is None else in_campaign(campaign, candidates)
        self._pool_x = None if self.pool is None else self.space.to_unit(self.pool.to_dict(orient="records"))

    @_seeded
    def select(
        self,
        n: int,
        tried: Sequence[Mapping[str, Any]],
        completed: Sequence[tuple[Mapping[str, Any], Mapping[str, float]]],
        pending: Sequence[Mapping[str, Any]],
    ) -> list[tuple[dict[str, Any], str, dict[str, str]]]:
        """Up to `n` new recipes with the name of what chose each and notes (text): the model's
        prediction of each goal metric at the recipe and its prior's weights (none for the start).

        tried: every recipe of the trial log; completed: (recipe, metrics) of the finished ones;
        pending: the recipes still running. Fewer than `n` only when a pool runs out. The same
        arguments give the same recipes (`_seeded`).
        """
        free = None
        if self._pool_x is not None:
            free = np.ones(len(self._pool_x), dtype=bool)
            free[self._rows(tried)] = False
            n = min(n, int(free.sum()))
            if n <= 0:
                return []
        initial = self.campaign.budget.initial_trials or DEFAULT_INITIAL_TRIALS
        x = torch.tensor(self.space.to_unit([r for r, _ in completed]), dtype=DTYPE)
        y = torch.tensor(
            [[float(m[name]) for name in self.goals.metrics] for _, m in completed], dtype=DTYPE
        ).reshape(-1, len(self.goals.metrics))
        fitted = len(completed) >= self.models.min_points
        if not self.models.has_prior and (len(tried) < initial or not fitted):
            return [(recipe, how, {}) for recipe, how in self._start(n, tried, free)]
        if fitted:
            model = self.models.fit(x, y)
        else:
            model, x, y = self.models.prior(x, y)
            options = self._pool_x[free] if free is not None else self._prior_points(x, tried)
            if not completed and not self._reaches_goals(model, options):
                logger.info("the transfer source meets the goals nowhere: the first batch is space-filling")
                return [(recipe, how, {}) for recipe, how in self._start(n, tried, free)]
        x_pending = torch.tensor(self.space.to_unit(pending), dtype=DTYPE) if pending else None
        acqf = acquisition(model, self.goals, x, y, x_pending, q=n, measured=fitted)
        name = self.models.name if free is None else f"pool-{self.models.name}"
        if free is not None:
            rows = np.flatnonzero(free)
            choices = torch.tensor(self._pool_x[rows], dtype=DTYPE)
            picked, _ = optimize_acqf_discrete(acqf, q=n, choices=choices)
            chosen = [
                int(rows[np.argmin(np.abs(self._pool_x[rows] - p).sum(axis=1))]) for p in picked.numpy()
            ]
            recipes = [self._pool_recipe(i) for i in chosen]
        elif not fitted:
            recipes = self.space.from_unit(self._prior_pick(acqf, n, options))
        else:
            recipes = self.space.from_unit(self._optimize(acqf, n))
        with torch.no_grad():
            predicted = model.posterior(torch.tensor(self.space.to_unit(recipes), dtype=DTYPE)).mean.numpy()
        weights = self.models.weights if fitted else {"prior only": 1.0}
        return [
            (recipe, name, _notes(dict(zip(self.goals.metrics, row.tolist(), strict=True)), weights))
            for recipe, row in zip(recipes, predicted, strict=True)
        ]

    def _optimize(self, acqf: Any, n: int) -> np.ndarray:
        bounds = torch.stack([torch.zeros(self.space.dim), torch.ones(self.space.dim)]).to(DTYPE)
        constraints = self.space.inequality_constraints() or None
        combos = self.space.choice_combinations()
        kwargs = {
            "num_restarts": ACQF_NUM_RESTARTS,
            "raw_samples": ACQF_RAW_SAMPLES,
            "inequality_constraints": constraints,
        }
        if combos:
            x, _ = optimize_acqf_mixed(acqf, bounds, q=n, fixed_features_list=combos, **kwargs)
        else:
            x, _ = optimize_acqf(acqf, bounds, q=n, **kwargs)
        return x.detach().numpy()

    def _prior_points(self, baseline: torch.Tensor, tried: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """The recipes a prior chooses from in a continuous space (unit cube): PRIOR_CANDIDATES Sobol
        points and its baseline (source) points, snapped to the parameters' grids, not tried yet."""
        design = self.space.sobol(PRIOR_CANDIDATES, 0, self.campaign.seed)
        source = baseline.numpy()[self.space.feasible(baseline.numpy())]
        points = self.space.to_unit(self.space.from_unit(np.vstack([design, source])))
        if tried:
            done = self.space.to_unit(tried)
            points = points[np.abs(points[:, None, :] - done[None]).max(axis=2).min(axis=1) > 1e-9]
        return points

    def _reaches_goals(self, prior: Model, points: np.ndarray) -> bool:
        """Whether the prior's mean meets every outcome constraint (target bands included) at one of
        `points` (unit cube). A source that meets them nowhere sits at another level (another
        material): its pick would be where its tails reach furthest, an extreme recipe that says
        little about the target's level, so the start design's first recipe measures that level."""
        with torch.no_grad(), gpytorch.settings.skip_posterior_variances():
            mean = prior.posterior(torch.tensor(points, dtype=DTYPE)).mean
        return bool(self.goals.met(mean).any())

    def _prior_pick(self, acqf: Any, n: int, points: np.ndarray) -> np.ndarray:
        """The prior's best n of `points` (unit cube, `_prior_points`): a discrete maximization,
        since each step of a continuous one pays for the source GPs' posterior over all their points
        (a 1,000-point source: ~8 s a recipe, against well under one here)."""
        choices = torch.tensor(points, dtype=DTYPE)
        picked, _ = optimize_acqf_discrete(acqf, q=n, choices=choices, max_batch_size=128)
        return picked.numpy()

    def _start(
        self, n: int, tried: Sequence[Mapping[str, Any]], free: np.ndarray | None
    ) -> list[tuple[dict, str]]:
        if free is None:
            skip = len(tried)
            return [(r, "sobol") for r in self.space.from_unit(self.space.sobol(n, skip, self.campaign.seed))]
        taken = list(self._pool_x[~free])
        order = np.random.default_rng((self.campaign.seed, len(tried))).permutation(len(self._pool_x))
        chosen = []
        for _ in range(n):
            options = order[free[order]]
            if taken:
                gaps = np.linalg.norm(self._pool_x[options, None, :] - np.array(taken)[None], axis=2).min(
                    axis=1
                )
                best = int(options[int(np.argmax(gaps))])
            else:
                best = int(options[int(np.argmin(np.linalg.norm(self._pool_x[options] - 0.5, axis=1)))])
            chosen.append(best)
            taken.append(self._pool_x[best])
            free[best] = False
        return [(self._pool_recipe(i), "pool-maximin") for i in chosen]

    def _rows(self, recipes: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Pool rows of `recipes` (recipes that are not pool rows are left out)."""
        if not recipes:
            return np.zeros(0, dtype=int)
        rows = []
        for point in self.space.to_unit(recipes):
            close = np.flatnonzero(np.all(np.isclose(self._pool_x, point, rtol=1e-9, atol=1e-12), axis=1))
            rows += close[:1].tolist()
        return np.array(rows, dtype=int)

    def _pool_recipe(self, row: int) -> dict[str, Any]:
        values = self.pool.iloc[row].to_dict()
        for p in self.space.parameters:
            if isinstance(p, RangeParameter) and p.type == "int":
                values[p.name] = int(round(values[p.name]))
        return {**values, **self.campaign.fixed_values}


def in_campaign(campaign: Campaign, candidates: pd.DataFrame) -> pd.DataFrame:
    """The candidate rows inside the campaign's bounds, choices, fixed values and parameter constraints."""
    keep = np.ones(len(candidates), dtype=bool)
    for p in campaign.tuned_parameters:
        column = candidates[p.name].to_numpy(float)
        if isinstance(p, RangeParameter):
            keep &= (column >= p.bounds[0]) & (column <= p.bounds[1])
            if p.type == "int":
                keep &= column == np.round(column)
        else:
            keep &= np.isin(column, np.asarray(p.values, dtype=float))
    for name, value in campaign.fixed_values.items():
        keep &= np.isclose(candidates[name].to_numpy(float), float(value), rtol=1e-9, atol=0.0)
    for constraint in campaign.parameter_constraints:
        keep &= np.array(
            [satisfies(constraint, row) for row in candidates.to_dict(orient="records")], dtype=bool
        )
    return candidates[keep].reset_index(drop=True)


def _notes(predicted: dict[str, float], weights: dict[str, float]) -> dict[str, str]:
    """Trial notes of a model-chosen recipe: what the model predicted, how much it leaned on a prior."""
    notes = {"predicted": json.dumps(predicted)}
    if weights:
        notes["prior_weights"] = json.dumps(weights)
    return notes
