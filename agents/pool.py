"""A pool of evaluator agents: asynchronous submission, timeouts, and replacement of dead agents.

The pool hands out one recipe per idle agent and reports each result as soon as it is ready. An
evaluation that raises, or runs past the campaign's timeout, becomes a failed result with the
reason; an agent process that dies (or is killed on timeout) is replaced by a fresh one.

A dead agent is the recipe's fault only when Ray says the actor died (its process exited) after it
started on a node that is still alive. When its node is lost, the agent never started, or it became
unreachable, the result is `lost`:
the trial was not evaluated and the manager issues it again, up to MAX_LOSSES times (a recipe that
keeps taking its agent down then fails with the reason).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import ray
from ray.exceptions import ActorDiedError, GetTimeoutError, RayActorError, RayTaskError

from agents.evaluator import EvaluatorAgent
from batman_opt.evaluators import EvaluatorSetup, get_evaluator
from batman_opt.spec import EvaluatorSpec

logger = logging.getLogger(__name__)

MAX_LOSSES = 3  # times one trial may lose its agent to a lost node or connection before it fails


@dataclass
class Result:
    """What became of one submitted recipe."""

    trial: int
    params: dict[str, Any]
    agent: str
    ok: bool
    outcomes: dict[str, float] = field(default_factory=dict)
    reason: str = ""
    start_time: float = 0.0
    end_time: float = 0.0
    notes: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, bytes] = field(default_factory=dict)
    lost: bool = False  # not evaluated: its agent's node (or the connection to it) was lost


@dataclass
class _Job:
    trial: int
    params: dict[str, Any]
    slot: int
    ref: ray.ObjectRef
    started: float


class AgentPool:
    """`spec.agents` evaluator actors, each busy with at most one recipe."""

    def __init__(self, spec: EvaluatorSpec, material: str, setup: EvaluatorSetup) -> None:
        self.spec = spec
        self.material = material
        self.setup = setup
        self._generation = [0] * spec.agents
        self._node_refs: list[ray.ObjectRef | None] = [None] * spec.agents
        self._actors = [self._start(slot) for slot in range(spec.agents)]
        self._jobs: dict[ray.ObjectRef, _Job] = {}
        self._losses: dict[int, int] = {}

    def _name(self, slot: int) -> str:
        generation = self._generation[slot]
        return f"{self.spec.kind}-{slot}" + (f".{generation}" if generation else "")

    def _start(self, slot: int) -> Any:
        resources = dict(self.spec.resources)
        actor = EvaluatorAgent.options(num_cpus=self.spec.cpus_per_agent, resources=resources).remote(
            get_evaluator(self.spec.kind),
            self.material,
            dict(self.spec.options),
            self.setup,
            self._name(slot),
        )
        self._node_refs[slot] = actor.node_id.remote()
        return actor

    def _died_on_live_node(self, slot: int) -> bool:
        """Whether the agent of `slot` had started (it told its node) on a node that is still alive;
        an agent that never started cannot have run its recipe."""
        ref = self._node_refs[slot]
        if ref is None or not ray.wait([ref], timeout=0)[0]:
            return False
        try:
            node = ray.get(ref, timeout=1)
        except (RayActorError, GetTimeoutError):
            return False
        return any(n["NodeID"] == node and n["Alive"] for n in ray.nodes())

    def _replace(self, slot: int) -> None:
        ray.kill(self._actors[slot], no_restart=True)
        self._generation[slot] += 1
        self._actors[slot] = self._start(slot)
        logger.warning("agent slot %d replaced by %s", slot, self._name(slot))

    @property
    def idle_slots(self) -> list[int]:
        busy = {job.slot for job in self._jobs.values()}
        return [slot for slot in range(len(self._actors)) if slot not in busy]

    @property
    def running(self) -> list[int]:
        """Trial ids in flight."""
        return [job.trial for job in self._jobs.values()]

    def submit(self, slot: int, trial: int, params: dict[str, Any]) -> None:
        """Start `params` (trial id `trial`) on the idle agent `slot`."""
        ref = self._actors[slot].evaluate.remote(params)
        self._jobs[ref] = _Job(trial, params, slot, ref, time.time())

    def wait(self, poll_s: float = 1.0) -> list[Result]:
        """Results ready within `poll_s` seconds (possibly none), timed-out trials included."""
        if not self._jobs:
            return []
        now = time.time()
        next_deadline = min(job.started + self.spec.timeout_s for job in self._jobs.values())
        timeout = max(0.0, min(poll_s, next_deadline - now))
        ready, _ = ray.wait(list(self._jobs), num_returns=len(self._jobs), timeout=timeout)
        results = [self._collect(self._jobs.pop(ref)) for ref in ready]
        now = time.time()
        for ref, job in list(self._jobs.items()):
            if now - job.started > self.spec.timeout_s:
                del self._jobs[ref]
                name = self._name(job.slot)
                self._replace(job.slot)
                results.append(self._failed(job, f"timed out after {self.spec.timeout_s:g} s", now, name))
        return results

    def _collect(self, job: _Job) -> Result:
        name = self._name(job.slot)
        try:
            value = ray.get(job.ref, timeout=30)
        except RayTaskError as exc:
            cause = exc.cause if getattr(exc, "cause", None) is not None else exc
            return self._failed(job, f"{type(cause).__name__}: {_first_line(cause)}", time.time(), name)
        except (RayActorError, GetTimeoutError) as exc:
            # the recipe took its agent down only if Ray saw the actor die on a node that lives on
            recipe = isinstance(exc, ActorDiedError) and self._died_on_live_node(job.slot)
            self._replace(job.slot)
            losses = self._losses.get(job.trial, 0) + 1
            if recipe or losses > MAX_LOSSES:
                times = f" ({losses} times)" if losses > 1 else ""
                return self._failed(job, f"agent {name} died{times}: {_first_line(exc)}", time.time(), name)
            self._losses[job.trial] = losses
            logger.warning(
                "trial %d lost its agent %s (node or connection lost); issued again", job.trial, name
            )
            lost = self._failed(job, f"agent {name} lost: {_first_line(exc)}", time.time(), name)
            lost.lost = True
            return lost
        return Result(
            job.trial,
            job.params,
            name,
            True,
            value["outcomes"],
            "",
            value["start_time"],
            value["end_time"],
            value["notes"],
            value["artifacts"],
        )

    @staticmethod
    def _failed(job: _Job, reason: str, end: float, name: str) -> Result:
        return Result(job.trial, job.params, name, False, {}, reason, job.started, end)

    def shutdown(self) -> None:
        """Kill every agent (in-flight trials are abandoned; a resumed run re-issues them)."""
        for actor in self._actors:
            ray.kill(actor, no_restart=True)
        self._jobs.clear()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
