"""The typer application behind the `batman` command and the one place that turns errors into lines."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console

from batman_opt.errors import BatmanError
from sims.errors import SimError

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
console = Console()
if not console.is_terminal:  # logs and pipes: wide enough for a recipe table, not rich's 80 columns
    console.width = 160
err_console = Console(stderr=True)


def clean_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a command so that the project's errors print one red line and exit with their code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except BatmanError as exc:
            _print_error(exc)
            sys.exit(exc.exit_code)
        except SimError as exc:
            _print_error(exc)
            sys.exit(2)

    return wrapper


def _print_error(exc: Exception) -> None:
    """'error: ...' per line of the message, as plain text (brackets in it are not rich markup)."""
    for line in str(exc).splitlines() or [type(exc).__name__]:
        err_console.print(f"error: {line}", style="red", markup=False, highlight=False, soft_wrap=True)
