"""``envtrail rollback``."""

from __future__ import annotations

from typing import Annotated

import typer

from envtrail.cli.common import (
    BreakGlassOpt,
    EnvOpt,
    IdentityOpt,
    KeysOpt,
    ProposeOpt,
    ReasonOpt,
    RepoOpt,
    load_identity,
    open_git,
    out,
    report_restore,
    route,
    runtime,
    short,
)


def rollback(
    to: Annotated[str, typer.Option(
        "--to", metavar="REV|TIME",
        help="The known-good point: a time, or a revision of the whole store (HEAD~N counts "
             "commits of every environment; to undo one change use `revert`).")],
    env: EnvOpt = ...,  # type: ignore[assignment]
    key: KeysOpt = None,
    reason: ReasonOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the masked plan only.")] = False,
    propose: ProposeOpt = False,
    break_glass: BreakGlassOpt = False,
    repo: RepoOpt = None,
    identity: IdentityOpt = None,
) -> None:
    """Restore earlier values as a new signed commit, re-encrypted for today's members.

    To undo one change, `revert` is safer: HEAD~N counts the whole store's commits.
    """
    from envtrail.ops import rollback as rb

    how = route(propose, break_glass)
    result = rb.rollback(open_git(repo), runtime(), load_identity(identity), env, to,
                         key or [], reason, dry_run, how)
    if result.record is None:
        out(f"{env} already equals {short(result.target)}: nothing to roll back")
        return
    report_restore(result.record, result.commit, dry_run,
                   f"would roll back {env} to {short(result.target)}:", proposal=result.proposal,
                   flagged=result.flagged, warnings=result.warnings)


def register(app: typer.Typer) -> None:
    """Attach this command to the application."""
    app.command("rollback")(rollback)
