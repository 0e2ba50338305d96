"""Errors raised by the simulators; batman_opt's CLI turns them into one clear line."""


class SimError(Exception):
    """Base of the errors raised on purpose in sims."""


class PhysicalInputError(SimError, ValueError):
    """An input is unphysical (negative size, fraction outside [0, 1]...); the message names it."""


class SimulationFailed(SimError, RuntimeError):
    """A run stopped on a broken state (NaN, escaping particles, exploding energy, deep overlaps)."""
