"""The campaign's tuned parameters on the unit cube, for the BoTorch generators that work beside Ax
(pools, transfer priors): ranges scaled linearly (or in log for log_scale), numeric choices by their
span and snapped back to the nearest value, integers rounded, fixed values merged into recipes.
Parameter constraints become BoTorch inequality constraints on the unit cube."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.quasirandom import SobolEngine

from batman_opt.constraints import linear_form
from batman_opt.spec import Campaign, ChoiceParameter, RangeParameter

MAX_CHOICE_COMBINATIONS = 64


class UnitSpace:
    """Encoding of a campaign's tuned parameters as points of [0, 1]^d."""

    def __init__(self, campaign: Campaign) -> None:
        self.campaign = campaign
        self.parameters: list[RangeParameter | ChoiceParameter] = campaign.tuned_parameters
        self.names = [p.name for p in self.parameters]
        low, high, log = [], [], []
        for p in self.parameters:
            if isinstance(p, ChoiceParameter):
                if any(isinstance(v, str) for v in p.values):
                    raise ValueError(
                        f"choice {p.name!r} has text values: not supported with pools or transfer"
                    )
                low.append(min(p.values)), high.append(max(p.values)), log.append(False)
            else:
                low.append(p.bounds[0]), high.append(p.bounds[1]), log.append(p.log_scale)
        self._log = np.array(log)
        self._low = np.where(self._log, np.log(np.maximum(low, 1e-300)), low)
        self._high = np.where(self._log, np.log(np.maximum(high, 1e-300)), high)
        self._span = np.where(self._high > self._low, self._high - self._low, 1.0)

    @property
    def dim(self) -> int:
        return len(self.parameters)

    def to_unit(self, recipes: Sequence[Mapping[str, Any]] | np.ndarray) -> np.ndarray:
        """(n, d) unit coordinates of recipes (dicts by name, or rows of values in campaign order)."""
        if isinstance(recipes, np.ndarray):
            x = recipes.astype(float).reshape(-1, self.dim)
        else:
            x = np.array([[float(r[n]) for n in self.names] for r in recipes], dtype=float).reshape(
                -1, self.dim
            )
        x = np.where(self._log, np.log(np.maximum(x, 1e-300)), x)
        return (x - self._low) / self._span

    def from_unit(self, unit: np.ndarray) -> list[dict[str, Any]]:
        """Recipes (fixed values merged in) of unit points, snapped to integers and choices."""
        values = self._low + np.clip(unit, 0.0, 1.0) * self._span
        values = np.where(self._log, np.exp(values), values)
        recipes = []
        for row in np.atleast_2d(values):
            recipe: dict[str, Any] = {}
            for p, v in zip(self.parameters, row, strict=True):
                if isinstance(p, ChoiceParameter):
                    recipe[p.name] = min(p.values, key=lambda c, v=v: abs(float(c) - v))
                elif p.type == "int":
                    recipe[p.name] = int(np.clip(round(v), p.bounds[0], p.bounds[1]))
                else:
                    recipe[p.name] = float(np.clip(v, p.bounds[0], p.bounds[1]))
            recipes.append({**recipe, **self.campaign.fixed_values})
        return recipes

    def inequality_constraints(self) -> list[tuple[torch.Tensor, torch.Tensor, float]]:
        """Parameter constraints as BoTorch's (indices, coefficients, rhs): sum c_i x_i >= rhs."""
        constraints = []
        for text in self.campaign.parameter_constraints:
            coefs, rhs, op = linear_form(text)
            sign = -1.0 if op == "<=" else 1.0
            index = [self.names.index(n) for n in coefs]
            # value = low + u * span (linear ranges only: log ranges cannot carry linear constraints)
            scaled = [sign * coefs[n] * self._span[i] for n, i in zip(coefs, index, strict=True)]
            shift = sum(coefs[n] * self._low[i] for n, i in zip(coefs, index, strict=True))
            constraints.append(
                (torch.tensor(index), torch.tensor(scaled, dtype=torch.float64), float(sign * (rhs - shift)))
            )
        return constraints

    def feasible(self, unit: np.ndarray) -> np.ndarray:
        """Whether each unit point satisfies the parameter constraints."""
        ok = np.ones(len(unit), dtype=bool)
        for index, coefs, rhs in self.inequality_constraints():
            ok &= unit[:, index.numpy()] @ coefs.numpy() >= rhs - 1e-9
        return ok

    def choice_combinations(self) -> list[dict[int, float]]:
        """Fixed-feature dicts (unit coordinates) over every combination of the choice values."""
        choices = [(i, p) for i, p in enumerate(self.parameters) if isinstance(p, ChoiceParameter)]
        if not choices:
            return []
        grids = [[(i, (float(v) - self._low[i]) / self._span[i]) for v in p.values] for i, p in choices]
        combos = [dict(c) for c in itertools.product(*grids)]
        if len(combos) > MAX_CHOICE_COMBINATIONS:
            raise ValueError(
                f"{len(combos)} combinations of choice values: at most {MAX_CHOICE_COMBINATIONS}"
            )
        return combos

    def sobol(self, n: int, skip: int, seed: int) -> np.ndarray:
        """n scrambled Sobol points (after the first `skip`) that satisfy the parameter constraints."""
        engine = SobolEngine(self.dim, scramble=True, seed=seed)
        engine.fast_forward(skip)
        points: list[np.ndarray] = []
        for _ in range(100):
            draw = engine.draw(max(n, 16)).numpy().astype(float)
            points += list(draw[self.feasible(draw)])
            if len(points) >= n:
                break
        return np.array(points[:n]).reshape(-1, self.dim)
