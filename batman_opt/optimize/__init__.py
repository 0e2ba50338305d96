"""Optimizer glue: target distances (`targets`) and the Ax/BoTorch client of a campaign (`ax_client`)."""
