"""Transfer learning: source datasets, TL property models (MLP ensembles) and, later, BO priors."""
