"""batman-opt: Bayesian optimization and active learning of battery electrode manufacturing."""

__version__ = "0.1.0"
