"""Transfer learning: source datasets and tables, priors that warm-start the optimizer (prior mean,
multi-task GP, ranking-weighted ensemble), and the TL property models."""
