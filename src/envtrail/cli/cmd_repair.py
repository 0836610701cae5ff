"""``envtrail repair``: acknowledge findings in a signed commit and restore values."""

from __future__ import annotations

from typing import Annotated

import typer

from envtrail.cli.common import (
    IdentityOpt,
    ProposeOpt,
    ReasonOpt,
    RepoOpt,
    load_identity,
    open_git,
    out,
    pin_next,
    report_write,
    route,
    runtime,
    warn,
)


def repair(
    reason: ReasonOpt = None,
    from_: Annotated[str | None, typer.Option(
        "--from", metavar="REV",
        help="Restore values from this clean line commit (default: the last one before the "
             "first finding).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be acknowledged "
                                                            "and restored only.")] = False,
    propose: ProposeOpt = False,
    repo: RepoOpt = None,
    identity: IdentityOpt = None,
) -> None:
    """Admin only: acknowledge what verify finds now and restore the affected values."""
    from envtrail.audit.record import render_change
    from envtrail.ops.repair import repair as run_repair

    result = run_repair(open_git(repo), runtime(), load_identity(identity), reason, from_,
                        dry_run, route(propose))
    lead = "would acknowledge" if dry_run or result.proposal else "acknowledged"
    for finding in result.findings:
        out(f"{lead}: {finding.line()}")
    for finding in result.events:
        out(f"{lead}: event {finding.line()}")
    for finding, settles in result.waiting:
        warn(f"not acknowledged: event {finding.line()}: too close to the repair's date; "
             f"no finding once this clock reaches {settles.isoformat()}")
    undo = "would undo" if dry_run or result.proposal else "undid"
    for s in result.swept:
        out(f"{undo} (came after the first finding): {s.commit[:10]} {s.action} by {s.actor} "
            f"({s.reason}): {', '.join(s.variables) or 'no value'}")
    if result.findings:
        out(f"restored to the last verified state {result.clean}: "
            f"{', '.join(result.paths) or 'nothing differed'}")
    else:
        out(f"the store line verifies: nothing restored ({result.clean[:10]} stays as it is)")
    if result.restored_from != result.clean:
        out(f"values from {result.restored_from}:")
    for change in result.record.changes if result.record else ():
        out(f"  {render_change(change)}")
    if result.swept:
        out("redo those changes that are still wanted once the repair has landed "
            "(`envtrail set KEY --env ENV`, `envtrail unset KEY --env ENV`)")
    for env, principal, commit in result.handed_out:
        warn(f"{env}: {commit[:10]} sealed its keys to {principal}, who is no member at the "
             f"clean point; the repair keeps that key pair: run `envtrail access rotate "
             f"--env {env}` and rotate its values")
    for text in result.warnings:
        warn(text)
    if result.proposal:
        report_write(result, "repair")
    elif result.commit:
        out(f"repair commit {result.commit}")
        pin_next(result.commit)


def register(app: typer.Typer) -> None:
    """Attach this command to the application."""
    app.command("repair")(repair)
