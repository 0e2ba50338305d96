"""Ray actors of batman-opt: evaluator agents (`evaluator`), the pool that keeps them busy and
alive (`pool`), and the campaign loop that drives them from the optimizer (`manager`)."""
