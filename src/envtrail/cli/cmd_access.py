"""``envtrail access``: who may read and sign."""

from __future__ import annotations

from typing import Annotated

import typer

from envtrail.cli.common import (
    EnvOpt,
    IdentityOpt,
    ReasonOpt,
    RepoOpt,
    load_identity,
    open_git,
    report_write,
    runtime,
)

access_app = typer.Typer(help="Grant and review access to environments.", no_args_is_help=True)


@access_app.command("grant")
def grant(
    principal: Annotated[str, typer.Argument(metavar="PRINCIPAL", help="e-mail or ci:<name>.")],
    pubkey: Annotated[str, typer.Argument(
        metavar="PUBKEY", help="'ssh-ed25519 AAAA...' line, or a path to a .pub file.")],
    env: EnvOpt = ...,  # type: ignore[assignment]
    reason: ReasonOpt = None,
    repo: RepoOpt = None,
    identity: IdentityOpt = None,
) -> None:
    """Give PRINCIPAL read access to an environment (admins only)."""
    from envtrail.ops import access

    rt = runtime()
    written = access.grant(open_git(repo), rt, load_identity(identity), principal,
                           access.parse_pubkey(pubkey, rt), env, reason)
    report_write(written, f"{principal} is already a member of {env}")


def register(app: typer.Typer) -> None:
    """Attach these commands to the application."""
    app.add_typer(access_app, name="access")
