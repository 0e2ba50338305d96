"""Command-line interface `batman`: each module of this package registers its commands on `app`."""

import logging
import warnings

from pandas.errors import Pandas4Warning

from batman_opt.cli import (  # noqa: F401
    commands_campaign,
    commands_lab,
    commands_metrics,
    commands_report,
    commands_simulate,
    commands_surrogate_data,
    commands_train,
    commands_train_drying,
    commands_transfer_data,
)
from batman_opt.cli.app import app


def main() -> None:
    """Entry point of the `batman` console script."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Deprecation and numerical-retry chatter of the BO stack is for its developers, not our users.
    for category in (DeprecationWarning, FutureWarning, Pandas4Warning):
        warnings.filterwarnings("ignore", category=category)
    warnings.filterwarnings("ignore", module=r"(ax|botorch|gpytorch|linear_operator)(\.|$)")
    app()
