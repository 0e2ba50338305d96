"""Command-line interface `batman`: each module of this package registers its commands on `app`."""

from batman_opt.cli import commands_campaign, commands_metrics, commands_simulate  # noqa: F401
from batman_opt.cli.app import app


def main() -> None:
    """Entry point of the `batman` console script."""
    app()
