"""Transfer learning: source tables and runs (`sources`), priors that warm-start the optimizer
(`priors`: prior mean, multi-task GP, ranking-weighted ensemble, auto), the datasets of the study
(`datasets`) and the TL property models (`models`, `training`: MLP ensembles, fine-tuned)."""
