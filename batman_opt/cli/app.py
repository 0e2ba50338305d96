"""The typer application behind the `batman` command and the one place that turns errors into lines."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from batman_opt.errors import BatmanError, InputError
from sims.errors import SimError

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
console = Console()
if not console.is_terminal:  # logs and pipes: wide enough for a recipe table, not rich's 80 columns
    console.width = 160
err_console = Console(stderr=True)
MAX_LINE = 1000  # characters of one error line


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


def check_output(path: Path, suffixes: tuple[str, ...], option: str) -> None:
    """InputError unless `path` can be written as a file of one of `suffixes`: its folder exists and
    it is not a folder itself."""
    if path.suffix.lower() not in suffixes:
        kinds = " or ".join(suffixes)
        raise InputError(f"{option} {path}: use a {kinds} file name")
    if path.is_dir():
        raise InputError(f"{option} {path} is a folder; name a file in it")
    if not path.parent.is_dir():
        raise InputError(f"{option} {path}: the folder {path.parent} does not exist")


@contextmanager
def writing(path: Path, option: str) -> Iterator[None]:
    """Turn a failed write of `path` (full disk, permissions) into one InputError line."""
    try:
        yield
    except OSError as exc:
        raise InputError(f"{option} {path}: cannot write ({exc.strerror or exc})") from None


@contextmanager
def stage_progress(prefix: str, quiet: bool) -> Iterator[Callable[[str, int, int], None]]:
    """Progress bars of a job that reports `(stage, done, total)`: one bar a stage, named
    `prefix + stage`, added when the stage first reports (none with `quiet`)."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, disable=quiet) as progress:
        bars: dict[str, TaskID] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in bars:
                bars[stage] = progress.add_task(prefix + stage, total=total)
            progress.update(bars[stage], completed=done)

        yield report


def _print_error(exc: Exception) -> None:
    """'error: ...' per line of the message, as plain text (brackets in it are not rich markup)."""
    for line in str(exc).splitlines() or [type(exc).__name__]:
        if len(line) > MAX_LINE:  # a value pasted by mistake (a 1 MB name) is not printed whole
            line = f"{line[:MAX_LINE]}... ({len(line) - MAX_LINE} more characters)"
        err_console.print(f"error: {line}", style="red", markup=False, highlight=False, soft_wrap=True)
