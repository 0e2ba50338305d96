"""The project's exception hierarchy; the CLI turns each into one clear line and an exit code."""


class BatmanError(Exception):
    """Base of every error batman-opt raises on purpose."""

    exit_code = 1


class SpecError(BatmanError):
    """A campaign file (or other user input) is invalid: the message names file, line and field."""

    exit_code = 2


class InputError(BatmanError):
    """A parameter value, image or data file given by the user is unusable."""

    exit_code = 2


class RunDirError(BatmanError):
    """A run directory is locked by another manager or unreadable."""

    exit_code = 3


class ClusterError(BatmanError):
    """The Ray cluster named by --address (or ray.address) cannot be joined."""

    exit_code = 4
