"""The typer application: global options and command registration."""

from __future__ import annotations

from typing import Annotated

import typer

from envtrail import __version__
from envtrail.cli import cmd_access, cmd_audit, cmd_git, cmd_rollback, cmd_setup, cmd_values
from envtrail.cli.common import GLOBALS, IdentityOpt, RepoOpt

app = typer.Typer(
    name="envtrail",
    help="Encrypted environment variables in Git; every change a signed, auditable commit.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"envtrail {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    repo: RepoOpt = None,
    identity: IdentityOpt = None,
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    """Encrypted environment variables in Git; every change a signed, auditable commit."""
    GLOBALS.repo = repo
    GLOBALS.identity = identity


cmd_setup.register(app)
cmd_values.register(app)
cmd_audit.register(app)
cmd_rollback.register(app)
cmd_access.register(app)
cmd_git.register(app)
