"""Transfer priors: model factories (batman_opt.optimize.generator.ModelFactory) that warm-start a
campaign's GPs with source data. Every model works on the unit cube of the campaign's parameters
and returns one output per goal metric, in the target's units.

- `PriorMeanModels` ("prior_mean"): per metric, a GP fitted once on the sources (pooled) is the mean
  function of the target GP, m(x) = a * s(x) + b with a and b learned with the kernel by marginal
  likelihood from the target data, so that the GP models the residual; a source that does not help
  gets a -> 0. The metrics' GPs are one batched model (one posterior per acquisition step).
- `MultiTaskModels` ("multitask"): per metric, one `MultiTaskGP` over the source tasks and the target
  task (an index kernel learns the inter-task correlation from the data); at most
  `MULTITASK_SOURCE_POINTS` points per source, so that a suggestion stays fast.
- `EnsembleModels` ("ensemble"): the ranking-weighted GP ensemble (RGPE, Feurer et al. 2018, as in
  BoTorch's tutorial): one GP per source (at most `ENSEMBLE_SOURCE_POINTS` of its points) and one
  on the target, weighted by how often each ranks the target data best (bootstrap of the pairwise
  ranking loss; leave-one-out predictions for the target GP), outputs combined in standardized
  units and mapped back to the target's.
- `AutoModels` ("auto"): at each fit and for each goal metric, prior_mean or no prior, whichever
  predicts the target data better left out one at a time (mean leave-one-out log density); the
  choices are logged.
Before `min_points` target points exist, every prior proposes recipes with the pooled source GP
(no Sobol start; the first recipe is the space-filling design's where the source meets the goals'
constraints nowhere), shifted onto the first target points and conditioned on them
(`SourceGPs.prior`). Source metrics are the campaign's goal metrics computed from the source outcomes
(`target_distance` included); a metric no source has is modelled without prior.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import torch
from botorch.models import MultiTaskGP, SingleTaskGP
from botorch.models.model import Model, ModelList
from botorch.posteriors import GPyTorchPosterior
from gpytorch.distributions import MultivariateNormal

from batman_opt.optimize.acquisition import Goals
from batman_opt.optimize.generator import ModelFactory, fit_gp, standardized_gp
from batman_opt.optimize.space import UnitSpace
from batman_opt.optimize.targets import TARGET_DISTANCE, target_distance
from batman_opt.spec import Campaign
from batman_opt.transfer.multitask_fit import fit_multitask
from batman_opt.transfer.source_gps import (
    DTYPE,
    MIN_SOURCE_POINTS,
    AffinePriorMean,
    SourceGPs,
    SourceMetrics,
    outcome_scale,
    subsample,
)
from batman_opt.transfer.sources import SourceData

logger = logging.getLogger(__name__)

MULTITASK_SOURCE_POINTS = 75  # against 150: a continuous suggestion's median 1.7 s against 2.6, the same
# median evaluations on the three transfer_bo campaigns (benchmarks/README.md)
ENSEMBLE_SOURCE_POINTS = 300  # points of each source's GP in the ensemble: its full posterior is
# evaluated at every acquisition step (1,000 points: ~30 ms a step, 17 s a continuous suggestion)
BOOTSTRAP_SAMPLES = 256


class PriorMeanModels:
    """Target GPs whose mean is a learned affine map of the source GP's mean (see module doc)."""

    name = "botorch+prior_mean"
    min_points = 3

    def __init__(
        self, sources: list[SourceMetrics], n_metrics: int, fitted: dict[str, torch.Tensor] | None = None
    ) -> None:
        self.source = SourceGPs(sources, n_metrics, fitted)
        self.weights: dict[str, float] = {}

    def fit(self, x: torch.Tensor, y: torch.Tensor) -> Model:
        metrics = [j if m is not None else None for j, m in enumerate(self.source.models)]
        model = self.affine_gp(x, y, metrics)
        # the prior's share: the spread of a * s(x) over the target points, in units of the target's
        # own spread (~1: the prior carries the trend; ~0: the GP ignores it)
        with torch.no_grad():
            self.weights = {
                f"prior share, metric {j}": float(abs(model.mean_module.a[j]) * self.source.mean(j, x).std())
                for j in metrics
                if j is not None
            }
        return model

    def affine_gp(self, x: torch.Tensor, y: torch.Tensor, metrics: list[int | None]) -> SingleTaskGP:
        """One GP over the metrics (batched), output i with the source mean of metrics[i] scaled and
        shifted (a, b fitted with the kernel) as its mean; a constant mean where metrics[i] is None.
        a starts at 1 / (the target's std), b at -mean / std (the source in the target's units;
        b at 0 without a source: the standardized outcomes' mean)."""
        mu, sigma = y.mean(dim=0), y.std(dim=0).clamp_min(1e-9)
        sourced = torch.tensor([j is not None for j in metrics])
        mean = AffinePriorMean(self.source, metrics, 1.0 / sigma, torch.where(sourced, -mu / sigma, 0.0), x)
        return fit_gp(standardized_gp(x, y, mean))

    def prior(self, x: torch.Tensor, y: torch.Tensor) -> tuple[Model, torch.Tensor, torch.Tensor] | None:
        return self.source.prior(x, y)

    @property
    def has_prior(self) -> bool:
        return self.source.complete


class MultiTaskModels:
    """One MultiTaskGP per metric over the source tasks and the target task (the last one)."""

    name = "botorch+multitask"
    min_points = 2
    weights: dict[str, float] = {}  # the inter-task correlations stay inside the index kernels

    def __init__(
        self, sources: list[SourceMetrics], n_metrics: int, fitted: dict[str, torch.Tensor] | None = None
    ) -> None:
        self.sources = [subsample(s, MULTITASK_SOURCE_POINTS) for s in sources]
        self.pooled = SourceGPs(sources, n_metrics, fitted)

    def fit(self, x: torch.Tensor, y: torch.Tensor) -> Model:
        """Per metric, a MultiTaskGP fitted from BoTorch's start (`fit_multitask`), not from the
        previous fit's hyperparameters: a fit at a few target points can end with a target that is
        all source, and a next fit started there stays (lab_nmc_transfer: 3 of 20 seeds took 36-41
        evaluations against 8-12)."""
        models = []
        target = len(self.sources)
        for j in range(y.shape[1]):
            xs, ys = [], []
            for task, s in enumerate(self.sources):
                ok = torch.isfinite(s.y[:, j])
                xs.append(
                    torch.cat([s.x[ok], torch.full((int(ok.sum()), 1), float(task), dtype=DTYPE)], dim=1)
                )
                ys.append(s.y[ok, j : j + 1])
            xs.append(torch.cat([x, torch.full((len(x), 1), float(target), dtype=DTYPE)], dim=1))
            ys.append(y[:, [j]])
            model = MultiTaskGP(torch.cat(xs), torch.cat(ys), task_feature=-1, output_tasks=[target])
            fit_multitask(model)
            models.append(model)
        return ModelList(*models)

    def prior(self, x: torch.Tensor, y: torch.Tensor) -> tuple[Model, torch.Tensor, torch.Tensor] | None:
        return self.pooled.prior(x, y)

    @property
    def has_prior(self) -> bool:
        return self.pooled.complete


class WeightedEnsemble(Model):
    """One output: sum_i w_i * standardized model i, mapped to the target's units (mean, std)."""

    def __init__(
        self,
        models: list[Model],
        weights: list[float],
        scales: list[tuple[float, float]],
        target: tuple[float, float],
    ) -> None:
        super().__init__()
        self.members = [(m, w, s) for m, w, s in zip(models, weights, scales, strict=True) if w > 0]
        self.target = target

    @property
    def num_outputs(self) -> int:
        return 1

    def posterior(self, X, output_indices=None, observation_noise=False, posterior_transform=None, **kwargs):
        mean, covar = 0.0, 0.0
        for model, weight, (mu, sigma) in self.members:
            mvn = model.posterior(X).distribution
            mean = mean + weight * (mvn.mean - mu) / sigma
            covar = covar + weight**2 * mvn.lazy_covariance_matrix / sigma**2
        mu_t, sigma_t = self.target
        posterior = GPyTorchPosterior(MultivariateNormal(mean * sigma_t + mu_t, covar * sigma_t**2))
        return posterior if posterior_transform is None else posterior_transform(posterior)


class EnsembleModels:
    """Ranking-weighted GP ensemble of one GP per source and one on the target (see module doc)."""

    name = "botorch+ensemble"
    min_points = 3

    def __init__(
        self, sources: list[SourceMetrics], n_metrics: int, fitted: dict[str, torch.Tensor] | None = None
    ) -> None:
        self.per_source = [
            SourceGPs([subsample(s, ENSEMBLE_SOURCE_POINTS)], n_metrics, fitted, f"source {s.name}")
            for s in sources
        ]
        self.pooled = SourceGPs(sources, n_metrics, fitted)
        self.names = [s.name for s in sources]
        self.last_weights: list[dict[str, float]] = []
        self.weights: dict[str, float] = {}

    def fit(self, x: torch.Tensor, y: torch.Tensor) -> Model:
        members, self.last_weights = [], []
        rng = np.random.default_rng(len(x))
        for j in range(y.shape[1]):
            target = fit_gp(standardized_gp(x, y[:, [j]]))
            bases = [
                (g.models[j], name)
                for g, name in zip(self.per_source, self.names, strict=True)
                if g.models[j]
            ]
            predictions = [m.posterior(x).mean.detach().squeeze(-1).numpy() for m, _ in bases]
            predictions.append(_loo_mean(target).numpy())
            weights = _ranking_weights(predictions, y[:, j].numpy(), rng)
            scales = [outcome_scale(m) for m, _ in bases] + [outcome_scale(target)]
            stats = (float(y[:, j].mean()), float(y[:, j].std().clamp_min(1e-9)))
            members.append(WeightedEnsemble([m for m, _ in bases] + [target], weights, scales, stats))
            self.last_weights.append(dict(zip([n for _, n in bases] + ["target"], weights, strict=True)))
        logger.info("ensemble weights: %s", self.last_weights)
        self.weights = {
            f"{name}, metric {j}": w for j, ws in enumerate(self.last_weights) for name, w in ws.items()
        }
        return ModelList(*members)

    def prior(self, x: torch.Tensor, y: torch.Tensor) -> tuple[Model, torch.Tensor, torch.Tensor] | None:
        return self.pooled.prior(x, y)

    @property
    def has_prior(self) -> bool:
        return self.pooled.complete


def _loo(model: SingleTaskGP) -> tuple[torch.Tensor, torch.Tensor]:
    """Leave-one-out predictive means and variances of an exact GP at its training points (closed
    form), in its standardized units, per output: (..., n) each."""
    model.train()  # the prior at the training points, not the posterior
    with torch.no_grad():
        prior = model.likelihood(model(*model.train_inputs))
        z = model.train_targets
        inverse = torch.linalg.inv(prior.covariance_matrix)
        diag = inverse.diagonal(dim1=-2, dim2=-1)
        mean = z - (inverse @ (z - prior.mean).unsqueeze(-1)).squeeze(-1) / diag
    model.eval()
    return mean, 1.0 / diag


def _loo_mean(model: SingleTaskGP) -> torch.Tensor:
    """Leave-one-out means of a single-output GP at its training points, in its outcome's units."""
    mu, sigma = outcome_scale(model)
    return _loo(model)[0] * sigma + mu


def _ranking_weights(predictions: list[np.ndarray], y: np.ndarray, rng: np.random.Generator) -> list[float]:
    """RGPE weights: share of bootstrap samples in which each model misranks the fewest pairs of y."""
    n = len(y)
    wins = np.zeros(len(predictions))
    for _ in range(BOOTSTRAP_SAMPLES):
        sample = rng.integers(n, size=n)
        truth = y[sample][:, None] < y[sample][None, :]
        losses = np.array([np.sum((p[sample][:, None] < p[sample][None, :]) ^ truth) for p in predictions])
        best = np.flatnonzero(losses == losses.min())
        wins[best] += 1.0 / len(best)
    return (wins / BOOTSTRAP_SAMPLES).tolist()


class AutoModels:
    """At each fit and for each goal metric, the prior-mean GP or the plain GP, whichever has the
    larger leave-one-out log density on the target data: a source can carry one metric's trend
    and mislead another's (another simulator gets the mass balance right and the packing wrong)."""

    min_points = 3

    def __init__(
        self, sources: list[SourceMetrics], n_metrics: int, fitted: dict[str, torch.Tensor] | None = None
    ) -> None:
        self.with_prior = PriorMeanModels(sources, n_metrics, fitted)
        self.name = "botorch+auto"
        self.choices: list[str] = []
        self.weights: dict[str, float] = {}

    def fit(self, x: torch.Tensor, y: torch.Tensor) -> Model:
        m = y.shape[1]
        with_prior = self.with_prior.fit(x, y)
        plain = self.with_prior.affine_gp(x, y, [None] * m)
        scores = torch.stack([_loo_likelihood(with_prior), _loo_likelihood(plain)]).reshape(2, m)
        use = scores[0] > scores[1]
        choices = ["prior_mean" if u else "none" for u in use.tolist()]
        if choices != self.choices:
            pairs = scores.T.tolist()
            logger.warning(
                "transfer auto: %s (leave-one-out log-likelihood %s)",
                ", ".join(choices),
                "; ".join(f"metric {j}: prior_mean {a:.2f}, none {b:.2f}" for j, (a, b) in enumerate(pairs)),
            )
        self.choices = choices
        kinds = set(choices)
        self.name = f"botorch+auto:{kinds.pop() if len(kinds) == 1 else 'mixed'}"
        shares = self.with_prior.weights
        self.weights = {
            f"prior share, metric {j}": shares.get(f"prior share, metric {j}", 0.0) if u else 0.0
            for j, u in enumerate(use.tolist())
        }
        if use.all():
            return with_prior
        if not use.any():
            return plain
        return self._mixed(with_prior, plain, use, x, y)

    def _mixed(
        self,
        with_prior: SingleTaskGP,
        plain: SingleTaskGP,
        use: torch.Tensor,
        x: torch.Tensor,
        y: torch.Tensor,
    ) -> SingleTaskGP:
        """One batched GP whose output j is `with_prior`'s where use[j], `plain`'s elsewhere (both are
        fitted batched GPs of the same structure: their hyperparameters are picked output by output)."""
        metrics = [j if u else None for j, u in enumerate(use.tolist())]
        ones = torch.ones(len(use))
        model = standardized_gp(x, y, AffinePriorMean(self.with_prior.source, metrics, ones, 0 * ones, x))
        own, other = with_prior.state_dict(), plain.state_dict()
        picked = {
            k: torch.where(use.reshape(-1, *[1] * (v.dim() - 1)), v, other[k])
            if v.dim() and v.shape[0] == len(use)
            else v
            for k, v in own.items()
            if not k.startswith("outcome_transform")
        }
        model.load_state_dict(picked, strict=False)
        return model.eval()

    def prior(self, x: torch.Tensor, y: torch.Tensor) -> tuple[Model, torch.Tensor, torch.Tensor] | None:
        return self.with_prior.prior(x, y)

    @property
    def has_prior(self) -> bool:
        return self.with_prior.has_prior


def _loo_likelihood(gp: SingleTaskGP) -> torch.Tensor:
    """Mean leave-one-out predictive log density of a fitted exact GP's training data, per output
    (standardized units: the same for two GPs of the same data)."""
    mean, var = _loo(gp)
    return (-0.5 * (torch.log(2 * math.pi * var) + (gp.train_targets - mean) ** 2 / var)).mean(dim=-1)


METHODS = {
    "prior_mean": PriorMeanModels,
    "multitask": MultiTaskModels,
    "ensemble": EnsembleModels,
    "auto": AutoModels,
}


def source_metrics(source: SourceData, space: UnitSpace, goals: Goals, campaign: Campaign) -> SourceMetrics:
    """A source's points on the unit cube with its goal metrics (NaN where it lacks an outcome)."""
    n = len(source.x)
    columns = []
    for metric in goals.metrics:
        if metric == TARGET_DISTANCE:
            names = [t.name for t in campaign.targets]
            if all(name in source.outcomes for name in names):
                outcomes = [{name: source.outcomes[name][i] for name in names} for i in range(n)]
                columns.append([target_distance(o, campaign.targets) for o in outcomes])
            else:
                columns.append([np.nan] * n)
        else:
            columns.append(source.outcomes.get(metric, np.full(n, np.nan)).tolist())
    x = torch.tensor(space.to_unit(source.x), dtype=DTYPE)
    return SourceMetrics(source.name, x, torch.tensor(np.array(columns, dtype=float).T, dtype=DTYPE))


def build_models(
    campaign: Campaign, sources: list[SourceData], fitted: dict[str, torch.Tensor] | None = None
) -> ModelFactory:
    """The model factory of the campaign's transfer method over its loaded sources; `fitted`: the
    source GPs' hyperparameters, used where present and completed with the ones fitted here."""
    space, goals = UnitSpace(campaign), Goals.of(campaign)
    metrics = [source_metrics(s, space, goals, campaign) for s in sources]
    for j, metric in enumerate(goals.metrics):
        given = sum(int(torch.isfinite(m.y[:, j]).sum()) for m in metrics)
        if given < MIN_SOURCE_POINTS:
            logger.warning(
                "transfer: the sources give %d values of %s, fewer than %d: no source GP of it, so the "
                "first recipes are space-filling instead of the prior's",
                given,
                metric,
                MIN_SOURCE_POINTS,
            )
    return METHODS[campaign.transfer.method](metrics, len(goals.metrics), fitted)
