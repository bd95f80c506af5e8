"""What every command shares: the one-line user error, the package's errors turned into it, the
log line on stderr and the settings from the command line. Both ``cli`` and ``office.cli`` use them."""

from __future__ import annotations

import sys
from contextlib import contextmanager

import click

from .errors import PudongQAError
from .progress import Eta, Step
from .settings import Settings

EXIT_USAGE = 2


class CLIError(click.ClickException):
    """A problem the user can fix: one line on stderr, exit status 2."""

    exit_code = EXIT_USAGE

    def format_message(self) -> str:
        return f"error: {self.message}"

    def show(self, file=None) -> None:
        click.echo(f"pudong-qa: {self.format_message()}", err=True, file=file)


def cli_language() -> str:
    """``zh`` when the terminal's locale is Chinese (``LANG=zh_CN.UTF-8``), else ``en``: the language
    of a problem's sentence on the command line (its code is the same in both)."""
    import os

    locale = os.environ.get("LC_ALL") or os.environ.get("LC_MESSAGES") or os.environ.get("LANG") or ""
    return "zh" if locale.lower().startswith("zh") else "en"


def log(msg: str) -> None:
    click.echo(msg, err=True)


class StepLine:
    """A build's progress on stderr: a line when a stage begins; on a terminal, the files (or
    pages) of the current stage counted in place, with the time left once it can be told."""

    def __init__(self, tty: bool | None = None) -> None:
        self.tty = sys.stderr.isatty() if tty is None else tty
        self.stage, self.eta = "", Eta()

    def __call__(self, step: Step) -> None:
        left = self.eta(step)
        if step.stage != self.stage:
            if self.tty and self.stage:
                click.echo("", err=True)
            self.stage = step.stage
            if not self.tty:
                click.echo(f"[{step.stage}]" + (f" {step.total}" if step.total else ""), err=True)
        if self.tty and step.total:
            eta = f", about {left:.0f} s left" if left is not None else ""
            click.echo(f"\r[{step.stage}] {step.done} / {step.total}{eta}   ", err=True, nl=False)


@contextmanager
def friendly_errors():
    """Turn the package's errors into ``CLIError`` (and Ctrl-C into exit status 130)."""
    from .embedding import quiet_transformers

    quiet_transformers()
    try:
        yield
    except PudongQAError as exc:
        raise CLIError(exc.say(cli_language())) from exc
    except KeyboardInterrupt:
        click.echo("pudong-qa: interrupted", err=True)
        sys.exit(130)


def settings_from(ctx: click.Context, **overrides) -> Settings:
    try:
        return Settings.from_env(**ctx.obj, **overrides)
    except PudongQAError as exc:
        raise CLIError(str(exc)) from exc
