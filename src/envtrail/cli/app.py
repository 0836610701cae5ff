"""The typer application: global options and command registration.

Commands register per module. For a plain invocation of a hot command only
its module is loaded, so `envtrail get` does not build the other thirty
commands' parameters on every call; help, completion and everything else see
the whole application.
"""

# No `from __future__ import annotations`: typer reads these signatures on every
# run, and annotations kept as strings would be parsed again each time.
import importlib
from collections.abc import Sequence
from typing import Annotated

import typer

from envtrail import __version__
from envtrail.cli.common import GLOBALS, IdentityOpt, RepoOpt

_MODULES = ("cmd_setup", "cmd_values", "cmd_audit", "cmd_rollback", "cmd_revert", "cmd_repair",
            "cmd_access", "cmd_approvals", "cmd_git")
# The commands run most (by hand, in CI, in hooks): each builds only its own parameters.
_HOT = {"get": "cmd_values", "export": "cmd_values", "run": "cmd_values", "set": "cmd_values",
        "hook": "cmd_git", **dict.fromkeys(("log", "show", "diff", "blame", "verify"), "cmd_audit")}
_GLOBAL_WITH_VALUE = {"--repo", "--identity"}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"envtrail {__version__}")
        raise typer.Exit()


def _main(
    repo: RepoOpt = None,
    identity: IdentityOpt = None,
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    """Encrypted environment variables in Git; every change a signed, auditable commit."""
    GLOBALS.repo = repo
    GLOBALS.identity = identity


def _command_word(argv: Sequence[str]) -> str | None:
    it = iter(argv)
    for arg in it:
        if arg in _GLOBAL_WITH_VALUE:
            next(it, None)
        elif not arg.startswith("-"):
            return arg
    return None


def build(argv: Sequence[str] | None = None) -> typer.Typer:
    """The application, with every command, or only a hot command's module for ``argv``."""
    app = typer.Typer(
        name="envtrail",
        help="Encrypted environment variables in Git; every change a signed, auditable commit.",
        no_args_is_help=True,
        add_completion=True,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(_main)
    if argv is not None and not {"-h", "--help"} & set(argv):
        word = _command_word(argv) or ""
        if word in _HOT:
            importlib.import_module(f"envtrail.cli.{_HOT[word]}").register(app, only=word)
            return app
    for name in _MODULES:
        importlib.import_module(f"envtrail.cli.{name}").register(app)
    return app


def __getattr__(name: str) -> typer.Typer:
    # `from envtrail.cli.app import app` gives the full application, built on
    # demand so that importing this module stays cheap.
    if name == "app":
        return build()
    raise AttributeError(name)
