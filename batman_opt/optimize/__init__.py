"""Optimizer glue: target distances and outcome constraints (`targets`), the Ax/BoTorch client (`ax_client`)."""
