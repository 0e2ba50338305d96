"""Shared by the hostile-input tests: a valid campaign to mutate, and the `batman` CLI run in
process with a wall-clock limit per input, classified as ok / refused (one error line) / traceback / hang."""

from __future__ import annotations

import signal
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from typer.testing import CliRunner

from batman_opt.cli import app

BASE = """\
name: demo
seed: 3
material: NMC111
parameters:
  - {name: solid_content, type: float, bounds: [0.55, 0.75]}
  - {name: comma_gap_um, type: float, bounds: [50, 400]}
  - {name: am_mass_fraction, type: choice, values: [0.94, 0.96]}
  - {name: coating_speed_m_min, type: fixed, value: 0.3}
objectives:
  - {name: density_g_cm3, goal: target, target: 3.0, tolerance: 0.05}
  - {name: tortuosity_factor, goal: minimize}
outcome_constraints: ["porosity >= 0.2"]
parameter_constraints: ["solid_content + 0.001 * comma_gap_um <= 1.1"]
evaluator: {kind: process, agents: 2, timeout_s: 30}
budget: {max_trials: 20, batch_size: 2}
"""

runner = CliRunner()


class Hang(Exception):
    """An input ran past its time limit."""


@dataclass
class Outcome:
    """What one CLI call did: exit code, output, and the uncaught exception's traceback if any."""

    exit_code: int
    output: str
    traceback: str = ""
    hung: bool = False

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.output.splitlines() if line.startswith("error: ")]


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise Hang in this (main) thread after `seconds` of wall time."""

    def expire(signum: int, frame: object) -> None:
        raise Hang(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def batman(args: Sequence[str], seconds: float = 20.0) -> Outcome:
    """Run `batman ARGS` in process (typer's CliRunner) within `seconds`."""
    try:
        with time_limit(seconds):
            result = runner.invoke(app, list(args))
    except Hang:
        return Outcome(-1, "", hung=True)
    tb = ""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        tb = "".join(traceback.format_exception(result.exception))
    if isinstance(result.exception, Hang):
        return Outcome(-1, result.output, tb, hung=True)
    return Outcome(result.exit_code, result.output, tb)
