"""The evaluator agent: a Ray actor that builds one evaluator once and turns recipes into outcomes."""

from __future__ import annotations

import os
import socket
import time
from typing import Any

import ray

from batman_opt.evaluators import EvaluatorKind, EvaluatorSetup


@ray.remote(max_restarts=0, max_task_retries=0)
class EvaluatorAgent:
    """Runs recipes through one evaluator of `kind`, built here once (its heavy state included)."""

    def __init__(
        self, kind: EvaluatorKind, material: str, options: dict[str, Any], setup: EvaluatorSetup, name: str
    ) -> None:
        self.evaluator = kind.build(material, options, setup)
        self.name = name

    def where(self) -> str:
        """Host and process the agent lives in (for the trial log)."""
        return f"{self.name}@{socket.gethostname()}:{os.getpid()}"

    def node_id(self) -> str:
        """The Ray node the agent lives on (to tell a lost node from a recipe that kills its agent)."""
        return ray.get_runtime_context().get_node_id()

    def evaluate(self, params: dict[str, Any]) -> dict[str, Any]:
        """Outcomes, notes and artifacts of one recipe with start and end times (UTC epoch s);
        raises what the evaluator raises."""
        start = time.time()
        evaluation = self.evaluator.evaluate(params)
        return {
            "outcomes": evaluation.outcomes,
            "notes": evaluation.notes,
            "artifacts": evaluation.artifacts,
            "start_time": start,
            "end_time": time.time(),
        }
