"""Source GPs of the transfer priors: per goal metric, a GP on the pooled source points (hyperparameters
fitted on a seeded subsample, then conditioned on every point), its posterior mean as a cheap
differentiable function of the campaign's unit cube (and as a GP mean, `AffinePriorMean`), the
target's prior until its own GP can be fitted (`SourceGPs.prior`), and the fitted hyperparameters
on disk (safetensors in the run directory) so that a resumed run rebuilds the same prior without a
fit.
"""

from __future__ import annotations

import copy
import json
import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from botorch.exceptions import InputDataWarning
from botorch.models import ModelListGP, SingleTaskGP
from botorch.models.model import Model, ModelList
from gpytorch.kernels import ScaleKernel
from gpytorch.means import Mean
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as safetensors_save

from batman_opt.optimize.generator import fit_gp, standardized_gp

logger = logging.getLogger(__name__)

DTYPE = torch.float64
SOURCE_FIT_POINTS = 300  # source points the hyperparameters are fitted on
MEAN_POINTS = 256  # basis points of a source mean (the kernel cost of every acquisition step)
BASELINE_POINTS = 24  # source points in the acquisition's baseline before target data (cost is cubic)
MIN_SOURCE_POINTS = 3  # fewer points of a metric give it no source GP


@dataclass
class SourceMetrics:
    """One source on the campaign's unit cube: x (n, d) and y (n, m goal metrics, NaN if absent)."""

    name: str
    x: torch.Tensor
    y: torch.Tensor


def hyperparameters(model: SingleTaskGP) -> dict[str, torch.Tensor]:
    """A fitted GP's state without its data-derived outcome scaling (rebuilt from the data)."""
    return {k: v for k, v in model.state_dict().items() if not k.startswith("outcome_transform")}


def fitted_source(
    x: torch.Tensor, y: torch.Tensor, known: dict[str, torch.Tensor] | None = None
) -> tuple[SingleTaskGP, dict[str, torch.Tensor]]:
    """A GP on many source points and its hyperparameters: fitted on a seeded subsample of
    `SOURCE_FIT_POINTS` (exact fits are cubic in the points), or `known` ones (a resumed run's), then
    conditioned on every point."""
    if known is None:
        pick = torch.arange(len(x))
        if len(x) > SOURCE_FIT_POINTS:
            pick = torch.from_numpy(
                np.sort(np.random.default_rng(0).choice(len(x), SOURCE_FIT_POINTS, replace=False))
            )
        known = hyperparameters(fit_gp(standardized_gp(x[pick], y[pick])))
    full = standardized_gp(x, y)
    full.load_state_dict(known, strict=False)
    full.eval()
    return full, known


def maximin(x: np.ndarray, k: int) -> np.ndarray:
    """Indices of k rows of x (n, d) spread over it: from the first row, each time the row farthest
    from those already taken (greedy maximin)."""
    taken = [0]
    gap = np.linalg.norm(x - x[0], axis=1)
    for _ in range(k - 1):
        taken.append(int(np.argmax(gap)))
        gap = np.minimum(gap, np.linalg.norm(x - x[taken[-1]], axis=1))
    return np.array(taken)


def subsample(source: SourceMetrics, n: int) -> SourceMetrics:
    """At most n of the source's points (a seeded draw, in their order)."""
    if len(source.x) <= n:
        return source
    keep = torch.from_numpy(np.sort(np.random.default_rng(0).choice(len(source.x), n, replace=False)))
    return SourceMetrics(source.name, source.x[keep], source.y[keep])


class SourceGPs:
    """Per metric, a GP on the pooled source points (None where no source has that metric).

    fitted: hyperparameters by `<label>/<metric index>/<name>`; those found there are used instead
    of a fit (a resumed run), those fitted here are added (to be saved with the run)."""

    def __init__(
        self,
        sources: list[SourceMetrics],
        n_metrics: int,
        fitted: dict[str, torch.Tensor] | None = None,
        label: str = "pooled",
    ) -> None:
        fitted = {} if fitted is None else fitted
        self.models: list[SingleTaskGP | None] = []
        for j in range(n_metrics):
            xs = [s.x[torch.isfinite(s.y[:, j])] for s in sources]
            ys = [s.y[torch.isfinite(s.y[:, j]), j : j + 1] for s in sources]
            x, y = torch.cat(xs), torch.cat(ys)
            if len(x) < MIN_SOURCE_POINTS:
                self.models.append(None)
                continue
            prefix = f"{label}/{j}/"
            known = {k[len(prefix) :]: v for k, v in fitted.items() if k.startswith(prefix)} or None
            model, hyper = fitted_source(x, y, known)
            fitted.update({prefix + k: v for k, v in hyper.items()})
            self.models.append(model)
        self._weights: dict[int, tuple] = {}
        self._at_fixed: dict[int, tuple] = {}  # per metric: the last inputs without grad and the mean
        self.baseline = torch.cat([s.x for s in sources])
        if len(self.baseline) > BASELINE_POINTS:
            pick = torch.from_numpy(
                np.random.default_rng(0).choice(len(self.baseline), BASELINE_POINTS, replace=False)
            )
            self.baseline = self.baseline[pick]

    def mean(self, j: int, x: torch.Tensor) -> torch.Tensor:
        """Posterior mean of metric j at x (..., n, d) -> (..., n), in the source's units and
        differentiable in x: k(x, Z) w with w solved once (the source GP is not a module of the
        target model: its hyperparameters stay as fitted). Z: the source points, or beyond
        MEAN_POINTS of them a maximin spread of MEAN_POINTS, w then the subset-of-regressors
        weights fitted on every point (an acquisition step pays for the kernel at Z only)."""
        if j not in self._weights:
            model = self.models[j]
            with torch.no_grad():
                train_x, covar = model.train_inputs[0], model.covar_module
                noise = model.likelihood.noise.squeeze()
                constant = model.mean_module(train_x)
                residual = (model.train_targets - constant)[:, None]
                if len(train_x) <= MEAN_POINTS:
                    basis = train_x
                    k = covar(train_x).to_dense() + noise * torch.eye(len(train_x), dtype=DTYPE)
                    w = torch.cholesky_solve(residual, torch.linalg.cholesky(k))
                else:
                    basis = train_x[maximin(train_x.numpy(), MEAN_POINTS)]
                    k_zx = covar(basis, train_x).to_dense()
                    k_zz = covar(basis).to_dense()
                    a = k_zx @ k_zx.T + noise * k_zz
                    a = a + 1e-8 * a.diagonal().mean() * torch.eye(len(basis), dtype=DTYPE)
                    w = torch.linalg.solve(a, k_zx @ residual)
            mu, sigma = outcome_scale(model)
            self._weights[j] = (covar, basis, w.squeeze(-1), constant[0], mu, sigma)
        last = self._at_fixed.get(j)
        if not x.requires_grad and last and last[0] is x and last[1] == x._version:
            return last[2]  # the same tensor, unchanged: a GP fit evaluates its inputs again and again
        covar, basis, w, constant, mu, sigma = self._weights[j]
        value = (covar.forward(x, basis) @ w + constant) * sigma + mu  # dense, without the lazy tensor
        if not x.requires_grad:
            self._at_fixed[j] = (x, x._version, value.detach())
        return value

    @property
    def complete(self) -> bool:
        """Whether every goal metric has a source GP (so that `prior` gives a model)."""
        return all(m is not None for m in self.models)

    def prior(self, x: torch.Tensor, y: torch.Tensor) -> tuple[Model, torch.Tensor, torch.Tensor] | None:
        """The prior of the target before its own GP can be fitted, with the source baseline and
        the prior's predictions there; None if a metric has no source.

        Without target data (x (0, d)): the source GPs. With target points x (n, d), y (n, m): per
        metric a GP whose mean is the source mean shifted by its mean error at those points (another
        material sits at another level) and whose kernel and noise are the source GP's, in the
        source's units, conditioned on the target points: the shifted source near the recipes
        tried, the source's own variability as the uncertainty away from them.
        """
        if not self.complete:
            return None
        if len(x):
            model: Model = ModelList(*(self._conditioned(j, x, y[:, [j]]) for j in range(len(self.models))))
        else:
            model = ModelListGP(*self.models)
        with torch.no_grad():
            baseline_y = model.posterior(self.baseline).mean
        return model, self.baseline, baseline_y

    def _conditioned(self, j: int, x: torch.Tensor, y: torch.Tensor) -> SingleTaskGP:
        source = self.models[j]
        _, sigma = outcome_scale(source)
        with torch.no_grad():
            offset = float((y.squeeze(-1) - self.mean(j, x)).mean())
        covar = ScaleKernel(copy.deepcopy(source.covar_module))
        covar.outputscale = sigma**2
        shift = torch.full((1,), offset, dtype=DTYPE)  # float64: a level far from the source's
        with warnings.catch_warnings():  # in the target's units, on purpose (a few points, no scaling)
            warnings.simplefilter("ignore", InputDataWarning)
            gp = SingleTaskGP(
                x,
                y,
                covar_module=covar,
                mean_module=AffinePriorMean(self, [j], torch.ones(1), shift, x),
                outcome_transform=None,
            )
        gp.likelihood.noise = source.likelihood.noise.detach() * sigma**2
        gp.requires_grad_(False)
        return gp.eval()


class AffinePriorMean(Mean):
    """m_i(x) = a_i * s_i(x) + b_i for output i of a GP, s_i the source GPs' mean of metric
    metrics[i] (0 where metrics[i] is None: a constant mean), in the units of the GP it is the mean
    of (standardized for a fitted target GP). One output: x (..., n, d) -> (..., n); several (a
    batched multi-output GP): x (..., outputs, n, d) -> (..., outputs, n).

    A GP's posterior evaluates its mean at its training inputs followed by the new points, once per
    acquisition step and restart; s at `train_x` is computed once, so that a step costs the source
    kernel at the new points only (a 1,000-point source made that kernel the bulk of a suggestion).
    """

    def __init__(
        self,
        source: SourceGPs,
        metrics: Sequence[int | None],
        a: torch.Tensor,
        b: torch.Tensor,
        train_x: torch.Tensor,
    ) -> None:
        super().__init__()
        self.source, self.metrics, self.train_x = source, list(metrics), train_x
        self.register_parameter("a", torch.nn.Parameter(a.to(DTYPE)))
        self.register_parameter("b", torch.nn.Parameter(b.to(DTYPE)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if len(self.metrics) == 1:
            return self.a[0] * self._source_mean(self.metrics[0], x) + self.b[0]
        s = torch.stack([self._source_mean(j, x[..., i, :, :]) for i, j in enumerate(self.metrics)], dim=-2)
        return self.a[:, None] * s + self.b[:, None]

    def _source_mean(self, j: int | None, x: torch.Tensor) -> torch.Tensor:
        if j is None:
            return torch.zeros(x.shape[:-1], dtype=x.dtype)
        n, batch = len(self.train_x), x.shape[:-2]
        if x.shape[-2] < n or not torch.equal(x[..., :n, :], self.train_x.expand(*batch, -1, -1)):
            return self.source.mean(j, x)
        head = self.source.mean(j, self.train_x).expand(*batch, -1)
        if x.shape[-2] == n:
            return head
        return torch.cat([head, self.source.mean(j, x[..., n:, :])], dim=-1)


def outcome_scale(model: SingleTaskGP) -> tuple[float, float]:
    """Mean and std of a model's training outcomes (its Standardize transform's statistics)."""
    transform = model.outcome_transform
    return float(transform.means.squeeze()), float(transform.stdvs.squeeze())


PRIOR_FORMAT = "batman source-GP hyperparameters 1"


def save_fitted(fitted: dict[str, torch.Tensor], metrics: tuple[str, ...]) -> bytes:
    """The fitted source GPs' hyperparameters as safetensors bytes, tagged with the goal metrics."""
    tensors = {k: v.detach().contiguous() for k, v in fitted.items()}
    return safetensors_save(tensors, {"format": PRIOR_FORMAT, "metrics": json.dumps(list(metrics))})


def load_fitted(path: Path, metrics: tuple[str, ...]) -> dict[str, torch.Tensor]:
    """The hyperparameters `save_fitted` wrote to `path` for these goal metrics; empty (the prior is
    fitted again, with a warning) when the file is absent, unreadable or of other metrics."""
    if not path.exists():
        return {}
    try:
        with safe_open(path, framework="pt") as handle:
            meta = handle.metadata() or {}
            if meta.get("format") != PRIOR_FORMAT or json.loads(meta.get("metrics", "null")) != list(metrics):
                raise ValueError("another format or other goal metrics")
            return {k: handle.get_tensor(k) for k in handle.keys()}
    except (OSError, ValueError, SafetensorError) as error:
        logger.warning("%s: not used (%s); the transfer prior is fitted again", path, error)
        return {}
