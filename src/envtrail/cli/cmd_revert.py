"""``envtrail revert`` and ``envtrail history``: undo one change, follow one variable."""

from __future__ import annotations

import sys
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
    complete_key,
    json_text,
    load_identity,
    note_unchecked,
    open_git,
    optional_identity,
    out,
    report_restore,
    route,
    runtime,
    short,
)


def revert(
    commit: Annotated[str | None, typer.Argument(
        metavar="[COMMIT]", help="The change to undo (default: the environment's last change).",
        show_default=False)] = None,
    env: EnvOpt = ...,  # type: ignore[assignment]
    key: KeysOpt = None,
    reason: ReasonOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the masked plan only.")] = False,
    propose: ProposeOpt = False,
    break_glass: BreakGlassOpt = False,
    repo: RepoOpt = None,
    identity: IdentityOpt = None,
) -> None:
    """Undo exactly what one commit did to one environment, as a new signed commit.

    Refuses (exit 6) if a later commit changed one of those variables again.
    """
    from envtrail.ops.revert import revert as do_revert

    how = route(propose, break_glass)
    result = do_revert(open_git(repo), runtime(), load_identity(identity), env, commit,
                       key or [], reason, dry_run, how)
    if result.record is None:
        out(f"{env} already has the values from before {short(result.target)}: nothing to revert")
        return
    report_restore(result.record, result.commit, dry_run,
                   f"would revert {short(result.target)} in {env}:",
                   f" (reverts {short(result.target)})", result.proposal, result.flagged,
                   result.warnings)


def history(
    key: Annotated[str, typer.Argument(metavar="KEY", help="The variable to follow.",
                                       autocompletion=complete_key)],
    env: EnvOpt = ...,  # type: ignore[assignment]
    reveal: Annotated[bool, typer.Option("--reveal", help="Decrypt each version (members).")] = False,
    repo: RepoOpt = None,
    identity: IdentityOpt = None,
    json_: Annotated[bool, typer.Option("--json", help="JSON Lines, one version per line.")] = False,
) -> None:
    """Every version of one variable, newest first: when, who, action, reason, fingerprint.

    A rotation re-encrypts a value without changing it; it is marked as such. With a key
    to the environment the fingerprints are checked against the values; without one,
    this is said on stderr.
    """
    from envtrail.cli.render import credited, table, when
    from envtrail.ops.history import history as versions

    me, why = (load_identity(identity), None) if reveal else optional_identity(identity)
    git = open_git(repo)
    rows = versions(git, runtime(), me, env, key, reveal)
    # An acknowledged finding is marked in its row: no key could have checked it.
    note_unchecked(env, [None if r.acknowledged else r.fingerprint_checked for r in rows], why,
                   git=git, identity=me)
    if json_:
        for r in rows:
            sys.stdout.write(json_text(r.as_dict(reveal)) + "\n")
        return
    table(["time", "change", "actor", "action", "reason", "fingerprint", "commit",
           *(["value"] if reveal else [])],
          [[when(r.time), _change(r),
            credited(r.actor, r.verified, r.acknowledged, r.swept), r.action,
            r.reason, r.fingerprint or "-", short(r.commit),
            *([_shown(r)] if reveal else [])] for r in rows])


def _change(row) -> str:
    return {"+": "added", "-": "removed", "~": "changed"}.get(row.change, row.change)


def _shown(row) -> str:
    if row.change == "-":
        return "-"
    if row.acknowledged is not None:
        return "(acknowledged finding: not a verified value)"
    if row.swept is not None:
        return "(swept by a repair: not a verified value)"
    if not row.readable:
        return "(not a member then)"
    return row.value.reveal() if row.value is not None else "-"


def register(app: typer.Typer) -> None:
    """Attach these commands to the application."""
    app.command("revert")(revert)
    app.command("history")(history)
