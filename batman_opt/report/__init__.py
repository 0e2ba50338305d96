"""Reports of a run: the Pareto-optimal recipes (`pareto_recipes`), the run's status, and the
cards of the HTML report (one module per figure, assembled by `report.html`)."""

from batman_opt.report.pareto import Recipe, pareto_front, pareto_recipes, run_status

__all__ = ["Recipe", "pareto_front", "pareto_recipes", "run_status"]
