"""The evaluator agent: a Ray actor that turns recipes into outcomes with one evaluator kind."""

from __future__ import annotations

import os
import socket
import time
from typing import Any

import ray

from batman_opt.evaluators import EvaluatorKind


@ray.remote(max_restarts=0, max_task_retries=0)
class EvaluatorAgent:
    """Runs recipes through the evaluator `kind` for `material`; one recipe at a time."""

    def __init__(self, kind: EvaluatorKind, material: str, options: dict[str, Any], name: str) -> None:
        self.evaluator = kind
        self.material = material
        self.options = options
        self.name = name

    def where(self) -> str:
        """Host and process the agent lives in (for the trial log)."""
        return f"{self.name}@{socket.gethostname()}:{os.getpid()}"

    def evaluate(self, params: dict[str, Any]) -> dict[str, Any]:
        """Outcomes of one recipe with start and end times (UTC epoch s); raises what the evaluator raises."""
        start = time.time()
        outcomes = self.evaluator.evaluate(params, self.material, self.options)
        return {"outcomes": outcomes, "start_time": start, "end_time": time.time()}
